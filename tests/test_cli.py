"""End to end through the command line, as a user would run it."""

from __future__ import annotations

import csv
import json

import h5py
import pytest

from conftest import DEMO, run_cli

def run(*args, cwd=None):
    return run_cli(*args, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    result = run("screen", DEMO, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    return out, result


def test_validate_counts(tmp_path):
    result = run("validate", DEMO)
    assert result.returncode == 0 and "candidates generated" in result.stdout


def test_demo_outputs(demo_run):
    out, result = demo_run
    assert "report:" in result.stdout
    rows = list(csv.DictReader((out / "ranked.csv").open()))
    required = ["rank", "candidate_id", "formula", "process", "Nd_fraction", "Pr_fraction", "Ce_fraction",
                "La_fraction", "Dy_fraction", "Tb_fraction", "Co_fraction", "ce_la_fraction", "critical_cut",
                "Br_T", "Hcj_kA_m", "BHmax_kJ_m3", "Tc_K", "comprehensive_index", "raw_material_cost_usd_kg",
                "meets_targets", "p_meets_targets", "pareto_rank", "score"]
    for col in required:
        assert col in rows[0], col
    for col in ("Br_T", "Hcj_kA_m", "BHmax_kJ_m3", "Tc_K", "comprehensive_index"):
        assert col + "_std" in rows[0]
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(float(r["ce_la_fraction"]) >= 0.25 - 1e-9 and float(r["critical_cut"]) >= 0.2 - 1e-9 for r in rows)
    assert all(0 <= float(r["p_meets_targets"]) <= 1 for r in rows)
    assert rows[0]["pareto_rank"] == "1"
    ranks = [int(r["pareto_rank"]) for r in rows]
    assert ranks == sorted(ranks) and 1 < max(ranks) <= 11  # no candidate meets the targets: by front
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["counts"]["passing_constraints"] == len(rows) == prov["counts"]["in_ranked_csv"]
    assert prov["counts"]["on_pareto_front"] == sum(r["pareto_rank"] == "1" for r in rows) > 0
    assert prov["seed"] == 7
    assert prov["counts"]["with_structures"] == 20 and len(prov["batch_sha256"]) == 64
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    with h5py.File(out / "structures.h5", "r") as f:  # readable without regenome
        ids = [i.decode() for i in f["structures/candidate_id"][:]]
        assert ids == [r["candidate_id"] for r in rows[:20]]
        assert f["candidates/candidate_id"].shape[0] == len(rows)
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and rows[0]["candidate_id"] in html


def test_ranking_in_slices_equals_ranking_at_once(demo_run):
    """The bounded-memory ranking gives the same rows for any slice size, and `keep` truncates it."""
    from regenome.spec import load_batch
    from regenome.streamrank import rank_store

    out, _ = demo_run
    objectives = load_batch(DEMO).ranking.parsed()
    whole = rank_store(out / "structures.h5", objectives, keep=10**6)
    sliced = rank_store(out / "structures.h5", objectives, keep=10**6, slice_rows=97)
    assert whole.frame.equals(sliced.frame)
    top = rank_store(out / "structures.h5", objectives, keep=100, slice_rows=97)
    assert top.frame.equals(whole.frame.head(100)) and top.n_candidates == whole.n_candidates
    ranked = (out / "ranked.csv").read_text().splitlines()
    assert ranked[1].split(",")[1] == whole.frame["candidate_id"][0]


def test_inspect_and_export(demo_run, tmp_path):
    out, _ = demo_run
    info = run("inspect", out / "structures.h5")
    assert info.returncode == 0 and "n_structures: 20" in info.stdout
    first = list(csv.DictReader((out / "ranked.csv").open()))[0]["candidate_id"]
    for fmt, ext in (("cif", "cif"), ("extxyz", "extxyz"), ("poscar", "vasp")):
        res = run("export", out / "structures.h5", "--ids", first, "--format", fmt, "--out", tmp_path / fmt)
        assert res.returncode == 0, res.stderr
        assert (tmp_path / fmt / f"{first}.{ext}").stat().st_size > 1000


def test_other_batch_with_other_routes_and_temperature(tmp_path):
    text = DEMO.read_text().replace('route = ["sintered", "hot_deformed"]', 'route = ["melt_spun", "bonded"]')
    text = text.replace("temperature_K = 393", "temperature_K = 300").replace("Ce = [0.0, 0.5]", "Ce = [0.1, 0.4]")
    text = text.replace("min_ce_la_fraction = 0.25", "min_ce_la_fraction = 0.3")
    batch = tmp_path / "mine.toml"
    batch.write_text(text.replace("[funnel]", "") + "\n[funnel]\nstructures_for_top = 5\n")
    res = run("screen", batch, "--out", tmp_path / "out", "--quiet", "--n-jobs", "1")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "ranked.csv").open()))
    assert {r["process"] for r in rows} == {"melt_spun", "bonded"}
    assert all(float(r["ce_la_fraction"]) >= 0.3 - 1e-9 and 0.1 - 1e-9 <= float(r["Ce_fraction"]) <= 0.4 + 1e-9
               for r in rows)


