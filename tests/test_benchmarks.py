"""Smoke test of the benchmark scripts: run_all.py runs two cheap benchmarks at tiny sizes.

It checks that the scripts run, write their results as JSON with positive rates, render the
Markdown page where ``--out`` says, and leave docs/ alone. The numbers are not checked: tiny
sizes on a busy test machine measure nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_ALL = ROOT / "benchmarks" / "run_all.py"


def _docs_state() -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (ROOT / "docs").rglob("*") if p.is_file()}


def test_run_all_quick_featurize_and_hdf5(tmp_path):
    docs_before = _docs_state()
    out_md, out_json = tmp_path / "benchmarks.md", tmp_path / "results.json"
    cmd = [sys.executable, str(RUN_ALL), "--quick", "--only", "featurize,hdf5",
           "--out", str(out_md), "--json", str(out_json),
           "--args", "featurize=--n 1000 --baseline-n 10",
           "--args", "hdf5=--n 300 --batch 100 --baseline-n 10 --random 10"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert elapsed < 20, f"smoke run took {elapsed:.1f} s"

    results = json.loads(out_json.read_text())["results"]
    assert set(results) == {"featurize", "hdf5"}
    feat, h5 = results["featurize"], results["hdf5"]
    assert feat["status"] == h5["status"] == "ok"
    assert feat["quick"] and h5["quick"]
    assert feat["metrics"]["regenome_formulas_per_s"] > 0
    assert feat["metrics"]["regenome_us_per_formula"] > 0
    for key in ("write_structures_per_s", "read_structures_per_s", "random_reads_per_s", "file_MB"):
        assert h5["metrics"][key] > 0, key
    assert all(c["passed"] for c in h5["checks"])
    if importlib.util.find_spec("matminer") is not None:
        assert feat["metrics"]["matminer_formulas_per_s"] > 0
        assert feat["ratios"] and all(r["value"] > 0 for r in feat["ratios"])
        assert feat["checks"] and all(c["passed"] for c in feat["checks"])  # identical element values agree
    for r in (feat, h5):
        assert r["machine"]["cores"] >= 1 and r["machine"]["python"]

    page = out_md.read_text()
    assert page.startswith("# Benchmarks")
    assert "Quick smoke run" in page and "## featurize" in page and "## hdf5" in page
    assert "| CPU |" in page and "issue target" in page
    assert _docs_state() == docs_before, "the smoke run must not write into docs/"
