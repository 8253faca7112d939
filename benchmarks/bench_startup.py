"""Benchmark: start-up of the regenome command line, and which heavy modules each command imports.

Prints, for one machine and one run:

1. **Wall time** (median of ``--repeats`` runs, each a fresh subprocess; CPU time of the child,
   user + system, next to it) of ``regenome --help``, ``regenome validate
   workflows/ndfeb-ce-la-motor.toml`` (the console script next to this Python, else ``python -m
   regenome.cli``) and ``python -c "import regenome.cli"``, against the baselines ``python -c
   "pass"`` (the interpreter alone), ``python -c "import pymatgen.core"``, ``python -c "import
   sklearn"`` and ``python -c "import dask.distributed"`` (when installed). The commands run round
   robin (one run of each, then the next round) after one untimed warm-up run of each, so a burst
   of load from other jobs hits them all alike.
2. **Imports**: each regenome command is run once more through a wrapper that prints
   ``sorted(sys.modules)`` at exit (``atexit``), and once under ``python -X importtime``; the
   report lists the heavy packages loaded (pymatgen, sklearn, dask, distributed, ray, scipy,
   pandas, h5py, matplotlib) and the largest top-level imports by cumulative time.

Ratio: ``0.5 s / wall of regenome --help`` (issue "Start-up": under 0.5 s; >= 1 means met).
Checks: neither ``--help`` nor ``validate`` imports a heavy package; every command exits 0.

Usage::

    python benchmarks/bench_startup.py [--repeats 15] [--json OUT.json]
    python benchmarks/bench_startup.py --quick       # 3 runs each: a smoke test, not a measurement
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "startup"
TITLE = "Start-up: regenome --help and validate vs importing the heavy stack"
BASELINE = 'python -c "import pymatgen.core" (and sklearn, dask.distributed, the bare interpreter)'
TARGET_S = 0.5  # issue "Start-up": regenome --help under 0.5 s wall
PACKAGES = ("regenome", "typer", "click", "rich", "pydantic", "numpy", "pymatgen-core", "scikit-learn",
            "dask", "distributed")
ROOT = Path(__file__).resolve().parents[1]
DEMO = "workflows/ndfeb-ce-la-motor.toml"
#: Packages that neither --help nor validate may import (top-level module names).
HEAVY = ("pymatgen", "sklearn", "dask", "distributed", "ray", "scipy", "pandas", "h5py", "matplotlib")
#: Lighter packages worth naming when a command loads them.
NOTABLE = ("numpy", "pydantic", "typer", "click", "rich", "joblib", "skops", "ase", "spglib", "threadpoolctl")
#: Runs a regenome command in-process and prints its top-level modules as JSON on stderr at exit.
WRAPPER = ("import atexit, sys\n"
           "atexit.register(lambda: print('REGENOME-MODULES ' + __import__('json').dumps(sorted({m.split('.')[0] "
           "for m in list(sys.modules)})), file=sys.stderr))\n"
           "sys.argv = ['regenome'] + sys.argv[1:]\n"
           "from regenome.cli import main\n"
           "main()\n")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=None, help="timed runs per command, medians shown "
                                                            "(default 15; --quick 3)")
    p.add_argument("--quick", action="store_true", help="few runs, for a smoke test")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 15)
    if args.repeats < 1:
        p.error("--repeats must be positive")
    return args


def regenome_command() -> list[str]:
    """The console script installed next to this Python, else ``python -m regenome.cli``."""
    script = Path(sys.executable).parent / "regenome"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "regenome.cli"]


def commands() -> list[tuple[str, list[str], bool]]:
    """(label, argv, is a regenome command) in report order; baselines whose package is absent left out."""
    py = sys.executable
    cli = regenome_command()
    out = [("regenome --help", [*cli, "--help"], True),
           (f"regenome validate {DEMO}", [*cli, "validate", DEMO], True),
           ('python -c "import regenome.cli"', [py, "-c", "import regenome.cli"], True),
           ('python -c "pass"', [py, "-c", "pass"], False)]
    for module, probe in (("pymatgen.core", "pymatgen"), ("sklearn", "sklearn"),
                          ("dask.distributed", "distributed")):
        if importlib.util.find_spec(probe) is not None:
            out.append((f'python -c "import {module}"', [py, "-c", f"import {module}"], False))
    return out


def run_once(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall s, child CPU s (user + system), exit code and stderr tail of one fresh subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stderr[-500:]


def modules_of(args: list[str]) -> tuple[list[str] | None, str]:
    """Top-level modules loaded by ``regenome ARGS`` (the atexit wrapper), or None and why."""
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=ROOT, capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        if line.startswith("REGENOME-MODULES "):
            return json.loads(line.split(" ", 1)[1]), ""
    return None, f"exit {proc.returncode}: {proc.stderr[-300:]}"


def import_times(args: list[str], top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` largest top-level imports (cumulative ms) of ``regenome ARGS`` under -X importtime."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", WRAPPER, *args], cwd=ROOT,
                          capture_output=True, text=True)
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line[len("import time:"):].split("|") if line.startswith("import time:") else []
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line or other output
        name = parts[2]
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # two spaces per nesting level
        if depth == 0:
            found[name.strip()] = max(found.get(name.strip(), 0.0), int(parts[1]) / 1000)
    return sorted(found.items(), key=lambda kv: -kv[1])[:top]


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    from _common import machine_header, print_table, ratio_entry, table_entry, write_json

    cmds = commands()
    checks: list[dict] = []
    notes: list[str] = []
    log(f"warm-up: one untimed run of each of {len(cmds)} commands")
    failed: dict[str, str] = {}
    for label, cmd, _ in cmds:
        _, _, rc, err = run_once(cmd)
        if rc != 0:
            failed[label] = f"exit {rc}: {err.strip()[-200:]}"
    walls: dict[str, list[float]] = {label: [] for label, _, _ in cmds}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in cmds}
    for i in range(args.repeats):
        log(f"round {i + 1} of {args.repeats}")
        for label, cmd, _ in cmds:
            if label in failed:
                continue
            wall, cpu, rc, err = run_once(cmd)
            if rc != 0:
                failed[label] = f"exit {rc}: {err.strip()[-200:]}"
                continue
            walls[label].append(wall)
            cpus[label].append(cpu)
    for label, _, _ in cmds:
        checks.append({"name": f"{label} exits 0", "passed": label not in failed,
                       "detail": failed.get(label, "")})

    metrics: dict[str, float] = {}
    rows = []
    bare = statistics.median(walls['python -c "pass"']) if walls['python -c "pass"'] else None
    for label, _, is_regenome in cmds:
        if not walls[label]:
            rows.append([label, "regenome" if is_regenome else "baseline", "failed", "", "", "", ""])
            continue
        wall, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
        metrics[f"wall_s {label}"] = wall
        metrics[f"cpu_s {label}"] = cpu
        rows.append([label, "regenome" if is_regenome else "baseline", f"{wall:.3f}", f"{cpu:.3f}",
                     f"{min(walls[label]):.3f}", f"{wall - bare:.3f}" if bare is not None else "",
                     " ".join(f"{w:.3f}" for w in walls[label])])

    # imports
    log("imports: sys.modules at exit and -X importtime of each regenome command")
    import_rows = []
    time_rows = []
    for label, cli_args in (("regenome --help", ["--help"]), (f"regenome validate {DEMO}", ["validate", DEMO])):
        mods, why = modules_of(cli_args)
        if mods is None:
            checks.append({"name": f"{label} imports no heavy package", "passed": False,
                           "detail": f"could not list its modules ({why})"})
            import_rows.append([label, "?", "?", "?"])
            continue
        heavy = [m for m in HEAVY if m in mods]
        checks.append({"name": f"{label} imports none of {', '.join(HEAVY)}", "passed": not heavy,
                       "detail": f"imports {', '.join(heavy)}" if heavy else "none imported"})
        metrics[f"modules {label}"] = len(mods)
        import_rows.append([label, ", ".join(heavy) or "none", ", ".join(m for m in NOTABLE if m in mods) or "none",
                            str(len(mods))])
        for name, ms in import_times(cli_args):
            time_rows.append([label, name, f"{ms:.1f}"])

    help_wall = metrics.get("wall_s regenome --help")
    ratios = [ratio_entry("0.5 s / regenome --help wall", TARGET_S / help_wall if help_wall else None, 1.0,
                          f"regenome --help {help_wall:.3f} s (median of {args.repeats})" if help_wall else "failed")]
    pmg = metrics.get('wall_s python -c "import pymatgen.core"')
    if help_wall and pmg:
        ratios.append(ratio_entry('python -c "import pymatgen.core" / regenome --help', pmg / help_wall, None,
                                  f"{pmg:.3f} s vs {help_wall:.3f} s"))
    validate_wall = metrics.get(f"wall_s regenome validate {DEMO}")
    if validate_wall:
        ratios.append(ratio_entry("0.5 s / regenome validate wall", TARGET_S / validate_wall, None,
                                  f"regenome validate {validate_wall:.3f} s (no stated target)"))
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    if load is not None and os.cpu_count() and load > 0.5 * os.cpu_count():
        notes.append(f"load average {load:.2f} on {os.cpu_count()} cores at the end: other jobs were running; "
                     "the wall times include their contention (CPU time is less affected)")

    # ------------------------------------------------------------------------- report
    print()
    print(f"{TITLE}; baseline: {BASELINE}")
    print("=" * 100)
    for line in machine_header(PACKAGES, os.environ.get("OMP_NUM_THREADS", "unset")):
        print(line)
    print(f"regenome command: {' '.join(regenome_command())}")
    print()
    header = ["command", "kind", "wall s (median)", "CPU s (median)", "wall s (min)", "minus bare python s",
              "all runs s"]
    print(f"Wall time of a fresh process, median of {args.repeats} (round robin, after one warm-up run each)")
    print_table(header, rows, "llrrrrl")
    print()
    imp_header = ["command", "heavy packages imported", "other notable packages", "top-level modules"]
    print(f"Imports (sys.modules at exit); heavy = {', '.join(HEAVY)}")
    print_table(imp_header, import_rows, "llll")
    print()
    t_header = ["command", "top-level import", "cumulative ms"]
    print("Largest top-level imports (python -X importtime, one run)")
    print_table(t_header, time_rows, "llr")
    print()
    for r in ratios:
        target = f"  [issue target >= {r['target']:g}: {'met' if r['met'] else 'NOT met'}]" if r["target"] else ""
        print(f"{r['name']}: {r['value']:.2f} ({r['detail']}){target}" if r["value"] is not None
              else f"{r['name']}: n/a ({r['detail']})")
    for c in checks:
        print(f"check {'ok  ' if c['passed'] else 'FAIL'} {c['name']}" + (f": {c['detail']}" if c["detail"] else ""))
    for note in notes:
        print(note)

    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE, "quick": args.quick,
        "command": "python benchmarks/bench_startup.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"repeats": args.repeats, "regenome_command": " ".join(Path(c).name for c in regenome_command()),
                   "batch": DEMO},
        "tables": [
            table_entry(f"Wall time of a fresh process (median of {args.repeats}, round robin)", header, rows,
                        ["CPU s = user + system time of the child process; 'minus bare python' subtracts the "
                         "median of python -c \"pass\"."]),
            table_entry("Imports (sys.modules at exit)", imp_header, import_rows,
                        [f"Heavy: {', '.join(HEAVY)}; neither command may import one."]),
            table_entry("Largest top-level imports (python -X importtime, one run)", t_header, time_rows),
        ],
        "ratios": ratios, "checks": checks, "metrics": metrics, "notes": notes,
    })
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
