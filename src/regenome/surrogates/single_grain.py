"""``single-grain``: Ms, A, K1 -> Hc, Mr, (BH)max of a 50 nm cubic grain (micromagnetic surrogate).

In reduced units the micromagnetic problem of a cube of fixed edge L depends only on the
magnetic hardness Q = K1/Kd (Kd = mu0 Ms^2/2) and on L/l_ex (l_ex = sqrt(A/Kd)). The model
therefore learns the dimensionless ratios

    h = Hc/HA (HA = 2 K1/(mu0 Ms)),  m = Mr/Ms,  b = BHmax/(mu0 Ms^2/4)

from (log10 Q, log10 L/l_ex) (plus log10 mu0 Ms for b, whose value depends slightly on the
field step of the simulated loops), and clips them to [0, 1]. So mu0 Hc <= mu0 HA,
Mr <= Ms and BHmax <= mu0 Ms^2/4 hold for every prediction, by construction.

The simulated loops stop at mu0 H = 10 T; grains that had not reversed have no result in
the data and are left out of training. Inputs outside the training domain (the box of
Ms, A, K1 and the design limits l_ex >= 1 nm and sqrt(A/K1) >= 1 nm) get no prediction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone

from regenome.surrogates.base import SurrogateSpec, TrainingSet, subsample
from regenome.surrogates.uncertainty import CalibratedRegressor
from regenome.units import MU0

DATA_FILE = "magnets/micromagnetic_single_grain.csv"
INPUTS = {"Ms_A_m": "A/m", "A_J_m": "J/m", "K1_J_m3": "J/m3"}
OUTPUTS = {"Hc_A_m": "A/m", "Mr_A_m": "A/m", "BHmax_J_m3": "J/m3"}
EDGE_M = 50e-9
FIELD_LIMIT_T = 10.0


def dimensionless(X: np.ndarray, edge_m: float = EDGE_M) -> dict[str, np.ndarray]:
    """HA (A/m), Q, l_ex (m) and the output scales of rows (Ms [A/m], A [J/m], K1 [J/m3])."""
    ms, a, k1 = (np.asarray(X, dtype=float)[:, i] for i in range(3))
    kd = MU0 * ms**2 / 2.0
    lex = np.sqrt(a / kd)
    return {"HA": 2.0 * k1 / (MU0 * ms), "Q": k1 / kd, "lex": lex, "L_lex": edge_m / lex,
            "Mr_max": ms, "BH_max": MU0 * ms**2 / 4.0, "wall_sqrt": np.sqrt(a / k1)}


class SingleGrainRegressor(RegressorMixin, BaseEstimator):
    """Three ratio models (h, m, b) on dimensionless inputs, each with a calibrated one-sigma.

    Parameters
    ----------
    ratio_regressor : CalibratedRegressor
        Cloned once per output; fitted on the (weighted) dimensionless features.
    feature_weights : tuple of float
        Scale of (log10 Q, log10 L/l_ex, log10 mu0 Ms) before the regressor (matters for
        distance-based regressors).
    edge_m : float
        Grain edge in m (50 nm, as simulated).
    """

    def __init__(self, ratio_regressor, feature_weights=(2.0, 1.0, 1.0), edge_m=EDGE_M):
        self.ratio_regressor = ratio_regressor
        self.feature_weights = feature_weights
        self.edge_m = edge_m

    def _features(self, X: np.ndarray) -> list[np.ndarray]:
        d = dimensionless(X, self.edge_m)
        w = self.feature_weights
        base = [w[0] * np.log10(d["Q"]), w[1] * np.log10(d["L_lex"])]
        with_ms = base + [w[2] * np.log10(MU0 * np.asarray(X, dtype=float)[:, 0])]
        return [np.column_stack(base), np.column_stack(base), np.column_stack(with_ms)]

    def _scales(self, X: np.ndarray) -> np.ndarray:
        d = dimensionless(X, self.edge_m)
        return np.column_stack([d["HA"], d["Mr_max"], d["BH_max"]])

    def fit(self, X, Y, groups=None):
        X = np.asarray(X, dtype=float)
        ratios = np.asarray(Y, dtype=float) / self._scales(X)
        self.regressors_ = [clone(self.ratio_regressor).fit(F, ratios[:, j], groups=groups)
                            for j, F in enumerate(self._features(X))]
        self.n_features_in_ = 3
        self.input_min_ = X.min(axis=0)
        self.input_max_ = X.max(axis=0)
        d = dimensionless(X, self.edge_m)
        self.min_lex_m_ = float(d["lex"].min())
        self.min_wall_sqrt_m_ = float(d["wall_sqrt"].min())
        return self

    def predict(self, X, return_std=False):
        X = np.asarray(X, dtype=float)
        scales = self._scales(X)
        means, stds = [], []
        for reg, F in zip(self.regressors_, self._features(X)):
            m, s = reg.predict(F, return_std=True)
            means.append(np.clip(m, 0.0, 1.0))
            stds.append(s)
        mean = np.column_stack(means) * scales
        if not return_std:
            return mean
        return mean, np.column_stack(stds) * scales

    def domain_errors(self, X: np.ndarray) -> list[str]:
        """A message per row outside the training domain ("" inside)."""
        X = np.asarray(X, dtype=float)
        d = dimensionless(X, self.edge_m)
        out = []
        for i, row in enumerate(X):
            problems = [f"{name} {value:.4g} outside [{lo:.4g}, {hi:.4g}]"
                        for name, value, lo, hi in zip(INPUTS, row, self.input_min_, self.input_max_)
                        if not lo <= value <= hi]
            if not problems and d["lex"][i] < 0.99 * self.min_lex_m_:
                problems.append(f"exchange length {d['lex'][i] * 1e9:.3g} nm below the trained "
                                f"{self.min_lex_m_ * 1e9:.3g} nm")
            if not problems and d["wall_sqrt"][i] < 0.99 * self.min_wall_sqrt_m_:
                problems.append(f"sqrt(A/K1) {d['wall_sqrt'][i] * 1e9:.3g} nm below the trained "
                                f"{self.min_wall_sqrt_m_ * 1e9:.3g} nm")
            out.append("outside the training domain: " + "; ".join(problems) if problems else "")
        return out


def load_training_set(data_dir: Path, quick: bool) -> TrainingSet:
    raw = pd.read_csv(Path(data_dir) / DATA_FILE)
    complete = raw[list(OUTPUTS)].notna().all(axis=1).to_numpy()
    data = raw[complete].reset_index(drop=True)
    X = data[list(INPUTS)].to_numpy(dtype=float)
    Y = data[list(OUTPUTS)].to_numpy(dtype=float)
    q = dimensionless(X)["Q"]
    filtering = (f"dropped {int((~complete).sum())} simulations without a result (grains that did not "
                 f"reverse below mu0 H = {FIELD_LIMIT_T:g} T, the end of the simulated field sweep)")
    frame = pd.DataFrame({"Q": q})
    subsets = {"all": np.ones(len(Y), bool), "hard_Q_above_1": q > 1.0, "soft_Q_below_1": q <= 1.0}
    ts = TrainingSet(X=X, Y=Y, groups=None, frame=frame, file=DATA_FILE, rows_in_file=len(raw),
                     filtering=filtering, subsets=subsets)
    return subsample(ts, 1500, 0) if quick else ts


def make_estimator(seed: int, quick: bool, context: dict | None = None) -> SingleGrainRegressor:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsRegressor

    mean = KNeighborsRegressor(n_neighbors=5, weights="distance")
    error = HistGradientBoostingRegressor(max_iter=50 if quick else 200, learning_rate=0.05, max_leaf_nodes=15,
                                          min_samples_leaf=40, l2_regularization=1.0, loss="absolute_error",
                                          early_stopping=False, random_state=seed)
    return SingleGrainRegressor(CalibratedRegressor(mean, error, cv=3 if quick else 5, random_state=seed))


def prepare_inputs(estimator, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Numeric Ms, A, K1; unreadable, non-positive or out-of-domain rows get an error."""
    values = np.full((len(frame), 3), np.nan)
    errors = [""] * len(frame)
    for j, column in enumerate(INPUTS):
        values[:, j] = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (values <= 0).any(axis=1)
    for i in np.flatnonzero(bad):
        errors[i] = "Ms_A_m, A_J_m and K1_J_m3 must be positive numbers in A/m, J/m and J/m3"
    safe = np.where(bad[:, None], 1.0, values)
    for i, message in enumerate(estimator.domain_errors(safe)):
        if message and not errors[i]:
            errors[i] = message
    return safe, errors


