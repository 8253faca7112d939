"""CalibratedRegressor: one sigma covers about 68 % of unseen values, in the units the user sees."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from regenome.surrogates.uncertainty import CalibratedRegressor


def _data(n, seed, log=False):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    noise = 0.05 + 0.5 * X[:, 0]  # heteroscedastic: the error grows with x0
    y = 3 * X[:, 1] + rng.normal(0, noise)
    return X, (np.exp(y) if log else y), noise


@pytest.mark.parametrize("transform", ["none", "log", "sqrt"])
def test_one_sigma_coverage_on_held_out_rows(transform):
    log_target = transform == "log"
    X, y, _ = _data(3000, 0, log_target)
    if transform == "sqrt":
        y = y - y.min()
    model = CalibratedRegressor(LinearRegression(),
                                HistGradientBoostingRegressor(max_iter=50, loss="absolute_error", random_state=0),
                                transform=transform, random_state=0).fit(X, y)
    Xt, yt, _ = _data(3000, 1, log_target)
    if transform == "sqrt":
        yt = np.clip(yt - _data(3000, 0)[1].min(), 0, None)
    mean, std = model.predict(Xt, return_std=True)
    coverage = np.mean(np.abs(yt - mean) <= std)
    assert 0.62 <= coverage <= 0.75
    assert np.all(std > 0)


def test_std_follows_the_noise():
    X, y, _ = _data(3000, 2)
    model = CalibratedRegressor(LinearRegression(), HistGradientBoostingRegressor(max_iter=50, random_state=0))
    model.fit(X, y)
    _, std = model.predict(np.array([[0.05, 0.5], [0.95, 0.5]]), return_std=True)
    assert std[1] > 3 * std[0]


def test_deterministic_and_clonable():
    X, y, _ = _data(500, 3)
    groups = np.arange(500) // 2
    est = CalibratedRegressor(HistGradientBoostingRegressor(max_iter=30, random_state=0),
                              HistGradientBoostingRegressor(max_iter=20, random_state=0), random_state=4)
    a = clone(est).fit(X, y, groups=groups).predict(X, return_std=True)
    b = clone(est).fit(X, y, groups=groups).predict(X, return_std=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_transforms_check_their_domain():
    with pytest.raises(ValueError, match="strictly positive"):
        CalibratedRegressor(LinearRegression(), LinearRegression(), transform="log").fit([[0.0], [1.0]], [1.0, -1.0])
    with pytest.raises(ValueError, match="transform must be one of"):
        CalibratedRegressor(LinearRegression(), LinearRegression(), transform="cube").fit([[0.0], [1.0]], [1.0, 2.0])


def test_cross_validate_matches_a_refit_per_fold():
    """The one-fit-per-fold shortcut gives the same out-of-fold means as refitting the whole model."""
    from regenome.surrogates.uncertainty import grouped_folds

    X, y, _ = _data(600, 5)
    est = CalibratedRegressor(LinearRegression(), HistGradientBoostingRegressor(max_iter=20, random_state=0))
    folds = grouped_folds(5, None, 0)
    mean, std, _ = est.cross_validate(X, y, None, folds)
    for train, test in folds.split(X):
        np.testing.assert_allclose(mean[test], clone(est).fit(X[train], y[train]).predict(X[test]))
    assert np.all(std > 0) and 0.55 < np.mean(np.abs(y - mean) <= std) < 0.85


class _ShrunkLinear(LinearRegression):
    """A mean model of column 0 only with a systematic scale error: predictions 10 % low."""

    def fit(self, X, y):
        return super().fit(np.asarray(X)[:, :1], y)

    def predict(self, X):
        return 0.9 * super().predict(np.asarray(X)[:, :1])


def test_median_ratio_corrects_a_scale_error_on_the_flagged_rows():
    from regenome.surrogates.uncertainty import grouped_folds

    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(0, 1, 2000), rng.integers(0, 2, 2000)])
    flagged = X[:, 1] > 0.5
    # flagged rows: the scale the model should predict; the others come from a source 20 % lower
    y = (5 + 3 * X[:, 0]) * np.where(flagged, 1.0, 0.8) * rng.normal(1, 0.01, 2000)
    error = HistGradientBoostingRegressor(max_iter=20, random_state=0)
    plain = CalibratedRegressor(_ShrunkLinear(), error).fit(X, y)
    every_row = CalibratedRegressor(_ShrunkLinear(), error, median_ratio=True).fit(X, y)
    fixed = CalibratedRegressor(_ShrunkLinear(), error, median_ratio=True, ratio_rows_column=1).fit(X, y)
    assert plain.ratio_ == 1.0 and fixed.ratio_ > every_row.ratio_ > 1.0

    def bias(mean):
        return abs(np.median(y[flagged] / mean[flagged]) - 1)

    assert bias(plain.predict(X)) > 0.15 and bias(fixed.predict(X)) < 0.01
    folds = grouped_folds(5, None, 0)
    assert bias(fixed.cross_validate(X, y, None, folds)[0]) < 0.01
    assert bias(plain.cross_validate(X, y, None, folds)[0]) > 0.15
    with pytest.raises(ValueError, match="no row"):
        CalibratedRegressor(_ShrunkLinear(), error, median_ratio=True, ratio_rows_column=1).fit(X[~flagged], y[~flagged])


def test_model_files_from_before_median_ratio_load_with_it_off():
    """A fitted state without the new parameters (an older model file) predicts as before."""
    X, y, _ = _data(300, 7)
    model = CalibratedRegressor(LinearRegression(), HistGradientBoostingRegressor(max_iter=10, random_state=0)).fit(X, y)
    state = {k: v for k, v in model.__getstate__().items() if k not in ("median_ratio", "ratio_rows_column", "ratio_")}
    old = CalibratedRegressor.__new__(CalibratedRegressor)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(X), model.predict(X))
    assert old.get_params()["median_ratio"] is False and old.ratio_ == 1.0
