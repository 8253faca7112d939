"""The ``centroid-shift`` surrogate and the Dorenbos relations of :mod:`regenome.phosphor_physics`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from regenome import phosphor_physics as pp
from regenome.cli import app
from regenome.features.elements import load_element_table
from regenome.features.formula import parse_formulas
from regenome.modelstore import load_model, models_dir, read_card

runner = CliRunner()
YAG_SITE = {"formula": "Y3Al5O12", "coordination": 8.0, "bond_length_A": 2.3713}  # data set: 1.636 eV


def _electronegativity():
    table, names = load_element_table()
    return table[:, names.index("electronegativity_pauling")]


def _descriptors(formulas):
    fractions, errors = parse_formulas(formulas)
    assert not any(errors)
    return pp.host_descriptors(fractions, _electronegativity())


@pytest.fixture(scope="module")
def model():
    folder = models_dir() / "centroid-shift"
    assert (folder / "card.json").is_file(), "train it: regenome train centroid-shift --out models"
    return load_model("centroid-shift")[0]


# ----------------------------------------------------------------------------------------- physics
@given(st.floats(min_value=100.0, max_value=3000.0))
def test_ev_nm_round_trip(wavelength):
    assert pp.ev_to_nm(pp.nm_to_ev(wavelength)) == pytest.approx(wavelength, rel=1e-12)


def test_ev_nm_values():
    assert pp.nm_to_ev(500.0) == pytest.approx(2.479684, abs=1e-6)
    assert np.allclose(pp.ev_to_nm([2.0, 4.0]), [619.920992, 309.960496])


def test_larger_centroid_shift_red_shifts_ce_and_eu2_by_dorenbos_ratio():
    base = np.array([450.0, 620.0])
    ce = pp.refine_emission_nm(base, "Ce3+", 0.1)
    eu = pp.refine_emission_nm(base, "Eu2+", 0.1)
    assert (ce > base).all() and (eu > base).all() and (ce > eu).all()
    assert pp.nm_to_ev(base) - pp.nm_to_ev(ce) == pytest.approx([0.1, 0.1])
    assert pp.nm_to_ev(base) - pp.nm_to_ev(eu) == pytest.approx([0.064, 0.064])
    assert (pp.refine_emission_nm(base, "Ce3+", -0.1) < base).all()
    mixed = pp.refine_emission_nm(base, np.array(["Ce3+", "Eu2+"]), 0.1)
    assert mixed == pytest.approx([ce[0], eu[1]])


@pytest.mark.parametrize("activator", ["Eu3+", "Tb3+"])
def test_4f_lines_do_not_move(activator):
    assert pp.refine_emission_nm([611.0, 543.0], activator, 0.5) == pytest.approx([611.0, 543.0])


def test_activator_without_relation_is_refused():
    with pytest.raises(ValueError, match="Mn4\\+"):
        pp.refine_emission_nm(650.0, "Mn4+", 0.1)


def test_ce3_radius_matches_shannon_and_extrapolates():
    assert pp.ce3_radius([6, 8, 9, 12]) == pytest.approx([1.01, 1.143, 1.196, 1.34])
    assert pp.ce3_radius(11) == pytest.approx(1.295)
    assert pp.ce3_radius(5) == pytest.approx(0.95)


def test_dorenbos_relation_magnitude():
    assert pp.dorenbos_centroid_shift(2.0, 8, 2.45) == pytest.approx(1.79e13 * 16 / 245.0**6)
    assert pp.dorenbos_centroid_shift(2.0, 8, 2.45) == pytest.approx(1.3243, abs=1e-4)
    # R_eff = 0.4 R + 0.6 (r_anion + r_Ce3+): the site relaxes towards the size Ce3+ needs
    reff = pp.effective_bond_length([2.3, 2.7], 8, 1.40)
    assert reff == pytest.approx([0.4 * 2.3 + 0.6 * 2.543, 0.4 * 2.7 + 0.6 * 2.543])


def test_host_descriptors_sulfate_oxysulfide_and_charge_weighting():
    d = _descriptors(["BaSO4", "La2O2S", "KMgF3", "Sr2Si5N8", "Fe", "NaCl"])
    assert d.anion_fractions[0] == pytest.approx([0, 0, 0, 0, 1, 0, 0, 0])  # sulfate: S is a cation
    assert d.anion_fractions[1][[4, 5]] == pytest.approx([2 / 3, 1 / 3])  # oxysulfide: S2- anion
    assert d.cation_electronegativity[2] == pytest.approx((0.82 + 2 * 1.31) / 3)  # weighted by charge
    assert d.condensation[3] == pytest.approx(8 / 7)
    assert "no anion" in d.error[4] and np.isnan(d.cation_electronegativity[4])
    assert d.error[5] == "" and d.anion_polarizability[5] == pytest.approx(2.2)


def test_descriptors_reproduce_the_data_set_columns(reference_data):
    raw = pd.read_csv(reference_data / "phosphors" / "ce3_centroid_shift.csv")
    d = _descriptors(raw["Composition"].tolist())
    assert d.cation_electronegativity == pytest.approx(raw["Avg. cation electronegativity"].to_numpy(), abs=1e-9)
    assert d.anion_polarizability == pytest.approx(raw["Avg. anion polarizability"].to_numpy(), abs=1e-9)
    assert d.condensation == pytest.approx(raw["Condensation"].to_numpy(), abs=1e-9)
    rm = raw["Avg. bond length"].to_numpy() - d.anion_radius
    assert np.mean(np.abs(rm - raw["Rm"].to_numpy())) < 0.1  # the site cation radius estimated from the bond


def test_refined_std_shrinks_with_the_share_structure_explains():
    lam, std = np.array([550.0, 550.0]), np.array([20.0, 20.0])
    out = pp.refined_emission_std_nm(lam, std, lam, np.array(["Ce3+", "Tb3+"]), [0.2, 0.2], [0.1, 0.1])
    assert out[0] < 20.0 and out[1] == pytest.approx(20.0)
    wider = pp.refined_emission_std_nm(lam[:1], std[:1], lam[:1], "Ce3+", [0.1], [0.2])
    assert wider[0] > 20.0


# ------------------------------------------------------------------------------------------- model
def test_training_set_holds_each_site_with_and_without_structure(reference_data):
    from regenome.surrogates.centroid_shift import load_training_set

    ts = load_training_set(reference_data, quick=False)
    n = len(ts.Y) // 2
    assert n == 160 and np.array_equal(ts.groups[:n], ts.groups[n:]) and np.array_equal(ts.Y[:n], ts.Y[n:])
    assert np.isfinite(ts.X[:n, -2:]).all() and np.isnan(ts.X[n:, -2:]).all()
    assert ts.subsets["with_structure"].sum() == ts.subsets["composition_only"].sum() == 160
    assert ts.subsets["multi_site_with_structure"].sum() == 15


def test_shipped_card_shows_the_structure_path_beats_composition_only():
    card = read_card(models_dir() / "centroid-shift")
    comp = card.metrics["composition_only/centroid_shift_eV"]
    struct = card.metrics["with_structure/centroid_shift_eV"]
    assert struct["MAE"] < comp["MAE"] < 0.2 and struct["RMSE"] < comp["RMSE"]
    for m in (comp, struct):
        assert 0.55 <= m["coverage_1sigma"] <= 0.85
    assert (models_dir() / "centroid-shift" / card.model_file).stat().st_size < 2e6
    assert all(t.startswith(("sklearn.", "numpy.", "regenome.")) for t in card.object_types)


def test_shipped_model_predicts_with_and_without_structure(model):
    from regenome.surrogates.centroid_shift import prepare_inputs

    frame = pd.DataFrame({"formula": ["Y3Al5O12", "Y3Al5O12", "Sr2Si5N8", "CaF2"],
                          "coordination": [8.0, np.nan, 8.0, np.nan],
                          "bond_length_A": [2.3713, np.nan, 2.75, np.nan]})
    X, errors = prepare_inputs(model, frame)
    assert errors == ["", "", "", ""]
    comp_mean, comp_std, struct_mean, struct_std = model.predict_paths(X)
    assert np.isfinite(comp_mean).all() and (comp_std > 0).all()
    assert np.isfinite(struct_mean[[0, 2]]).all() and (struct_std[[0, 2]] > 0).all()
    assert np.isnan(struct_mean[[1, 3]]).all()
    assert struct_mean[0] != comp_mean[0]  # the site moves the prediction
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == (4, 1)
    assert mean[0, 0] == struct_mean[0] and mean[1, 0] == comp_mean[1]
    assert abs(mean[0, 0] - 1.636) < 3 * std[0, 0]  # YAG:Ce in the data set
    assert mean[3, 0] < mean[0, 0] < mean[2, 0]  # fluoride < oxide < nitride
    # prepare_inputs also works without the structure columns at all
    X2, errors2 = prepare_inputs(model, frame[["formula"]])
    assert errors2 == ["", "", "", ""] and np.isnan(X2[:, -2:]).all()


def test_bad_inputs_get_an_error(model):
    from regenome.surrogates.centroid_shift import prepare_inputs

    frame = pd.DataFrame({"formula": ["Y3Al5O12", "Y3Al5O12", "Y3Al5O12", "Fe2B", "Xq2O3", "CaF2"],
                          "coordination": ["8", "20", "x", "", "", "8"],
                          "bond_length_A": ["", "2.4", "2.4", "", "", "5.0"]})
    _, errors = prepare_inputs(model, frame)
    assert "both" in errors[0]
    assert "coordination 20 outside the training range" in errors[1]
    assert "must be numbers" in errors[2]
    assert "no anion" in errors[3]
    assert errors[4]  # unknown element (formula parser)
    assert "bond_length_A 5 outside" in errors[5]


def test_structure_refinement_for_known_sites(model):
    out = pp.structure_refinement(
        ["Y3Al5O12", "Y3Al5O12", "Y3Al5O12", "Y3Al5O12", "Y3Al5O12", "Y3Al5O12"],
        np.array(["Ce3+", "Eu2+", "Tb3+", "Ce3+", "Mn4+", "Ce3+"]),
        [8, 8, 8, np.nan, 8, 30], [2.3713, 2.3713, 2.3713, np.nan, 2.3713, 2.3713],
        [550.0] * 6, [30.0] * 6, model)
    delta_eV = out.delta_centroid_eV[0]
    assert np.isfinite(delta_eV) and delta_eV != 0
    assert out.message[:3] == ["", "", ""]
    assert np.sign(out.delta_nm[0]) == np.sign(delta_eV)  # larger centroid shift: red shift
    assert pp.nm_to_ev(550.0) - pp.nm_to_ev(out.emission_nm[1]) == pytest.approx(0.64 * delta_eV)
    assert out.emission_nm[2] == 550.0 and out.emission_std_nm[2] == 30.0  # Tb3+ 4f-4f lines
    assert out.delta_nm[3] == 0 and "no site structure" in out.message[3]
    assert out.delta_nm[4] == 0 and "Mn4+" in out.message[4]
    assert out.delta_nm[5] == 0 and "outside the training range" in out.message[5]


def test_cli_predict_with_blank_structure_cells(model, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"formula": ["Y3Al5O12", "Y3Al5O12", "LaBr3"], "coordination": ["8", "", ""],
                  "bond_length_A": ["2.3713", "", ""]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "centroid-shift", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, keep_default_na=False)
    assert (table["error"] == "").all()
    values = table["centroid_shift_eV"].astype(float).to_numpy()
    assert np.isfinite(values).all() and values[0] != values[1]
    assert (table["centroid_shift_eV_std"].astype(float) > 0).all()


def test_quick_fit_round_trips_through_skops(reference_data, tmp_path):
    from regenome.modelstore import ModelCard, TrainingData, load_from_folder, save_model
    from regenome.surrogates.centroid_shift import load_training_set, make_estimator

    ts = load_training_set(reference_data, quick=True)
    est = make_estimator(0, True).fit(ts.X, ts.Y, groups=ts.groups)
    card = ModelCard(name="centroid-shift", version="test", description="", inputs={}, outputs={},
                     training_data=[TrainingData(file="x", sha256="0", rows_in_file=1, rows_used=1, source="")])
    save_model(est, card, tmp_path / "m")
    loaded, _ = load_from_folder(tmp_path / "m")
    assert np.allclose(loaded.predict(ts.X[:5]), est.predict(ts.X[:5]))
