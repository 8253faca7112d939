"""Property-based fuzzing of the parsers: batch files, formulas and prediction CSVs fail cleanly.

A clean failure is a :class:`regenome.errors.RegenomeError` (``BatchSpecError``, ``InputDataError``...)
with a one-line message. For the prediction CSVs a bad row gets a message in its ``error`` column and
blank predictions while the other rows are still predicted.
"""

from __future__ import annotations

import copy
import csv
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from regenome.errors import BatchSpecError, InputDataError, RegenomeError
from regenome.features.elements import ELEMENT_INDEX, ELEMENTS
from regenome.features.formula import parse_formula, parse_formulas
from regenome.predictors.ndfeb import MAX_CO_FRACTION, PROPERTIES, RE_ELEMENTS, ROUTES, TM_ELEMENTS
from regenome.spec import parse_batch

from conftest import DEMO

DEMO_TEXT = DEMO.read_text()
DEMO_DOC = tomllib.loads(DEMO_TEXT)
NAN, INF = math.nan, math.inf

# -- shared strategies ----------------------------------------------------------------------------

#: any text that can be encoded as UTF-8 (no lone surrogates), control characters included
TEXT_CHARS = st.characters(blacklist_categories=("Cs",))


def text(**kw) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARS, **kw)


def one_line(message: str) -> bool:
    return len(message.splitlines()) == 1


# -- a tiny TOML writer (tomli_w is not a dependency) -----------------------------------------------

def toml_string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif (code < 0x20 and ch != "\t") or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(doc: dict) -> str:
    """TOML text of a document: tables as ``[a."b"]`` headers, everything inside them inline."""
    lines: list[str] = []

    def table(node: dict, path: tuple[str, ...]) -> None:
        if path:
            lines.append("[" + ".".join(toml_string(p) for p in path) + "]")
        for k, v in node.items():
            if not isinstance(v, dict):
                lines.append(f"{toml_string(k)} = {toml_value(v)}")
        for k, v in node.items():
            if isinstance(v, dict):
                table(v, path + (k,))

    table(doc, ())
    return "\n".join(lines) + "\n"


def same(a, b) -> bool:
    """Structural equality with nan == nan and int/float kept apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_toml_writer_round_trips_the_demo():
    assert same(tomllib.loads(to_toml(DEMO_DOC)), DEMO_DOC)
    assert parse_batch(to_toml(DEMO_DOC), "demo.toml") == parse_batch(DEMO_TEXT, "demo.toml")


# -- 1. batch files --------------------------------------------------------------------------------

SCHEMA_KEYS = ["batch", "name", "family", "seed", "description", "composition", "rare_earth",
               "transition_metal", "step", "process", "route", "temperature_K", "constraints",
               "min_ce_la_fraction", "max_ce_la_fraction", "min_critical_cut", "max_heavy_re_fraction",
               "targets", "min", "max", "ranking", "objectives", "top", "execution", "n_jobs", "backend",
               "chunk_size", "funnel", "structures_for_top", "max_candidates", "sampling", "n_samples",
               "structures", "max_supercell", *RE_ELEMENTS, *TM_ELEMENTS, "Fe", "B", "Sm", *PROPERTIES]
# Keys made of printable characters: spec.py echoes a key into the one-line message verbatim, so keys
# holding line breaks are fuzzed separately (see test_keys_with_line_breaks_known_issue).
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
KEYS = st.one_of(st.sampled_from(SCHEMA_KEYS),
                 st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS), max_size=12))
# 64-bit integers: TOML forbids larger ones (tomllib accepts them anyway; see the known-issue test).
INTS = st.one_of(st.integers(-3, 3), st.integers(-2**63, 2**63 - 1),
                 st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, -2**63, 100, 99, 1_000_000, 2_000_001]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([NAN, INF, -INF, -0.0, 5e-324, 1e-300, 1e300, 1.7976931348623157e308,
                                    0.005, 0.05, 0.1, 0.3, 0.5, 1.0]))
SCALARS = st.one_of(text(max_size=20), INTS, FLOATS, st.booleans())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=6)
FRACTIONS = st.one_of(st.floats(-0.5, 1.5), st.integers(-1, 2),
                      st.sampled_from([0, 0.0, 1, 1.0, 0.05, 0.25, 0.5, 0.95, -0.0, NAN, INF, -INF, 1e-12]))
STEPS = st.one_of(st.sampled_from([0.005, 0.004, 0.01, 0.02, 0.025, 0.03, 0.05, 1 / 3, 0.1, 0.2, 0.25, 0.5, 1,
                                   1.0, 1.5, 0, -0.05, NAN, INF, True, "0.05"]),
                  st.floats(0.0, 1.2), st.integers(-2, 2))
PROPERTY_NAMES = st.one_of(st.sampled_from(PROPERTIES + ("raw_material_cost_usd_kg", "critical_cut",
                                                         "ce_la_fraction", "critical_element_wt_frac")),
                           st.from_regex(r"[A-Za-z0-9_]{0,12}", fullmatch=True), KEYS)


def all_paths(node, prefix: tuple = ()):
    """Every key path (dict keys and list indices) below ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from all_paths(v, prefix + (k,))


