"""The batch file: the issue's example is accepted as written; bad input gives one precise error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regenome.errors import BatchSpecError
from regenome.spec import load_batch, parse_batch

from conftest import ROOT


def test_demo_is_accepted_exactly(demo_text):
    spec = parse_batch(demo_text, "demo.toml")
    assert spec.batch.name == "ce-la-ndfeb-motor" and spec.batch.seed == 7
    assert spec.composition.rare_earth.bounds["Ce"] == (0.0, 0.5)
    assert spec.composition.rare_earth.step == 0.05
    assert spec.composition.transition_metal.bounds["Co"] == (0.0, 0.1)
    assert spec.process.route == ["sintered", "hot_deformed"] and spec.process.temperature_K == 393
    assert spec.constraints.min_critical_cut == 0.20
    assert spec.targets["Hcj_kA_m"].min == 955
    assert spec.ranking.parsed()[2] == ("raw_material_cost_usd_kg", "min")
    assert spec.execution.chunk_size == 5000


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_workflow_is_valid(path):
    spec = load_batch(path)
    assert spec.batch.family == ("phosphor" if path.name.startswith("phosphor-") else "ndfeb")
    if spec.batch.family == "phosphor":  # small: check that candidates survive the constraints too
        from regenome.families import get_family

        assert get_family("phosphor").passing_count(spec) > 0


def _error(text: str) -> BatchSpecError:
    with pytest.raises(BatchSpecError) as info:
        parse_batch(text, "b.toml")
    return info.value


@pytest.mark.parametrize("old,new,field,words", [
    ("seed = 7", "seed = 7\ncolour = 1", "batch.colour", "unknown key"),
    ("Dy = [0.0, 0.05]", "Xx = [0.0, 0.05]", "composition.rare_earth.Xx", "unknown rare earth"),
    ("Ce = [0.0, 0.5]", "Ce = [0.8, 0.9]", "composition.rare_earth", "cannot sum to one"),
    ("Ce = [0.0, 0.5]", "Ce = [0.5, 0.1]", "composition.rare_earth.Ce", "0 <= min <= max <= 1"),
    ("Ce = [0.0, 0.5]", "Ce = [0.0, nan]", "composition.rare_earth.Ce", "finite"),
    ("step = 0.05\n\n[composition.transition_metal]", "step = 0.0\n\n[composition.transition_metal]",
     "composition.rare_earth.step", "between"),
    ("n_jobs = 2", "n_jobs = 0", "execution.n_jobs", "positive"),
    ("backend = \"loky\"", "backend = \"mpi\"", "execution.backend", "loky"),
    ("temperature_K = 393", "temperature_K = \"hot\"", "process.temperature_K", "number"),
    ("Hcj_kA_m = { min = 955 }", "Hcj_kA = { min = 955 }", "targets.Hcj_kA", "unknown property"),
    ("\"BHmax_kJ_m3:max\"", "\"BHmax_kJ_m3:up\"", "ranking.objectives", "must look like"),
    ("family = \"ndfeb\"", "family = \"garnet\"", "batch.family", "unknown family"),
    ("route = [\"sintered\", \"hot_deformed\"]", "route = [\"cast\"]", "process.route", "sintered"),
])
def test_bad_input_names_file_field_and_fix(demo_text, old, new, field, words):
    assert old in demo_text
    err = _error(demo_text.replace(old, new, 1))
    assert err.field.startswith(field), err.field
    assert words in err.message, err.message
    assert str(err).startswith("b.toml"), str(err)
    assert "\n" not in str(err)


def test_error_points_at_the_toml_line(demo_text):
    err = _error(demo_text.replace("Dy = [0.0, 0.05]", "Xx = [0.0, 0.05]"))
    line = demo_text.splitlines()[err.line - 1]
    assert line.startswith("Dy"), (err.line, line)


@pytest.mark.parametrize("text,words", [("", "missing table [batch]"), ("[batch\nname=1", "invalid TOML")])
def test_empty_and_broken_files(text, words):
    assert words in _error(text).message


def test_binary_file(tmp_path):
    p = tmp_path / "b.toml"
    p.write_bytes(b"\x00\x01\x02")
    with pytest.raises(BatchSpecError, match="binary"):
        load_batch(p)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    try:
        parse_batch(text, "fuzz.toml")
    except BatchSpecError as exc:
        assert str(exc).startswith("fuzz.toml")


@pytest.mark.parametrize("family", ["ndfeb", "phosphor"])
def test_published_json_schema_is_current(family):
    import json

    from regenome.families import get_family

    published = json.loads((ROOT / "docs" / f"batch-schema.{family}.json").read_text())
    assert published == get_family(family).spec_model.model_json_schema()


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.toml")), ids=lambda p: p.name)
def test_published_schema_accepts_every_shipped_workflow(path):
    """A JSON Schema validator (as in an editor) accepts the shipped batch files."""
    import json
    import tomllib

    jsonschema = pytest.importorskip("jsonschema")
    family = "phosphor" if path.name.startswith("phosphor-") else "ndfeb"
    schema = json.loads((ROOT / "docs" / f"batch-schema.{family}.json").read_text())
    jsonschema.validate(tomllib.loads(path.read_text()), schema)
