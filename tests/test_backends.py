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
