"""The literature phosphor database and what the phosphor surrogates share.

``phosphors/literature_phosphors.csv`` (KRICT LitDX, 2002-2022 papers) lists one measured phosphor
per row: the host as written (``Sr1.96Si5N8``: the substituted site already reduced by the dopant
amount), the dopants with valency and amount per formula unit, the emission maximum (nm), the
thermal-quenching temperature (K) and the paper's DOI. :func:`load_phosphor_table` cleans it into
one row per measurement with the *nominal* host (``Sr2Si5N8``: the dopant amount given back to the
site it replaces), the activator (``Eu2+``) and the dopant as a fraction of that site (0.02).

The surrogates read ``X`` = ``[host atomic fractions (len(ELEMENTS) columns), activator code, site
fraction]`` (:func:`prepare_phosphor_inputs` builds it from a user's ``host``, ``activator``,
``concentration`` table). :class:`PhosphorRegressor` featurizes it with :class:`HostFeaturizer`
(composition statistics plus Dorenbos-style physics of the host: anion mix, cation electronegativity
and spectroscopic polarizability, size of the site the activator takes), adds a *same-host prior*
learned in ``fit`` (what other papers measured for the same or a close host: leave-one-paper-out for
the training rows, so grouped CV stays honest) and fits tree ensembles on the residual from each
activator's median, with a calibrated one-sigma error model.

:class:`CentroidShiftEstimate` gives the Ce3+ 5d centroid shift of a host from its formula (the
composition path of the ``centroid-shift`` surrogate, refitted from its data and kept as a few
coefficients): the emission model subtracts it from the Ce3+ energies (Dorenbos' relation) so that
its trees learn the rest of the redshift. :class:`ActivatorSplitRegressor` serves chosen activators
with their own model; :class:`SameHostPriorRegressor` is a host term that is the same-host prior alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS
from regenome.phosphor_physics import HC_EV_NM  # h c in eV nm: E [eV] = HC_EV_NM / wavelength [nm]
from regenome.surrogates.uncertainty import ONE_SIGMA, grouped_folds

DATA_FILE = "phosphors/literature_phosphors.csv"
SOURCE = ("KRICT LitDX 'Inorganic Phosphor Optical Property' database (2002-2022 literature) via "
          "Yeonghun1675/ChemDX_agentic_AI @1c3043e; data licence not stated (cited, not redistributed)")

#: Typical oxidation state and Shannon crystal radius (coordination VI, angstrom) of each element as a host
#: ion; Shannon, Acta Cryst. A32, 751 (1976), as tabulated by pymatgen 2026.10 (``Element.ionic_radii``).
#: Anions negative. C is carbide C4- and H hydride H- (no Shannon radius: NaN).
HOST_IONS: dict[str, tuple[int, float]] = {
    "H": (-1, np.nan), "Li": (1, 0.9), "Be": (2, 0.59), "B": (3, 0.41), "C": (-4, np.nan), "N": (-3, 1.32),
    "O": (-2, 1.26), "F": (-1, 1.19), "Na": (1, 1.16), "Mg": (2, 0.86), "Al": (3, 0.675), "Si": (4, 0.54),
    "P": (5, 0.52), "S": (-2, 1.7), "Cl": (-1, 1.67), "K": (1, 1.52), "Ca": (2, 1.14), "Sc": (3, 0.885),
    "Ti": (4, 0.745), "V": (5, 0.68), "Cr": (3, 0.755), "Mn": (2, 0.97), "Fe": (3, 0.785), "Co": (2, 0.885),
    "Ni": (2, 0.83), "Cu": (1, 0.91), "Zn": (2, 0.88), "Ga": (3, 0.76), "Ge": (4, 0.67), "As": (5, 0.6),
    "Se": (-2, 1.84), "Br": (-1, 1.82), "Rb": (1, 1.66), "Sr": (2, 1.32), "Y": (3, 1.04), "Zr": (4, 0.86),
    "Nb": (5, 0.78), "Mo": (6, 0.73), "Ru": (4, 0.76), "Rh": (3, 0.805), "Pd": (2, 1.0), "Ag": (1, 1.29),
    "Cd": (2, 1.09), "In": (3, 0.94), "Sn": (4, 0.83), "Sb": (5, 0.76), "Te": (6, 0.7), "I": (-1, 2.06),
    "Cs": (1, 1.81), "Ba": (2, 1.49), "La": (3, 1.172), "Ce": (3, 1.15), "Pr": (3, 1.13), "Nd": (3, 1.123),
    "Sm": (3, 1.098), "Eu": (3, 1.087), "Gd": (3, 1.075), "Tb": (3, 1.063), "Dy": (3, 1.052),
    "Ho": (3, 1.041), "Er": (3, 1.03), "Tm": (3, 1.02), "Yb": (3, 1.008), "Lu": (3, 1.001), "Hf": (4, 0.85),
    "Ta": (5, 0.78), "W": (6, 0.74), "Re": (7, 0.67), "Pt": (2, 0.94), "Au": (1, 1.51), "Hg": (2, 1.16),
    "Tl": (1, 1.64), "Pb": (2, 1.33), "Bi": (3, 1.17), "Th": (4, 1.08), "U": (4, 1.03),
}

#: Activators the surrogates know, in code order (the code is column ``len(ELEMENTS)`` of ``X``; never reorder,
#: append only). Per activator: valence, Shannon crystal radius (VI, angstrom), transition class
#: (``5d``: 5d-4f band, host-sensitive; ``4f``: 4f-4f lines, nearly host-independent; ``3d``: 3d-3d,
#: crystal-field/nephelauxetic; ``6p``: Bi3+ 6s6p) and the free-ion energy of the lowest 4f-5d transition
#: (eV; Dorenbos, J. Lumin. 91, 91 (2000): Ce3+ 6.12, Eu2+ 4.22) where it is the reference of the host shift.
ACTIVATORS: tuple[str, ...] = ("Ce3+", "Eu2+", "Eu3+", "Tb3+", "Mn4+", "Mn2+", "Dy3+", "Sm3+", "Bi3+", "Cr3+",
                               "Tm3+", "Er3+", "Yb2+", "Ho3+", "Pr3+", "Nd3+", "Yb3+")
ACTIVATOR_PROPERTIES: dict[str, tuple[int, float, str, float]] = {
    "Ce3+": (3, 1.15, "5d", 6.12), "Eu2+": (2, 1.31, "5d", 4.22), "Eu3+": (3, 1.087, "4f", np.nan),
    "Tb3+": (3, 1.063, "4f", np.nan), "Mn4+": (4, 0.67, "3d", np.nan), "Mn2+": (2, 0.97, "3d", np.nan),
    "Dy3+": (3, 1.052, "4f", np.nan), "Sm3+": (3, 1.098, "4f", np.nan), "Bi3+": (3, 1.17, "6p", np.nan),
    "Cr3+": (3, 0.755, "3d", np.nan), "Tm3+": (3, 1.02, "4f", np.nan), "Er3+": (3, 1.03, "4f", np.nan),
    "Yb2+": (2, 1.16, "5d", np.nan), "Ho3+": (3, 1.041, "4f", np.nan), "Pr3+": (3, 1.13, "4f", np.nan),
    "Nd3+": (3, 1.123, "4f", np.nan), "Yb3+": (3, 1.008, "4f", np.nan),
}
ACTIVATOR_INDEX = {name: i for i, name in enumerate(ACTIVATORS)}
N_EL = len(ELEMENTS)
COL_ACTIVATOR = N_EL
COL_CONCENTRATION = N_EL + 1

#: Emission windows (nm) of the 4f-4f line emitters: rows outside are host emission or a mislabelled
#: valence (e.g. Eu "3+" rows at 540 nm in SrSi2O2N2, an Eu2+ band), dropped from the emission set.
LINE_WINDOWS_NM = {"Eu3+": (575.0, 720.0), "Tb3+": (480.0, 630.0), "Sm3+": (550.0, 720.0),
                   "Dy3+": (470.0, 670.0), "Er3+": (515.0, 690.0), "Tm3+": (440.0, 820.0)}
#: Second dopants that do not emit in the visible: rows co-doped with them count as single-activator rows.
INERT_CODOPANTS = ("La", "Al", "Si", "Zn", "Ti", "Ge", "Gd", "Y", "Lu", "Sc", "Li", "Na", "K", "Mg")
#: Shortest wavelength (nm) at which a second dopant's own emission peaks: a co-doped Ce3+ or Eu2+ row whose
#: maximum lies below it shows the first activator's band (Tb3+ 5D4 lines from 480 nm, Mn2+ bands from
#: 490 nm...), and is kept for the emission model.
SECOND_EMITTER_MIN_NM = {"Tb3+": 480.0, "Dy3+": 470.0, "Mn2+": 490.0, "Mn4+": 620.0, "Sm3+": 550.0,
                         "Eu3+": 575.0, "Er3+": 515.0, "Tm3+": 440.0}
MAX_SPECTRUM_TEMPERATURE_K = 330.0  # emission maxima recorded above this (heating series) are not used

SIZE_WEIGHT = 4.0  # site choice: one unit of charge mismatch weighs as much as a 25 % size mismatch

_ACTIVATOR_RE = re.compile(r"^\s*([A-Z][a-z]?)\s*(?:\^?\(?\s*(\d)\s*\+\s*\)?|\(\s*(I{1,3}|IV)\s*\))?\s*$")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}


def parse_activators(values) -> tuple[np.ndarray, list[str]]:
    """Activator codes (index in :data:`ACTIVATORS`, -1 on error) and per-row error messages.

    Accepts ``Ce3+``, ``Ce 3+``, ``Ce^3+``, ``Ce(3+)``, ``Ce(III)``; an element alone only when it has
    one usual valence here (``Ce``, ``Tb``: yes; ``Eu``, ``Mn``, ``Yb``: no).
    """
    cache: dict[object, tuple[int, str]] = {}
    codes = np.full(len(values), -1, dtype=np.int64)
    errors = []
    for i, value in enumerate(values):
        key = value if isinstance(value, str) else repr(value)
        if key not in cache:
            cache[key] = _parse_activator(value)
        codes[i], message = cache[key]
        errors.append(message)
    return codes, errors


def _parse_activator(value) -> tuple[int, str]:
    known = ", ".join(ACTIVATORS)
    if not isinstance(value, str) or not value.strip():
        return -1, f"activator missing; give one of {known}"
    m = _ACTIVATOR_RE.match(value)
    if not m:
        return -1, f"activator {value!r} not understood; write it like Ce3+ (one of {known})"
    symbol, digit, roman = m.groups()
    if digit is None and roman is None:
        options = [a for a in ACTIVATORS if a.rstrip("+").rstrip("0123456789") == symbol]
        if len(options) != 1:
            return -1, (f"activator {value!r}: give the valence ({', '.join(options)})" if options
                        else f"unknown activator {value!r}; known: {known}")
        return ACTIVATOR_INDEX[options[0]], ""
    name = f"{symbol}{int(digit) if digit else _ROMAN[roman]}+"
    if name not in ACTIVATOR_INDEX:
        return -1, f"unknown activator {name!r}; known: {known}"
    return ACTIVATOR_INDEX[name], ""


def _ion_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Oxidation state and radius per element column (0 and NaN where unknown)."""
    ox = np.zeros(N_EL)
    radius = np.full(N_EL, np.nan)
    for symbol, (z, r) in HOST_IONS.items():
        ox[ELEMENT_INDEX[symbol]] = z
        radius[ELEMENT_INDEX[symbol]] = r
    return ox, radius