@pytest.mark.parametrize("old,new,key", [
    ("Dy = [0.0, 0.05]", "Dy = [0.0, 0.05]\nwrong = 1", "composition.rare_earth.wrong"),
    ("Dy = [0.0, 0.05]", "Xx = [0.0, 0.05]", "composition.rare_earth.Xx"),
    ("Ce = [0.0, 0.5]", "Ce = [0.8, 0.9]", "cannot sum to one"),
])
def test_bad_batch_one_line_exit_2_nothing_written(tmp_path, old, new, key):
    batch = tmp_path / "bad.toml"
    batch.write_text(DEMO.read_text().replace(old, new))
    for args in (("validate", batch), ("screen", batch, "--out", tmp_path / "out")):
        res = run(*args)
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and str(batch) in lines[0] and key in lines[0], res.stderr
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_predict_csv(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("formula,process,temperature_K\nNd2Fe14B,sintered,293\n(Nd0.7Ce0.3)2Fe14B,,\nXx2Fe14B,,\n")
    res = run("predict", "ndfeb", src, "--out", tmp_path / "out.csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert rows[0]["formula"] == "Nd2Fe14B" and float(rows[0]["Br_T"]) > 1.2 and float(rows[0]["Br_T_std"]) > 0
    assert float(rows[1]["Hcj_kA_m"]) < float(rows[0]["Hcj_kA_m"])
    assert rows[2]["Br_T"] == "" and "Xx" in rows[2]["error"]
    for name in ("Js_T", "mu0HA_T", "K1_MJ_m3", "Tc_K", "Br_T", "Hcj_kA_m", "BHmax_kJ_m3", "comprehensive_index"):
        assert name in rows[0] and name + "_std" in rows[0]
    missing = tmp_path / "nocol.csv"
    missing.write_text("composition\nNd2Fe14B\n")
    res = run("predict", "ndfeb", missing, "--out", tmp_path / "x.csv")
    assert res.returncode == 2 and "formula" in res.stderr and "Traceback" not in res.stderr


def test_resume_gives_the_uninterrupted_result(tmp_path):
    from regenome.errors import RegenomeError
    from regenome.pipeline import screen
    from regenome.spec import parse_batch

    text = DEMO.read_text().replace("chunk_size = 5000", "chunk_size = 500").replace("n_jobs = 2", "n_jobs = 1")
    spec = parse_batch(text)
    full = screen(spec, text, tmp_path / "full")
    with pytest.raises(RegenomeError, match="interrupted"):
        screen(spec, text, tmp_path / "part", stop_after_chunks=2)
    assert not (tmp_path / "part" / "ranked.csv").exists()
    with pytest.raises(RegenomeError, match="--resume"):
        screen(spec, text, tmp_path / "part")
    resumed = screen(spec, text, tmp_path / "part", resume=True)
    assert resumed.ranked_csv.read_text() == full.ranked_csv.read_text()


def test_backends_give_identical_rankings(tmp_path):
    from regenome.pipeline import screen
    from regenome.spec import parse_batch

    text = DEMO.read_text().replace("chunk_size = 5000", "chunk_size = 1000")
    spec = parse_batch(text)
    a = screen(spec, text, tmp_path / "loky", backend="loky", n_jobs=2)
    b = screen(spec, text, tmp_path / "threads", backend="threading", n_jobs=2)
    assert a.ranked_csv.read_bytes() == b.ranked_csv.read_bytes()


def test_candidate_explosion_is_refused(tmp_path):
    batch = tmp_path / "big.toml"
    batch.write_text(DEMO.read_text() + "\n[funnel]\nmax_candidates = 100\n")
    for args in (("validate", batch), ("screen", batch, "--out", tmp_path / "out")):
        res = run(*args)
        assert res.returncode == 2 and "funnel.max_candidates" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_log_file_has_json_progress_and_stage_timings(tmp_path):
    log = tmp_path / "logs" / "run.jsonl"
    batch = tmp_path / "b.toml"
    batch.write_text(DEMO.read_text().replace("chunk_size = 5000", "chunk_size = 1000"))
    res = run("screen", batch, "--out", tmp_path / "out", "--quiet", "--n-jobs", "1", "--log-file", log)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "complete"
    predict = [e for e in events if e["event"] == "progress" and e["stage"] == "predict"]
    assert [e["done"] for e in predict] == [0, 1000, 2000, 2910] and predict[-1]["rate_per_s"] > 0
    assert set(events[-1]["timings_s"]) >= {"predict_s", "rank_s", "structures_s", "write_s"}
    assert events[-1]["counts"]["predicted"] == 2910
