"""The ``debye-temperature`` surrogate: two-set training data, shipped-model predictions, bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regenome.cli import app
from regenome.modelstore import models_dir, read_card

runner = CliRunner()

# (formula, Debye temperature in the training data [K]): MgO and NaCl from the Brgoch set (MgO is also
# in AFLOW at 890 K: the Brgoch value wins), diamond, Fe and Cs from AFLOW, AlPt3 and CaNi5 Brgoch only
KNOWN = [("C", 2091.44), ("MgO", 899.15), ("NaCl", 299.97), ("Fe", 646.76), ("AlPt3", 311.92),
         ("CaNi5", 432.51), ("Cs", 43.87)]


@pytest.fixture(scope="module")
def shipped():
    folder = models_dir() / "debye-temperature"
    assert (folder / "card.json").is_file(), "train it: regenome train debye-temperature --out models"
    return folder


def _predict(tmp_path, formulas: list[str]) -> tuple[pd.DataFrame, str]:
    src = tmp_path / "in.csv"
    pd.DataFrame({"formula": formulas, "row": range(len(formulas))}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "debye-temperature", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, keep_default_na=False), result.output


def test_training_set_merges_the_two_sets_and_keeps_subsets(reference_data):
    from regenome.surrogates.debye_temperature import load_training_set

    ts = load_training_set(reference_data, quick=False)
    sub = ts.subsets
    assert list(sub)[0] == "all" and {"brgoch", "aflow"} <= set(sub)
    assert (sub["brgoch"] | sub["aflow"]).all()
    assert 2000 < sub["brgoch"].sum() <= 2265 and 4000 < sub["aflow"].sum() <= 4143
    assert 500 < (sub["brgoch"] & sub["aflow"]).sum() < 2000  # compositions in both sets: one row each
    assert len(np.unique(ts.groups)) == len(ts.Y)  # one row per normalized composition
    values = dict(zip(ts.frame["formula"], ts.Y[:, 0]))
    assert values["MgO"] == pytest.approx(899.15, abs=0.01)  # Brgoch value, not AFLOW's 890.46
    assert values["C1"] == pytest.approx(2091.44, abs=0.01)
    quick = load_training_set(reference_data, quick=True)
    assert len(quick.Y) == 1500 and quick.subsets["brgoch"].sum() > 300


def test_shipped_card_metrics_per_source(shipped):
    card = read_card(shipped)
    assert card.outputs == {"debye_K": "K"}
    for key in ("all/debye_K", "brgoch/debye_K", "aflow/debye_K", "brgoch_in_aflow/debye_K",
                "brgoch_not_in_aflow/debye_K"):
        assert card.metrics[key]["MAE"] < 45 and card.metrics[key]["R2"] > 0.85
        assert 0.55 <= card.metrics[key]["coverage_1sigma"] <= 0.85
    assert (shipped / card.model_file).stat().st_size < 20e6


def test_shipped_model_uses_the_aflow_value_of_a_listed_formula(shipped, tmp_path):
    from regenome.modelstore import load_model

    card = read_card(shipped)
    with_aflow, without = card.metrics["brgoch_in_aflow/debye_K"], card.metrics["brgoch_not_in_aflow/debye_K"]
    assert with_aflow["MAE"] < without["MAE"]
    assert 0.55 <= with_aflow["coverage_1sigma"] <= 0.85 and 0.55 <= without["coverage_1sigma"] <= 0.85
    # Fe and Cs are AFLOW-only, Y3Al5O12 is in neither set: the first two follow 1.016 x their AFLOW value
    table, _ = _predict(tmp_path, ["Fe", "Cs", "Y3Al5O12"])
    model, _ = load_model("debye-temperature")
    blend = model.regressor_
    assert 0.5 <= blend.weight_ <= 1.0 and blend.ratio_ == pytest.approx(1.016, abs=0.01)
    mean = table["debye_K"].astype(float).to_numpy()
    np.testing.assert_allclose(mean[:2], blend.ratio_ * np.array([646.76, 43.87]), rtol=0.05)
    # with the lookup the one-sigma shrinks by the fitted scale; without one it is the inner model's
    from regenome.features.formula import parse_formulas

    X, _ = parse_formulas(["Fe", "Cs", "Y3Al5O12"])
    features = model.featurizer_.transform(X)
    _, inner_std = blend.regressor_.predict(features[:, 1:], return_std=True)
    np.testing.assert_allclose(table["debye_K_std"].astype(float), inner_std * [blend.scale_, blend.scale_, 1],
                               rtol=1e-3)


def test_known_compounds_within_three_sigma(shipped, tmp_path):
    table, _ = _predict(tmp_path, [f for f, _ in KNOWN])
    assert list(table.columns) == ["formula", "row", "debye_K", "debye_K_std", "error"]
    mean = table["debye_K"].astype(float).to_numpy()
    std = table["debye_K_std"].astype(float).to_numpy()
    ref = np.array([v for _, v in KNOWN])
    assert (table["error"] == "").all()
    assert (std > 0).all()
    assert (np.abs(mean - ref) <= np.maximum(3 * std, 0.15 * ref)).all(), list(zip(table["formula"], mean, std))
    # ordering of stiff light vs soft heavy lattices
    by = dict(zip(table["formula"], mean))
    assert by["C"] > 1500 > by["MgO"] > by["NaCl"] > by["Cs"]


def test_bad_rows_get_an_error_and_all_predictions_are_positive(shipped, tmp_path):
    formulas = ["Xq2O3", "", "Og2", "SrLiAl3N4", "Y3Al5O12", "Sr2Si5N8", "CsPbI3", "BaMgAl10O17", "Hg", "Lu2O3",
                "Ca2Si5N8", "Sr0.98Eu0.02Si2O2N2", "K2SiF6", "Bi", "BN", "Be"]
    table, output = _predict(tmp_path, formulas)
    err = table["error"]
    assert err[0].startswith("unknown element") and err[1] == "empty formula"
    assert err[2] != "" and table["debye_K"][2] == ""
    good = table[err == ""]
    assert len(good) >= len(formulas) - 4
    mean = good["debye_K"].astype(float)
    assert (mean > 0).all() and (mean < 2500).all() and (good["debye_K_std"].astype(float) > 0).all()
    assert "rows have a message" in output


def test_lindemann_estimate_by_hand_and_debye_features_limits():
    from regenome.features.debye import DEBYE_FEATURES, DebyeFeaturizer, debye_features, lindemann_debye
    from regenome.features.elements import load_element_table
    from regenome.features.formula import parse_formulas

    # Fe: T_m 1811 K, M 55.845 u, V 7.09 cm3/mol -> 137 * sqrt(1811 / (55.845 * 7.09^(2/3))) = 406 K
    assert lindemann_debye(1811.0, 55.845, 7.09) == pytest.approx(406.1, abs=0.2)
    table, names = load_element_table()
    X, _ = parse_formulas(["Fe", "MgO", "Mg2O2", "C"])
    f = dict(zip(DEBYE_FEATURES, debye_features(X, table, names).T))
    assert f["lindemann_mean_K"][0] == pytest.approx(406.1, abs=0.5)
    # an element: every Lindemann variant agrees, the harmonic mass is the mass, no mass disorder
    for name in ("lindemann_max_K", "lindemann_cation_K", "lindemann_harmonic_K"):
        assert f[name][0] == pytest.approx(f["lindemann_mean_K"][0])
    assert f["harmonic_mass_u"][0] == pytest.approx(55.845, abs=1e-3) and f["mass_disorder"][0] == 0
    # MgO: the cation melting point is Mg's (923 K), half the atoms are light, mean mass 20.15 u
    assert f["cation_melting_point_K"][1] == pytest.approx(923.0)
    assert f["frac_light"][1] == pytest.approx(0.5) and f["mean_mass_u"][1] == pytest.approx(20.152, abs=1e-2)
    assert f["harmonic_mass_u"][1] < f["mean_mass_u"][1]
    np.testing.assert_allclose(debye_features(X[1:2], table, names), debye_features(X[2:3], table, names))
    assert f["frac_light"][3] == 1.0 and f["lindemann_mean_K"][3] > 3 * f["lindemann_mean_K"][0]  # diamond
    assert np.isnan(debye_features(np.zeros((1, X.shape[1])), table, names)).all()
    featurizer = DebyeFeaturizer().fit(X)
    assert featurizer.transform(X).shape[1] == len(featurizer.get_feature_names_out())


def test_source_flag_and_lookup_hide_a_training_rows_own_value():
    from sklearn.dummy import DummyRegressor

    from regenome.features.formula import parse_formulas
    from regenome.surrogates.debye_temperature import (LindemannBlendRegressor, SourceFlagFeaturizer,
                                                       composition_keys)

    X, _ = parse_formulas(["MgO", "Mg2O2", "MgO2", "NaCl"])
    keys = composition_keys(X)
    assert keys[0] == keys[1] != keys[2]
    # AFLOW lists MgO (also a Brgoch row) and MgO2 (AFLOW only); NaCl is Brgoch only
    featurizer = SourceFlagFeaturizer(aflow_only_keys=keys[2:3], aflow_keys=keys[[2, 0]],
                                      aflow_values=np.array([700.0, 890.0]))
    F = featurizer.fit_transform(X)  # training rows: MgO2's lookup would be its own target
    np.testing.assert_array_equal(F[:, -1], [1, 1, 0, 1])
    np.testing.assert_array_equal(F[:, 0], [890, 890, np.nan, np.nan])
    new = featurizer.transform(X)  # new rows: every one predicted as Brgoch, with any AFLOW value
    np.testing.assert_array_equal(new[:, -1], [1, 1, 1, 1])
    np.testing.assert_array_equal(new[:, 0], [890, 890, 700, np.nan])
    np.testing.assert_array_equal(new[:, 1:-1], F[:, 1:-1])
    names = featurizer.get_feature_names_out()
    assert names[0] == "aflow_debye_K" and names[-1] == "source_brgoch" and len(names) == F.shape[1]
    # without a lookup table: no lookup column; a 1.2 model file's featurizer (saved before the lookup
    # existed) loads the same way
    plain = SourceFlagFeaturizer(aflow_only_keys=keys[2:3])
    assert plain.fit_transform(X).shape[1] == F.shape[1] - 1
    state = {k: v for k, v in plain.__getstate__().items() if k not in ("aflow_keys", "aflow_values", "lookup_keys_",
                                                                         "lookup_values_")}
    old = SourceFlagFeaturizer.__new__(SourceFlagFeaturizer)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.transform(X), plain.transform(X))
    # anchored part only, predicting log(theta/theta_L) = 0: the prediction is the Lindemann anchor
    y = np.array([900.0, 900.0, 700.0, 300.0])
    F = F[:, 1:]
    blend = LindemannBlendRegressor(DummyRegressor(strategy="constant", constant=0.0), DummyRegressor(),
                                    anchor_column=-4, weight=1.0, brgoch_weight=2.0).fit(F, y)
    np.testing.assert_allclose(blend.predict(F), F[:, -4])
    # direct part only: a constant model of the (Brgoch-weighted) mean
    blend = blend.set_params(weight=0.0).fit(F, y)
    np.testing.assert_allclose(blend.predict(F), np.average(y, weights=[2, 2, 1, 2]))


def _lookup_rows(noise: float, seed: int = 0):
    """(X, y, groups): column 0 a lookup (NaN on half the rows), y = 1.02 x lookup (+ noise) there."""
    rng = np.random.default_rng(seed)
    n = 400
    lookup = rng.uniform(200, 800, n)
    lookup[::2] = np.nan
    y = np.where(np.isnan(lookup), rng.uniform(200, 800, n), 1.02 * lookup + rng.normal(0, noise, n))
    return np.column_stack([lookup, rng.normal(size=(n, 2))]), y, np.arange(n)


def test_lookup_blend_trusts_an_exact_lookup_and_leaves_other_rows_alone():
    from sklearn.dummy import DummyRegressor

    from regenome.surrogates.debye_temperature import LookupBlendRegressor
    from regenome.surrogates.uncertainty import CalibratedRegressor

    X, y, groups = _lookup_rows(noise=0.0)
    inner = CalibratedRegressor(DummyRegressor(), DummyRegressor(), cv=5)
    model = LookupBlendRegressor(inner, lookup_column=0).fit(X, y, groups=groups)
    assert model.ratio_ == pytest.approx(1.02) and model.weight_ == 1.0
    mean, std = model.predict(X, return_std=True)
    plain_mean, plain_std = model.regressor_.predict(X[:, 1:], return_std=True)
    has = np.isfinite(X[:, 0])
    np.testing.assert_allclose(mean[has], y[has])
    np.testing.assert_array_equal(mean[~has], plain_mean[~has])
    np.testing.assert_array_equal(std[~has], plain_std[~has])
    assert (std[has] < plain_std[has]).all()


def test_lookup_blend_is_calibrated_out_of_fold_and_fit_reuses_it():
    from sklearn.base import clone
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    from regenome.surrogates.debye_temperature import LookupBlendRegressor
    from regenome.surrogates.uncertainty import CalibratedRegressor, grouped_folds

    X, y, groups = _lookup_rows(noise=20.0)
    inner = CalibratedRegressor(DummyRegressor(), LinearRegression(), cv=5, random_state=3)
    model = LookupBlendRegressor(inner, lookup_column=0, cv=5, random_state=3)
    mean, std, oof = model.cross_validate(X, y, groups, grouped_folds(5, groups, 3))
    has = np.isfinite(X[:, 0])
    assert oof.shape == (len(y), 3)
    assert np.mean(np.abs(mean - y)[has]) < 0.2 * np.mean(np.abs(oof[:, 1] - y)[has])
    assert 0.6 < np.mean(np.abs(mean - y)[has] <= std[has]) < 0.78  # one sigma covers about 68 %
    np.testing.assert_array_equal(mean[~has], oof[~has, 1])
    reused = clone(model).fit(X, y, groups=groups, oof=oof)
    refitted = clone(model).fit(X, y, groups=groups)  # runs the same folds itself
    for name in ("ratio_", "weight_", "scale_"):
        assert getattr(reused, name) == pytest.approx(getattr(refitted, name))
    assert 0.9 <= reused.weight_ <= 1.0 and reused.ratio_ == pytest.approx(1.02, abs=0.01)


def test_phosphor_page_counts_the_library_hosts_aflow_lists(shipped):
    import re
    from pathlib import Path

    from regenome.features.formula import parse_formulas
    from regenome.modelstore import load_model
    from regenome.structures.hosts import host_names

    model, _ = load_model("debye-temperature")
    names = host_names()
    X, _ = parse_formulas(names)
    listed = [n for n, v in zip(names, model.featurizer_.transform(X)[:, 0]) if np.isfinite(v)]
    page = (Path(__file__).resolve().parents[1] / "docs" / "phosphor.md").read_text()
    quoted = re.search(r"\((\d+) library hosts, e\.g\. ([\w, ]+)\)", page)
    assert quoted, "docs/phosphor.md: the debye_K row no longer says how many library hosts AFLOW lists"
    assert int(quoted.group(1)) == len(listed), listed
    assert set(quoted.group(2).split(", ")) <= set(listed)
