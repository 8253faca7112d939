"""The phosphor surrogates ``emission`` and ``thermal-quenching``: inputs, shipped models, data cleaning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regenome.surrogates.phosphor_data import (
    ACTIVATORS, COL_ACTIVATOR, COL_CONCENTRATION, N_EL, parse_activators, prior_features, substituted_site,
)


def test_parse_activators():
    codes, errors = parse_activators(["Ce3+", "Eu 2+", "Eu(III)", "Tb", "Eu", "Xx3+", "Nd7+", "", None, "Mn^4+"])
    names = [ACTIVATORS[c] if c >= 0 else None for c in codes]
    assert names[:4] == ["Ce3+", "Eu2+", "Eu3+", "Tb3+"]
    assert names[9] == "Mn4+"
    assert all(c == -1 for c in codes[4:9])
    assert "valence" in errors[4]  # Eu alone is ambiguous
    assert all(errors[i] for i in range(4, 9)) and not any(errors[i] for i in (0, 1, 2, 3, 9))


def test_substituted_site():
    assert substituted_site({"Sr": 1.96, "Si": 5, "N": 8}, "Eu2+", 0.04) == "Sr"
    assert substituted_site({"Y": 3, "Al": 5, "O": 12}, "Ce3+", 0.06) == "Y"
    assert substituted_site({"Ba": 2, "Gd": 1, "Sb": 0.997, "O": 6}, "Mn4+", 0.003) == "Sb"
    assert substituted_site({"Ca": 1, "Al": 1, "Si": 1, "N": 3}, "Eu2+", 0.01) == "Ca"


def test_prior_leaves_out_the_query_paper():
    """A training row's same-host prior must not see its own paper (the grouped CV would leak)."""
    X = np.zeros((3, N_EL + 2))
    X[:, 7] = 0.5  # same host for all three rows
    X[:, 13] = 0.5
    X[:, COL_ACTIVATOR] = 0
    X[:, COL_CONCENTRATION] = 0.01
    residual = np.array([1.0, 1.0, -2.0])
    groups = np.array([0, 0, 1])
    P = prior_features(X, X, residual, np.ones(3), groups, groups)
    assert P[0, 0] == pytest.approx(-2.0) and P[2, 0] == pytest.approx(1.0)
    assert prior_features(X, X, residual, np.ones(3))[0, 0] == pytest.approx(0.0)


def test_same_host_prior_regressor_shrinks_thin_priors():
    from regenome.surrogates.phosphor_data import PRIOR_FEATURES, SameHostPriorRegressor

    Z = np.zeros((3, 4 + len(PRIOR_FEATURES)))
    Z[:, 4 + PRIOR_FEATURES.index("prior_same_host")] = [30.0, 30.0, 30.0]
    Z[:, 4 + PRIOR_FEATURES.index("prior_weight")] = [0.0, 0.1, 10.0]  # no neighbour, a far one, many papers
    out = SameHostPriorRegressor(pseudo_weight=0.1).fit(Z, np.zeros(3)).predict(Z)
    np.testing.assert_allclose(out, [0.0, 15.0, 30.0 * 10 / 10.1])
    with pytest.raises(ValueError, match="prior feature columns"):
        SameHostPriorRegressor().fit(np.zeros((3, 2)), np.zeros(3))


def test_centroid_shift_estimate_is_the_composition_path(reference_data):
    """The emission model's eps_c estimate reproduces the shipped centroid-shift model's formula-only path."""
    from regenome.features.formula import parse_formulas
    from regenome.modelstore import load_model
    from regenome.surrogates.phosphor_data import build_X, fit_centroid_shift_estimate

    estimate, record = fit_centroid_shift_estimate(reference_data)
    assert record.file == "phosphors/ce3_centroid_shift.csv" and record.rows_used > 100
    fractions, _ = parse_formulas(["Y3Al5O12", "LaF3", "CaAlSiN3", "SrS", "Ca3Sc2Si3O12"])
    X = build_X(fractions, np.zeros(5), np.full(5, 0.01))
    eps = estimate.predict(X)
    model, _ = load_model("centroid-shift")
    reference, _, _, _ = model.predict_paths(np.hstack([fractions, np.full((5, 2), np.nan)]))
    np.testing.assert_allclose(eps, reference, rtol=1e-6)
    assert eps[1] < eps[0] < eps[2]  # fluoride < oxide < nitride (Dorenbos)
    assert np.isfinite(estimate.set_params(coefficients=estimate.coefficients).predict(X)).all()