def table_paths(doc: dict) -> list[tuple]:
    return [()] + [p for p in all_paths(doc) if isinstance(get(doc, p), dict)]


def get(doc, path: tuple):
    for p in path:
        doc = doc[p]
    return doc


def table_at(doc: dict, path: tuple) -> dict:
    """The table at ``path``, created (replacing whatever was there) when it is not a table."""
    node = doc
    for p in path:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    return node


def dotted(path: tuple) -> str:
    """A key path written like BatchSpecError.field (``ranking.objectives[1]``)."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


GENERIC_OPS = ("drop", "add", "replace", "family")
DOMAIN_OPS = ("bounds", "step", "target", "objectives", "route", "funnel", "element")


@st.composite
def mutated_batches(draw, operations: tuple[str, ...] = GENERIC_OPS + DOMAIN_OPS) -> dict:
    """The demo batch parsed, then changed in 1-4 structural ways."""
    doc = copy.deepcopy(DEMO_DOC)
    ops = draw(st.lists(st.sampled_from(operations), min_size=1, max_size=4))
    for op in ops:
        if op == "drop":
            paths = list(all_paths(doc))
            if paths:
                path = draw(st.sampled_from(paths))
                parent = get(doc, path[:-1])
                del parent[path[-1]]
        elif op == "add":
            table = get(doc, draw(st.sampled_from(table_paths(doc))))
            table[draw(KEYS)] = draw(VALUES)
        elif op == "replace":
            paths = list(all_paths(doc))
            if paths:
                path = draw(st.sampled_from(paths))
                get(doc, path[:-1])[path[-1]] = draw(VALUES)
        elif op in ("bounds", "step", "element"):
            lattice = draw(st.sampled_from(["rare_earth", "transition_metal"]))
            table = table_at(doc, ("composition", lattice))
            if op == "step":
                table["step"] = draw(STEPS)
            elif op == "element" and table:
                del table[draw(st.sampled_from(sorted(table)))]
            else:
                element = draw(st.one_of(st.sampled_from(RE_ELEMENTS + TM_ELEMENTS + ("Fe", "Xx")), KEYS))
                table[element] = draw(st.one_of(st.lists(FRACTIONS, min_size=2, max_size=2),
                                                st.lists(FRACTIONS, max_size=3)))
        elif op == "target":
            bound = draw(st.dictionaries(st.sampled_from(["min", "max", "mean"]),
                                         st.one_of(st.floats(-1e4, 1e4), st.integers(-10**4, 10**4), FLOATS),
                                         max_size=3))
            table_at(doc, ("targets",))[draw(PROPERTY_NAMES)] = bound
        elif op == "objectives":
            objective = st.builds(lambda p, d: f"{p}:{d}", PROPERTY_NAMES, st.sampled_from(["max", "min", "up", ""]))
            table_at(doc, ("ranking",))["objectives"] = draw(st.lists(st.one_of(objective, text(max_size=8)),
                                                                      max_size=4))
        elif op == "route":
            table_at(doc, ("process",))["route"] = draw(st.lists(st.sampled_from(ROUTES + ("cast", "", "Sintered")),
                                                                 max_size=5))
        elif op == "funnel":
            table = table_at(doc, ("funnel",))
            table["sampling"] = draw(st.sampled_from(["grid", "sobol", "random"]))
            table["n_samples"] = draw(st.one_of(st.integers(-1, 50), INTS))
        elif op == "family":
            table_at(doc, ("batch",))["family"] = draw(st.one_of(st.sampled_from(["ndfeb", "NdFeB", "", "garnet"]),
                                                                 VALUES))
    return doc


def schema_paths(model, prefix: tuple = ()):
    """Key paths of a pydantic batch model (nested tables included)."""
    from pydantic import BaseModel

    for name, info in model.model_fields.items():
        yield prefix + (name,)
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from schema_paths(info.annotation, prefix + (name,))


def field_points_into(field: str, doc: dict) -> bool:
    """``field`` is a key path of ``doc``, one missing key directly below a table of ``doc``, or a
    setting of the schema left at its default (``funnel.max_candidates`` for a too-large grid)."""
    from regenome.families.ndfeb import NdFeBBatch

    paths = list(all_paths(doc))
    if field in {dotted(p) for p in paths} | {dotted(p) for p in schema_paths(NdFeBBatch)}:
        return True
    for table in table_paths(doc):
        prefix = dotted(table) + "." if table else ""
        rest = field[len(prefix):]
        if field.startswith(prefix) and rest and not any(c in rest for c in ".[]"):
            return True
    return False


def check_batch(text_: str, doc: dict | None = None) -> None:
    """parse_batch either returns a spec whose grid size is computable, or raises a clean BatchSpecError."""
    from regenome.families import get_family

    try:
        spec = parse_batch(text_, "fuzz.toml")
    except BatchSpecError as exc:
        if currently_in_test_context():
            event("BatchSpecError " + (exc.field.split(".")[0] or "(no field)"))
        message = str(exc)
        assert message.startswith("fuzz.toml"), message
        assert one_line(message), message
        if exc.field and doc is not None:
            assert field_points_into(exc.field, doc), (exc.field, message)
        return
    if currently_in_test_context():
        event("parsed")
    try:
        size = get_family(spec.batch.family).grid_size(spec)
    except RegenomeError:
        return
    assert isinstance(size, int) and size >= 0, size


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_batches(), mutated_batches(DOMAIN_OPS)))
def test_mutated_batch_files_parse_or_fail_cleanly(doc):
    """Dropped keys, unknown keys, values of the wrong type or range: a spec or one precise error."""
    text_ = to_toml(doc)
    assert same(tomllib.loads(text_), doc)  # the writer is faithful, so errors are about `doc`
    check_batch(text_, doc)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DEMO_TEXT)), st.integers(0, 12), text(max_size=6)),
                min_size=1, max_size=3))
def test_corrupted_batch_text_fails_cleanly(edits):
    """Character-level damage (truncation, stray bytes, broken quotes) is also a one-line error."""
    text_ = DEMO_TEXT
    for pos, cut, insert in edits:
        pos = min(pos, len(text_))
        text_ = text_[:pos] + insert + text_[pos + cut:]
    check_batch(text_)


@pytest.mark.parametrize("key", ["step", "Nd"])
def test_integers_beyond_the_float_range(key):
    """TOML limits integers to 64 bits; tomllib accepts bigger ones and they reach the validators
    (64-bit extremes are fuzzed above). Minimal batch: the demo with ``step = 1000...0`` (401 digits)."""
    doc = copy.deepcopy(DEMO_DOC)
    doc["composition"]["rare_earth"][key] = 10**400 if key == "step" else [0.3, 10**400]
    check_batch(to_toml(doc), doc)


@pytest.mark.parametrize("table", [(), ("batch",), ("targets",), ("composition", "rare_earth")], ids=str)
def test_keys_with_line_breaks(table):
    """An unknown key is echoed in the error; a quoted key holding a line break (``"a\\nb" = 1``)
    must not break the one-line message (the fuzzed keys above exclude line breaks)."""
    doc = copy.deepcopy(DEMO_DOC)
    get(doc, table)["a\nb"] = {"min": 1} if table == ("targets",) else 1
    check_batch(to_toml(doc), doc)


# -- 2. formulas -----------------------------------------------------------------------------------

SYMBOLS = st.sampled_from(list(ELEMENTS) + ["Xx", "Q", "e", "D", "T", "nd", "FE"])
NUMBERS = st.one_of(st.integers(0, 10**6).map(str), st.floats(0, 1e4).map(lambda x: f"{x:.4g}"),
                    st.sampled_from(["0", "0.0", ".5", "1.", "1e3", "-1", "+2", "9" * 60, "1/2", "\u0663", "\u00b2",
                                     "inf", "nan"]))
JUNK = st.sampled_from(list("()[]{}()·•* \t\n,;.-+/=_\u3000\x00") + ["", "H2O", " "])
FORMULA_LIKE = st.lists(st.one_of(SYMBOLS, NUMBERS, JUNK, st.characters(blacklist_categories=("Cs",))),
                        max_size=25).map("".join)
AMOUNTS = st.one_of(st.just(""), st.integers(1, 20).map(str), st.floats(0.01, 20).map(lambda x: f"{x:.3g}"))


@st.composite
def structured_formulas(draw, depth: int = 0) -> str:
    """Well-formed formulas: element/amount pairs, nested ()/[]/{} groups, hydrate parts."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            opening, closing = draw(st.sampled_from(["()", "[]", "{}"]))
            parts.append(opening + draw(structured_formulas(depth + 1)) + closing + draw(AMOUNTS))
        else:
            parts.append(draw(st.sampled_from(ELEMENTS)) + draw(AMOUNTS))
    formula = draw(st.sampled_from(["", " "])).join(parts)
    if depth == 0 and draw(st.integers(0, 4)) == 0:
        formula += draw(st.sampled_from("·•*")) + draw(AMOUNTS) + draw(structured_formulas(1))
    return formula


