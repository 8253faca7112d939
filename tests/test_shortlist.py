"""`regenome shortlist`: picks that are good, likely and not alike, explained, with a weigh-in sheet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli


def _frame(rows):
    ranked = pd.DataFrame(rows, columns=["formula", "process", "score", "p_meets_targets", "raw_material_cost_usd_kg"])
    ranked.insert(0, "candidate_id", [f"c{i}" for i in range(len(ranked))])
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    ranked["meets_targets"] = ranked["p_meets_targets"] > 0.5
    return ranked


def test_near_duplicates_are_never_both_picked():
    from regenome.shortlist import ShortlistOptions, composition_distance, select

    ranked = _frame([("Nd2Fe14B", "sintered", 0.9, 0.9, 60), ("Nd1.99Ce0.01Fe14B", "sintered", 0.89, 0.9, 60),
                     ("Nd1.4Ce0.6Fe14B", "sintered", 0.7, 0.8, 40), ("Nd2Fe14B", "hot_deformed", 0.6, 0.7, 60),
                     ("Ce2Fe14B", "sintered", 0.3, 0.2, 5)])
    picks = select(ranked, ShortlistOptions(n=4))
    assert picks["candidate_id"].tolist()[0] == "c0"  # the best utility first
    assert "c1" not in set(picks["candidate_id"])  # 0.3 % Ce away from c0
    assert len(picks) == 4 and picks["pick"].tolist() == [1, 2, 3, 4]
    dist = composition_distance(picks)
    assert (dist[~np.eye(len(picks), dtype=bool)] >= 0.005).all()
    assert picks["why"].str.contains("P\\(meets targets\\)").all()
    assert picks["why"].iloc[1].count("nearest pick") == 1


def test_budget_and_strategy():
    from regenome.shortlist import ShortlistOptions, select

    ranked = _frame([("Nd2Fe14B", "sintered", 0.9, 0.2, 60), ("Nd1.4Ce0.6Fe14B", "sintered", 0.5, 0.9, 40),
                     ("La2Fe14B", "sintered", 0.1, 0.1, 3)])
    assert set(select(ranked, ShortlistOptions(n=3, max_cost_usd_kg=50))["candidate_id"]) == {"c1", "c2"}
    assert select(ranked, ShortlistOptions(n=1, strategy="performance"))["candidate_id"][0] == "c0"
    assert select(ranked, ShortlistOptions(n=1, strategy="probability"))["candidate_id"][0] == "c1"
    with pytest.raises(ValueError, match="budget"):
        select(ranked, ShortlistOptions(max_cost_usd_kg=1))
    with pytest.raises(ValueError, match="valid: balanced"):
        select(ranked, ShortlistOptions(strategy="lucky"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.sampled_from(["sintered", "bonded"]),
                          st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=40),
       st.integers(1, 15), st.sampled_from(["balanced", "performance", "probability", "diverse"]))
def test_picks_are_distinct_spread_and_within_n(rows, n, strategy):
    from regenome.shortlist import ShortlistOptions, composition_distance, select

    ranked = _frame([(f"Nd{2 - ce / 10:g}Ce{ce / 10:g}Fe{14 - co / 10:g}Co{co / 10:g}B" if ce or co else "Nd2Fe14B",
                      route, score, p, 50.0) for ce, co, route, score, p in rows])
    picks = select(ranked, ShortlistOptions(n=n, strategy=strategy))
    assert 1 <= len(picks) <= n and picks["candidate_id"].is_unique
    dist = composition_distance(picks)
    assert (dist[~np.eye(len(picks), dtype=bool)] >= 0.005 - 1e-12).all()


def test_synthesis_sheet_of_nd2fe14b():
    from regenome.shortlist import synthesis_sheet

    sheet = synthesis_sheet("Nd2Fe14B", 100.0).set_index("element")
    assert np.isclose(sheet["at_percent"].sum(), 100, atol=0.01) and np.isclose(sheet["grams"].sum(), 100, atol=0.01)
    # Nd2Fe14B: 2 x 144.24 / (2 x 144.24 + 14 x 55.845 + 10.81) = 26.68 wt.% Nd
    assert sheet.loc["Nd", "wt_percent"] == pytest.approx(26.68, abs=0.01)
    assert sheet.loc["B", "at_percent"] == pytest.approx(100 / 17, abs=0.001)


@pytest.fixture(scope="module")
def run_dir(small_batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("shortlist") / "run"
    res = run_cli("screen", small_batch, "--out", out, "--progress", "none")
    assert res.returncode == 0, res.stderr
    return out


def test_shortlist_of_twelve_from_a_real_run(run_dir, tmp_path):
    from regenome.shortlist import composition_distance

    res = run_cli("shortlist", run_dir, "--n", "12", "--out", tmp_path / "short.csv", "--budget", "60")
    assert res.returncode == 0, res.stderr
    picks = pd.read_csv(tmp_path / "short.csv")
    ranked = pd.read_csv(run_dir / "ranked.csv")
    assert len(picks) == 12 and picks["candidate_id"].isin(ranked["candidate_id"]).all()
    assert set(ranked.columns) <= set(picks.columns)  # every ranked.csv column, element fractions included
    assert (picks["raw_material_cost_usd_kg"] <= 60).all() and picks["why"].str.len().gt(20).all()
    dist = composition_distance(picks)
    assert (dist[~np.eye(12, dtype=bool)] >= 0.005).all()
    assert (picks["formula"] + "|" + picks["process"]).is_unique
    page = (tmp_path / "short.html").read_text()
    assert page.count("Download CIF") == 12 and page.count("g per 100 g") == 12


def test_shortlist_refuses_an_unfinished_run(tmp_path):
    res = run_cli("shortlist", tmp_path, "--out", tmp_path / "s.csv")
    assert res.returncode == 2 and "not a complete run" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s.csv").exists()
