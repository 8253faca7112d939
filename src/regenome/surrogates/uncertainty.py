"""Calibrated one-sigma uncertainty for any scikit-learn regressor.

:class:`CalibratedRegressor` pairs a mean model with a model of the absolute
error. The error model is trained on out-of-fold residuals of the mean model
(grouped cross-validation, so near-duplicates do not make it over-confident),
and one scale factor turns its output into a one-sigma width: the factor is the
68.27 % quantile of ``|residual| / predicted_error`` on those out-of-fold rows
(split conformal calibration). Targets can be modelled in log or sqrt space; the error
model and the calibration then work on the residuals in the original units, so
``mean +- std`` covers about 68 % of values in the units the user sees.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import GroupKFold, KFold

ONE_SIGMA = 0.6827
TRANSFORMS = ("none", "log", "sqrt")


def _layout(estimator, X: np.ndarray) -> np.ndarray:
    """Rows in the memory order each tree model predicts fastest (same values, same predictions).

    Histogram gradient boosting reads one feature across many rows: column-major is 3x faster.
    Forests convert to row-major float32 themselves, so anything else costs a copy.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    if isinstance(estimator, HistGradientBoostingRegressor):
        return np.asfortranarray(X)
    return X


def grouped_folds(n_splits: int, groups, random_state: int):
    """A deterministic shuffled GroupKFold (or KFold when ``groups`` is None) and its split list."""
    if groups is None:
        return KFold(n_splits, shuffle=True, random_state=random_state)
    return GroupKFold(n_splits, shuffle=True, random_state=random_state)


