"""Bad batch files: exit 2, a short message naming file, key and fix, and nothing written.

Every file in tests/bad_batches/ is a workflow (the Nd-Fe-B demo, or the phosphor example for
``phosphor_*``) with one defect (the comment at its top says which; host files in my_hosts/). Each runs through both ``validate`` and ``screen`` as a user would run them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import DEMO

EXE = [sys.executable, "-m", "regenome.cli"]
FIXTURES = Path(__file__).resolve().parent / "bad_batches"

#: fixture file -> (key the message must name, a word of the fix it must give)
CASES = {
    "bool_for_number": ("batch.seed", "integer"),
    "bounds_between_steps": ("composition.rare_earth.Dy", "finer step"),
    "bounds_cannot_sum_to_one": ("composition.rare_earth", "widen"),
    "chunk_size_zero": ("execution.chunk_size", "greater than or equal to 100"),
    "co_outside_domain": ("composition.transition_metal.Co", "at most 0.5"),
    "comments_only": ("batch", "name, family and seed"),
    "concentration_above_one": ("composition.rare_earth.Nd", "<= 1"),
    "constraint_above_one": ("constraints.min_ce_la_fraction", "less than or equal to 1"),
    "constraints_jointly_unmeetable": ("constraints", "relax"),
    "constraints_unmeetable": ("constraints.min_ce_la_fraction", "at most 0.8"),
    "inf_target": ("targets.BHmax_kJ_m3", "finite"),
    "inf_temperature": ("process.temperature_K", "finite"),
    "invalid_toml": ("invalid TOML", "Unclosed array"),
    "missing_batch_table": ("batch", "name, family and seed"),
    "missing_composition": ("composition.rare_earth", "regenome schema"),
    "missing_step": ("composition.rare_earth.step", "step = 0.05"),
    "n_jobs_zero": ("execution.n_jobs", "-1"),
    "nan_bound": ("composition.rare_earth.Ce", "finite"),
    "nan_constraint": ("constraints.min_ce_la_fraction", "finite"),
    "negative_bound": ("composition.rare_earth.La", "0 <= min"),
    "negative_temperature": ("process.temperature_K", "200"),
    "phosphor_bad_constraint_element": ("constraints.max_element_wt_frac.Xx", "element symbol"),
    "phosphor_codopant_for_missing_activator": ("codopants.Eu3+", "list it under [activators]"),
    "phosphor_host_file_disordered": ("hosts.files[0]", "full site occupancies"),
    "phosphor_host_file_not_a_structure": ("hosts.files[0]", "crystal structure"),
    "phosphor_magnet_target": ("targets.Hcj_kA_m", "emission_nm"),
    "phosphor_missing_host_file": ("hosts.files[0]", "relative to the batch file"),
    "phosphor_no_hosts": ("hosts.include", "name at least one host"),
    "phosphor_steps_and_step": ("activators.step", "not both"),
    "phosphor_unknown_activator": ("activators.Ce4+", "Eu2+"),
    "phosphor_unknown_codopant": ("codopants.Ce3+", "Na+"),
    "phosphor_unknown_host": ("hosts.include[3]", "hosts.files"),
    "phosphor_zero_concentration": ("activators.Eu2+", "0 < min"),
    "reversed_bounds": ("composition.rare_earth.Ce", "min <= max"),
    "single_bound": ("composition.rare_earth.Pr", "[min, max]"),
    "step_not_dividing_one": ("composition.rare_earth.step", "whole number"),
    "step_tiny_explosion": ("funnel.max_candidates", "coarser composition step"),
    "step_too_small": ("composition.rare_earth.step", "between 0.005 and 1"),
    "step_zero": ("composition.rare_earth.step", "between 0.005 and 1"),
    "string_for_n_jobs": ("execution.n_jobs", "integer"),
    "string_for_number": ("process.temperature_K", "valid number"),
    "string_in_bounds": ("composition.rare_earth.Ce", "two numbers"),
    "target_min_above_max": ("targets.Hcj_kA_m", "larger than max"),
    "target_not_table": ("targets.BHmax_kJ_m3", "{ min = "),
    "unknown_backend": ("execution.backend", "loky"),
    "unknown_element": ("composition.rare_earth.Xx", "Nd, Pr, Ce"),
    "unknown_family": ("batch.family", "ndfeb"),
    "unknown_key": ("process.temprature_K", "temperature_K"),
    "unknown_objective_direction": ("ranking.objectives", ":max"),
    "unknown_objective_property": ("ranking.objectives[0]", "BHmax_kJ_m3"),
    "unknown_route": ("process.route", "sintered"),
    "unknown_substituent": ("composition.transition_metal.Ni", "Co"),
    "unknown_table": ("colours", "composition"),
    "unknown_target": ("targets.Hcj_kA", "Hcj_kA_m"),
}

#: made inside the test: name -> (file bytes or None for "no such file", message words, fix words)
GENERATED = {
    "empty": (b"", "batch", "name, family and seed"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary", "TOML text"),
    "not_utf8": ('[batch]\nname = "caf\u00e9"\n'.encode("latin-1"), "UTF-8", "save the batch file"),
    "missing_file": (None, "file not found", ".toml batch file"),
}


def _start(*args):
    return subprocess.Popen([*EXE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _run_both(batch: Path, out: Path) -> dict[str, tuple[int, str]]:
    """Run ``validate`` and ``screen`` side by side: {command: (exit code, stderr)}."""
    procs = {"validate": _start("validate", batch),
             "screen": _start("screen", batch, "--out", out, "--quiet")}
    results = {}
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=120)
        results[name] = (proc.returncode, stderr)
    return results


def _check(batch: Path, out: Path, key: str, fix: str) -> None:
    for command, (code, stderr) in _run_both(batch, out).items():
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2, (command, code, stderr)
        assert 1 <= len(lines) <= 3, (command, stderr)
        assert "Traceback" not in stderr, (command, stderr)
        assert str(batch) in stderr, (command, stderr)
        assert key in stderr, (command, key, stderr)
        assert fix in stderr, (command, fix, stderr)
        _check_line_number(batch, stderr)
    assert not out.exists(), f"screen left {out} behind"


def _check_line_number(batch: Path, stderr: str) -> None:
    """When a message gives ``file:LINE: key:``, that TOML line holds the key (or its table)."""
    match = re.search(re.escape(str(batch)) + r":(\d+): ([\w.\[\]]+): ", stderr)
    if match:
        line = batch.read_text().splitlines()[int(match.group(1)) - 1]
        parts = [p for p in re.split(r"[.\[\]]", match.group(2)) if p and not p.isdigit()]
        last = parts[-1]
        assert last in line, (match.group(0), line)


def test_every_fixture_has_a_row():
    assert sorted(p.stem for p in FIXTURES.glob("*.toml")) == sorted(CASES)
    for path in FIXTURES.glob("*.toml"):
        assert path.read_text().startswith("# Bad batch: "), f"{path.name}: say what is wrong"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_batch_file(name, tmp_path):
    key, fix = CASES[name]
    _check(FIXTURES / f"{name}.toml", tmp_path / "out", key, fix)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_unreadable_batch_file(name, tmp_path):
    content, key, fix = GENERATED[name]
    batch = tmp_path / f"{name}.toml"
    if content is not None:
        batch.write_bytes(content)
    _check(batch, tmp_path / "out", key, fix)


def test_folder_instead_of_file(tmp_path):
    _check(tmp_path, tmp_path / "out", "is a folder", ".toml batch file")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read any file")
def test_file_without_read_permission(tmp_path):
    batch = tmp_path / "secret.toml"
    batch.write_text(DEMO.read_text())
    batch.chmod(0)
    try:
        _check(batch, tmp_path / "out", "cannot read", "permissions")
    finally:
        batch.chmod(0o600)


def test_debug_shows_the_traceback():
    batch = FIXTURES / "unknown_key.toml"
    res = subprocess.run([*EXE, "--debug", "validate", str(batch)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "BatchSpecError" in res.stderr, res.stderr


# -- the constraint check is exact: it refuses a batch exactly when no grid point passes -----

_FRACTION = st.sampled_from([None, 0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.45, 0.5, 0.7, 0.9, 1.0])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Nd", "Pr", "Ce", "La", "Dy", "Tb", "Gd"]),
                          st.integers(0, 6), st.integers(0, 20)), min_size=1, max_size=5,
                unique_by=lambda t: t[0]),
       st.sampled_from([0.05, 0.1, 0.2, 0.25]), _FRACTION, _FRACTION, _FRACTION,
       st.sampled_from([None, -1.0, 0.0, 0.2, 0.4, 0.55, 0.8]))
def test_unmeetable_constraints_are_refused_exactly(bounds, step, ce_la_min, ce_la_max, heavy_max,
                                                    cut_min):
    from regenome.errors import BatchSpecError
    from regenome.families import get_family
    from regenome.families.ndfeb import Constraints
    from regenome.spec import parse_batch

    rare_earth = "".join(f"{e} = [{min(a, b) / 20}, {max(a, b) / 20}]\n" for e, a, b in bounds)
    base = (f'[batch]\nname = "x"\nfamily = "ndfeb"\n\n[composition.rare_earth]\n{rare_earth}'
            f"step = {step}\n\n[funnel]\nmax_candidates = 100000000\n")
    try:
        spec = parse_batch(base)
    except BatchSpecError:
        spec = None
    assume(spec is not None)  # bounds alone bad: the fixtures cover that
    values = {"min_ce_la_fraction": ce_la_min, "max_ce_la_fraction": ce_la_max,
              "max_heavy_re_fraction": heavy_max, "min_critical_cut": cut_min}
    values = {k: v for k, v in values.items() if v is not None}
    constrained = spec.model_copy(update={"constraints": Constraints(**values)})
    passing = get_family("ndfeb").passing_count(constrained)
    text = base + "\n[constraints]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    try:
        parse_batch(text, "c.toml")
        refused = None
    except BatchSpecError as exc:
        refused = exc
    assert (refused is None) == (passing > 0), (text, passing, refused)
    if refused is not None:
        assert refused.field.startswith("constraints"), str(refused)
