"""Trained surrogates: quick training from the reference data, prediction CSVs, shipped cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regenome.cli import app
from regenome.modelstore import load_from_folder, models_dir, read_card, verify_files
from regenome.surrogates import get_spec, surrogate_names

runner = CliRunner()


@pytest.fixture(scope="module")
def quick_models(reference_data, tmp_path_factory):
    """Every surrogate trained quickly (small subset, few iterations) into one folder."""
    out = tmp_path_factory.mktemp("models")
    for name in surrogate_names():
        result = runner.invoke(app, ["train", name, "--data", str(reference_data), "--out", str(out), "--quick"])
        assert result.exit_code == 0, result.output
    return out


def test_quick_training_writes_card_metrics_and_hash(quick_models):
    for name in surrogate_names():
        model, card = load_from_folder(quick_models / name)
        spec = get_spec(name)
        assert card.outputs == spec.outputs
        assert card.training_data[0].rows_used > 100
        assert len(card.training_data[0].sha256) == 64
        key = next(iter(card.metrics))
        assert 0.3 < card.metrics[key]["coverage_1sigma"] < 0.95
        # T50 data are noisy: even the full thermal-quenching model has R2 near 0 (its page says why)
        assert card.metrics[key]["R2"] > (-0.5 if name == "thermal-quenching" else 0.3), name


def test_quick_training_is_deterministic(reference_data, quick_models, tmp_path):
    from regenome.features.formula import parse_formulas

    X, _ = parse_formulas(["Nd2Fe14B", "SmCo5", "Fe3O4", "Gd"])
    runs = []
    for out in (tmp_path / "a", tmp_path / "b"):
        result = runner.invoke(app, ["train", "curie-temperature", "--data", str(reference_data), "--out",
                                     str(out), "--quick", "--no-cv"])
        assert result.exit_code == 0, result.output
        runs.append(load_from_folder(out / "curie-temperature")[0].predict(X, return_std=True))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # the mean model does not depend on how the uncertainty was calibrated
    with_cv, _ = load_from_folder(quick_models / "curie-temperature")
    np.testing.assert_array_equal(with_cv.predict(X), runs[0][0])


def test_predict_csv_keeps_columns_and_reports_bad_rows(quick_models, tmp_path, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(quick_models))
    src = tmp_path / "in.csv"
    src.write_text("formula,lab_id\nNd2Fe14B,a1\nXq2O3,a2\n,a3\nFe,a4\n")
    for name, column in (("curie-temperature", "Tc_K"), ("saturation-magnetization", "Ms_A_m")):
        out = tmp_path / f"{name}.csv"
        result = runner.invoke(app, ["predict", name, str(src), "--out", str(out)])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(out, keep_default_na=False)
        assert list(table.columns) == ["formula", "lab_id", column, column + "_std", "error"]
        assert list(table["lab_id"]) == ["a1", "a2", "a3", "a4"]
        assert table["error"][1].startswith("unknown element")
        assert table["error"][2] == "empty formula"
        assert table[column][0] != "" and float(table[column][0]) > 0 and float(table[column + "_std"][0]) > 0
        assert table[column][1] == "" and table[column][2] == ""
        assert "2 rows have a message" in result.output


def test_predict_missing_column_is_a_one_line_error(quick_models, tmp_path, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(quick_models))
    src = tmp_path / "in.csv"
    src.write_text("compound\nFe\n")
    result = runner.invoke(app, ["predict", "curie-temperature", str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "column(s) formula missing" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.csv").exists()


def test_no_predictable_row_exits_1(quick_models, tmp_path, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(quick_models))
    src = tmp_path / "in.csv"
    src.write_text("formula\nQq\n")
    result = runner.invoke(app, ["predict", "curie-temperature", str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1


def test_tampered_model_refused_by_predict(quick_models, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(quick_models, copy)
    path = copy / "curie-temperature" / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(copy))
    src = tmp_path / "in.csv"
    src.write_text("formula\nFe\n")
    result = runner.invoke(app, ["predict", "curie-temperature", str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "does not match the card" in result.output


def test_models_list_and_show(quick_models, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(quick_models))
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0
    for name in surrogate_names():
        assert name in listed.output
    debye = next(line for line in listed.output.splitlines() if line.startswith("debye-temperature"))
    assert "brgoch/debye_K MAE" in debye and "(target <= 33:" in debye  # met or not, as the quick model scores
    shown = runner.invoke(app, ["models", "show", "curie-temperature"])
    assert shown.exit_code == 0
    card = json.loads(shown.output)
    assert card["outputs"] == {"Tc_K": "K"} and "model.skops" in card["files"]
    unknown = runner.invoke(app, ["models", "show", "nope"])
    assert unknown.exit_code == 2 and "unknown model" in unknown.output


def test_target_checks_know_which_way_is_better():
    from regenome.surrogates.base import check_targets

    metrics = {"all/y": {"MAE": 0.2, "R2": 0.995}}
    checks = {(c.metric, c.bound): c for c in check_targets({"all/y": {"MAE": 0.3, "R2": 0.999}, "other/y": {"MAE": 1}},
                                                              metrics)}
    assert checks["MAE", 0.3].met and checks["MAE", 0.3].relation == "<="
    assert not checks["R2", 0.999].met and checks["R2", 0.999].relation == ">="
    assert "(target >= 0.999: not met)" in str(checks["R2", 0.999])
    assert not checks["MAE", 1].met  # a subset the card does not report is never met


@pytest.mark.parametrize("name", [n for n in surrogate_names() if get_spec(n).targets])
def test_model_pages_state_each_target_as_the_card_scores_it(name):
    """docs/models/NAME.md lists every target of the spec, met or not, with the committed card's metric."""
    from regenome.surrogates.base import check_targets
    from regenome.surrogates.modelpage import _fmt

    page = (Path(__file__).resolve().parents[1] / "docs" / "models" / f"{name}.md").read_text(encoding="utf-8")
    card = read_card(models_dir() / name)
    for check in check_targets(get_spec(name).targets, card.metrics):
        row = (f"| {check.key} | {check.metric} | {_fmt(check.value, check.metric)} | {check.relation} {check.bound:g} | "
               f"{'yes' if check.met else '**no**'} |")
        assert row in page, row


