"""The same batch gives byte-identical ranked.csv under every joblib backend (dask on a LocalCluster, ray
where it installs)."""

from __future__ import annotations

import pytest

from conftest import DEMO


@pytest.fixture(scope="module")
def batch():
    from regenome.spec import parse_batch

    text = DEMO.read_text().replace("chunk_size = 5000", "chunk_size = 1000")
    return parse_batch(text), text


@pytest.fixture(scope="module")
def loky_ranked(batch, tmp_path_factory):
    from regenome.pipeline import screen

    spec, text = batch
    return screen(spec, text, tmp_path_factory.mktemp("loky") / "run", backend="loky", n_jobs=2).ranked_csv.read_bytes()


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_distributed_backends_give_identical_rankings(batch, loky_ranked, tmp_path, backend):
    pytest.importorskip("distributed" if backend == "dask" else "ray")
    from regenome.pipeline import screen

    spec, text = batch
    result = screen(spec, text, tmp_path / backend, backend=backend, n_jobs=2)
    assert result.ranked_csv.read_bytes() == loky_ranked
    assert result.counts["predicted"] == 2910


def test_dask_joins_an_existing_scheduler(batch, loky_ranked, tmp_path):
    distributed = pytest.importorskip("distributed")
    from regenome.pipeline import screen

    spec, text = batch
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        result = screen(spec, text, tmp_path / "joined", backend="dask", n_jobs=2, scheduler=cluster.scheduler_address)
        assert result.ranked_csv.read_bytes() == loky_ranked


def _worker_malloc_env(_):
    import os

    return os.environ.get("MALLOC_MMAP_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


def test_dask_local_cluster_workers_get_a_fixed_mmap_threshold():
    """Workers of regenome's LocalCluster run with a 32 MiB glibc mmap threshold (dask's trim setting
    otherwise maps every large temporary anew) and one BLAS/OpenMP thread."""
    pytest.importorskip("distributed")
    from regenome.parallel import MMAP_THRESHOLD_BYTES, execution_context, map_chunks

    with execution_context("dask", 2):
        got = list(map_chunks(_worker_malloc_env, range(4)))
    assert got == [(str(MMAP_THRESHOLD_BYTES), "1")] * 4
