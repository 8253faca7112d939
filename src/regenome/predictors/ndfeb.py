"""Physics-first property model of (R,R')2(Fe,Co)14B permanent magnets.

The model is a chain of small, vectorized steps over arrays of candidates
(see ``docs/models/ndfeb.md`` for every assumption and its source):

1. intrinsic properties at room temperature (293 K) mixed over the rare-earth
   sublattice from measured end members (virtual-crystal mixing of Js, K1 and
   Tc, with a bowing term calibrated on measured mixed series), then the
   measured effect of Co on the Fe sublattice;
2. temperature dependence: Js(T) by Kuz'min's formula, anisotropy field as a
   power of the reduced magnetization;
3. the coercive field of an ideal 50 nm grain of the phase, from the trained
   ``single-grain`` micromagnetic surrogate fed with Ms, A and K1 at the operating
   temperature;
4. extrinsic properties per process route: Br from Js (density, volume fraction,
   alignment), Hcj by a Kronmueller-type relation on the ideal grain,
   mu0*Hcj = alpha*mu0*Hc_grain - Neff*Js, with the microstructure factor alpha and
   Neff calibrated per route, and (BH)max from Br and Hcj below Br^2/(4 mu0).

Uncertainty: every parameter is a Gaussian (mean, one-sigma); the model is
evaluated for a fixed, seeded set of parameter draws shared by all candidates
(common random numbers), so trends between candidates are smooth and the
result is deterministic. Means and standard deviations are taken over draws;
the draws themselves are available for probabilities of meeting targets.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from regenome.predictors import summarize
from regenome.units import KA_M_PER_KOE, KJ_M3_PER_MGOE, MU0, ROOM_TEMPERATURE_K

RE_ELEMENTS = ("Nd", "Pr", "Ce", "La", "Dy", "Tb", "Gd")
"""Rare earths the model knows, in the column order of every fraction array."""
TM_ELEMENTS = ("Co",)
"""Substituents of Fe the model knows."""
ROUTES = ("sintered", "hot_deformed", "melt_spun", "bonded")
"""Process routes, in the order of route indices."""
PROPERTIES = (
    "Js_T",
    "mu0HA_T",
    "K1_MJ_m3",
    "Tc_K",
    "Hc_grain_kA_m",
    "Br_T",
    "Hcj_kA_m",
    "BHmax_kJ_m3",
    "comprehensive_index",
)
"""Predicted properties (units in the names; comprehensive_index is MGOe + kOe;
Hc_grain_kA_m is the coercive field of an ideal 50 nm grain of the phase)."""
MAX_CO_FRACTION = 0.5
"""Largest Co share of the Fe sublattice inside the calibrated domain."""

N_DRAWS = 64
DRAW_SEED = 20_261_128
MODEL_NAME = "ndfeb-physics"
MODEL_VERSION = "2.0"
EXCHANGE_EXPONENT = 2.0
"""A(T)/A(293 K) = (Ms(T)/Ms(293 K))**EXCHANGE_EXPONENT (mean-field scaling, stated assumption)."""

# -- measurement correction (issue 7, docs/lab-loop.md) ------------------------------------------
CORRECTED_PROPERTIES = ("Br_T", "Hcj_kA_m", "BHmax_kJ_m3")
"""Properties the measurement correction layer acts on (log residuals)."""
CORRECTION_FEATURES = (*RE_ELEMENTS, "Co", "temperature_K")
"""Feature columns of the correction layer: RE fractions, Co share of the Fe sites, temperature."""
CORRECTION_TEMPERATURE_SCALE_K = 2000.0
"""Temperature difference worth a unit of composition distance (100 K ~ a 0.05 fraction change)."""
_ACTIVE_CORRECTION: ContextVar = ContextVar("regenome_ndfeb_correction", default=None)


@contextmanager
def use_correction(correction):
    """Make ``correction`` (a :class:`regenome.corrections.CorrectionLayer` or None) the one that
    ``NdFeBModel()`` applies inside the ``with`` block (like ``sklearn.config_context``)."""
    token = _ACTIVE_CORRECTION.set(correction)
    try:
        yield correction
    finally:
        _ACTIVE_CORRECTION.reset(token)


def correction_features(re_fractions, co_fraction, temperature_K) -> np.ndarray:
    """Unscaled correction-layer features (n, 9) in :data:`CORRECTION_FEATURES` order."""
    x = np.asarray(re_fractions, dtype=float)
    n = x.shape[0]
    co = np.broadcast_to(np.asarray(co_fraction, dtype=float), (n,))
    temp = np.broadcast_to(np.asarray(temperature_K, dtype=float), (n,))
    return np.column_stack([x, co, temp])


def apply_correction(samples: dict[str, np.ndarray], correction, re_fractions, co_fraction, route,
                     temperature_K) -> dict[str, np.ndarray]:
    """Per-draw predictions with the measurement correction applied (new dict; inputs untouched).

    Br, Hcj and (BH)max are scaled by the shrunk, kernel-weighted log residuals of the nearby
    measurements of the same route and their spread rescaled to the corrected one-sigma; (BH)max
    stays below Br^2/(4 mu0) of the corrected Br, and the comprehensive index is recomputed.
    """
    from regenome.corrections import correct_draws, log_sigma

    out = dict(samples)
    n = np.shape(samples["Br_T"])[0]
    routes = np.asarray(ROUTES, dtype=object)[np.broadcast_to(np.asarray(route, dtype=np.intp), (n,))]
    weights = correction.weights(correction_features(re_fractions, co_fraction, temperature_K), routes)
    for prop in CORRECTED_PROPERTIES:
        if prop not in correction.residuals:
            continue
        draws = samples[prop]
        mean, std = draws.mean(axis=1), draws.std(axis=1)
        prior = log_sigma(mean, std)
        shift, sigma = correction.evaluate(prop, weights, prior)
        ratio = np.where(prior > 0, sigma / np.where(prior > 0, prior, 1.0), 1.0)
        out[prop] = correct_draws(draws, shift, ratio)
    out["BHmax_kJ_m3"] = np.minimum(out["BHmax_kJ_m3"], out["Br_T"] ** 2 / (4.0 * MU0) / 1e3)
    out["comprehensive_index"] = out["BHmax_kJ_m3"] / KJ_M3_PER_MGOE + out["Hcj_kA_m"] / KA_M_PER_KOE
    return out


@dataclass(frozen=True)
class NdFeBParameters:
    """All numbers the model uses, as loaded from ``data/ndfeb``.

    Attributes hold ``(mean, std)`` pairs so they can be sampled.
    """

    end_members: dict  # R -> {"Js_T": (m, s), "mu0HA_T": (m, s), "Tc_K": (m, s), "A_pJ_m": (m, s)}
    bowing: dict  # property -> {R: b}; P -= b * x_Nd * x_R
    cobalt: dict  # {"Js_ratio": [b1, b2], "mu0HA_ratio": [..], "Tc_shift_K": [c1, c2]}
    temperature: dict  # {"kuzmin_s": (m, s), "kuzmin_p": p, "anisotropy_exponent": (m, s)}
    routes: dict  # route -> {"remanence_factor", "alpha", "Neff", "squareness"} as (m, s)

    @classmethod
    def from_json(cls, text: str) -> NdFeBParameters:
        raw = json.loads(text)
        return cls(**{k: raw[k] for k in ("end_members", "bowing", "cobalt", "temperature", "routes")})


@lru_cache(maxsize=1)
def load_parameters() -> NdFeBParameters:
    """Parameters shipped with regenome (``data/ndfeb/parameters.json``), cached per process."""
    from regenome.datafiles import table_path

    return NdFeBParameters.from_json(table_path("ndfeb", "parameters.json").read_text())


def single_grain_coercivity(ms_A_m: np.ndarray, a_J_m: np.ndarray, k1_J_m3: np.ndarray):
    """Coercive field (A/m) and its one-sigma of an ideal 50 nm grain from the ``single-grain`` surrogate.

    Inputs outside the surrogate's training box are clipped to it (the box edges are far
    from 2:14:1 phases between 200 K and their Curie temperature).
    """
    from regenome.modelstore import load_model

    estimator, card = load_model("single-grain")
    columns = []
    for name, values in (("Ms_A_m", ms_A_m), ("A_J_m", a_J_m), ("K1_J_m3", k1_J_m3)):
        box = card.training_range[name]
        columns.append(np.clip(np.asarray(values, dtype=float), box["min"], box["max"]))
    mean, std = estimator.predict(np.stack(columns, axis=1), return_std=True)
    j = list(card.outputs).index("Hc_A_m")
    return mean[:, j], std[:, j]


def kuzmin_magnetization(tau: np.ndarray, s: np.ndarray, p: float = 2.5) -> np.ndarray:
    """Reduced spontaneous magnetization m(T/Tc) by Kuz'min's formula.

    m = [1 - s*tau^(3/2) - (1 - s)*tau^p]^(1/3), zero at and above Tc
    (M. D. Kuz'min, Phys. Rev. Lett. 94, 107204 (2005)).
    """
    tau = np.clip(tau, 0.0, 1.0)
    inner = 1.0 - s * tau**1.5 - (1.0 - s) * tau**p
    return np.cbrt(np.clip(inner, 0.0, None))


def ideal_energy_product(br_t: np.ndarray, mu0hcj_t: np.ndarray) -> np.ndarray:
    """(BH)max in J/m3 of a square loop with remanence Br and coercivity Hcj (both in T).

    Br^2/(4 mu0) when mu0*Hcj >= Br/2, otherwise Hcj*(Br - mu0*Hcj) (the loop collapses
    before the B = mu0*H/2 working point is reached).
    """
    full = br_t**2 / (4.0 * MU0)
    limited = mu0hcj_t * (br_t - mu0hcj_t) / MU0
    return np.where(mu0hcj_t >= br_t / 2.0, full, np.clip(limited, 0.0, None))


class NdFeBModel:
    """Vectorized property model with uncertainty for 2:14:1 magnets.

    Parameters
    ----------
    parameters : NdFeBParameters or None
        Model constants; ``None`` loads the ones shipped with regenome.
    n_draws : int
        Number of parameter draws used for means, standard deviations and probabilities.
    random_state : int
        Seed of the parameter draws (fixed by default so predictions are reproducible).
    ideal_grain : callable or None
        ``(Ms [A/m], A [J/m], K1 [J/m3]) -> (Hc, Hc_std)`` in A/m of an ideal grain;
        ``None`` uses the shipped ``single-grain`` surrogate.
    correction : CorrectionLayer, None or "active"
        Measurement correction applied on top of the physics (``docs/lab-loop.md``). ``"active"``
        (default) takes the one selected with :func:`use_correction`, which is none unless a caller
        selects one (``regenome predict ndfeb`` and the ``ndfeb`` family select the newest version
        in ``REGENOME_HOME``); ``None`` is the physics model alone. A correction sets ``version``.
    """

    name = MODEL_NAME
    version = MODEL_VERSION
    properties = PROPERTIES

    def __init__(self, parameters: NdFeBParameters | None = None, n_draws: int = N_DRAWS,
                 random_state: int = DRAW_SEED, ideal_grain=None, correction="active"):
        if isinstance(correction, str):
            if correction != "active":
                raise ValueError(f"The 'correction' parameter of NdFeBModel must be a CorrectionLayer, None or "
                                 f"'active'; got {correction!r}")
            correction = _ACTIVE_CORRECTION.get()
        self.correction = correction
        if correction is not None:
            self.version = correction.version
        self.parameters = parameters if parameters is not None else load_parameters()
        self.ideal_grain = ideal_grain if ideal_grain is not None else single_grain_coercivity
        self.n_draws = n_draws
        self.random_state = random_state
        self._draws = self._sample_parameters()

    # -- parameters -------------------------------------------------------------------------
    def _sample_parameters(self) -> dict:
        p, k = self.parameters, self.n_draws
        rng = np.random.default_rng(self.random_state)

        def draw(pair, size=None, floor=0.0):
            mean, std = pair
            z = rng.standard_normal(k if size is None else (k, size))
            return np.clip(mean + std * z, floor, None)

        em = p.end_members
        draws = {
            "Js": np.stack([draw(em[r]["Js_T"]) for r in RE_ELEMENTS], axis=1),
            "HA": np.stack([draw(em[r]["mu0HA_T"]) for r in RE_ELEMENTS], axis=1),
            "Tc": np.stack([draw(em[r]["Tc_K"]) for r in RE_ELEMENTS], axis=1),
            "s": np.clip(draw(p.temperature["kuzmin_s"]), 0.0, 1.0),
            "n_HA": draw(p.temperature["anisotropy_exponent"]),
            "grain_z": rng.standard_normal(k),
        }
        self._exchange = np.array([em[r]["A_pJ_m"][0] for r in RE_ELEMENTS]) * 1e-12  # J/m, central values
        for key in ("remanence_factor", "alpha", "Neff", "squareness"):
            draws[key] = np.stack([draw(p.routes[r][key]) for r in ROUTES], axis=0)  # (routes, K)
        draws["squareness"] = np.clip(draws["squareness"], 0.0, 1.0)
        return draws

    def _bowing_vector(self, prop: str) -> np.ndarray:
        table = self.parameters.bowing.get(prop, {})
        return np.array([float(table.get(r, 0.0)) for r in RE_ELEMENTS])

    # -- model --------------------------------------------------------------------------------
    def sample(self, re_fractions, co_fraction, route, temperature_K) -> dict[str, np.ndarray]:
        """Evaluate the model for every parameter draw.

        Parameters
        ----------
        re_fractions : array (n, 7)
            Fractions of the rare-earth sublattice in :data:`RE_ELEMENTS` order (rows sum to 1).
        co_fraction : array (n,)
            Co share of the 14 Fe sites (0-1).
        route : array (n,) of int
            Index into :data:`ROUTES`.
        temperature_K : array (n,) or float
            Operating temperature in K.

        Returns
        -------
        dict
            Property name -> array (n, n_draws) in the units of the name.
        """
        x = np.asarray(re_fractions, dtype=float)
        n = x.shape[0]
        y = np.broadcast_to(np.asarray(co_fraction, dtype=float), (n,))[:, None]
        route = np.broadcast_to(np.asarray(route, dtype=np.intp), (n,))
        temp = np.broadcast_to(np.asarray(temperature_K, dtype=float), (n,))[:, None]
        d = self._draws
        x_nd = x[:, :1]

        js_lin = x @ d["Js"].T  # (n, K)
        k1_em = d["HA"] * d["Js"] / (2.0 * MU0)  # J/m3 per end member and draw
        k1_lin = x @ k1_em.T
        ha_lin = 2.0 * MU0 * k1_lin / np.maximum(js_lin, 1e-9)
        tc_lin = x @ d["Tc"].T

        js_rt = js_lin - (x_nd * x) @ self._bowing_vector("Js_T")[:, None]
        ha_rt = ha_lin - (x_nd * x) @ self._bowing_vector("mu0HA_T")[:, None]
        tc = tc_lin - (x_nd * x) @ self._bowing_vector("Tc_K")[:, None]

        co = self.parameters.cobalt
        js_rt = js_rt * (1.0 + co["Js_ratio"][0] * y + co["Js_ratio"][1] * y**2)
        ha_rt = ha_rt * (1.0 + co["mu0HA_ratio"][0] * y + co["mu0HA_ratio"][1] * y**2)
        tc = tc + co["Tc_shift_K"][0] * y + co["Tc_shift_K"][1] * y**2

        p_exp = float(self.parameters.temperature["kuzmin_p"])
        m_ref = kuzmin_magnetization(ROOM_TEMPERATURE_K / tc, d["s"], p_exp)
        m_t = kuzmin_magnetization(temp / tc, d["s"], p_exp)
        ratio = np.where(m_ref > 0, m_t / np.maximum(m_ref, 1e-12), 0.0)
        js = np.clip(js_rt, 0.0, None) * ratio
        ha = np.clip(ha_rt, 0.0, None) * ratio ** d["n_HA"]

        # ideal grain at the operating temperature, evaluated once per candidate on central values
        js_c, ha_c = js.mean(axis=1), ha.mean(axis=1)
        ms_c = js_c / MU0
        k1_c = ha_c * js_c / (2.0 * MU0)
        exchange = (x @ self._exchange) * ratio.mean(axis=1) ** EXCHANGE_EXPONENT
        hc, hc_std = self.ideal_grain(np.maximum(ms_c, 1.0), np.maximum(exchange, 1e-13), np.maximum(k1_c, 1.0))
        ha_c_A_m = np.maximum(ha_c / MU0, 1e-9)
        h_grain = np.clip(hc / ha_c_A_m, 0.0, 1.0)[:, None]  # Hc_grain / HA, which varies slowly with the draws
        h_sigma = (hc_std / ha_c_A_m)[:, None]
        mu0hc_grain = np.clip(h_grain + h_sigma * d["grain_z"], 0.0, 1.0) * ha

        br = d["remanence_factor"][route] * js
        mu0hcj = np.clip(d["alpha"][route] * mu0hc_grain - d["Neff"][route] * js, 0.0, None)
        bh = d["squareness"][route] * ideal_energy_product(br, mu0hcj)  # J/m3

        hcj_ka_m = mu0hcj / MU0 / 1e3
        bh_kj_m3 = bh / 1e3
        out = {
            "Js_T": js,
            "mu0HA_T": ha,
            "K1_MJ_m3": ha * js / (2.0 * MU0) / 1e6,
            "Tc_K": np.broadcast_to(tc, js.shape),
            "Hc_grain_kA_m": mu0hc_grain / MU0 / 1e3,
            "Br_T": br,
            "Hcj_kA_m": hcj_ka_m,
            "BHmax_kJ_m3": bh_kj_m3,
            "comprehensive_index": bh_kj_m3 / KJ_M3_PER_MGOE + hcj_ka_m / KA_M_PER_KOE,
        }
        if self.correction is not None:
            out = apply_correction(out, self.correction, x, y[:, 0], route, temp[:, 0])
        return out

    def predict(self, re_fractions, co_fraction, route, temperature_K) -> dict[str, np.ndarray]:
        """Mean and one-sigma of every property.

        Returns
        -------
        dict
            ``name`` -> mean array (n,), ``name + "_std"`` -> std array (n,).
        """
        return summarize(self.sample(re_fractions, co_fraction, route, temperature_K))

    def card(self) -> dict:
        """What the model is, its domain and units (shown by ``regenome predict`` and the report)."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": "physics model with calibrated parameters",
            "inputs": {
                "rare_earth": list(RE_ELEMENTS),
                "transition_metal": ["Fe", *TM_ELEMENTS],
                "max_co_fraction": MAX_CO_FRACTION,
                "routes": list(ROUTES),
                "temperature_K": [200.0, "Tc"],
            },
            "outputs": list(PROPERTIES),
            "uncertainty": f"one-sigma over {self.n_draws} seeded parameter draws",
            "documentation": "docs/models/ndfeb.md",
            **({"measurement_correction": {"version": self.correction.version,
                                           "measurements": len(self.correction.groups),
                                           "documentation": "docs/lab-loop.md"}}
               if self.correction is not None else {}),
        }