@st.composite
def damaged(draw, formulas: st.SearchStrategy[str]) -> str:
    """A formula with one character inserted, deleted or replaced."""
    formula = draw(formulas)
    i = draw(st.integers(0, len(formula)))
    cut = draw(st.integers(0, 1))
    return formula[:i] + draw(st.one_of(JUNK, SYMBOLS, NUMBERS, st.characters(blacklist_categories=("Cs",)))) \
        + formula[i + cut:]


FORMULAS = st.one_of(structured_formulas(), damaged(structured_formulas()), FORMULA_LIKE, text(max_size=40),
                     text(min_size=195, max_size=205))


def check_fractions(parsed: dict) -> None:
    assert parsed and set(parsed) <= set(ELEMENT_INDEX)
    values = list(parsed.values())
    assert all(math.isfinite(v) and 0 < v <= 1 for v in values), parsed
    assert math.isclose(math.fsum(values), 1.0, rel_tol=1e-9), parsed


@settings(max_examples=400, deadline=None)
@given(FORMULAS)
def test_parse_formula_returns_fractions_or_value_error(formula):
    """parse_formula documents ValueError (a short reason) as its only error."""
    try:
        parsed = parse_formula(formula)
    except ValueError as exc:
        assert type(exc).__module__ == "regenome.features.formula"
        assert str(exc) and one_line(str(exc)), str(exc)
        event("ValueError")
        return
    event("parsed")
    check_fractions(parsed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(FORMULAS, st.sampled_from(["Fe2O3", "Nd2Fe14B", "(Nd0.7Ce0.3)2Fe14B", "SmCo5"]),
                          st.sampled_from([None, 1.5, NAN, b"Fe"])), max_size=8))