def substituted_site(amounts: dict[str, float], activator: str, dopant_amount: float) -> str | None:
    """The host element an activator replaces: same-charge, similar-size cation, preferring one whose
    written amount plus the dopant amount is a round number (``Sr1.96`` + ``Eu0.04`` -> Sr).

    ``amounts``: element -> amount per formula unit of the host as written. None when the host has no
    cation of known size.
    """
    z_act, r_act = ACTIVATOR_PROPERTIES[activator][:2]
    best, best_score = None, np.inf
    for symbol, n in amounts.items():
        z, r = HOST_IONS.get(symbol, (0, np.nan))
        if z <= 0 or not np.isfinite(r):
            continue
        score = abs(z - z_act) + SIZE_WEIGHT * abs(r - r_act) / r_act
        restored = n + dopant_amount
        if abs(n - round(n)) > 1e-6 and abs(restored - round(restored)) < 1e-6:
            score -= 3.0  # the formula was written with this site reduced by the dopant
        if score < best_score:
            best, best_score = symbol, score
    return best


def load_phosphor_table(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The cleaned database: one row per measurement, nominal-host fractions and counts of what was dropped.

    Returns ``(frame, fractions, counts)``: ``frame`` has ``host`` (nominal formula), ``host_written``,
    ``activator``, ``activator_code``, ``concentration`` (site fraction), ``site``, ``codopant``
    (``""`` when single-activator or co-doped with an ion that does not emit), ``emission_nm``,
    ``T50_K``, ``temperature_K``, ``doi``, ``year``; ``fractions`` the (n, len(ELEMENTS)) atomic
    fractions of the nominal hosts; ``counts`` the numbers of rows dropped per reason.
    """
    from pymatgen.core import Composition

    raw = pd.read_csv(Path(data_dir) / DATA_FILE)
    raw.columns = [c.strip() for c in raw.columns]
    counts = {"rows_in_file": len(raw)}
    dopant = raw["1st dopant"]
    valency = raw["1st dopant valency"]
    has_dopant = dopant.notna() & valency.notna()
    counts["no_activator"] = int((~has_dopant).sum())
    names = np.where(has_dopant, dopant.astype(str).str.strip() + valency.fillna(0).astype(int).astype(str) + "+", "")
    known = np.isin(names, ACTIVATORS)
    counts["unknown_activator"] = int((has_dopant & ~known).sum())
    conc = pd.to_numeric(raw["1st doping concentration"], errors="coerce").to_numpy(dtype=float)
    ok_conc = np.isfinite(conc) & (conc > 0)
    counts["no_concentration"] = int((known & ~ok_conc).sum())
    keep = known & ok_conc
    rows = []
    n_unparsed = n_no_anion = 0
    for i in np.flatnonzero(keep):
        host = str(raw["Host"].iat[i]).strip()
        try:
            amounts = {str(k): float(v) for k, v in Composition(host).get_el_amt_dict().items()}
        except Exception:  # noqa: BLE001 - pymatgen raises several types for bad formulas
            amounts = {}
        if not amounts or any(k not in ELEMENT_INDEX for k in amounts):
            n_unparsed += 1
            continue
        if not any(HOST_IONS.get(k, (0, 0))[0] < 0 for k in amounts):
            n_no_anion += 1  # truncated host formulas such as 'K0.4Na0.6Sr0.945'
            continue
        site = substituted_site(amounts, names[i], conc[i])
        if site is None:
            n_unparsed += 1
            continue
        n_site = amounts[site]
        restored = n_site + conc[i]
        if abs(n_site - round(n_site)) > 1e-6 and abs(restored - round(restored)) < 1e-6:
            nominal_site = restored  # written with the site reduced
        else:
            nominal_site = max(n_site, conc[i])  # written as the nominal host
        nominal = dict(amounts)
        nominal[site] = nominal_site
        rows.append((i, host, _formula(nominal), site, float(min(conc[i] / nominal_site, 1.0)), nominal))
    counts["unparseable_host"] = n_unparsed
    counts["host_without_anion"] = n_no_anion
    idx = np.array([r[0] for r in rows], dtype=int)
    fractions = np.zeros((len(rows), N_EL))
    for k, r in enumerate(rows):
        total = sum(r[5].values())
        for symbol, amount in r[5].items():
            fractions[k, ELEMENT_INDEX[symbol]] = amount / total
    second = raw["2nd dopant"].iloc[idx].fillna("").astype(str).str.strip().to_numpy()
    second_valence = pd.to_numeric(raw["2nd dopant valency"].iloc[idx], errors="coerce").to_numpy()
    second_ion = np.where(np.isfinite(second_valence) & (second != ""),
                          second + np.nan_to_num(second_valence).astype(int).astype(str) + "+", second)
    codopant = np.where(np.isin(second, INERT_CODOPANTS), "", second)
    frame = pd.DataFrame({
        "host": [r[2] for r in rows], "host_written": [r[1] for r in rows], "activator": names[idx],
        "activator_code": [ACTIVATOR_INDEX[n] for n in names[idx]], "concentration": [r[4] for r in rows],
        "site": [r[3] for r in rows], "codopant": codopant, "second_dopant": second_ion,
        "emission_nm": pd.to_numeric(raw["Emission max. (nm)"].iloc[idx], errors="coerce").to_numpy(),
        "T50_K": pd.to_numeric(raw["Thermal quenching temp. (K)"].iloc[idx], errors="coerce").to_numpy(),
        "temperature_K": pd.to_numeric(raw["Temp. (K)"].iloc[idx], errors="coerce").to_numpy(),
        "doi": raw["Reference"].iloc[idx].astype(str).str.strip().str.lower().to_numpy(),
        "year": raw["Year"].iloc[idx].to_numpy(), "phosphor": raw["Inorganic phosphor"].iloc[idx].astype(str).to_numpy(),
    })
    return frame, fractions, counts


def _formula(amounts: dict[str, float]) -> str:
    def num(x):
        return "" if abs(x - 1) < 1e-9 else f"{x:.6g}"
    return "".join(f"{el}{num(n)}" for el, n in amounts.items())


def paper_groups(doi: np.ndarray) -> np.ndarray:
    """Integer CV group per row: one per paper (DOI)."""
    return pd.factorize(pd.Series(doi))[0].astype(np.int64)


def build_X(fractions: np.ndarray, codes: np.ndarray, concentration: np.ndarray) -> np.ndarray:
    """Model input matrix: host fractions, activator code, site fraction."""
    return np.hstack([np.asarray(fractions, dtype=float), np.asarray(codes, dtype=float)[:, None],
                      np.asarray(concentration, dtype=float)[:, None]])


# ------------------------------------------------------------------------------------------- features
#: Anions whose share of the host's anions is a feature (C: carbide, H: hydride).
ANION_FEATURES = ("N", "O", "F", "S", "Cl", "Br", "I", "Se", "C", "H")
#: Alkaline-earth, rare-earth and alkali cations: the large sites activators take.
_AE = ("Mg", "Ca", "Sr", "Ba")
_RE = ("Sc", "Y", "La", "Gd", "Lu")
_ALKALI = ("Li", "Na", "K", "Rb", "Cs")
_CLASSES = ("5d", "4f", "3d", "6p")
_CLASS_OF = np.array([_CLASSES.index(ACTIVATOR_PROPERTIES[a][2]) for a in ACTIVATORS])  # class index per code
PHYSICS_FEATURES = (
    tuple(f"anion_share_{a}" for a in ANION_FEATURES)
    + ("anion_fraction", "anion_chi_mean", "anion_radius_mean", "anion_charge_mean", "cation_chi_mean",
       "cation_chi_dorenbos", "alpha_sp_proxy", "cation_radius_mean", "cation_radius_max", "cation_charge_mean",
       "former_per_anion", "cations_per_anion", "frac_AE", "frac_RE", "frac_alkali", "charge_balance",
       "site_radius_A", "site_charge", "site_chi", "site_share", "site_radius_mismatch", "site_charge_mismatch",
       "n_site_candidates")
)


class HostFeaturizer(TransformerMixin, BaseEstimator):
    """Features of ``X`` = [host fractions, activator code, site fraction].

    Columns, in order: composition statistics of the host (:class:`CompositionFeaturizer`, element
    fractions included); :data:`PHYSICS_FEATURES` (anion mix; cation electronegativity, its
    Dorenbos charge-weighted mean and the oxide spectroscopic-polarizability law 0.33 + 4.8/chi_av^2
    (Dorenbos, Phys. Rev. B 65, 235110 (2002)) as a covalency proxy; network formers per anion
    (condensation); the host cation the activator most likely replaces (same charge, closest Shannon
    radius): its radius, charge, electronegativity and the mismatch to the activator); one-hot
    activator and transition class, activator valence, radius and free-ion 4f-5d energy; log10 site
    fraction.
    """

    def __init__(self, composition=True):
        self.composition = composition

    def fit(self, X, y=None):
        from regenome.features.composition import CompositionFeaturizer
        from regenome.features.elements import load_element_table

        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != N_EL + 2:
            raise ValueError(f"X must have {N_EL + 2} columns (host fractions, activator code, site fraction); "
                             f"got shape {X.shape}")
        values, names = load_element_table()
        self.chi_ = values[:, list(names).index("electronegativity_pauling")]
        self.ox_, self.radius_ = _ion_arrays()
        self.composition_ = CompositionFeaturizer(fraction_elements="all").fit() if self.composition else None
        props = np.array([[v, r, free] for v, r, _, free in (ACTIVATOR_PROPERTIES[a] for a in ACTIVATORS)])
        props[:, 2] = np.nan_to_num(props[:, 2])  # 0: no 4f-5d reference (not a 5d emitter)
        self.activator_table_ = props
        self.n_features_in_ = X.shape[1]
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = list(self.composition_.get_feature_names_out()) if self.composition_ is not None else []
        names += list(PHYSICS_FEATURES)
        names += [f"act_{a}" for a in ACTIVATORS] + [f"class_{c}" for c in _CLASSES]
        names += ["act_valence", "act_radius_A", "act_free_ion_eV", "log10_site_fraction"]
        return np.asarray(names, dtype=object)

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        H = X[:, :N_EL]
        total = H.sum(axis=1, keepdims=True)
        H = np.divide(H, total, out=np.zeros_like(H), where=total > 0)
        codes = np.clip(X[:, COL_ACTIVATOR].astype(int), 0, len(ACTIVATORS) - 1)
        blocks = []
        if self.composition_ is not None:
            blocks.append(self.composition_.transform(H).astype(float))
        blocks.append(self._physics(H, codes))
        onehot = np.zeros((len(X), len(ACTIVATORS)))
        onehot[np.arange(len(X)), codes] = 1.0
        classes = np.array([_CLASSES.index(ACTIVATOR_PROPERTIES[a][2]) for a in ACTIVATORS])[codes]
        class_onehot = np.zeros((len(X), len(_CLASSES)))
        class_onehot[np.arange(len(X)), classes] = 1.0
        conc = np.log10(np.clip(X[:, COL_CONCENTRATION], 1e-5, 1.0))
        blocks += [onehot, class_onehot, self.activator_table_[codes], conc[:, None]]
        return np.hstack(blocks)

    def _physics(self, H: np.ndarray, codes: np.ndarray) -> np.ndarray:
        ox, radius, chi = self.ox_, self.radius_, self.chi_
        anion = ox < 0
        cation = ox > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            a_tot = H[:, anion].sum(axis=1)
            c_tot = H[:, cation].sum(axis=1)
            shares = np.stack([H[:, ELEMENT_INDEX[a]] for a in ANION_FEATURES], axis=1) / a_tot[:, None]
            Ha, Hc = H * anion, H * cation
            chi0, r0 = np.nan_to_num(chi), np.nan_to_num(radius)
            anion_chi = (Ha @ chi0) / a_tot
            anion_r = (Ha @ r0) / (Ha @ np.isfinite(radius))
            anion_z = (Ha @ -ox) / a_tot
            cat_chi = (Hc @ chi0) / c_tot
            cat_chi_d = (Hc @ (ox * chi0)) / (Hc @ ox)
            alpha = 0.33 + 4.8 / cat_chi_d**2
            cat_r = (Hc @ r0) / c_tot
            cat_rmax = np.where(Hc > 0, r0, 0.0).max(axis=1)
            cat_z = (Hc @ ox) / c_tot
            former = cation & (radius < 0.8) & (ox >= 3)
            former_per_anion = H[:, former].sum(axis=1) / a_tot
            cations_per_anion = np.where(a_tot > 0, c_tot / a_tot, np.nan)
            frac = {name: H[:, [ELEMENT_INDEX[e] for e in group]].sum(axis=1)
                    for name, group in (("AE", _AE), ("RE", _RE), ("alkali", _ALKALI))}
            balance = (H @ ox) / (H @ np.abs(ox))
            # the host cation the activator replaces: charge mismatch + SIZE_WEIGHT x relative size mismatch
            z_act = self.activator_table_[codes, 0]
            r_act = self.activator_table_[codes, 1]
            ok = (H > 0) & cation & np.isfinite(radius)
            score = np.abs(ox[None, :] - z_act[:, None]) + SIZE_WEIGHT * np.abs(r0[None, :] - r_act[:, None]) / r_act[:, None]
            score = np.where(ok, score, np.inf)
            site = score.argmin(axis=1)
            has_site = np.isfinite(score[np.arange(len(H)), site])
            site_r = np.where(has_site, r0[site], np.nan)
            site_z = np.where(has_site, ox[site], np.nan)
            site_chi = np.where(has_site, chi0[site], np.nan)
            site_share = np.where(has_site, H[np.arange(len(H)), site] / c_tot, np.nan)
            n_cand = (ok & (np.abs(ox[None, :] - z_act[:, None]) < 0.5)).sum(axis=1)
        return np.column_stack([
            shares, a_tot, anion_chi, anion_r, anion_z, cat_chi, cat_chi_d, alpha, cat_r, cat_rmax, cat_z,
            former_per_anion, cations_per_anion, frac["AE"], frac["RE"], frac["alkali"], balance,
            site_r, site_z, site_chi, site_share, site_r - r_act, site_z - z_act, n_cand,
        ])


# ------------------------------------------------------------------------------------- same-host prior
#: Activator pairs whose residuals inform each other, with the factor that maps the first's residual (eV)
#: to the second's: Dorenbos' E(Eu2+) = 0.64 E(Ce3+) + 0.53 eV for the same host site
#: (Dorenbos, J. Lumin. 104, 239 (2003)).
CROSS_ACTIVATORS = {("Ce3+", "Eu2+"): 0.64, ("Eu2+", "Ce3+"): 1.0 / 0.64}
PRIOR_FEATURES = ("prior_same_host", "prior_weight", "prior_nearest_L1", "prior_knn", "prior_knn_L1",
                  "prior_cross_host", "prior_cross_weight", "prior_cross_nearest_L1", "prior_log_activator_rows")


def prior_features(query: np.ndarray, ref: np.ndarray, ref_residual: np.ndarray, ref_weight: np.ndarray,
                   query_groups: np.ndarray | None = None, ref_groups: np.ndarray | None = None,
                   tau: float = 0.03, max_distance: float = 0.15, n_neighbors: int = 5) -> np.ndarray:
    """What other measurements say about each query row: :data:`PRIOR_FEATURES`.

    ``query`` and ``ref`` are ``X`` matrices; hosts are compared by the L1 distance of their atomic
    fractions (0 for the same host, 0.005 for Sr1.96Si5N8 against Sr2Si5N8, 2 for disjoint hosts).
    Per query, over reference rows with the same activator: the kernel-weighted mean residual
    (weights ``ref_weight * exp(-d / tau)`` for ``d < max_distance``; 0, the baseline, when none), the kernel
    weight, the nearest distance, and the distance-weighted mean residual of the ``n_neighbors``
    nearest hosts with their mean distance; then the same-host mean, weight and nearest distance of the
    paired 5d activator (:data:`CROSS_ACTIVATORS`, residual scaled); last, log(1 + reference rows with
    the query's activator), so that the error model can widen thin-data rows. When groups are given, reference rows
    of the query's own group (paper) are left out, so training rows see only other papers.
    """
    from scipy.spatial.distance import cdist

    n = len(query)
    out = np.zeros((n, len(PRIOR_FEATURES)))  # no neighbour: residual 0 (the activator baseline), weight 0
    out[:, [2, 4, 7]] = 2.0
    q_codes = query[:, COL_ACTIVATOR].astype(int)
    r_codes = ref[:, COL_ACTIVATOR].astype(int)
    pairs = [(a, a, 1.0, 0) for a in np.unique(q_codes)]
    pairs += [(ACTIVATOR_INDEX[b], ACTIVATOR_INDEX[a], s, 5) for (a, b), s in CROSS_ACTIVATORS.items()]
    for q_code, r_code, scale, col in pairs:
        qi = np.flatnonzero(q_codes == q_code)
        ri = np.flatnonzero(r_codes == r_code)
        if qi.size == 0 or ri.size == 0:
            continue
        d = cdist(query[qi, :N_EL], ref[ri, :N_EL], metric="cityblock")
        if query_groups is not None and ref_groups is not None:
            d[query_groups[qi][:, None] == ref_groups[ri][None, :]] = np.inf
        res = ref_residual[ri] * scale
        w = ref_weight[ri][None, :] * np.exp(-d / tau) * (d < max_distance)
        wsum = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[qi, col] = np.where(wsum > 0, (w @ res) / wsum, 0.0)
        out[qi, col + 1] = wsum
        out[qi, col + 2] = np.minimum(d.min(axis=1), 2.0)
        if col == 0:
            out[qi, 8] = np.log1p(np.isfinite(d).sum(axis=1))  # thin data -> the error model can widen sigma
            k = min(n_neighbors, ri.size)
            nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
            dk = np.take_along_axis(d, nearest, axis=1)
            wk = np.where(np.isfinite(dk), 1.0 / (dk + 0.02), 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[qi, 3] = np.where(wk.sum(axis=1) > 0, (wk * res[nearest]).sum(axis=1) / wk.sum(axis=1), 0.0)
                out[qi, 4] = np.minimum(np.where(np.isfinite(dk), dk, 2.0).mean(axis=1), 2.0)
    return out


def measurement_weights(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """1 / (rows of the same paper, activator and host): a concentration series counts as one measurement."""
    key = pd.DataFrame({"g": groups, "a": X[:, COL_ACTIVATOR].astype(int),
                        "h": [hash(row.tobytes()) for row in np.round(X[:, :N_EL], 3)]})
    return 1.0 / key.groupby(["g", "a", "h"])["g"].transform("size").to_numpy(dtype=float)


# ---------------------------------------------------------------------------------- Ce3+ centroid shift
#: Descriptors of :func:`regenome.surrogates.centroid_shift.features` (composition path), in order.
CENTROID_DESCRIPTORS = ("anion_polarizability_A3", "cation_electronegativity", "inv_cation_electronegativity_sq",
                        "anion_polarizability_over_chi_sq", "anions_per_cation", "anion_share_F", "anion_share_Cl",
                        "anion_share_Br", "anion_share_I", "anion_share_O", "anion_share_S", "anion_share_Se",
                        "anion_share_N")


class CentroidShiftEstimate(BaseEstimator):
    """Ce3+ 5d centroid shift (eV) of a host from its formula: ``exp(c0 + sum_i c_i d_i)``.

    ``d`` are the Dorenbos-type composition descriptors of the ``centroid-shift`` surrogate
    (:data:`CENTROID_DESCRIPTORS`: anion polarizability, charge-weighted cation electronegativity chi_av,
    1/chi_av^2, alpha/chi_av^2, anions per cation, anion shares; see
    :func:`regenome.surrogates.centroid_shift.features`) and ``c`` the coefficients of its composition
    model (ridge regression on ln eps_c, :func:`fit_centroid_shift_estimate`). A fixed function: the
    coefficients are its parameters, so it needs no ``fit`` and survives ``clone``.

    Parameters
    ----------
    coefficients : tuple of float
        Intercept, then one coefficient per descriptor of :data:`CENTROID_DESCRIPTORS`.
    fallback : float
        Value (eV) for hosts the descriptors cannot describe (an element without a usual oxidation state):
        the median centroid shift of the training hosts.
    """

    def __init__(self, coefficients=(), fallback=1.0):
        self.coefficients = coefficients
        self.fallback = fallback

    def predict(self, X) -> np.ndarray:
        """Centroid shift (eV), shape (n,), of the hosts of ``X`` (:func:`build_X` rows; host fractions used)."""
        from regenome.features.elements import load_element_table
        from regenome.surrogates.centroid_shift import features

        c = np.asarray(self.coefficients, dtype=float)
        if c.shape != (len(CENTROID_DESCRIPTORS) + 1,):
            raise ValueError(f"The 'coefficients' parameter of CentroidShiftEstimate must hold "
                             f"{len(CENTROID_DESCRIPTORS) + 1} numbers (intercept and one per descriptor); "
                             f"got {c.size}")
        X = np.asarray(X, dtype=float)
        values, names = load_element_table()
        chi = values[:, names.index("electronegativity_pauling")]
        site = np.full((len(X), 2), np.nan)  # no site structure: the composition path
        descriptors, _, _, _ = features(np.hstack([X[:, :N_EL], site]), chi)
        with np.errstate(over="ignore", invalid="ignore"):
            eps = np.exp(c[0] + descriptors @ c[1:])
        return np.where(np.isfinite(eps), eps, self.fallback)


def fit_centroid_shift_estimate(data_dir: Path, quick: bool = False) -> tuple[CentroidShiftEstimate, object]:
    """The composition model of the ``centroid-shift`` surrogate refitted on its data, as a
    :class:`CentroidShiftEstimate`, and the :class:`~regenome.surrogates.base.ExtraFile` record of that data.

    Same data, descriptors, de-duplication and mean model (standardized ridge on ln eps_c) as
    :class:`regenome.surrogates.centroid_shift.CentroidShiftRegressor`, whose composition path it
    reproduces; only the mean is kept (as coefficients).
    """
    from regenome.features.elements import load_element_table
    from regenome.surrogates import centroid_shift
    from regenome.surrogates.base import ExtraFile

    ts = centroid_shift.load_training_set(Path(data_dir), quick)
    rows = ts.subsets["composition_only"]
    X, y = ts.X[rows], ts.Y[rows, 0]
    values, names = load_element_table()
    descriptors, _, _, _ = centroid_shift.features(X, values[:, names.index("electronegativity_pauling")])
    fractions = X[:, :N_EL] / X[:, :N_EL].sum(axis=1, keepdims=True)
    _, first = np.unique(np.column_stack([np.round(fractions, 6), y]), axis=0, return_index=True)
    first = np.sort(first)
    model = clone(centroid_shift.make_estimator(0, quick).composition_model.estimator)
    model.fit(descriptors[first], np.log(y[first]))
    scaler, linear = model[0], model[-1]
    weights = linear.coef_ / scaler.scale_
    intercept = float(linear.intercept_ - weights @ scaler.mean_)
    estimate = CentroidShiftEstimate(coefficients=tuple(float(v) for v in (intercept, *weights)),
                                     fallback=float(np.median(y)))
    record = ExtraFile(file=centroid_shift.DATA_FILE, rows_in_file=ts.rows_in_file, rows_used=len(first),
                       source=centroid_shift.SPEC.source,
                       filtering="the centroid-shift surrogate's composition path (ridge on ln eps_c over its "
                                 "formula descriptors) refitted on the distinct (composition, eps_c) pairs and kept "
                                 "in the model as coefficients")
    return estimate, record


# ------------------------------------------------------------------------------------------ regressor
class SameHostPriorRegressor(RegressorMixin, BaseEstimator):
    """A host term that is the same-host prior alone, shrunk toward zero where it rests on little data.

    Reads the design matrix of :class:`PhosphorRegressor`, whose last columns are
    :data:`PRIOR_FEATURES`, and predicts ``w / (w + pseudo_weight) * prior_same_host`` (``w``: the
    prior's kernel weight; a measurement of the same host by one other paper weighs 1). Nothing is
    learned in ``fit``: for targets as noisy as literature T50 values, trees on the host features
    added error in grouped CV where this did not.

    Parameters
    ----------
    pseudo_weight : float
        Kernel weight at which the prior counts half.
    """

    def __init__(self, pseudo_weight=0.1):
        self.pseudo_weight = pseudo_weight

    def fit(self, Z, y, sample_weight=None):
        Z = np.asarray(Z, dtype=float)
        if Z.ndim != 2 or Z.shape[1] < len(PRIOR_FEATURES):
            raise ValueError(f"The 'Z' parameter of SameHostPriorRegressor.fit must end with the "
                             f"{len(PRIOR_FEATURES)} prior feature columns; got shape {Z.shape}")
        self.n_features_in_ = Z.shape[1]
        return self

    def predict(self, Z) -> np.ndarray:
        P = np.asarray(Z, dtype=float)[:, -len(PRIOR_FEATURES):]
        prior, weight = P[:, PRIOR_FEATURES.index("prior_same_host")], P[:, PRIOR_FEATURES.index("prior_weight")]
        return weight / (weight + self.pseudo_weight) * prior


class ActivatorSplitRegressor(RegressorMixin, BaseEstimator):
    """One model for every activator, and models of their own for some: each trained on its activator's rows.

    Parameters
    ----------
    estimator : PhosphorRegressor
        Trained on all rows; serves the activators without a model of their own.
    activator_estimators : tuple of (str, PhosphorRegressor)
        Activator name (e.g. ``"Ce3+"``) and the model trained on that activator's rows only, which
        then serves its rows (mean and one-sigma).
    min_rows : int
        An activator with fewer training rows keeps ``estimator``.
    """

    def __init__(self, estimator, activator_estimators=(), min_rows=30):
        self.estimator = estimator
        self.activator_estimators = activator_estimators
        self.min_rows = min_rows

    def fit(self, X, y, groups=None):
        """Fit ``estimator`` on all rows and each activator's model on its rows; ``groups``: papers."""
        X = np.asarray(X, dtype=float)
        y = np.ravel(np.asarray(y, dtype=float))
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        codes = X[:, COL_ACTIVATOR].astype(int)
        self.estimator_ = clone(self.estimator).fit(X, y, groups=groups)
        self.activator_estimators_ = {}
        for name, model in self.activator_estimators:
            if name not in ACTIVATOR_INDEX:
                raise ValueError(f"The 'activator_estimators' parameter of ActivatorSplitRegressor must name "
                                 f"activators among {', '.join(ACTIVATORS)}; got {name!r}")
            rows = codes == ACTIVATOR_INDEX[name]
            if rows.sum() >= self.min_rows:
                self.activator_estimators_[name] = clone(model).fit(X[rows], y[rows], groups=groups[rows])
        for attribute in ("activator_counts_", "seen_elements_", "concentration_range_", "target_range_",
                          "n_features_in_"):
            setattr(self, attribute, getattr(self.estimator_, attribute))
        return self

    def get_params(self, deep=True) -> dict:
        """Parameters; with ``deep``, also those of each activator's model as
        ``activator_estimators__<activator>__<name>`` (read-only: set them on the model itself)."""
        params = super().get_params(deep=deep)
        if deep:
            for name, model in self.activator_estimators:
                params[f"activator_estimators__{name}"] = model
                params.update({f"activator_estimators__{name}__{key}": value
                               for key, value in model.get_params(deep=True).items()})
        return params

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Features of ``estimator`` (the activators' own models read the same ones)."""
        return self.estimator_.get_feature_names_out()

    def predict(self, X, return_std=False):
        """Predictions (n, 1) in the output units, and the one-sigma widths when ``return_std``."""
        X = np.asarray(X, dtype=float)
        codes = X[:, COL_ACTIVATOR].astype(int)
        mean, std = self.estimator_.predict(X, return_std=True)
        for name, model in self.activator_estimators_.items():
            rows = codes == ACTIVATOR_INDEX[name]
            if rows.any():
                mean[rows], std[rows] = model.predict(X[rows], return_std=True)
        return (mean, std) if return_std else mean


class PhosphorRegressor(RegressorMixin, BaseEstimator):
    """Per-activator baseline + tree-ensemble host term + same-host prior, with a calibrated sigma.

    The model predicts ``t - baseline[activator]`` where ``t`` is the target (``target="energy"``: the
    photon energy ``HC_EV_NM / y`` in eV for a wavelength ``y`` in nm; ``"none"``: ``y`` itself) and the
    baseline is the activator's median target in the training rows (shrunk toward the median of its
    transition class by ``shrinkage`` pseudo-rows). Features: :class:`HostFeaturizer` plus :func:`prior_features`, which
    for training rows come from other papers only (``groups``), as they will for a new paper.

    The one-sigma width comes from an error model trained on out-of-fold absolute errors (grouped
    ``cv``-fold CV inside ``fit``, priors recomputed per fold), scaled so that it covers ``coverage`` of
    the out-of-fold errors (split conformal), in target units; ``predict`` converts it to the output
    units (nm: ``sigma_E * HC_EV_NM / E**2``).

    Parameters
    ----------
    featurizer : HostFeaturizer
    estimator : regressor
        Mean model of the residual from the activator baseline.
    error_estimator : regressor
        Model of the absolute out-of-fold error.
    band_estimator : regressor or None
        Mean model for the 5d-4f band emitters (Ce3+, Eu2+, Yb2+), whose host term is large;
        ``estimator`` then serves the other activators. None: ``estimator`` serves all.
    split : {"none", "activator"}
        ``"activator"``: one mean model per activator, trained on that activator's rows only (so the
        large host terms of some never leak into others), and the band emitters together in one
        ``band_estimator`` model; activators with fewer than ``min_model_rows`` rows keep their
        baseline. ``"none"``: ``estimator`` on all rows serves every activator (``band_estimator``,
        when given, the band emitters, also trained on all rows).
    min_model_rows : int
    baseline_classes : tuple of str
        Transition classes (of :data:`_CLASSES`) whose activators keep their baseline, with no host
        model (``split="activator"`` only): ``("4f",)`` for the 4f-4f lines, which barely move with the host.
    band_sample_weight : bool
        Weight the rows of ``band_estimator`` by :func:`measurement_weights` (a paper's concentration
        series of one host counts as one measurement).
    residual_scales : tuple of (activator, factor)
        Residuals of these activators are divided by ``factor`` before fitting (and predictions
        multiplied back), putting them on a common scale: Eu2+ 0.64 maps its host shifts onto
        Ce3+'s (Dorenbos).
    target : {"energy", "none"}
    centroid_shift : CentroidShiftEstimate or None
        Ce3+ centroid shift of each host (eV), used with ``centroid_response``.
    centroid_response : tuple of (activator, factor)
        ``target="energy"`` only: the model works on ``E + factor * eps_c`` for these activators
        (Dorenbos: E(Ce3+) = 6.12 eV - eps_c - crystal-field part - Stokes shift, so ``("Ce3+", 1.0)``
        leaves the trees the crystal-field and Stokes parts), and predicts ``E`` back.
    shrinkage : float
        Pseudo-rows pulling small activator baselines toward their transition class's median.
    prior_tau, prior_max_distance, n_neighbors : float, float, int
        See :func:`prior_features`.
    use_prior : bool
        Add the prior features.
    cv : int
        Inner grouped folds for the out-of-fold errors.
    coverage : float
        Fraction of out-of-fold errors one sigma covers: calibrated per activator with at least
        ``min_calibration_rows`` out-of-fold rows, else per transition class, else over all rows.
    min_calibration_rows : int
    sigma_floor : float
        Smallest one-sigma width, in target units (eV or K).
    random_state : int
    """

    def __init__(self, featurizer, estimator, error_estimator, band_estimator=None, split="none", min_model_rows=60,
                 baseline_classes=(),
                 band_sample_weight=False, residual_scales=(), target="none", centroid_shift=None,
                 centroid_response=(), shrinkage=5.0, prior_tau=0.03, prior_max_distance=0.15, n_neighbors=5,
                 use_prior=True, cv=5, coverage=ONE_SIGMA, min_calibration_rows=30, sigma_floor=0.0,
                 random_state=0):
        self.featurizer = featurizer
        self.estimator = estimator
        self.error_estimator = error_estimator
        self.band_estimator = band_estimator
        self.split = split
        self.min_model_rows = min_model_rows
        self.baseline_classes = baseline_classes
        self.band_sample_weight = band_sample_weight
        self.residual_scales = residual_scales
        self.target = target
        self.centroid_shift = centroid_shift
        self.centroid_response = centroid_response
        self.shrinkage = shrinkage
        self.prior_tau = prior_tau
        self.prior_max_distance = prior_max_distance
        self.n_neighbors = n_neighbors
        self.use_prior = use_prior
        self.cv = cv
        self.coverage = coverage
        self.min_calibration_rows = min_calibration_rows
        self.sigma_floor = sigma_floor
        self.random_state = random_state

    # ------------------------------------------------------------------ target space
    def _offset(self, X) -> np.ndarray:
        """``factor * eps_c`` per row (eV) for the activators of ``centroid_response``, else 0."""
        factors = np.zeros(len(ACTIVATORS))
        for name, factor in self.centroid_response:
            factors[ACTIVATOR_INDEX[name]] = factor
        k = factors[X[:, COL_ACTIVATOR].astype(int)]
        if not k.any():
            return np.zeros(len(X))
        if self.centroid_shift is None or self.target != "energy":
            raise ValueError(f"The 'centroid_response' parameter of PhosphorRegressor needs target='energy' and a "
                             f"'centroid_shift' estimate; got target={self.target!r}, "
                             f"centroid_shift={self.centroid_shift!r}")
        out = np.zeros(len(X))
        out[k != 0] = k[k != 0] * self.centroid_shift.predict(X[k != 0])
        return out

    def _forward(self, y, X):
        if self.target not in ("energy", "none"):
            raise ValueError(f"The 'target' parameter of PhosphorRegressor must be 'energy' or 'none'; "
                             f"got {self.target!r}.")
        y = np.asarray(y, dtype=float)
        return HC_EV_NM / y + self._offset(X) if self.target == "energy" else y

    def _inverse(self, t, sigma, X):
        if self.target == "energy":
            energy = t - self._offset(X)
            return HC_EV_NM / energy, sigma * HC_EV_NM / energy**2
        return t, sigma

    def _baselines(self, codes, t):
        """Median target per activator, shrunk toward the median of its transition class (then of all rows)."""
        overall = float(np.median(t))
        classes = _CLASS_OF[codes]
        class_median = np.array([float(np.median(t[classes == k])) if (classes == k).any() else overall
                                 for k in range(len(_CLASSES))])
        base = class_median[_CLASS_OF].copy()
        for code in np.unique(codes):
            values = t[codes == code]
            prior = class_median[_CLASS_OF[code]]
            base[code] = (len(values) * np.median(values) + self.shrinkage * prior) / (len(values) + self.shrinkage)
        return base

    def _design(self, F, X, ref, residual, weight, groups=None, ref_groups=None):
        """Features plus prior features; NaN (e.g. the site of a host without one) become -1."""
        if self.use_prior:
            F = np.hstack([F, prior_features(X, ref, residual, weight, groups, ref_groups, self.prior_tau,
                                             self.prior_max_distance, self.n_neighbors)])
        return np.nan_to_num(F, nan=-1.0, posinf=-1.0, neginf=-1.0)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y, groups=None):
        """Fit on ``X`` (see :func:`build_X`) and targets ``y`` ((n,) or (n, 1)); ``groups``: papers."""
        X = np.asarray(X, dtype=float)
        t = self._forward(np.ravel(y), X)
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        codes = X[:, COL_ACTIVATOR].astype(int)
        weight = measurement_weights(X, groups)
        self.featurizer_ = clone(self.featurizer).fit(X)
        F = self.featurizer_.transform(X)
        # out-of-fold predictions as a new paper would get them: baselines and priors from the other folds
        oof = np.empty_like(t)
        Z_oof = None
        for train, test in grouped_folds(self.cv, groups, self.random_state).split(X, t, groups):
            base = self._baselines(codes[train], t[train])
            res = t[train] - base[codes[train]]
            Z_tr = self._design(F[train], X[train], X[train], res, weight[train], groups[train], groups[train])
            Z_te = self._design(F[test], X[test], X[train], res, weight[train])
            models = self._fit_means(Z_tr, res, codes[train], weight[train])
            oof[test] = base[codes[test]] + self._predict_means(models, Z_te, codes[test])
            if Z_oof is None:
                Z_oof = np.empty((len(X), Z_te.shape[1]))
            Z_oof[test] = Z_te
        abs_err = np.abs(t - oof)
        self._fit_error_model(Z_oof, abs_err, groups, codes)
        self.base_ = self._baselines(codes, t)
        self.residual_ = t - self.base_[codes]
        self.ref_ = X.copy()
        self.ref_weight_ = weight
        Z = self._design(F, X, X, self.residual_, weight, groups, groups)
        self.estimators_ = self._fit_means(Z, self.residual_, codes, weight)
        self.activator_counts_ = np.bincount(codes, minlength=len(ACTIVATORS))
        self.seen_elements_ = (X[:, :N_EL] > 0).any(axis=0)
        self.concentration_range_ = (float(X[:, COL_CONCENTRATION].min()), float(X[:, COL_CONCENTRATION].max()))
        self.target_range_ = (float(np.min(np.ravel(y))), float(np.max(np.ravel(y))))
        self.n_features_in_ = X.shape[1]
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the host-model features: the featurizer's, then :data:`PRIOR_FEATURES` (when used)."""
        names = list(self.featurizer_.get_feature_names_out())
        return np.asarray(names + (list(PRIOR_FEATURES) if self.use_prior else []), dtype=object)

    def _scales(self, codes):
        table = np.ones(len(ACTIVATORS))
        for name, factor in self.residual_scales:
            table[ACTIVATOR_INDEX[name]] = factor
        return table[codes]

    def _fit_means(self, Z, residual, codes, weight) -> dict:
        """Mean models on scaled residuals: key ``"all"``, ``"band"`` or an activator code (as str)."""
        if self.split not in ("none", "activator"):
            raise ValueError(f"The 'split' parameter of PhosphorRegressor must be 'none' or 'activator'; "
                             f"got {self.split!r}.")
        r = residual / self._scales(codes)
        band = _CLASS_OF[codes] == _CLASSES.index("5d")
        models = {}
        if self.band_estimator is not None and band.any():
            rows = band if self.split == "activator" else np.ones(len(codes), bool)
            kwargs = {"sample_weight": weight[rows]} if self.band_sample_weight else {}
            models["band"] = clone(self.band_estimator).fit(Z[rows], r[rows], **kwargs)
        if self.split == "none":
            models["all"] = clone(self.estimator).fit(Z, r)
            return models
        for code in np.unique(codes[~band] if "band" in models else codes):
            rows = codes == code
            if rows.sum() >= self.min_model_rows and _CLASSES[_CLASS_OF[code]] not in self.baseline_classes:
                models[str(code)] = clone(self.estimator).fit(Z[rows], r[rows])
        return models

    def _predict_means(self, models, Z, codes) -> np.ndarray:
        r = np.zeros(len(codes))
        if "all" in models:
            r[:] = models["all"].predict(Z)
        else:
            for code in np.unique(codes):
                rows = codes == code
                if str(code) in models:
                    r[rows] = models[str(code)].predict(Z[rows])
        band = _CLASS_OF[codes] == _CLASSES.index("5d")
        if "band" in models and band.any():
            r[band] = models["band"].predict(Z[band])
        return r * self._scales(codes)

    def _fit_error_model(self, Z, abs_err, groups, codes):
        self.error_estimator_ = clone(self.error_estimator).fit(Z, abs_err)
        self.error_floor_ = float(max(np.quantile(abs_err, 0.05), self.sigma_floor, 1e-9))
        raw = np.empty_like(abs_err)
        for train, test in grouped_folds(self.cv, groups, self.random_state + 1).split(Z, abs_err, groups):
            raw[test] = clone(self.error_estimator).fit(Z[train], abs_err[train]).predict(Z[test])
        ratio = abs_err / np.maximum(raw, self.error_floor_)
        overall = float(np.quantile(ratio, self.coverage))
        classes = _CLASS_OF[codes]
        by_class = np.array([float(np.quantile(ratio[classes == k], self.coverage))
                             if (classes == k).sum() >= self.min_calibration_rows else overall
                             for k in range(len(_CLASSES))])
        scale = by_class[_CLASS_OF]
        for code in range(len(ACTIVATORS)):
            rows = codes == code
            if rows.sum() >= self.min_calibration_rows:
                scale[code] = float(np.quantile(ratio[rows], self.coverage))
        self.scale_ = scale  # one-sigma factor per activator code

    def _predict_target(self, X):
        X = np.asarray(X, dtype=float)
        codes = X[:, COL_ACTIVATOR].astype(int)
        F = self.featurizer_.transform(X)
        Z = self._design(F, X, self.ref_, self.residual_, self.ref_weight_)
        mean = self.base_[codes] + self._predict_means(self.estimators_, Z, codes)
        sigma = self.scale_[codes] * np.maximum(self.error_estimator_.predict(Z), self.error_floor_)
        return mean, sigma

    def predict(self, X, return_std=False):
        """Predictions (n, 1) in the output units, and the one-sigma widths when ``return_std``."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            t, sigma = self._predict_target(X)
        mean, std = self._inverse(t, sigma, np.asarray(X, dtype=float))
        if return_std:
            return mean[:, None], std[:, None]
        return mean[:, None]


# ---------------------------------------------------------------------------- spec building blocks
def phosphor_training_set(data_dir: Path, target: str, select, quick: bool):
    """A :class:`TrainingSet` of the cleaned database for one target column.

    ``select(frame) -> (keep mask, {reason: dropped mask})`` picks the rows; exact repeats (same paper,
    host, activator, site fraction and target) are merged; groups are papers. ``quick``: 400 random rows.
    """
    from regenome.surrogates.base import TrainingSet, subsample

    frame, fractions, counts = load_phosphor_table(data_dir)
    keep, reasons = select(frame)
    key = frame[["doi", "host", "activator", "concentration", target]].round({"concentration": 6})
    repeat = np.zeros(len(frame), bool)
    repeat[np.flatnonzero(keep)] = key[keep].duplicated().to_numpy()
    keep &= ~repeat
    frame, fractions = frame[keep].reset_index(drop=True), fractions[keep]
    anion_cols = {f"anion_{a}": fractions[:, ELEMENT_INDEX[a]] for a in ("N", "O", "F", "S", "Cl")}
    frame = frame.assign(**anion_cols)
    y = frame[target].to_numpy(dtype=float)
    X = build_X(fractions, frame["activator_code"].to_numpy(), frame["concentration"].to_numpy())
    dropped = [f"{int(m.sum())} {why}" for why, m in reasons.items() if m.sum()]
    filtering = (f"{counts['no_activator']} rows without a dopant (self-activated hosts), {counts['no_concentration']} "
                 f"without a concentration, {counts['host_without_anion']} with a truncated host formula (no anion) "
                 f"dropped; of the rest: dropped {', '.join(dropped)}; {int(repeat.sum())} exact repeats merged. "
                 "Host = nominal host: the dopant amount given back to the cation it replaces (same charge, closest "
                 "Shannon radius, preferring the site whose written amount plus the dopant is a round number); "
                 "concentration = dopant amount / amount of that site. CV groups: papers (DOI)")
    ts = TrainingSet(X=X, Y=y[:, None], groups=paper_groups(frame["doi"].to_numpy()),
                     frame=frame[["host", "host_written", "activator", "concentration", "site", "second_dopant", "codopant", "doi",
                                  "year", target, *anion_cols]],
                     file=DATA_FILE, rows_in_file=counts["rows_in_file"], filtering=filtering,
                     subsets={"all": np.ones(len(y), bool)})
    return subsample(ts, 400, 0) if quick else ts


def prepare_phosphor_inputs(estimator, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``X`` from the ``host``, ``activator`` and ``concentration`` columns, and one message per bad row.

    Errors: unparseable host, host without an anion, elements the model never saw, unknown activator or
    one absent from the training data, concentration not a number in (0, 1].
    """
    from regenome.features.formula import parse_formulas

    n = len(frame)
    fractions, errors = parse_formulas(frame["host"].tolist())
    errors = [f"host: {e}" if e else "" for e in errors]
    ox, _ = _ion_arrays()
    no_anion = ~((fractions > 0) & (ox < 0)).any(axis=1)
    unseen = (fractions > 0) & ~estimator.seen_elements_
    codes, act_errors = parse_activators(frame["activator"].tolist())
    counts = estimator.activator_counts_
    conc = pd.to_numeric(frame["concentration"], errors="coerce").to_numpy(dtype=float)
    symbols = np.array(ELEMENTS)
    for i in range(n):
        if errors[i]:
            continue
        if no_anion[i]:
            errors[i] = "host has no anion (O, N, F, S, Cl...): not a phosphor host formula"
        elif unseen[i].any():
            errors[i] = ("host element(s) " + ", ".join(symbols[unseen[i]]) + " absent from the training data; "
                         "no prediction")
        elif act_errors[i]:
            errors[i] = act_errors[i]
        elif counts[codes[i]] == 0:
            errors[i] = f"activator {ACTIVATORS[codes[i]]} absent from the training data; no prediction"
        elif not (np.isfinite(conc[i]) and 0 < conc[i] <= 1):
            errors[i] = (f"concentration must be the fraction of the replaced site in (0, 1]; "
                         f"got {frame['concentration'].iloc[i]!r}")
    ok = np.array([not e for e in errors], dtype=bool)
    X = build_X(fractions, np.where(ok, codes, 0), np.where(ok, conc, 0.01))
    return X, errors


def phosphor_feature_names(estimator) -> list[str]:
    return list(estimator.get_feature_names_out())


def phosphor_training_range(estimator) -> dict:
    """Elements seen, rows per activator, site-fraction range and target range of a fitted model."""
    return {"elements": [e for e, s in zip(ELEMENTS, estimator.seen_elements_) if s],
            "activators": {a: int(c) for a, c in zip(ACTIVATORS, estimator.activator_counts_) if c},
            "concentration": {"min": estimator.concentration_range_[0], "max": estimator.concentration_range_[1],
                              "unit": "fraction of the replaced site"},
            "target": {"min": estimator.target_range_[0], "max": estimator.target_range_[1]}}


#: The (host, activator, concentration)-in part of a phosphor surrogate's spec:
#: ``SurrogateSpec(..., **PHOSPHOR_INPUT)`` (emission, thermal-quenching).
PHOSPHOR_INPUT = {"inputs": {"host": "host formula (nominal, without the activator)",
                             "activator": "ion, e.g. Ce3+ or Eu2+",
                             "concentration": "fraction of the replaced site (0-1]"},
                  "prepare_inputs": prepare_phosphor_inputs, "feature_names": phosphor_feature_names,
                  "training_range": phosphor_training_range}
