"""Measurement correction layer: kernel-weighted, shrunk residuals on top of a base model.

A base model (the Nd-Fe-B physics model, a trained surrogate) predicts ``f(x)`` with a one-sigma
``sigma_p(x)``. Lab measurements ``y_i`` at points ``x_i`` give residuals ``r_i = T(y_i) - T(f(x_i))``
in a residual space ``T`` (``log``: relative residuals, ``ln(y/f)``; ``linear``: additive, e.g. in eV).
The corrected prediction is ``T^-1(T(f(x)) + delta(x))`` with

    w_i(x)   = exp(-(d(x, x_i) / length_scale)^2)      (0 when x and x_i are in different groups)
    W(x)     = sum_i w_i(x)
    delta(x) = sum_i w_i(x) r_i / (k0 + W(x))

a Nadaraya-Watson average of the residuals shrunk toward zero (the base model) by ``k0`` prior
pseudo-measurements: one measurement moves its own point by ``1 / (1 + k0)`` of the gap, many
consistent ones move it almost all the way, and points far from every measurement keep the base
prediction. The one-sigma in the residual space becomes

    sigma(x)^2 = sigma_p(x)^2 k0 / (k0 + W) + (sum_i w_i (r_i - delta(x))^2 + noise^2 W) / (k0 + W)

the base model's variance weighted by its share ``k0 / (k0 + W)``, plus the scatter of the
measurements around the corrected prediction (and a per-measurement noise floor) weighted by the
measurements' share. Near consistent measurements the one-sigma shrinks toward ``noise``; near
measurements that disagree with each other, or with the base model by more than its one-sigma, it
does not shrink (it may grow): the residual scatter stays honest. Far away it is ``sigma_p``.

Distances are Euclidean over feature columns divided by ``feature_scales`` (for Nd-Fe-B: the seven
rare-earth fractions, the Co share and the temperature over 2000 K). Everything here is a pure
function over arrays; the measurement store lives in :mod:`regenome.measurements`, the model wiring in
:mod:`regenome.corrected_models` and the model modules. See ``docs/lab-loop.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SPACES = ("log", "linear")
"""Residual spaces: ``log`` (r = ln(measured / predicted)) and ``linear`` (r = measured - predicted)."""
MAX_SPREAD_RATIO = 3.0
"""Largest factor by which :func:`correct_draws` stretches the spread of per-draw predictions."""


@dataclass(frozen=True)
class CorrectionParameters:
    """Hyper-parameters of the layer (the same for every property of one version).

    Attributes
    ----------
    length_scale : float
        Kernel length in scaled feature units (0.1: a point 0.1 away keeps ``exp(-1)`` of the weight;
        Ce 0.3 -> 0.4 at the expense of Nd is sqrt(2) x 0.1 away and keeps ``exp(-2)``).
    prior_count : float
        ``k0``: how many measurements the base model is worth at one point (1: a single measurement
        moves its own prediction half way).
    noise : float
        One-sigma of a single measurement in the residual space (0.02: 2 % for ``log``).
    """

    length_scale: float = 0.1
    prior_count: float = 1.0
    noise: float = 0.02

    def __post_init__(self):
        for name in ("length_scale", "prior_count"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"The '{name}' parameter of CorrectionParameters must be a positive finite "
                                 f"number; got {value!r}")
        if not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"The 'noise' parameter of CorrectionParameters must be a finite number >= 0; "
                             f"got {self.noise!r}")


def kernel_weights(query: np.ndarray, points: np.ndarray, query_groups: np.ndarray, point_groups: np.ndarray,
                   length_scale: float) -> np.ndarray:
    """Gaussian kernel weights (n, m) between query rows and measurement points; 0 across groups.

    ``query`` (n, d) and ``points`` (m, d) are already scaled; groups are any comparable labels
    (process routes, activators).
    """
    q = np.asarray(query, dtype=float)
    p = np.asarray(points, dtype=float)
    d2 = (q * q).sum(axis=1)[:, None] + (p * p).sum(axis=1)[None, :] - 2.0 * (q @ p.T)
    w = np.exp(-np.clip(d2, 0.0, None) / length_scale**2)
    same = np.asarray(query_groups)[:, None] == np.asarray(point_groups)[None, :]
    return np.where(same, w, 0.0)


def shrunk_shift(weights: np.ndarray, residuals: np.ndarray, prior_count: float) -> tuple[np.ndarray, np.ndarray]:
    """The correction ``delta`` (n,) and the weight sum ``W`` (n,); NaN residuals carry no weight."""
    r = np.asarray(residuals, dtype=float)
    ok = np.isfinite(r)
    w = np.where(ok[None, :], weights, 0.0)
    total = w.sum(axis=1)
    return (w @ np.where(ok, r, 0.0)) / (prior_count + total), total


def posterior_sigma(prior_sigma: np.ndarray, weights: np.ndarray, residuals: np.ndarray, shift: np.ndarray,
                    params: CorrectionParameters) -> np.ndarray:
    """One-sigma (n,) in the residual space after the correction (formula in the module docstring)."""
    r = np.asarray(residuals, dtype=float)
    ok = np.isfinite(r)
    w = np.where(ok[None, :], weights, 0.0)
    total = w.sum(axis=1)
    scatter = (w * (np.where(ok, r, 0.0)[None, :] - shift[:, None]) ** 2).sum(axis=1)
    k0 = params.prior_count
    var = (np.asarray(prior_sigma, dtype=float) ** 2 * k0 + scatter + params.noise**2 * total) / (k0 + total)
    return np.sqrt(var)


def correct_draws(draws: np.ndarray, log_shift: np.ndarray, spread_ratio: np.ndarray) -> np.ndarray:
    """Per-draw predictions (n, K) scaled by ``exp(log_shift)`` with their spread around the mean scaled.

    The mean becomes ``exp(log_shift) * mean`` (exactly, unless a stretched draw would be negative
    and is clipped at 0) and the standard deviation ``exp(log_shift) * spread_ratio * std``;
    ``spread_ratio`` is capped at :data:`MAX_SPREAD_RATIO`.
    """
    d = np.asarray(draws, dtype=float)
    mean = d.mean(axis=1, keepdims=True)
    ratio = np.clip(np.asarray(spread_ratio, dtype=float), 0.0, MAX_SPREAD_RATIO)[:, None]
    return np.clip(np.exp(np.asarray(log_shift, dtype=float))[:, None] * (mean + ratio * (d - mean)), 0.0, None)


def log_sigma(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Relative one-sigma ``std / mean`` (first-order sigma of ln), 0 where the mean is not positive."""
    mean = np.asarray(mean, dtype=float)
    return np.where(mean > 0, np.asarray(std, dtype=float) / np.where(mean > 0, mean, 1.0), 0.0)