def test_emission_serves_ce3_with_its_own_model():
    """Ce3+ rows come from the Ce3+ model (trained on E + eps_c), the other activators from the pooled one."""
    from regenome.features.formula import parse_formulas
    from regenome.modelstore import load_model
    from regenome.surrogates.phosphor_data import ACTIVATOR_INDEX, build_X

    estimator, _ = load_model("emission")
    ce3 = estimator.activator_estimators_["Ce3+"]
    assert dict(ce3.centroid_response) == {"Ce3+": 1.0}
    fractions, _ = parse_formulas(["Y3Al5O12", "Y3Al5O12"])
    X = build_X(fractions, np.array([ACTIVATOR_INDEX["Ce3+"], ACTIVATOR_INDEX["Eu2+"]]), np.full(2, 0.02))
    mean, std = estimator.predict(X, return_std=True)
    np.testing.assert_allclose(mean[:1], ce3.predict(X[:1]))
    np.testing.assert_allclose(mean[1:], estimator.estimator_.predict(X[1:]))
    assert (std > 0).all()


def test_training_set_cleaning(reference_data):
    from regenome.surrogates import emission, thermal_quenching

    ts = emission.load_training_set(reference_data, quick=False)
    frame = ts.frame
    assert len(ts.Y) > 1500 and ts.X.shape[1] == N_EL + 2
    eu3 = frame["activator"] == "Eu3+"
    assert frame.loc[eu3, "emission_nm"].between(575, 720).all()
    assert (ts.X[:, COL_CONCENTRATION] > 0).all() and (ts.X[:, COL_CONCENTRATION] <= 1).all()
    # hosts are nominal: Sr1.96Si5N8 (written) is Sr2Si5N8
    row = frame[frame["host_written"] == "Sr1.96Si5N8"].iloc[0]
    assert row["host"] == "Sr2Si5N8" and row["concentration"] == pytest.approx(0.02)
    assert ts.subsets["Ce3+_Eu2+_single"].sum() > 300
    tq = thermal_quenching.load_training_set(reference_data, quick=False)
    assert 350 < len(tq.Y) < 420 and tq.Y.min() > 300


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "host": ["Y3Al5O12", "CaAlSiN3", "Sr2Si5N8", "Y2O3", "Y2O3", "Y3Al5O12", "Xx2O3", "Y3Al5O12", "Y3Al5O12",
                 "Ca1.96Si5N8", "FeNi"],
        "activator": ["Ce3+", "Eu2+", "Eu2+", "Eu3+", "Tb3+", "Nd9+", "Ce3+", "Ce3+", "Eu", "Eu2+", "Ce3+"],
        "concentration": [0.02, 0.01, 0.02, 0.05, 0.05, 0.02, 0.02, 1.5, 0.02, 0.02, 0.02],
    })


@pytest.fixture(scope="module")
def emission_predictions(table):
    from regenome.surrogates.predict import predict_frame

    return predict_frame("emission", table)


def test_emission_known_phosphors(emission_predictions):
    out = emission_predictions
    nm = out["emission_nm"].to_numpy()
    assert 520 <= nm[0] <= 570  # Y3Al5O12:Ce3+ (YAG), about 530-560 nm
    assert 610 <= nm[1] <= 670  # CaAlSiN3:Eu2+, about 630-660 nm
    assert 590 <= nm[2] <= 650  # Sr2Si5N8:Eu2+, about 600-640 nm
    assert 605 <= nm[3] <= 620  # Y2O3:Eu3+, 5D0-7F2 at 611 nm
    assert 538 <= nm[4] <= 552  # Tb3+ 5D4-7F5, about 543-545 nm
    assert 560 <= nm[9] <= 680  # Ca2Si5N8:Eu2+ written with the reduced site
    std = out["emission_nm_std"].to_numpy()[[0, 1, 2, 3, 4, 9]]
    assert (std > 0).all() and (std < 150).all()
    assert std[3] < std[0]  # the Eu3+ line is surer than a Ce3+ band


