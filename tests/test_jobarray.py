"""Job arrays: `screen --chunks I/N` slices merged by `regenome merge` equal one run; batch-job logs stay short."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_cli

EXE = [sys.executable, "-m", "regenome.cli"]


cli = run_cli


@pytest.fixture(scope="module")
def batch(small_batch):
    return small_batch


@pytest.fixture(scope="module")
def whole(batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    res = cli("screen", batch, "--out", out, "--progress", "none")
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def slices(batch, tmp_path_factory):
    base = tmp_path_factory.mktemp("slices")
    outs = []
    for i in (1, 2, 3):
        out = base / f"part{i}"
        res = cli("screen", batch, "--out", out, "--chunks", f"{i}/3", "--progress", "none")
        assert res.returncode == 0, res.stderr
        assert "rank all slices with `regenome merge`" in res.stdout and not (out / "ranked.csv").exists()
        outs.append(out)
    return outs


def test_merged_slices_give_the_single_run_ranking(slices, whole, tmp_path):
    out = tmp_path / "merged"
    res = cli("merge", slices[2], slices[0], slices[1], "--out", out, "--progress", "none")  # any order
    assert res.returncode == 0, res.stderr
    assert (out / "ranked.csv").read_bytes() == (whole / "ranked.csv").read_bytes()
    assert (out / "report.html").exists()
    import json

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["counts"]["predicted"] == 2910 and len(prov["execution"]["merged_slices"]) == 3


@pytest.mark.parametrize("which,words", [((0, 2), "leaves chunks 2..3 out"), ((0, 1, 1, 2), "overlaps"),
                                         ((0, 1), "the slices end at chunk 3 of 6")])
def test_merge_refuses_an_incomplete_set(slices, tmp_path, which, words):
    out = tmp_path / "merged"
    res = cli("merge", *[slices[i] for i in which], "--out", out)
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not out.exists()


def test_chunks_option_is_checked(batch, tmp_path):
    res = cli("screen", batch, "--out", tmp_path / "x", "--chunks", "4/3")
    assert res.returncode == 2 and "--chunks: must be I/N" in res.stderr and not (tmp_path / "x").exists()


def test_batch_job_log_stays_short(batch, tmp_path):
    """stderr redirected to a file (as in a Slurm job): no bars, a line per stage, a timing table."""
    err = tmp_path / "job.err"
    with err.open("w") as handle:
        res = subprocess.run([*EXE, "screen", str(batch), "--out", str(tmp_path / "out")], stdout=subprocess.PIPE,
                             stderr=handle, text=True, timeout=300)
    assert res.returncode == 0
    lines = err.read_text().splitlines()
    assert len(lines) <= 12, lines
    assert not any("\r" in line or "\x1b[" in line for line in lines)  # no carriage returns or colour codes
    assert any(line.startswith("regenome: predict: 2,910/2,910 (100 %)") for line in lines), lines
    assert "regenome: stage timings" in lines and any(line.strip().startswith("total") for line in lines)