class CalibratedRegressor(RegressorMixin, BaseEstimator):
    """Mean regressor plus a calibrated one-sigma error model.

    Parameters
    ----------
    estimator : regressor
        Model of the transformed target.
    error_estimator : regressor
        Model of the absolute out-of-fold error, in target units.
    transform : {"none", "log", "sqrt"}
        Target transform for ``estimator``: ``log`` for targets that span decades (``y > 0``),
        ``sqrt`` to damp the weight of large values (``y >= 0``).
    cv : int
        Folds of the inner cross-validation that produces the residuals.
    coverage : float
        Fraction of out-of-fold residuals that one sigma should cover.
    random_state : int
        Seed of the fold shuffling.
    median_ratio : bool
        Multiply the mean by ``ratio_``, the median of target / out-of-fold mean (targets > 0): corrects
        a systematic scale error of the mean model, fitted on the same out-of-fold predictions as the
        error model. False: ``ratio_`` is 1.
    ratio_rows_column : int or None
        With ``median_ratio``, the feature column whose value > 0.5 marks the rows that set the ratio
        (e.g. a data-source flag); None: every row.
    """

    def __init__(self, estimator, error_estimator, transform="none", cv=5, coverage=ONE_SIGMA,
                 random_state=0, median_ratio=False, ratio_rows_column=None):
        self.estimator = estimator
        self.error_estimator = error_estimator
        self.transform = transform
        self.cv = cv
        self.coverage = coverage
        self.random_state = random_state
        self.median_ratio = median_ratio
        self.ratio_rows_column = ratio_rows_column

    def __setstate__(self, state):
        """Model files written before ``median_ratio`` existed load with it off (ratio 1)."""
        state = {"median_ratio": False, "ratio_rows_column": None, **state}
        if "estimator_" in state:
            state.setdefault("ratio_", 1.0)
        super().__setstate__(state)

    def _median_ratio(self, X, y, mean_oof) -> float:
        """Median of ``y / mean_oof`` over the ratio rows; 1.0 unless ``median_ratio``."""
        if not self.median_ratio:
            return 1.0
        rows = np.ones(len(y), bool) if self.ratio_rows_column is None else X[:, self.ratio_rows_column] > 0.5
        rows &= (np.asarray(mean_oof) > 0) & (np.asarray(y) > 0)
        if not rows.any():
            raise ValueError("CalibratedRegressor(median_ratio=True): no row with a positive target and "
                             "out-of-fold mean sets the ratio")
        return float(np.median(y[rows] / mean_oof[rows]))

    def _forward(self, y):
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}; got {self.transform!r}")
        if self.transform == "log":
            if np.any(y <= 0):
                raise ValueError("transform='log' needs strictly positive targets")
            return np.log(y)
        if self.transform == "sqrt":
            if np.any(y < 0):
                raise ValueError("transform='sqrt' needs non-negative targets")
            return np.sqrt(y)
        return y

    def _inverse(self, z):
        if self.transform == "log":
            return np.exp(z)
        if self.transform == "sqrt":
            return np.square(np.clip(z, 0.0, None))
        return z

    def fit(self, X, y, groups=None, oof=None):
        """Fit the mean model, the error model on out-of-fold residuals, and the scale factor.

        ``oof`` (optional): out-of-fold predictions of the mean model in model space (after
        ``transform``), e.g. from an outer cross-validation already run; the inner
        cross-validation of the mean model is then skipped.
        """
        X = np.asarray(X)
        y = np.asarray(y, dtype=float)
        z = self._forward(y)
        if oof is None:
            oof = self.out_of_fold(X, y, groups)
        mean_oof = self._inverse(np.asarray(oof, dtype=float))
        self.ratio_ = self._median_ratio(X, y, mean_oof)
        self.fit_error_model(X, np.abs(y - self.ratio_ * mean_oof), groups)
        self.estimator_ = clone(self.estimator).fit(X, z)
        self.n_features_in_ = X.shape[1]
        return self

    def out_of_fold(self, X, y, groups=None) -> np.ndarray:
        """Out-of-fold predictions of the mean model, in model space."""
        z = self._forward(np.asarray(y, dtype=float))
        oof = np.empty_like(z)
        for train, test in grouped_folds(self.cv, groups, self.random_state).split(X, z, groups):
            oof[test] = clone(self.estimator).fit(X[train], z[train]).predict(X[test])
        return oof

    def fit_error_model(self, X, abs_err, groups=None):
        """Fit the error model on absolute residuals and calibrate its one-sigma scale."""
        folds = grouped_folds(self.cv, groups, self.random_state)
        self.error_estimator_ = clone(self.error_estimator).fit(X, abs_err)
        self.error_floor_ = float(max(np.quantile(abs_err, 0.05), 1e-12))
        # calibrate on out-of-fold error predictions: error_estimator_ has seen every row
        raw_oof = np.empty_like(abs_err)
        for train, test in folds.split(X, abs_err, groups):
            raw_oof[test] = clone(self.error_estimator).fit(X[train], abs_err[train]).predict(X[test])
        raw_oof = np.maximum(raw_oof, self.error_floor_)
        self.scale_ = float(np.quantile(abs_err / raw_oof, self.coverage))
        return self

    def predict_std(self, X):
        """One-sigma uncertainty only."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            raw = np.maximum(self.error_estimator_.predict(_layout(self.error_estimator_, np.asarray(X))),
                             self.error_floor_)
        return self.scale_ * raw

    def cross_validate(self, X, y, groups, folds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Out-of-fold mean and one-sigma on ``folds``, fitting the mean model once per fold.

        The error model of fold k is trained on the out-of-fold residuals of the other
        folds, and the ``median_ratio`` of fold k is set on the other folds' out-of-fold means,
        so neither the mean nor the width of a test row saw that row.
        Returns (mean, std, model-space out-of-fold predictions without the ratio).
        """
        X = np.asarray(X)
        y = np.asarray(y, dtype=float)
        z = self._forward(y)
        splits = list(folds.split(X, z, groups))
        oof = np.empty_like(z)
        for train, test in splits:
            oof[test] = clone(self.estimator).fit(X[train], z[train]).predict(X[test])
        plain = self._inverse(oof)
        mean = np.array(plain, dtype=float)  # a copy: _inverse of "none" is oof itself
        for train, test in splits:
            mean[test] = plain[test] * self._median_ratio(X[train], y[train], plain[train])
        abs_err = np.abs(y - mean)
        std = np.empty_like(y)
        for train, test in splits:
            part = clone(self).fit_error_model(X[train], abs_err[train], None if groups is None else groups[train])
            std[test] = part.predict_std(X[test])
        return mean, std, oof

    def predict(self, X, return_std=False):
        """Predicted target (and one-sigma uncertainty in the same units when ``return_std``).

        Runs single-threaded: regenome parallelizes over chunks of rows (joblib), and
        OpenMP threads inside every tree of a gradient-boosting model only contend,
        badly so on a busy node.
        """
        from threadpoolctl import threadpool_limits

        X = np.asarray(X)
        with threadpool_limits(limits=1, user_api="openmp"):
            mean = self.ratio_ * self._inverse(self.estimator_.predict(_layout(self.estimator_, X)))
            if not return_std:
                return mean
            raw = np.maximum(self.error_estimator_.predict(_layout(self.error_estimator_, X)), self.error_floor_)
        return mean, self.scale_ * raw
