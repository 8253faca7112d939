"""Calibrated one-sigma uncertainty for any scikit-learn regressor.

:class:`CalibratedRegressor` pairs a mean model with a model of the absolute
error. The error model is trained on out-of-fold residuals of the mean model
(grouped cross-validation, so near-duplicates do not make it over-confident),
and one scale factor turns its output into a one-sigma width: the factor is the
68.27 % quantile of ``|residual| / predicted_error`` on those out-of-fold rows
(split conformal calibration). Targets can be modelled in log space; the error
model and the calibration then work on the residuals in the original units, so
``mean +- std`` covers about 68 % of values in the units the user sees.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import GroupKFold, KFold

ONE_SIGMA = 0.6827


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
        Model of the target (fitted on ``log(y)`` when ``log_target``).
    error_estimator : regressor
        Model of the absolute out-of-fold error, in target units.
    log_target : bool
        Fit ``estimator`` on ``log(y)`` (targets that span decades; ``y > 0``).
    cv : int
        Folds of the inner cross-validation that produces the residuals.
    coverage : float
        Fraction of out-of-fold residuals that one sigma should cover.
    random_state : int
        Seed of the fold shuffling.
    """

    def __init__(self, estimator, error_estimator, log_target=False, cv=5, coverage=ONE_SIGMA,
                 random_state=0):
        self.estimator = estimator
        self.error_estimator = error_estimator
        self.log_target = log_target
        self.cv = cv
        self.coverage = coverage
        self.random_state = random_state

    def _forward(self, y):
        return np.log(y) if self.log_target else y

    def _inverse(self, z):
        return np.exp(z) if self.log_target else z

    def fit(self, X, y, groups=None):
        """Fit the mean model, the error model on out-of-fold residuals, and the scale factor."""
        X = np.asarray(X)
        y = np.asarray(y, dtype=float)
        if self.log_target and np.any(y <= 0):
            raise ValueError("log_target needs strictly positive targets")
        z = self._forward(y)
        folds = grouped_folds(self.cv, groups, self.random_state)
        oof = np.empty_like(z)
        for train, test in folds.split(X, z, groups):
            oof[test] = clone(self.estimator).fit(X[train], z[train]).predict(X[test])
        abs_err = np.abs(y - self._inverse(oof))
        self.error_estimator_ = clone(self.error_estimator).fit(X, abs_err)
        self.error_floor_ = float(max(np.quantile(abs_err, 0.05), 1e-12))
        # calibrate on out-of-fold error predictions: error_estimator_ has seen every row
        raw_oof = np.empty_like(abs_err)
        for train, test in folds.split(X, abs_err, groups):
            raw_oof[test] = clone(self.error_estimator).fit(X[train], abs_err[train]).predict(X[test])
        raw_oof = np.maximum(raw_oof, self.error_floor_)
        self.scale_ = float(np.quantile(abs_err / raw_oof, self.coverage))
        self.estimator_ = clone(self.estimator).fit(X, z)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X, return_std=False):
        """Predicted target (and one-sigma uncertainty in the same units when ``return_std``)."""
        X = np.asarray(X)
        mean = self._inverse(self.estimator_.predict(X))
        if not return_std:
            return mean
        raw = np.maximum(self.error_estimator_.predict(X), self.error_floor_)
        return mean, self.scale_ * raw
