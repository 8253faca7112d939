"""The only module that calls joblib: map a function over chunks, streaming results in order.

The backend is whatever the caller's ``joblib.parallel_config`` says; :func:`execution_context`
turns the batch file's ``[execution]`` table into such a context.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from regenome.errors import RegenomeError

#: dask config key and value that give LocalCluster workers a fixed 32 MiB glibc mmap threshold
#: (set the same on the workers of an existing cluster: docs/hpc.md).
MMAP_THRESHOLD_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_"
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


def map_chunks(func: Callable, chunks: Iterable, n_jobs: int | None = None) -> Iterator:
    """Apply ``func`` to every chunk with joblib and yield results in input order as they finish.

    joblib pulls chunks from the iterable only a few ahead of the workers, so memory holds a few
    chunks at a time. Backends that cannot stream results back (Ray's) get the chunks in windows
    of a few per worker instead: the same results, still in bounded memory.
    """
    import itertools
    import os

    from joblib import Parallel, delayed

    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    except ValueError:  # the configured backend does not support return_as="generator"
        parallel = None
    if parallel is not None:
        yield from parallel(delayed(func)(c) for c in chunks)
        return
    window_parallel = Parallel(n_jobs=n_jobs)
    window = 4 * (window_parallel.n_jobs if window_parallel.n_jobs > 0 else (os.cpu_count() or 1))
    it = iter(chunks)
    while batch := list(itertools.islice(it, window)):
        yield from window_parallel(delayed(func)(c) for c in batch)


@contextlib.contextmanager
def execution_context(backend: str, n_jobs: int, scheduler: str | None = None):
    """``joblib.parallel_config`` for a backend name from the batch file or the command line.

    BLAS/OpenMP threads inside workers are capped at one so workers do not oversubscribe cores.
    """
    import os

    from joblib import parallel_config

    workers = (os.cpu_count() or 1) if n_jobs == -1 else max(n_jobs, 1)
    with contextlib.ExitStack() as stack:
        if backend == "dask":
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise RegenomeError("backend 'dask' needs the dask extra: pip install 'regenome[dask]'") from None
            if scheduler:
                stack.enter_context(Client(scheduler))
            else:
                import dask

                # dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes
                # glibc's mmap threshold at 128 KiB: every large numpy temporary is then mapped and
                # unmapped again, +23 % CPU per chunk (measured). Arrays under 32 MiB come from the heap.
                # The workers' statistical profiler feeds only the dashboard, which is off here.
                stack.enter_context(dask.config.set({MMAP_THRESHOLD_KEY: MMAP_THRESHOLD_BYTES,
                                                     "distributed.worker.profile.enabled": False}))
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1,
                                                           processes=True, dashboard_address=None))
                stack.enter_context(Client(cluster))
            stack.enter_context(parallel_config(backend="dask", n_jobs=n_jobs, wait_for_workers_timeout=60))
        elif backend == "ray":
            try:
                import ray
                from ray.util.joblib import register_ray
            except ImportError:
                raise RegenomeError("backend 'ray' needs the ray extra: pip install 'regenome[ray]'") from None
            register_ray()
            if not ray.is_initialized():
                # without --scheduler: a new local Ray, even if RAY_ADDRESS names a running one
                ray.init(address=scheduler or "local", num_cpus=None if scheduler else workers,
                         include_dashboard=False, log_to_driver=False)
                stack.callback(ray.shutdown)
            stack.enter_context(parallel_config(backend="ray", n_jobs=n_jobs))
        elif backend == "threading":
            stack.enter_context(parallel_config(backend="threading", n_jobs=n_jobs))
        else:
            stack.enter_context(parallel_config(backend=backend, n_jobs=n_jobs, inner_max_num_threads=1))
        yield