def test_emission_error_rows(emission_predictions):
    out = emission_predictions
    errors = out["error"].tolist()
    assert not any(errors[i] for i in (0, 1, 2, 3, 4, 9))
    assert "Nd9+" in errors[5]
    assert errors[6].startswith("host:")
    assert "concentration" in errors[7]
    assert "valence" in errors[8]
    assert "anion" in errors[10]
    assert out.loc[[5, 6, 7, 8, 10], "emission_nm"].isna().all()


def test_thermal_quenching_predictions(table):
    from regenome.surrogates.predict import predict_frame

    out = predict_frame("thermal-quenching", table)
    ok = out["error"] == ""
    assert ok.sum() == 6
    t50 = out.loc[ok, "T50_K"].to_numpy()
    std = out.loc[ok, "T50_K_std"].to_numpy()
    assert ((t50 > 320) & (t50 < 800)).all()
    assert (std >= 20).all()  # literature T50 values are noisy: no false precision


def test_fast_enough(table):
    """The phosphor family calls the models on thousands of candidates."""
    import time

    from regenome.surrogates.predict import predict_frame

    big = pd.concat([table.iloc[:5]] * 400, ignore_index=True)
    big["concentration"] = np.linspace(0.001, 0.2, len(big))
    start = time.perf_counter()
    out = predict_frame("emission", big)
    assert (out["error"] == "").all()
    assert time.perf_counter() - start < 10.0


def test_cards():
    from regenome.modelstore import load_model

    _, card = load_model("emission")
    assert "Ce3+_Eu2+_single/emission_eV" in card.metrics
    assert "Ce3+_Eu2+_single (mean predictor)/emission_eV" in card.metrics
    for activator in ("Ce3+", "Eu2+", "Eu3+", "Tb3+"):
        assert f"{activator}/emission_nm" in card.metrics
    assert 0.5 < card.metrics["all/emission_nm"]["coverage_1sigma"] < 0.9
    assert [d.file for d in card.training_data] == ["phosphors/literature_phosphors.csv",
                                                    "phosphors/ce3_centroid_shift.csv"]
    _, card = load_model("thermal-quenching")
    assert "all (mean predictor)/T50_K" in card.metrics


@pytest.mark.parametrize("name", ["emission", "thermal-quenching"])
def test_quick_train(reference_data, tmp_path, name):
    """``regenome train NAME --quick`` path: grouped CV, derived eV metrics, mean-predictor rows, a loadable file."""
    from regenome.modelstore import load_from_folder
    from regenome.surrogates import get_spec
    from regenome.surrogates.training import train_surrogate

    result = train_surrogate(name, reference_data, tmp_path, quick=True)
    output = next(iter(get_spec(name).outputs))
    assert f"all/{output}" in result.card.metrics and f"all (mean predictor)/{output}" in result.card.metrics
    if name == "emission":
        assert "all/emission_eV" in result.card.metrics
    estimator, _ = load_from_folder(tmp_path / name)
    mean, std = estimator.predict(result.training_set.X[:5], return_std=True)
    assert mean.shape == (5, 1) and (std > 0).all()


def test_median_extra_trees_is_the_median_of_its_trees_in_any_block_size(monkeypatch):
    import regenome.surrogates.emission as emission

    rng = np.random.default_rng(0)
    X, y = rng.random((60, 4)), rng.random(60)
    y[::10] += 5.0  # outlying targets: the median over trees resists them
    model = emission.MedianExtraTreesRegressor(n_estimators=25, random_state=0).fit(X, y)
    Xt = rng.random((50, 4))
    expected = np.median([t.predict(Xt.astype(np.float32)) for t in model.estimators_], axis=0)
    np.testing.assert_allclose(model.predict(Xt), expected)
    monkeypatch.setattr(emission, "_MEDIAN_BLOCK_ROWS", 7)
    np.testing.assert_allclose(model.predict(Xt), expected)
    assert np.median(model.predict(Xt)) < np.median(super(emission.MedianExtraTreesRegressor, model).predict(Xt))
