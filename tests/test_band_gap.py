"""The shipped ``band-gap`` model: known gaps, no negative gap, bad formulas reported per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regenome.cli import app
from regenome.modelstore import models_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def shipped():
    folder = models_dir() / "band-gap"
    if not (folder / "card.json").is_file():
        pytest.skip("band-gap model not trained")
    return folder


def _predict(tmp_path, formulas: list[str]) -> pd.DataFrame:
    src = tmp_path / "in.csv"
    pd.DataFrame({"formula": formulas, "row": range(len(formulas))}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "band-gap", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["formula", "row", "band_gap_eV", "band_gap_eV_std", "error"]
    assert list(table["row"]) == list(range(len(formulas)))
    return table


def test_known_gaps_of_compounds_outside_the_training_file(shipped, tmp_path):
    # none of these four is in experimental_band_gap.csv; measured gaps 1.12, 3.4, 8.5, 0 eV
    bounds = {"Si": (0.5, 1.8), "GaN": (2.3, 4.3), "NaCl": (6.5, 10.5), "Cu": (0.0, 0.3)}
    table = _predict(tmp_path, list(bounds))
    assert (table["error"] == "").all(), table
    for formula, (lo, hi) in bounds.items():
        row = table[table["formula"] == formula].iloc[0]
        assert lo <= float(row["band_gap_eV"]) <= hi, (formula, row["band_gap_eV"])
        assert float(row["band_gap_eV_std"]) > 0.003  # floored: a metal at 0 eV still gets a physical sigma


def test_no_negative_gap_on_training_formulas(shipped, reference_data, tmp_path):
    raw = pd.read_csv(reference_data / "phosphors" / "experimental_band_gap.csv")
    formulas = raw["composition"].sample(300, random_state=1).astype(str).tolist()
    table = _predict(tmp_path, formulas)
    assert (table["error"] == "").all()
    gap = table["band_gap_eV"].astype(float).to_numpy()
    std = table["band_gap_eV_std"].astype(float).to_numpy()
    assert np.isfinite(gap).all() and (gap >= 0).all()
    assert np.isfinite(std).all() and (std > 0).all()
    # metals stay metals: most measured zeros are predicted below 0.3 eV
    zero = (raw.loc[raw["composition"].isin(formulas)].drop_duplicates("composition")
            .set_index("composition")["gap expt"] == 0)
    predicted = table.set_index("formula")["band_gap_eV"].astype(float)
    assert (predicted[zero[zero].index] < 0.3).mean() > 0.8


def test_bad_formulas_get_an_error_and_no_prediction(shipped, tmp_path):
    table = _predict(tmp_path, ["Xq2O3", "", "Og", "GaAs"])
    assert table["error"][0].startswith("unknown element")
    assert table["error"][1] == "empty formula"
    assert table["error"][2] != ""
    assert table["error"][3] == "" and 0.5 < float(table["band_gap_eV"][3]) < 2.5
    assert (table["band_gap_eV"][:3] == "").all() and (table["band_gap_eV_std"][:3] == "").all()
