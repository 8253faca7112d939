"""Start-up: `regenome --help` and `regenome validate` do not import the heavy stack.

Each command runs in a fresh interpreter through a wrapper that prints the top-level names in
``sys.modules`` at exit; the tests assert which packages are absent, never how long it took
(``benchmarks/bench_startup.py`` measures the time).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import DEMO, ROOT

HEAVY = ("pymatgen", "sklearn", "dask", "distributed", "ray", "matplotlib", "scipy", "pandas", "h5py")
WRAPPER = ("import atexit, sys\n"
           "atexit.register(lambda: print('REGENOME-MODULES ' + __import__('json').dumps(sorted({m.split('.')[0] "
           "for m in list(sys.modules)})), file=sys.stderr))\n"
           "sys.argv = ['regenome'] + sys.argv[1:]\n"
           "from regenome.cli import main\n"
           "main()\n")


def modules_loaded(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("REGENOME-MODULES ")]
    assert lines, f"no module list printed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return set(json.loads(lines[-1].split(" ", 1)[1])), proc


@pytest.mark.parametrize("args", [("--help",), ("validate", str(DEMO))], ids=["help", "validate"])
def test_command_does_not_import_heavy_packages(args):
    mods, proc = modules_loaded(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "regenome" in mods and "typer" in mods  # the wrapper really ran the CLI
    heavy = sorted(m for m in HEAVY if m in mods)
    assert not heavy, f"regenome {' '.join(args)} imported {heavy}"


def test_validate_output_unchanged_by_the_wrapper():
    _, proc = modules_loaded("validate", str(DEMO))
    assert "valid ndfeb batch" in proc.stdout