def test_parse_formulas_matches_parse_formula_row_by_row(formulas):
    fractions, errors = parse_formulas(formulas)
    assert fractions.shape == (len(formulas), len(ELEMENTS)) and len(errors) == len(formulas)
    assert np.isfinite(fractions).all() and (fractions >= 0).all()
    for f, row, error in zip(formulas, fractions, errors):
        if error:
            assert not row.any() and one_line(error)
        else:
            assert math.isclose(row.sum(), 1.0, rel_tol=1e-9)
            assert row[[ELEMENT_INDEX[el] for el in parse_formula(f)]].all()


FRACTION_TEXT = st.one_of(st.floats(0.05, 1).map(lambda x: f"{x:.3g}"), st.sampled_from(["0", "1", "", "1e-9"]))
NDFEB_LIKE = st.one_of(
    st.builds(lambda a, b, x, y, n, co: f"({a}{x}{b}{y}){n}(Fe{co[0]}Co{co[1]})14B",
              st.sampled_from(RE_ELEMENTS), st.sampled_from(RE_ELEMENTS + ("Sm", "Y")), FRACTION_TEXT, FRACTION_TEXT,
              st.sampled_from(["", "2", "2.0", "1.8", "2.2", "3", "0.5"]),
              st.sampled_from([("", "0"), ("0.9", "0.1"), ("0.5", "0.5"), ("0.4", "0.6"), ("0", "1")])),
    st.builds(lambda a, b, x, y, fe, tail: f"{a}{x}{b}{y}Fe{fe}{tail}", st.sampled_from(RE_ELEMENTS),
              st.sampled_from(RE_ELEMENTS), AMOUNTS, AMOUNTS, st.sampled_from(["", "14", "79", "80.5", "40", "200"]),
              st.sampled_from(["", "B", "B6", "Co5B", "Co60B", "Cu0.1", "O"])),
)
# half of the draws near the 2:14:1 domain (hypothesis's one_of favours its simplest branch)
NDFEB_FORMULAS = st.integers(0, 3).flatmap(
    lambda i: NDFEB_LIKE if i < 2 else damaged(NDFEB_LIKE) if i == 2 else FORMULAS)


