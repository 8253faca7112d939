"""Shared parts of the formula -> property surrogates (Curie temperature, magnetization).

Inputs are atomic-fraction matrices from :func:`regenome.features.formula.parse_formulas`;
:class:`FeaturizedRegressor` featurizes them and fits a :class:`CalibratedRegressor`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone

from regenome.surrogates.base import TrainingSet, subsample
from regenome.surrogates.uncertainty import CalibratedRegressor

RARE_EARTHS = ("Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm",
               "Yb", "Lu")
MAGNETIC_3D = ("Mn", "Fe", "Co", "Ni")
ANIONS = ("H", "N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I")


class FeaturizedRegressor(RegressorMixin, BaseEstimator):
    """Composition features followed by a calibrated regressor, on atomic-fraction rows.

    Parameters
    ----------
    featurizer : transformer
        Maps the ``(n, n_elements)`` fraction matrix to features.
    regressor : CalibratedRegressor
        Predicts the target with a one-sigma uncertainty.

    The training rows are featurized with ``fit_transform`` and new rows with ``transform``: a
    featurizer may treat its own training rows differently (as scikit-learn's ``TargetEncoder`` does),
    e.g. :class:`~regenome.surrogates.debye_temperature.SourceFlagFeaturizer` hides a row's own value
    from the lookup it offers for new rows.
    """

    def __init__(self, featurizer, regressor):
        self.featurizer = featurizer
        self.regressor = regressor

    def fit(self, X, y, groups=None, oof=None):
        """Fit on fraction rows; ``oof``: model-space out-of-fold predictions from :meth:`cross_validate`."""
        X = np.asarray(X, dtype=float)
        self.featurizer_ = clone(self.featurizer)
        features = self.featurizer_.fit_transform(X)
        self.regressor_ = clone(self.regressor).fit(features, np.ravel(y), groups=groups, oof=oof)
        self.seen_elements_ = (X > 0).any(axis=0)
        self.n_features_in_ = X.shape[1]
        return self

    def cross_validate(self, X, y, groups, folds):
        """Out-of-fold (mean, std, model-space oof) with one mean-model fit per fold.

        The featurizer holds no state learned from the rows (only the element table and lookups
        fixed at construction), so featurizing all rows once, as training rows, leaks nothing between folds.
        """
        X = np.asarray(X, dtype=float)
        features = clone(self.featurizer).fit_transform(X)
        mean, std, oof = self.regressor.cross_validate(features, np.ravel(y), groups, folds)
        return mean[:, None], std[:, None], oof

    def predict(self, X, return_std=False):
        features = self.featurizer_.transform(np.asarray(X, dtype=float))
        if not return_std:
            return self.regressor_.predict(features)[:, None]
        mean, std = self.regressor_.predict(features, return_std=True)
        return mean[:, None], std[:, None]


def reduced_formula_groups(fractions: np.ndarray, decimals: int = 4) -> np.ndarray:
    """Integer group id per row: rows with the same normalized composition share a group."""
    rounded = np.round(fractions, decimals)
    _, ids = np.unique(rounded, axis=0, return_inverse=True)
    return ids.ravel()


def composition_keys(fractions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """An int64 hash per row of the atomic fractions rounded to 1e-4 (the rounding of the CV groups).

    ``weights`` holds one int64 per element column; the sum of rounded fractions times weights wraps
    modulo 2**64 (deterministic). Rows must already be normalized when equal compositions written at
    other scales should get the same key.
    """
    counts = np.round(np.asarray(fractions, dtype=float) * 1e4).astype(np.int64)
    with np.errstate(over="ignore"):
        return (counts * weights).sum(axis=1)


def find_keys(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` in the sorted int64 array ``sorted_keys``, and whether each one is there."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=np.intp), np.zeros(len(keys), dtype=bool)
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    return pos, sorted_keys[pos] == keys


def element_mask(symbols: tuple[str, ...]) -> np.ndarray:
    from regenome.features.elements import ELEMENTS

    return np.isin(np.array(ELEMENTS), symbols)


def load_formula_table(data_dir: Path, relpath: str, formula_col: str, target_col: str,
                       positive: bool) -> tuple[TrainingSet, np.ndarray]:
    """Parse a formula/target CSV into fractions and targets; drop unusable rows and merge duplicates.

    Rows whose formula cannot be parsed, and (when ``positive``) non-positive targets, are
    dropped. Rows with the same normalized composition are merged into one with the median
    target, so a compound counts once. Returns the set and the fraction matrix.
    """
    from regenome.features.formula import parse_formulas

    path = Path(data_dir) / relpath
    raw = pd.read_csv(path)
    fractions, errors = parse_formulas(raw[formula_col].astype(str).tolist())
    y = raw[target_col].to_numpy(dtype=float)
    ok = np.array([not e for e in errors]) & np.isfinite(y)
    n_bad_formula = int(sum(bool(e) for e in errors))
    if positive:
        ok &= y > 0
    n_bad_target = int((~ok).sum()) - n_bad_formula
    fractions, y, names = fractions[ok], y[ok], raw[formula_col].astype(str).to_numpy()[ok]
    groups = reduced_formula_groups(fractions)
    order = np.argsort(groups, kind="stable")
    uniq, first = np.unique(groups[order], return_index=True)
    bounds = np.append(first, len(order))
    keep = order[first]
    merged = np.array([np.median(y[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])])
    n_merged = len(y) - len(keep)
    frac_kept = fractions[keep]
    families = family_masks(frac_kept)
    re_mask = families["rare_earth"]
    frame = pd.DataFrame({"formula": names[keep], "contains_re": re_mask})
    filtering = (f"dropped {n_bad_formula} rows with unparseable formulas or unknown element symbols"
                 + (f" and {n_bad_target} with a non-positive or missing target" if n_bad_target else "")
                 + f"; merged {n_merged} rows that repeat a normalized composition (median target)")
    ts = TrainingSet(X=frac_kept, Y=merged[:, None], groups=uniq.copy(), frame=frame, file=relpath,
                     rows_in_file=len(raw), filtering=filtering,
                     subsets={"all": np.ones(len(keep), bool), **families})
    return ts, frac_kept


def family_masks(fractions: np.ndarray) -> dict[str, np.ndarray]:
    """Chemical families used to break errors down: rare-earth, 3d-magnetic, oxides, intermetallics."""
    def has(symbols):
        return (fractions[:, element_mask(symbols)] > 0).any(axis=1)

    anion = has(ANIONS)
    return {"rare_earth": has(RARE_EARTHS), "non_rare_earth": ~has(RARE_EARTHS),
            "with_Mn_Fe_Co_Ni": has(MAGNETIC_3D), "oxide": has(("O",)), "intermetallic": ~anion}


def prepare_formulas(estimator, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Fractions from the ``formula`` column; rows with elements the model never saw get an error."""
    from regenome.features.elements import ELEMENTS
    from regenome.features.formula import parse_formulas

    fractions, errors = parse_formulas(frame["formula"].astype(str).tolist())
    never_seen = np.flatnonzero(~estimator.seen_elements_)
    bad_rows = np.flatnonzero((fractions[:, never_seen] > 0).any(axis=1))  # only the unseen columns: cheap
    unseen = (fractions[bad_rows] > 0) & ~estimator.seen_elements_
    symbols = np.array(ELEMENTS)
    for i, row in zip(bad_rows, unseen):
        if not errors[i]:
            errors[i] = ("element(s) " + ", ".join(symbols[row]) +
                         " absent from the training data; no prediction")
    return fractions, list(errors)


def formula_training_set(data_dir: Path, relpath: str, target_col: str, quick: bool,
                         formula_col: str = "composition", positive: bool = True) -> TrainingSet:
    """The training set of a formula model; 1500 random rows when ``quick``.

    ``formula_col`` names the formula column; ``positive`` drops rows whose target is not > 0
    (keep it False for targets where zero is a measurement, such as the band gap of a metal).
    """
    ts, _ = load_formula_table(data_dir, relpath, formula_col, target_col, positive=positive)
    return subsample(ts, 1500, 0) if quick else ts


def formula_model(mean, transform: str, seed: int, quick: bool) -> FeaturizedRegressor:
    """Composition features (all element fractions included) -> ``mean`` with a calibrated error model."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from regenome.features.composition import CompositionFeaturizer

    error = HistGradientBoostingRegressor(max_iter=40 if quick else 200, learning_rate=0.05,
                                          max_leaf_nodes=15, min_samples_leaf=20, loss="absolute_error",
                                          early_stopping=False, random_state=seed)
    return FeaturizedRegressor(CompositionFeaturizer(fraction_elements="all"),
                               CalibratedRegressor(mean, error, transform=transform, cv=3 if quick else 5,
                                                   random_state=seed))


def feature_names(estimator) -> list[str]:
    return list(estimator.featurizer_.get_feature_names_out())


def element_range(estimator) -> dict:
    """Training domain of a composition model: the elements it has seen."""
    from regenome.features.elements import ELEMENTS

    return {"elements": [e for e, s in zip(ELEMENTS, estimator.seen_elements_) if s]}


#: The formula-in part of a formula surrogate's spec: ``SurrogateSpec(..., **FORMULA_INPUT)``.
FORMULA_INPUT = {"inputs": {"formula": "chemical formula"}, "prepare_inputs": prepare_formulas,
                 "feature_names": feature_names, "training_range": element_range}

#: How the formula surrogates with a calibrated error model are validated (formatted per run).
GROUPED_VALIDATION = ("{n_splits}-fold GroupKFold grouped by normalized composition, shuffled with seed {seed}; "
                      "metrics on out-of-fold predictions; each fold's model runs its own inner grouped CV "
                      "for the uncertainty calibration")