#: Anchors a shipped model does not beat, with the reason (also on its model page and in the issue notes).
#: thermal-quenching: the issue scored a constant 450 K on its withheld papers (53 K); on our grouped folds
#: the same constant scores 69.4 K and the model 60.3 K, so the two numbers are not on the same rows.
KNOWN_MISSES = {("thermal-quenching", "constant 450 K (issue, withheld papers)")}


@pytest.mark.parametrize("name", surrogate_names())
def test_shipped_models_verify_and_beat_their_anchors(name):
    """The committed models: hashes match, grouped-CV metrics beat every published anchor, coverage in band.

    The issue's stricter targets are compared on each model page (docs/models/NAME.md); the
    ones not reached are listed there and in the issue notes, not asserted here.
    """
    folder = models_dir() / name
    card = read_card(folder)
    verify_files(folder, card)
    assert not card.version.endswith("quick")
    for anchor in card.anchors:
        ours = card.metrics[f"{anchor['subset']}/{anchor['output']}"]
        for metric in ("MAE", "median_relative_error"):
            if metric in anchor:
                if (name, anchor["name"]) in KNOWN_MISSES:  # stays a miss until a better model ships
                    assert ours[metric] >= anchor[metric], f"{name} now beats {anchor['name']}: drop it from KNOWN_MISSES"
                    continue
                assert ours[metric] < anchor[metric], (anchor["name"], metric, ours[metric])
        if "R2" in anchor:
            assert ours["R2"] > anchor["R2"], (anchor["name"], "R2", ours["R2"])
    for key, metrics in card.metrics.items():
        if key.startswith("all/"):
            assert 0.55 <= metrics["coverage_1sigma"] <= 0.85, (key, metrics["coverage_1sigma"])


def test_single_grain_physics_bounds_and_domain(quick_models, tmp_path, monkeypatch):
    """mu0 Hc <= mu0 HA, Mr <= Ms, BHmax <= mu0 Ms^2/4 everywhere; outside inputs are flagged, not extrapolated."""
    from regenome.units import MU0

    monkeypatch.setenv("REGENOME_MODELS_DIR", str(quick_models))
    rng = np.random.default_rng(3)
    n = 400
    ms = rng.uniform(2e5, 2.5e6, n)
    a = rng.uniform(2e-12, 1e-11, n)
    k1 = rng.uniform(5e4, 6e6, n)
    rows = ["Ms_A_m,A_J_m,K1_J_m3"] + [f"{x},{y},{z}" for x, y, z in zip(ms, a, k1)]
    rows += ["1e8,8e-12,4e6", "abc,1,1", "1.2e6,8e-12,-5"]
    src = tmp_path / "sg.csv"
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "sg_out.csv"
    result = runner.invoke(app, ["predict", "single-grain", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    good = table["error"].isna()
    t = table[good].apply(pd.to_numeric, errors="coerce")
    assert len(t) > 200  # the rest fall outside the (quick) training domain and are flagged
    ha = 2 * t.K1_J_m3 / (MU0 * t.Ms_A_m)
    assert (t.Hc_A_m <= ha * (1 + 1e-12)).all()
    assert (t.Mr_A_m <= t.Ms_A_m * (1 + 1e-12)).all()
    assert (t.BHmax_J_m3 <= MU0 * t.Ms_A_m**2 / 4 * (1 + 1e-12)).all()
    assert (t[["Hc_A_m_std", "Mr_A_m_std", "BHmax_J_m3_std"]] > 0).all().all()
    assert "outside the training domain: Ms_A_m" in table["error"].iloc[n]
    assert "must be positive numbers" in table["error"].iloc[n + 1]
    assert "must be positive numbers" in table["error"].iloc[n + 2]
    assert np.isnan(table["Hc_A_m"].iloc[n])


def test_a_joblib_model_you_trained_needs_trust(reference_data, tmp_path):
    out = tmp_path / "mine"
    result = runner.invoke(app, ["train", "curie-temperature", "--data", str(reference_data), "--out", str(out),
                                 "--quick", "--no-cv", "--format", "joblib"])
    assert result.exit_code == 0, result.output
    folder = out / "curie-temperature"
    assert read_card(folder).model_file == "model.joblib"
    src = tmp_path / "in.csv"
    src.write_text("formula\nNd2Fe14B\n")
    args = ["predict", "curie-temperature", str(src), "--out", str(tmp_path / "o.csv"), "--model-dir", str(folder)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--trust" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "o.csv").exists()
    trusted = runner.invoke(app, args + ["--trust"])
    assert trusted.exit_code == 0, trusted.output
    assert float(pd.read_csv(tmp_path / "o.csv")["Tc_K"][0]) > 300