@settings(max_examples=300, deadline=None)
@given(NDFEB_FORMULAS)
def test_parse_ndfeb_formula_returns_fractions_or_value_error(formula):
    from regenome.predictors.formula_io import parse_ndfeb_formula

    try:
        x, co = parse_ndfeb_formula(formula)
    except ValueError as exc:  # documented: "Raises ValueError with a reason"
        assert str(exc) and one_line(str(exc)), str(exc)
        event("ValueError")
        return
    event("parsed")
    assert x.shape == (len(RE_ELEMENTS),) and np.isfinite(x).all() and (x >= 0).all()
    assert math.isclose(x.sum(), 1.0, rel_tol=1e-9)
    assert math.isfinite(co) and 0.0 <= co <= MAX_CO_FRACTION


# -- 3. prediction CSVs ----------------------------------------------------------------------------

VALID = st.sampled_from(["Nd2Fe14B", "SmCo5", "Fe3O4", "Gd", "(Nd0.7Ce0.3)2Fe14B", "Fe", " Fe2O3 "])
CELLS = st.one_of(VALID, FORMULA_LIKE, text(max_size=12), st.sampled_from(['"', '""', ",", "\n", "\r", "\r\n", "",
                                                                           " ", "\t", "\ufeff", "x,y", '"a"b']))


@st.composite
def csv_tables(draw, extra_columns: list[str], formulas: st.SearchStrategy[str]) -> tuple[list, list, dict]:
    """A header holding ``formula`` (plus known and made-up columns) and rows of generated cells."""
    extras = draw(st.lists(st.one_of(st.sampled_from(extra_columns), text(max_size=6)), max_size=2))
    header = list(extras)
    header.insert(draw(st.integers(0, len(header))), "formula")
    column_cells = {"formula": st.one_of(formulas, CELLS),
                    "process": st.one_of(st.sampled_from(ROUTES + (" sintered", "cast", "")), CELLS),
                    "temperature_K": st.one_of(st.sampled_from(["293", "393.5", " 400 ", "1e3", "nan", "inf", "-5",
                                                                "", "1_000", "abc", "600", "200"]), CELLS)}
    rows = draw(st.lists(st.tuples(*[column_cells.get(c, CELLS) for c in header]).map(list), max_size=6))
    style = {"quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
             "lineterminator": draw(st.sampled_from(["\n", "\r\n"])),
             "bom": draw(st.booleans())}
    return header, rows, style


