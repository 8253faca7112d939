"""Run every benchmark on this machine and write docs/benchmarks.md from their results.

Each benchmark script runs in its own process (``OMP_NUM_THREADS=1`` unless set), prints its
report, and writes its results as JSON (``--json``); this script collects them and writes one
Markdown page: the machine (CPU, cores, RAM, OS, Python, package versions), the date, a summary of
the ratios against each named baseline with the issue's targets (met / not met), then one section
per benchmark with its tables. Every number on that page comes from the scripts' JSON; nothing is
typed by hand.

Usage::

    python benchmarks/run_all.py                       # full sizes -> docs/benchmarks.md (run on a quiet machine)
    python benchmarks/run_all.py --quick               # small sizes -> runs/benchmarks-quick.md (a smoke test)
    python benchmarks/run_all.py --only featurize,hdf5 --out /tmp/b.md --json /tmp/b.json
    python benchmarks/run_all.py --args "featurize=--n 1000000" --args "hdf5=--batch 10000"

Benchmarks (``--only`` names): featurize, hdf5, backends, predict, batch (``bench_batch.py``, run
when the file exists), startup, modelload. Exit status: 0 when every benchmark ran and its checks passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

#: name -> script, in run order.
BENCHMARKS: dict[str, str] = {
    "featurize": "bench_featurize.py",
    "hdf5": "bench_hdf5.py",
    "backends": "bench_backends.py",
    "predict": "bench_predict_curie.py",
    "batch": "bench_batch.py",
    "startup": "bench_startup.py",
    "modelload": "bench_model_load.py",
}
#: Benchmarks whose script may be absent (skipped silently unless named in --only).
OPTIONAL = {"batch"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] run_all: {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="pass --quick to every benchmark (small sizes: a smoke test, not a measurement)")
    p.add_argument("--only", action="append", default=[], metavar="NAME[,NAME]",
                   help=f"run only these benchmarks (repeatable or comma-separated; among {', '.join(BENCHMARKS)})")
    p.add_argument("--args", action="append", default=[], metavar="NAME=ARGS",
                   help="extra arguments for one benchmark, e.g. --args 'featurize=--n 1000000' (repeatable)")
    p.add_argument("--out", default=None,
                   help="Markdown file to write (default docs/benchmarks.md; with --quick runs/benchmarks-quick.md, "
                        "so smoke-test numbers never land in the docs by accident)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write all results as one JSON file")
    p.add_argument("--timeout", type=float, default=None, help="seconds per benchmark before it is stopped")
    args = p.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}")
    args.names = names or list(BENCHMARKS)
    args.explicit = bool(names)
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, sep, rest = item.partition("=")
        if not sep or name.strip() not in BENCHMARKS:
            p.error(f"--args must look like NAME=ARGS with NAME among {', '.join(BENCHMARKS)}; got {item!r}")
        extra.setdefault(name.strip(), []).extend(shlex.split(rest))
    args.extra = extra
    if args.out is None:
        args.out = str(ROOT / ("runs/benchmarks-quick.md" if args.quick else "docs/benchmarks.md"))
    return args


def run_one(name: str, script: Path, args, tmp: Path) -> dict:
    """Run one benchmark script; its JSON result plus status, exit code, run time and stderr tail."""
    out_json = tmp / f"{name}.json"
    cmd = [sys.executable, str(script), "--json", str(out_json)]
    if args.quick:
        cmd.append("--quick")
    cmd += args.extra.get(name, [])
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(key, "1")
    log(f"{name}: {' '.join(shlex.quote(c) for c in cmd[1:])}")
    t0 = time.perf_counter()
    stderr_tail: list[str] = []
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)

    def pump() -> None:  # show progress as it comes, keep the end for the report
        for line in proc.stderr:
            sys.stderr.write(line)
            stderr_tail.append(line.rstrip())
            del stderr_tail[:-15]

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # only the benchmark process this function started
        rc = proc.wait()
        stderr_tail.append(f"run_all: stopped after --timeout {args.timeout:g} s")
    reader.join(timeout=10)
    seconds = time.perf_counter() - t0
    result = {}
    if out_json.is_file():
        try:
            result = json.loads(out_json.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            stderr_tail.append(f"run_all: cannot read {out_json}: {exc}")
    if rc == 0 and result:
        status = "ok"
    elif result and rc == 1:
        status = "checks failed"
    elif rc == 2 and not result:
        status = "skipped"
    else:
        status = f"failed (exit {rc})"
    shown = [f"benchmarks/{script.name}"] + cmd[4:]  # without the temporary --json path
    result.update(command="python " + " ".join(shlex.quote(c) for c in shown))
    result.update(name=name, status=status, exit_code=rc, run_seconds=round(seconds, 1),
                  script=f"benchmarks/{script.name}", stderr_tail=stderr_tail if status != "ok" else [])
    log(f"{name}: {status} in {seconds:.1f} s")
    return result


# ----------------------------------------------------------------------------- Markdown
def cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


_NUMERIC = re.compile(r"[-+]?[\d,]*\.?\d+ ?(%|x|s|us|ms)?")


def md_table(columns: list[str], rows: list[list], align: str | None = None) -> list[str]:
    """A Markdown table; without ``align``, columns whose cells are all numbers are right-aligned."""
    if align is None:
        align = "".join("r" if any(cell(r[j]) for r in rows) and all(
            not cell(r[j]) or _NUMERIC.fullmatch(cell(r[j]).strip()) for r in rows) else "l"
            for j in range(len(columns)))
    out = ["| " + " | ".join(cell(c) for c in columns) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in align[:len(columns)]) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def fmt_ratio(r: dict) -> str:
    v = r.get("value")
    if v is None:
        return "n/a"
    return f"{v:,.0f}x" if v >= 100 else f"{v:,.2f}x" if v < 10 else f"{v:,.1f}x"


def verdict(r: dict) -> str:
    if r.get("target") is None:
        return "no target"
    return "met" if r.get("met") else "**NOT met**"


def machine_lines(m: dict) -> list[str]:
    pk = m.get("packages", {})
    threads = ", ".join(f"{k}={v or 'unset'}" for k, v in m.get("threads_env", {}).items())
    load = m.get("load_average")
    rows = [
        ["CPU", m.get("cpu", "")],
        ["cores", f"{m.get('cores')} ({m.get('usable_cores')} usable by this process)"],
        ["RAM", f"{m.get('ram_gb')} GB"],
        ["OS", m.get("os", "")],
        ["Python", m.get("python", "")],
        ["threads", threads],
        ["load average at start (1, 5, 15 min)", ", ".join(str(x) for x in load) if load else "n/a"],
        ["packages", ", ".join(f"{k} {v}" for k, v in pk.items())],
    ]
    return md_table(["", ""], rows, "ll")


def render(results: list[dict], machine: dict, args, command: str) -> str:
    lines = ["# Benchmarks", ""]
    lines += [f"Generated by `{command}` on {machine['date_utc']}. Every number on this page comes from the "
              "scripts in `benchmarks/` in this one run on this one machine (their JSON output, rendered by "
              "`benchmarks/run_all.py`); do not edit it by hand, rerun `make bench`. How each number is "
              "measured: `benchmarks/README.md` and each script's docstring.", ""]
    if args.quick:
        lines += ["> **Quick smoke run (`--quick`)**: small sizes; the numbers show that the scripts work, "
                  "not how fast regenome is. Run `make bench` on a quiet machine for the real numbers.", ""]
    if args.explicit:
        lines += [f"> Partial run: only {', '.join(args.names)}.", ""]
    if any(r.get("quick") is False for r in results) and any(r.get("quick") for r in results):
        lines += ["> Mixed sizes: some benchmarks ran with --quick.", ""]
    lines += ["## Machine", ""] + machine_lines(machine) + [""]

    lines += ["## Summary", ""]
    rows = []
    for r in results:
        ratios = r.get("ratios") or []
        if not ratios:
            rows.append([r["name"], r.get("baseline", ""), "", "", "", r["status"]])
        for i, x in enumerate(ratios):
            target = "" if x.get("target") is None else f">= {x['target']:g}x"
            rows.append([r["name"] if i == 0 else "", r.get("baseline", "") if i == 0 else "", x["name"],
                         fmt_ratio(x), target, verdict(x) if r["status"] == "ok" else r["status"]])
    lines += md_table(["benchmark", "baseline", "ratio", "measured", "issue target", "met?"], rows, "lllrrl")
    lines += [""]

    for r in results:
        lines += [f"## {r['name']}: {r.get('title', r['script'])}", ""]
        lines += [f"Script: `{r['script']}`; status: {r['status']}; ran in {r['run_seconds']:,.1f} s."]
        if r.get("command"):
            lines += [f"Command: `{r['command'].strip()}`."]
        if r.get("baseline"):
            lines += [f"Baseline: {r['baseline']}."]
        m = r.get("machine") or {}
        if m.get("load_average"):
            lines += [f"Load average when it started: {', '.join(str(x) for x in m['load_average'])}."]
        params = r.get("params") or {}
        if params:
            lines += ["Parameters: " + ", ".join(f"{k} = {v}" for k, v in params.items()) + "."]
        lines += [""]
        if r["status"] not in ("ok", "checks failed"):
            lines += ["```"] + (r.get("stderr_tail") or ["(no output)"]) + ["```", ""]
            continue
        for t in r.get("tables") or []:
            lines += [f"**{t['title']}**", ""] + md_table(t["columns"], t["rows"]) + [""]
            for note in t.get("notes") or []:
                lines += [f"- {note}"]
            if t.get("notes"):
                lines += [""]
        if not r.get("tables") and r.get("metrics"):
            lines += md_table(["metric", "value"], [[k, _num(v)] for k, v in r["metrics"].items()]) + [""]
        if r.get("ratios"):
            rows = [[x["name"], fmt_ratio(x), "" if x.get("target") is None else f">= {x['target']:g}x",
                     verdict(x), x.get("detail", "")] for x in r["ratios"]]
            lines += md_table(["ratio", "measured", "issue target", "met?", "detail"], rows, "lrrll") + [""]
        checks = r.get("checks") or []
        if checks:
            failed = [c for c in checks if not c.get("passed")]
            lines += [f"Checks: {len(checks) - len(failed)} of {len(checks)} passed"
                      + ("." if not failed else "; failed: " + "; ".join(f"{c['name']} ({c.get('detail', '')})"
                                                                       for c in failed) + ".")]
            lines += [""]
        for note in r.get("notes") or []:
            lines += [f"- {note}"]
        if r.get("notes"):
            lines += [""]
    return "\n".join(lines).rstrip() + "\n"


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    from _common import machine_info

    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(key, "1")
    machine = machine_info()
    command = "python benchmarks/run_all.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    results = []
    with tempfile.TemporaryDirectory(prefix="regenome-run-all-") as tmp:
        for name in args.names:
            script = HERE / BENCHMARKS[name]
            if not script.is_file():
                if name in OPTIONAL and not args.explicit:
                    log(f"{name}: {script.name} not present, skipped")
                    continue
                results.append({"name": name, "status": "missing", "exit_code": None, "run_seconds": 0.0,
                                "script": f"benchmarks/{script.name}",
                                "stderr_tail": [f"benchmarks/{script.name} does not exist"]})
                continue
            results.append(run_one(name, script, args, Path(tmp)))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, machine, args, command), encoding="utf-8")
    log(f"wrote {out}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": machine, "command": command, "quick": args.quick,
                                               "results": {r["name"]: r for r in results}}, indent=1),
                                   encoding="utf-8")
        log(f"wrote {args.json}")
    print()
    for r in results:
        summary = "; ".join(f"{x['name']}: {fmt_ratio(x)} ({verdict(x).strip('*')})" for x in r.get("ratios") or [])
        print(f"{r['name']:10s} {r['status']:14s} {summary}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
