"""Shared fixtures: reference data location, workflow paths, isolation from the user's setup."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# One OpenMP thread per test process, set before scikit-learn loads its OpenMP runtime (threadpoolctl
# below cannot limit a library that is not loaded yet): xdist already runs one process per core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Never read or write the user's measurement store (regenome ingest / train --include-measurements):
# every test process and the CLI subprocesses it starts see an empty, private REGENOME_HOME.
os.environ["REGENOME_HOME"] = tempfile.mkdtemp(prefix="regenome-test-home-")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "workflows" / "ndfeb-ce-la-motor.toml"


@pytest.fixture(scope="session", autouse=True)
def _one_thread_per_worker():
    """pytest-xdist already runs one process per core; OpenMP threads on top only contend."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """The reference data folder (REGENOME_DATA, default ../shared/data); skip when absent."""
    path = Path(os.environ.get("REGENOME_DATA", ROOT.parent / "shared" / "data"))
    if not (path / "magnets").is_dir():
        pytest.skip(f"reference data not found at {path}; set REGENOME_DATA")
    return path


@pytest.fixture
def demo_text() -> str:
    return DEMO.read_text()


def run_cli(*args, timeout=300, **kw):
    """``python -m regenome.cli ARGS`` in a subprocess, as a user runs it (output captured as text)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "regenome.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def small_batch(tmp_path_factory) -> Path:
    """The demo batch in six chunks of 500 candidates (2910 candidates), one worker: about 5 s per run."""
    path = tmp_path_factory.mktemp("batch") / "small.toml"
    path.write_text(DEMO.read_text().replace("chunk_size = 5000", "chunk_size = 500").replace("n_jobs = 2", "n_jobs = 1"))
    return path