def write_table(path: Path, header: list[str], rows: list[list[str]], style: dict) -> None:
    with path.open("w", newline="", encoding="utf-8-sig" if style["bom"] else "utf-8") as handle:
        writer = csv.writer(handle, quoting=style["quoting"], lineterminator=style["lineterminator"])
        writer.writerow(header)
        writer.writerows(rows)


def read_back(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def written_faithfully(path: Path, header: list[str], rows: list[list[str]]) -> bool:
    """Python's csv writer quotes a lone '\\r' only when it is part of the line terminator."""
    return read_back(path) == [header, *rows]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A scratch folder, the shipped models (not a user override), the curie-temperature model loaded once."""
    from regenome.surrogates.predict import predict_table

    folder = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REGENOME_MODELS_DIR", raising=False)
        (folder / "warm.csv").write_text("formula\nNd2Fe14B\n")
        predict_table("curie-temperature", folder / "warm.csv", folder / "warm-out.csv")
        yield folder


def check_output(out: Path, header: list[str], expected_rows: list[list[str]], outputs: list[str], summary):
    table = read_back(out)
    out_header, out_rows = table[0], table[1:]
    assert len(out_rows) == len(expected_rows) == summary.n_rows
    assert out_header[: len(header)] == header or "formula" in out_header  # pandas renames duplicate columns
    f_col, e_col = out_header.index("formula"), out_header.index("error")
    cols = [out_header.index(c) for c in outputs]
    stds = [out_header.index(c + "_std") for c in outputs]
    n_ok = 0
    for expected, row in zip(expected_rows, out_rows):
        assert len(row) == len(out_header), row
        assert row[f_col] == expected[header.index("formula")]
        if row[e_col] == "":
            n_ok += 1
            assert all(math.isfinite(float(row[c])) for c in cols), row
            assert all(float(row[s]) >= 0 and math.isfinite(float(row[s])) for s in stds), row
        else:
            assert all(row[c] == "" for c in cols + stds), row
    assert n_ok == summary.n_ok
    if currently_in_test_context():
        event("predicted rows", payload=n_ok)
        event("error rows", payload=len(expected_rows) - n_ok)
    assert f"predicted {n_ok} of {len(expected_rows)} rows" in summary.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=csv_tables(["error", "Tc_K", "Tc_K_std", "lab_id"], st.one_of(VALID, structured_formulas())))
def test_predict_table_rows_are_predicted_or_flagged(work, table):
    from regenome.surrogates.predict import predict_table

    header, rows, style = table
    src, out = work / "in.csv", work / "out.csv"
    write_table(src, header, rows, style)
    if not written_faithfully(src, header, rows):
        event("lone CR, skipped")
        return  # a lone '\r' written unquoted: not the table we meant (see test_lone_cr_cells_keep_rows_aligned)
    if b"\x00" in src.read_bytes():
        event("NUL")
        with pytest.raises(InputDataError):
            predict_table("curie-temperature", src, out)
        return
    summary = predict_table("curie-temperature", src, out)
    # pandas skips blank lines: a single-column row of spaces and tabs written without quotes
    blank = len(header) == 1 and style["quoting"] == csv.QUOTE_MINIMAL
    expected = [r for r in rows if not (blank and r[0] and not r[0].strip(" \t"))]
    check_output(out, header, expected, ["Tc_K"], summary)
    tc = read_back(out)[0].index("Tc_K")
    for row in read_back(out)[1:]:
        assert row[tc] == "" or float(row[tc]) > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=csv_tables(["process", "temperature_K", "error", "Br_T", "note"], NDFEB_LIKE))
def test_ndfeb_predict_csv_rows_are_predicted_or_flagged(work, table):
    from regenome.predictors.formula_io import predict_csv

    header, rows, style = table
    src, out = work / "in-ndfeb.csv", work / "out-ndfeb.csv"
    write_table(src, header, rows, style)
    if not written_faithfully(src, header, rows):
        return
    summary = predict_csv("ndfeb", src, out)
    check_output(out, header, rows, list(PROPERTIES), summary)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=80),
                     st.lists(st.lists(CELLS, max_size=4).map(",".join), max_size=5).map(lambda ls: "\n".join(ls))
                     .map(lambda s: ("formula,process\n" + s).encode("utf-8")),
                     text(max_size=60).map(lambda s: ("formula\n" + s).encode("utf-8"))))
def test_ragged_and_binary_files_fail_cleanly(work, raw):
    """Rows with too many or too few cells, stray quotes, binary junk: success or an InputDataError."""
    from regenome.predictors.formula_io import predict_csv
    from regenome.surrogates.predict import predict_table

    src = work / "raw.csv"
    src.write_bytes(raw)
    for run in (lambda: predict_table("curie-temperature", src, work / "raw-out.csv"),
                lambda: predict_csv("ndfeb", src, work / "raw-ndfeb.csv")):
        try:
            summary = run()
        except InputDataError as exc:
            assert one_line(str(exc)), str(exc)
            continue
        assert 0 <= summary.n_ok <= summary.n_rows


def test_lone_cr_cells_keep_rows_aligned(work):
    """A cell holding a lone carriage return (valid when quoted) must be quoted again in the output."""
    from regenome.predictors.formula_io import predict_csv
    from regenome.surrogates.predict import predict_table

    src = work / "cr.csv"
    src.write_bytes(b'formula,note\n"Fe\rO",a\nNd2Fe14B,"x\ry"\n')
    rows = [["Fe\rO", "a"], ["Nd2Fe14B", "x\ry"]]
    summary = predict_table("curie-temperature", src, work / "cr-out.csv")
    check_output(work / "cr-out.csv", ["formula", "note"], rows, ["Tc_K"], summary)
    assert [r[1] for r in read_back(work / "cr-out.csv")[1:]] == ["a", "x\ry"]
    summary = predict_csv("ndfeb", src, work / "cr-ndfeb.csv")
    check_output(work / "cr-ndfeb.csv", ["formula", "note"], rows, list(PROPERTIES), summary)


def test_extra_cells_are_not_taken_for_an_index(work):
    """pandas would make the first cell of 'Nd2Fe14B,x' the row index and predict 'x' as the formula."""
    from regenome.predictors.formula_io import predict_csv
    from regenome.surrogates.predict import predict_table

    src = work / "extra.csv"
    src.write_text("formula\nNd2Fe14B,x\nFe,y\n")
    with pytest.raises(InputDataError, match="more cells than the header"):
        predict_table("curie-temperature", src, work / "extra-out.csv")
    src.write_text("formula,note\nNd2Fe14B,a,b\nNd2Fe14B,c\nNd2Fe14B,d,\n")
    summary = predict_csv("ndfeb", src, work / "extra-ndfeb.csv")
    rows = read_back(work / "extra-ndfeb.csv")
    assert summary.n_rows == 3 and summary.n_ok == 2  # empty trailing cells are harmless
    assert "more cells than the header" in rows[1][-1] and rows[2][-1] == rows[3][-1] == ""


def test_nul_bytes_are_refused_not_truncated(work):
    """pandas would cut 'F\\x00e' to 'F' and predict fluorine: a NUL byte makes the file unreadable."""
    from regenome.surrogates.predict import predict_table

    src = work / "nul.csv"
    src.write_bytes(b"formula\nF\x00e\n")
    with pytest.raises(InputDataError, match="NUL"):
        predict_table("curie-temperature", src, work / "nul-out.csv")


def test_a_folder_is_not_a_csv_file(work):
    from regenome.predictors.formula_io import predict_csv
    from regenome.surrogates.predict import predict_table

    with pytest.raises(InputDataError):
        predict_table("curie-temperature", work, work / "dir-out.csv")
    with pytest.raises(InputDataError):
        predict_csv("ndfeb", work, work / "dir-out.csv")
