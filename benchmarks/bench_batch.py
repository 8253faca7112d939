"""Benchmark: the 7-million-candidate Nd-Fe-B batch end to end, with its peak memory.

Runs ``regenome screen workflows/ndfeb-7m-scale.toml --out DIR`` in a subprocess as a user would,
and while it runs

* samples the resident memory (RSS) of the regenome process and of all its workers every
  0.25 s (the sum over the process tree is the number compared with the 2 GB bound);
* opens the growing ``structures.h5`` read-only every few seconds and counts its candidate rows
  (the file must stay readable while the run appends to it).

Prints wall time, candidates per second, stage timings, peak RSS, and the checks. ``--quick``
runs the same batch on a 0.02 grid (263,142 candidates) for a smoke test.

Usage::

    python benchmarks/bench_batch.py [--quick] [--n-jobs 2] [--backend loky] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
BATCH = ROOT / "workflows" / "ndfeb-7m-scale.toml"
NAME = "batch"
TITLE = "The 7-million-candidate Nd-Fe-B batch: wall time, rate, peak memory"
BASELINE = "the issue's memory bound: 2 GB peak resident memory for the whole run (all processes)"
MEMORY_BOUND_GB = 2.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=Path, default=BATCH, help="batch file (default: the 7M workflow)")
    p.add_argument("--quick", action="store_true", help="the same batch on a 0.02 grid (263,142 candidates)")
    p.add_argument("--n-jobs", type=int, default=2, help="workers (default 2)")
    p.add_argument("--backend", default="loky", help="loky, threading, dask or ray (default loky)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one, deleted)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    return p.parse_args(argv)


def tree_rss(proc) -> tuple[int, int]:
    """(RSS of the process, RSS summed over it and all its descendants), bytes."""
    import psutil

    try:
        own = proc.memory_info().rss
        total = own
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return own, total
    except psutil.Error:
        return 0, 0


def stored_rows(h5: Path) -> int | str:
    """Candidate rows in a growing structure set, or the error when it cannot be read right now."""
    from regenome.errors import StructureSetError
    from regenome.structures.store import StructureSet

    try:
        with StructureSet.open(h5, "r") as store:
            return store.n_candidates
    except StructureSetError as exc:
        return str(exc)


def main(argv=None) -> int:
    import psutil

    from _common import machine_header, print_table, ratio_entry, table_entry, write_json

    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="regenome-bench-batch-"))
    batch = args.batch
    if args.quick:
        batch = tmp / "quick.toml"
        batch.write_text(args.batch.read_text().replace("step = 0.01", "step = 0.02"))
    out = args.out or tmp / "run"
    cmd = [sys.executable, "-m", "regenome.cli", "screen", str(batch), "--out", str(out), "--quiet",
           "--n-jobs", str(args.n_jobs), "--backend", args.backend]
    for line in machine_header(("regenome", "numpy", "h5py", "joblib", "psutil"), threads=1):
        print(line)
    print(f"command: {' '.join(cmd[2:])}")

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak_own = peak_tree = 0
    reads, failed_reads, last_read = [], [], 0.0
    while proc.poll() is None:
        own, total = tree_rss(ps)
        peak_own, peak_tree = max(peak_own, own), max(peak_tree, total)
        now = time.perf_counter()
        if now - last_read > 3.0 and (out / "structures.h5").exists():
            rows = stored_rows(out / "structures.h5")
            if isinstance(rows, str):
                failed_reads.append(rows)
            else:
                reads.append(rows)
            last_read = now
        time.sleep(0.25)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(stderr, file=sys.stderr)
        return 1

    prov = json.loads((out / "provenance.json").read_text())
    counts, timings = prov["counts"], prov["timings_s"]
    n = counts["passing_constraints"]
    with open(out / "ranked.csv", encoding="utf-8") as handle:
        ranked_rows = sum(1 for _ in handle) - 1
    growing = [r for r in reads if 0 < r < n]
    checks = [
        {"name": "run completed", "passed": True, "detail": stdout.strip().splitlines()[0]},
        {"name": f"peak RSS of all processes below {MEMORY_BOUND_GB:g} GB",
         "passed": peak_tree < MEMORY_BOUND_GB * 1e9, "detail": f"{peak_tree / 1e9:.2f} GB"},
        {"name": "structures.h5 readable while it grows", "passed": bool(growing) and reads == sorted(reads),
         "detail": f"{len(reads)} reads ({len(growing)} mid-run, rows non-decreasing), {len(failed_reads)} failed"
                   + (f" (first: {failed_reads[0]})" if failed_reads else "")},
        {"name": "ranked.csv holds the kept rows", "passed": ranked_rows == min(n, 100_000),
         "detail": f"{ranked_rows:,} rows of {n:,}"},
    ]
    rows = [["candidates generated", f"{counts['generated']:,}"],
            ["candidates passing the constraints (predicted)", f"{n:,}"],
            ["wall time, s (process start to exit)", f"{wall:.1f}"],
            ["candidates/s, end to end", f"{n / wall:,.0f}"],
            ["candidates/s, predict stage", f"{n / timings['predict_s']:,.0f}"],
            *[[f"stage {k.removesuffix('_s')}, s", f"{v:.1f}"] for k, v in timings.items()],
            ["peak RSS, regenome process, GB", f"{peak_own / 1e9:.2f}"],
            ["peak RSS, all processes (sum), GB", f"{peak_tree / 1e9:.2f}"],
            ["structures.h5 size, GB", f"{(out / 'structures.h5').stat().st_size / 1e9:.2f}"],
            ["workers, backend", f"{args.n_jobs}, {args.backend}"]]
    print_table(["quantity", "value"], rows)
    for c in checks:
        print(f"[{'ok' if c['passed'] else 'FAILED'}] {c['name']}: {c['detail']}")
    ratios = [ratio_entry("memory bound / peak RSS of all processes", MEMORY_BOUND_GB * 1e9 / max(peak_tree, 1),
                          1.0, "at least 1 means within the 2 GB bound")]
    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE, "quick": args.quick,
        "command": "python benchmarks/bench_batch.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"batch": str(args.batch.relative_to(ROOT) if args.batch.is_relative_to(ROOT) else args.batch),
                   "quick": args.quick, "n_jobs": args.n_jobs, "backend": args.backend},
        "tables": [table_entry(f"regenome screen on {n:,} candidates", ["quantity", "value"], rows)],
        "ratios": ratios, "checks": checks,
        "metrics": {"wall_s": wall, "candidates": n, "candidates_per_s": n / wall, "peak_rss_tree_bytes": peak_tree,
                    "peak_rss_parent_bytes": peak_own, "timings_s": timings},
        "notes": ["RSS sampled every 0.25 s; the sum over processes counts shared pages once per process, "
                  "so it overstates the true footprint."],
    })
    if args.out is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
