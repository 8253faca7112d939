"""Benchmark: joblib backends through regenome.parallel: per-task overhead and 1 -> 2 worker scaling.

Prints, for one machine and one run:

1. **Per-task overhead**: ``--tasks`` (default 200) tasks of a no-op that returns a small array,
   through ``regenome.parallel.map_chunks`` inside ``regenome.parallel.execution_context(backend,
   2)``, for loky, threading, dask (a ``distributed.LocalCluster``) and ray (when importable), in ms
   per task (median of ``--repeats``). Start-up (entering the context plus the first task: process
   pool, cluster or ray start) is measured separately and excluded. The baseline is a plain
   Python loop over the same calls (no joblib).
2. **Scaling**: the ndfeb family's ``regenome.pipeline.evaluate_chunk`` over ``--chunks``
   (default 20) chunks of ``--chunk-size`` (default 20,000, the chunk size of
   ``workflows/ndfeb-7m-scale.toml``: about 0.7 s of work per task here, near the "about 1 s per
   task" of docs/hpc.md) candidates of the demo batch ``workflows/ndfeb-ce-la-motor.toml``, whose
   composition step is refined (0.05 -> 0.01 by default, ``--step``) so that it has enough
   candidates, with 1 and with 2 workers, for loky and for dask; candidates/s and the speed-up
   2 workers / 1 worker (issue target >= 1.7x on 2 cores at the chosen chunk size).
   Each configuration first runs two warm-up tasks per worker (loading the models in the workers),
   not timed; start-up is reported separately. With 1 worker joblib runs the tasks in this process
   (its sequential fallback for ``n_jobs=1``), which is what a user gets with ``n_jobs = 1``.

Usage::

    python benchmarks/bench_backends.py [--tasks 200] [--chunks 20] [--chunk-size 20000] [--json OUT.json]
    python benchmarks/bench_backends.py --quick       # small sizes: a smoke test, not a measurement
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import time
import tomllib
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "backends"
TITLE = "Parallel backends: per-task overhead and 2-worker scaling"
BASELINE = "the same work with 1 worker (scaling); a plain Python loop (overhead)"
TARGET_SPEEDUP = 1.7  # issue "Scale out": >= 1.7x with 2 workers on 2 cores
PACKAGES = ("regenome", "joblib", "dask", "distributed", "ray", "numpy")
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "workflows" / "ndfeb-ce-la-motor.toml"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=None, help="no-op tasks for the overhead (default 200; --quick 50)")
    p.add_argument("--chunks", type=int, default=None, help="evaluate_chunk tasks for the scaling "
                                                           "(default 20; --quick 4)")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="candidates per chunk (default 20,000, the 7-million-candidate workflow's; --quick 1,000)")
    p.add_argument("--step", type=float, default=None,
                   help="composition step of the rare-earth and Co grids (default: the coarsest of 0.05, "
                        "0.025, 0.02, 0.01 that gives --chunks chunks)")
    p.add_argument("--batch", default=str(DEMO), help="batch file (default: the demo batch)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement, medians shown "
                                                            "(default 3; --quick 1)")
    p.add_argument("--backends", default="loky,threading,dask,ray",
                   help="backends for the overhead (default loky,threading,dask,ray; ray and dask are skipped "
                        "when not installed)")
    p.add_argument("--scaling-backends", default="loky,dask", help="backends for the scaling (default loky,dask)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.tasks = args.tasks or (50 if args.quick else 200)
    args.chunks = args.chunks or (4 if args.quick else 20)
    args.chunk_size = args.chunk_size or (1000 if args.quick else 20000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if min(args.tasks, args.chunks, args.chunk_size, args.repeats) < 1:
        p.error("sizes must be positive")
    return args


def noop(i):
    """The overhead task: returns a small array (pickled back to the parent)."""
    import numpy as np

    return np.full(8, i, dtype=np.float64)


def available(backend: str) -> tuple[bool, str]:
    mod = {"dask": "distributed", "ray": "ray"}.get(backend)
    if mod is None:
        return True, ""
    try:
        __import__(mod)
    except ImportError:
        return False, f"{mod} is not installed (pip install -e '.[{backend}]')"
    return True, ""


def run_map(func, items, n_jobs: int) -> tuple[float, int]:
    from regenome.parallel import map_chunks

    t0 = time.perf_counter()
    count = sum(1 for _ in map_chunks(func, items, n_jobs=n_jobs))
    return time.perf_counter() - t0, count


def run_list(func, items, n_jobs: int) -> tuple[float, int]:
    """The same through joblib.Parallel returning a list (for backends map_chunks cannot drive)."""
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    count = len(Parallel(n_jobs=n_jobs)(delayed(func)(i) for i in items))
    return time.perf_counter() - t0, count


# ----------------------------------------------------------------------------- workload
def load_spec(path: str, chunk_size: int, chunks: int, step: float | None):
    """The batch with a finer composition step (so it has ``chunks`` chunks) and ``chunk_size``."""
    from regenome.families import get_family

    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    family = get_family(data["batch"]["family"])
    data.setdefault("execution", {})["chunk_size"] = chunk_size
    if data["batch"]["family"] == "ndfeb":  # only the first chunks are evaluated: any grid size is fine
        data.setdefault("funnel", {})["max_candidates"] = 10**9
    comp = {k: t for k, t in data.get("composition", {}).items() if isinstance(t, dict) and "step" in t}
    own = min((t["step"] for t in comp.values()), default=None)
    steps = [step] if step else sorted({own, *[s for s in (0.05, 0.025, 0.02, 0.01) if own and s < own]} - {None},
                                       reverse=True)
    spec, chosen = None, None
    for s in steps or [None]:
        trial = dict(data, composition={**data.get("composition", {}),
                                        **{k: {**t, "step": s} for k, t in comp.items()}}) if s else data
        try:
            candidate = family.spec_model.model_validate(trial)
        except Exception as exc:  # e.g. more candidates than the batch's max_candidates
            if spec is None:
                raise SystemExit(f"bench_backends: cannot use composition step {s}: {exc}") from None
            break
        spec, chosen = candidate, s
        if getattr(family, "passing_count", family.grid_size)(spec) >= chunks * chunk_size:
            break
    return family, spec, chosen


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    from _common import fmt_rate, limit_threads, machine_header, print_table, ratio_entry, table_entry
    from _common import write_json

    limit_threads(1)
    warnings.filterwarnings("ignore")
    from regenome.parallel import execution_context
    from regenome.pipeline import evaluate_chunk

    notes: list[str] = []
    skipped: list[str] = []
    n_jobs = 2

    # 1. overhead
    overhead_rows = []
    metrics: dict[str, float] = {}
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        [noop(i) for i in range(args.tasks)]
    loop_ms = (time.perf_counter() - t0) / args.repeats / args.tasks * 1e3
    overhead_rows.append(["plain Python loop (baseline)", "", f"{args.tasks}", f"{loop_ms:.4f}", ""])
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        ok, why = available(backend)
        if not ok:
            skipped.append(f"{backend}: {why}")
            log(f"overhead: {backend} skipped ({why})")
            continue
        log(f"overhead: {backend}, {args.tasks} tasks x {args.repeats}")
        label = f"{backend} ({n_jobs} workers)"
        runner, walls = run_map, None
        for attempt in ("map_chunks", "joblib.Parallel list"):
            t0 = time.perf_counter()
            try:
                with execution_context(backend, n_jobs):
                    t_ctx = time.perf_counter() - t0
                    runner(noop, range(2 * n_jobs), n_jobs)  # start the workers
                    t_start = time.perf_counter() - t0
                    walls = [runner(noop, range(args.tasks), n_jobs)[0] for _ in range(args.repeats)]
                break
            except Exception as exc:  # a backend that fails is reported, not fatal
                text = re.sub(r" object at 0x[0-9a-f]+", "", str(exc))
                msg = f"{backend}: regenome.parallel.map_chunks fails ({type(exc).__name__}: {text})"
                log(f"overhead: {msg}")
                if attempt == "map_chunks":
                    skipped.append(msg + "; measured with joblib.Parallel(return_as='list') instead")
                    label = f"{backend} ({n_jobs} workers), joblib.Parallel list: map_chunks fails"
                    runner = run_list
                else:
                    skipped.append(f"{backend}: joblib.Parallel list fails too ({type(exc).__name__}: {exc})")
                    walls = None
        if walls is None:
            continue
        ms = statistics.median(walls) / args.tasks * 1e3
        metrics[f"overhead_ms_per_task_{backend}"] = ms
        metrics[f"startup_s_{backend}"] = t_start
        overhead_rows.append([label, f"{t_start:.2f} (context {t_ctx:.2f})",
                              f"{args.tasks}", f"{ms:.3f}", " ".join(f"{w:.3f}" for w in walls)])

    # 2. scaling
    family, spec, step = load_spec(args.batch, args.chunk_size, args.chunks, args.step)
    chunks = list(itertools.islice(family.generate(spec), args.chunks))
    n_cand = sum(len(c["candidate_id"]) for c in chunks)
    if len(chunks) < args.chunks:
        notes.append(f"the batch has only {len(chunks)} chunks of {args.chunk_size:,} at step {step}")
    tasks = [(spec, i) for i in range(len(chunks))]  # as regenome screen sends them: workers build the rows
    log(f"scaling: {len(chunks)} chunks, {n_cand:,} candidates, step {step}")
    evaluate_chunk(tasks[0])  # load the models in this process: not timed
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        for t in tasks:
            evaluate_chunk(t)
    serial = (time.perf_counter() - t0) / args.repeats
    scale_rows = [["plain loop in this process (no joblib)", "1", "", f"{serial:.2f}", fmt_rate(n_cand / serial), ""]]
    ratios = []
    for backend in [b.strip() for b in args.scaling_backends.split(",") if b.strip()]:
        ok, why = available(backend)
        if not ok:
            skipped.append(f"scaling {backend}: {why}")
            continue
        rates = {}
        for workers in (1, 2):
            log(f"scaling: {backend}, {workers} worker(s), x {args.repeats}")
            t0 = time.perf_counter()
            try:
                with execution_context(backend, workers):
                    # warm-up: one task per worker (worker start, imports, model loading), not timed
                    run_map(evaluate_chunk, tasks[:1] * workers * 2, workers)
                    t_start = time.perf_counter() - t0
                    walls = []
                    for _ in range(args.repeats):
                        wall, count = run_map(evaluate_chunk, iter(tasks), workers)
                        walls.append(wall)
            except Exception as exc:
                skipped.append(f"scaling {backend} {workers}w: failed ({type(exc).__name__}: {exc})")
                log(f"scaling: {backend} failed: {exc}")
                break
            wall = statistics.median(walls)
            rates[workers] = n_cand / wall
            metrics[f"scaling_candidates_per_s_{backend}_{workers}w"] = rates[workers]
            scale_rows.append([backend, str(workers), f"{t_start:.2f}", f"{wall:.2f}", fmt_rate(rates[workers]),
                               " ".join(f"{w:.2f}" for w in walls)])
        if len(rates) == 2:
            speedup = rates[2] / rates[1]
            metrics[f"speedup_{backend}"] = speedup
            ratios.append(ratio_entry(f"{backend}: candidates/s with 2 workers / 1 worker", speedup,
                                      TARGET_SPEEDUP, f"{fmt_rate(rates[2])} vs {fmt_rate(rates[1])} candidates/s"))
    metrics["serial_candidates_per_s"] = n_cand / serial
    notes.append("1 worker: with n_jobs=1 joblib runs the tasks in the calling process (its sequential "
                 "fallback, for loky and dask alike), so the 1-worker rows pay no pickling or transfer and the "
                 "speed-up 2 workers / 1 worker is what a user gets by going from n_jobs=1 to 2.")

    # ------------------------------------------------------------------------- report
    cores = os.cpu_count()
    print()
    print(f"{TITLE}; baseline: {BASELINE}")
    print("=" * 100)
    for line in machine_header(PACKAGES, 1):
        print(line)
    print()
    oh_header = ["backend", "start-up s (excluded)", "tasks", "ms/task", "all runs s"]
    print(f"Per-task overhead: {args.tasks} no-op tasks returning an 8-float array, map_chunks in "
          f"execution_context(backend, {n_jobs}); median of {args.repeats}")
    print_table(oh_header, overhead_rows, "lrrrl")
    print()
    sc_header = ["backend", "workers", "start-up + warm-up s (excluded)", "wall s", "candidates/s", "all runs s"]
    print(f"Scaling: evaluate_chunk over {len(chunks)} chunks of {args.chunk_size:,} = {n_cand:,} candidates of "
          f"{Path(args.batch).name} at composition step {step}; median of {args.repeats}; {cores} cores")
    print_table(sc_header, scale_rows, "lrrrrl")
    for r in ratios:
        print(f"speed-up {r['name']}: {r['value']:.2f}x ({r['detail']})  "
              f"[issue target >= {TARGET_SPEEDUP}x: {'met' if r['met'] else 'NOT met'}]")
    if cores and cores < 2:
        notes.append("fewer than 2 cores: the 2-worker speed-up cannot reach the target here")
    for s in skipped:
        print(f"skipped: {s}")
    for note in notes:
        print(note)

    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE, "quick": args.quick,
        "command": "python benchmarks/bench_backends.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"tasks": args.tasks, "chunks": len(chunks), "chunk_size": args.chunk_size, "step": step,
                   "candidates": n_cand, "repeats": args.repeats, "batch": Path(args.batch).name},
        "tables": [
            table_entry(f"Per-task overhead ({args.tasks} no-op tasks, {n_jobs} workers, median of {args.repeats})",
                        oh_header, overhead_rows,
                        ["Start-up = entering execution_context plus the first tasks (worker, cluster or ray "
                         "start); not included in ms/task."]),
            table_entry(f"Scaling: evaluate_chunk, {len(chunks)} chunks x {args.chunk_size:,} candidates "
                        f"(demo batch at step {step})", sc_header, scale_rows,
                        ["Warm-up (two tasks per worker, loading the models) and start-up are excluded from wall s."]),
        ],
        "ratios": ratios, "checks": [], "metrics": metrics, "notes": notes + [f"skipped: {s}" for s in skipped],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