@dataclass(frozen=True)
class CorrectionLayer:
    """Measurements and residuals of one correction version, ready to be evaluated anywhere.

    Attributes
    ----------
    version : str
        The model version this layer defines (e.g. ``"2.0+m1"``).
    feature_names : tuple of str
        Feature columns of ``points`` (and of the queries).
    feature_scales : array (d,)
        Each feature is divided by its scale before distances are taken.
    points : array (m, d)
        Unscaled features of the measurements.
    groups : array (m,) of str
        Group of each measurement (only measurements of the query's group count).
    residuals : dict
        Property -> residuals (m,) in its space; NaN where a measurement lacks the property.
    spaces : dict
        Property -> ``"log"`` or ``"linear"``.
    params : CorrectionParameters
    """

    version: str
    feature_names: tuple[str, ...]
    feature_scales: np.ndarray
    points: np.ndarray
    groups: np.ndarray
    residuals: dict[str, np.ndarray]
    spaces: dict[str, str]
    params: CorrectionParameters = field(default_factory=CorrectionParameters)

    def __post_init__(self):
        m, d = np.shape(self.points) if np.ndim(self.points) == 2 else (-1, -1)
        if d != len(self.feature_names) or np.shape(self.feature_scales) != (d,) or len(self.groups) != m:
            raise ValueError(f"The 'points' of CorrectionLayer must be (m, {len(self.feature_names)}) with "
                             f"one scale per feature and one group per point; got {np.shape(self.points)}")
        for prop, r in self.residuals.items():
            if np.shape(r) != (m,):
                raise ValueError(f"The residuals of {prop!r} must have one value per point ({m}); got {np.shape(r)}")
            if self.spaces.get(prop) not in SPACES:
                raise ValueError(f"The space of {prop!r} must be one of {', '.join(SPACES)}; "
                                 f"got {self.spaces.get(prop)!r}")

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(self.residuals)

    def weights(self, query: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Kernel weights (n, m) of unscaled query features (n, d) in ``feature_names`` order."""
        scale = np.asarray(self.feature_scales, dtype=float)
        return kernel_weights(np.asarray(query, dtype=float) / scale, np.asarray(self.points, dtype=float) / scale,
                              np.asarray(groups).astype(str), np.asarray(self.groups).astype(str),
                              self.params.length_scale)

    def evaluate(self, prop: str, weights: np.ndarray, prior_sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(delta, sigma)`` (n,) of one property in its residual space, from :meth:`weights`."""
        r = self.residuals[prop]
        shift, _ = shrunk_shift(weights, r, self.params.prior_count)
        return shift, posterior_sigma(prior_sigma, weights, r, shift, self.params)

    def leave_one_out(self, prop: str) -> np.ndarray:
        """Residual (m,) of each measurement against the correction fitted on all the others."""
        w = self.weights(self.points, self.groups)
        np.fill_diagonal(w, 0.0)
        shift, _ = shrunk_shift(w, self.residuals[prop], self.params.prior_count)
        return self.residuals[prop] - shift

    def in_sample(self, prop: str) -> np.ndarray:
        """Residual (m,) of each measurement against the corrected prediction at its own point."""
        shift, _ = shrunk_shift(self.weights(self.points, self.groups), self.residuals[prop],
                                self.params.prior_count)
        return self.residuals[prop] - shift

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        def clean(values):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]

        return {
            "version": self.version,
            "parameters": {"length_scale": self.params.length_scale, "prior_count": self.params.prior_count,
                           "noise": self.params.noise},
            "feature_names": list(self.feature_names),
            "feature_scales": clean(self.feature_scales),
            "points": [clean(row) for row in np.asarray(self.points, dtype=float)],
            "groups": [str(g) for g in self.groups],
            "residuals": {prop: clean(r) for prop, r in self.residuals.items()},
            "spaces": dict(self.spaces),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> CorrectionLayer:
        def arr(values):
            return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

        names = tuple(raw["feature_names"])
        points = np.array([arr(row) for row in raw["points"]], dtype=float).reshape(-1, len(names))
        return cls(version=str(raw["version"]), feature_names=names, feature_scales=arr(raw["feature_scales"]),
                   points=points, groups=np.array([str(g) for g in raw["groups"]], dtype=object),
                   residuals={p: arr(r) for p, r in raw["residuals"].items()}, spaces=dict(raw["spaces"]),
                   params=CorrectionParameters(**raw["parameters"]))