def censored(estimator, X: np.ndarray, mean: np.ndarray) -> list[str]:
    """Rows whose grain would not reverse inside the simulated field range (mu0 Hc >= 10 T)."""
    hc_t = MU0 * mean[:, list(OUTPUTS).index("Hc_A_m")]
    return [f"mu0*Hc >= {FIELD_LIMIT_T:g} T: the grain does not reverse inside the simulated field range; "
            "no prediction" if value >= FIELD_LIMIT_T else "" for value in hc_t]


def training_range(estimator) -> dict:
    out = {name: {"min": float(lo), "max": float(hi), "unit": unit}
           for (name, unit), lo, hi in zip(INPUTS.items(), estimator.input_min_, estimator.input_max_)}
    out["exchange_length_m"] = {"min": estimator.min_lex_m_, "max": None, "unit": "m"}
    out["sqrt_A_over_K1_m"] = {"min": estimator.min_wall_sqrt_m_, "max": None, "unit": "m"}
    return out


SPEC = SurrogateSpec(
    name="single-grain",
    version="1.0",
    description="Coercive field, remanence and energy product of a 50 nm cubic grain, field along the easy "
                "axis, from Ms, A and K1: distance-weighted nearest neighbours in the dimensionless "
                "(Q, L/l_ex) plane on ratios bounded by the physics (Hc <= HA, Mr <= Ms, "
                "BHmax <= mu0 Ms^2/4), with a calibrated one-sigma.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    source="MaMMoS-project/ML-models (MIT) @791e0b5, beyond-stoner-wohlfarth/single-grain-easy-axis-model/data "
           "(finite-element micromagnetics)",
    load_training_set=load_training_set,
    make_estimator=make_estimator,
    prepare_inputs=prepare_inputs,
    feature_names=lambda est: ["log10 Q", "log10 L/l_ex", "log10 mu0Ms/T (BHmax only)"],
    training_range=training_range,
    validation="{n_splits}-fold KFold shuffled with seed {seed} (every row is a distinct simulated material, "
               "no duplicated inputs); metrics on out-of-fold predictions",
    anchors=[
        {"name": "mammos-ai random forest (stated)", "split": "not stated", "subset": "all", "output": "Hc_A_m",
         "R2": 0.995, "median_relative_error": 0.05},
        {"name": "mammos-ai random forest (stated)", "split": "not stated", "subset": "all", "output": "Mr_A_m",
         "R2": 0.777},
        {"name": "mammos-ai random forest (stated)", "split": "not stated", "subset": "all",
         "output": "BHmax_J_m3", "R2": 0.995},
        {"name": "random forest on (Ms, A, K1)", "split": "grouped 5-fold", "subset": "all", "output": "Hc_A_m",
         "R2": 0.9986, "MAE": 47000.0},
        {"name": "random forest on (Ms, A, K1)", "split": "grouped 5-fold", "subset": "all", "output": "Mr_A_m",
         "R2": 0.9871},
        {"name": "random forest on (Ms, A, K1)", "split": "grouped 5-fold", "subset": "all",
         "output": "BHmax_J_m3", "R2": 0.9998},
    ],
    check_predictions=censored,
    targets={"all/Hc_A_m": {"R2": 0.999, "MAE": 30000.0}, "all/Mr_A_m": {"R2": 0.99},
             "all/BHmax_J_m3": {"R2": 0.9998}},
)
