"""Render the batch-file JSON Schemas into docs/reference/batch-file.md (and the mkdocs build hooks).

The page is generated, never edited by hand: it reads the published schemas
``docs/batch-schema.<family>.json`` (written by ``regenome schema FAMILY`` and checked against the
code by ``tests/test_spec.py``) and the property names each family can predict, and writes one
table per TOML table: key, type, default, allowed values and description. ``tests/test_docs.py``
fails when the page is out of date.

Usage::

    .venv/bin/python scripts/make_docs_reference.py           # rewrite the page
    .venv/bin/python scripts/make_docs_reference.py --check   # exit 1 if it is out of date

``mkdocs.yml`` also loads this file as its ``hooks``: the build stops when the page is out of date
(:func:`on_pre_build`), and links from a page to repository files outside ``docs/`` (which work on a
code host but would be dead links on the site) are shown as the file's path instead
(:func:`on_page_markdown`); every other broken link still fails ``mkdocs build --strict``.
Sphinx roles in docstrings (``:func:`name```) are shown as plain code (:func:`on_page_content`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
OUT = DOCS / "reference" / "batch-file.md"
FAMILIES = ("ndfeb", "phosphor")

#: What a JSON Schema cannot say about a table, keyed by the schema's ``title`` of its definition.
#: Keep these short; everything else on the page comes from the schemas.
NOTES: dict[str, str] = {
    "RareEarthSublattice": (
        "One key per element, `Nd = [0.3, 1.0]`, next to `step`. Every fraction is a multiple of "
        "`step`, and `1/step` must be a whole number (smallest step {min_step}); the bounds must be "
        "able to sum to one."
    ),
    "TransitionMetalSublattice": (
        "One key per element, `Co = [0.0, 0.1]`, next to `step` (at most {max_co} of the Fe sites). "
        "Without this table every candidate is Co-free."
    ),
    "Activators": (
        "Name each activator in quotes (`\"Ce3+\" = [0.01, 0.06]`); give either `steps` or "
        "`step`, not both."
    ),
}


def _code(text: str) -> str:
    """reST double backticks -> Markdown code; escape table pipes; one line."""
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    return " ".join(text.replace("|", "\\|").split())


def _num(value: float | int) -> str:
    """A number as written in a TOML file: 10000000, 0.05, -1."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value) if isinstance(value, int) else f"{value:g}"


def _sentence(text: str) -> str:
    """Drop a leading ``[table]``: label (the heading says it) and start with a capital."""
    text = re.sub(r"^``\[[^\]]*\]``:?\s*\.?", "", text).strip()
    return text[:1].upper() + text[1:]


def _value(value: Any) -> str:
    """A TOML-looking literal for a default or an allowed value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (list, tuple)):
        return "`[" + ", ".join(json.dumps(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{json.dumps(value)}`"
    return f"`{_num(value)}`"


class Renderer:
    """Render one family's schema; ``$ref`` resolves against its ``$defs``."""

    def __init__(self, family: str, schema: dict, known: dict[str, tuple[str, ...]] | None = None,
                 consts: dict | None = None, prefix: str | None = None):
        self.family = family
        self.schema = schema
        self.defs = schema.get("$defs", {})
        self.known = known or {}  # {family: property names}: one entry, or all for shared tables
        self.consts = consts or {}
        self.prefix = family if prefix is None else prefix

    def resolve(self, node: dict) -> dict:
        ref = node.get("$ref")
        if ref is None:
            return node
        name = ref.rsplit("/", 1)[-1]
        return self.defs[name]

    def type_of(self, node: dict) -> str:
        node = self.resolve(node)
        if "anyOf" in node:
            kinds = [self.type_of(n) for n in node["anyOf"] if n.get("type") != "null"]
            return " or ".join(kinds)
        if "enum" in node:
            return node.get("type", "string")
        kind = node.get("type")
        if kind == "array":
            if "prefixItems" in node:
                return "[" + ", ".join(self.type_of(n) for n in node["prefixItems"]) + "]"
            items = node.get("items")
            return f"array of {self.type_of(items)}" if items else "array"
        if kind == "object":
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                inner = self.resolve(extra)
                what = "table" if "properties" in inner else self.type_of(extra)
                return f"table of name = {what}"
            return "table"
        return {"number": "number", "integer": "integer", "string": "string",
                "boolean": "boolean"}.get(kind, kind or "any")

    def allowed(self, node: dict) -> str:
        node = self.resolve(node)
        parts = []
        enum = node.get("enum") or (node.get("items") or {}).get("enum")
        if enum:
            prefix = "one or more of " if node.get("type") == "array" else ""
            parts.append(prefix + ", ".join(_value(v) for v in enum))
        lo, hi = node.get("minimum"), node.get("maximum")
        xlo = node.get("exclusiveMinimum")
        if xlo is not None and hi is not None:
            parts.append(f"{_num(xlo)} < x ≤ {_num(hi)}")
        elif lo is not None and hi is not None:
            parts.append(f"{_num(lo)} ≤ x ≤ {_num(hi)}")
        elif lo is not None:
            parts.append(f"≥ {_num(lo)}")
        elif xlo is not None:
            parts.append(f"> {_num(xlo)}")
        elif hi is not None:
            parts.append(f"≤ {_num(hi)}")
        if "prefixItems" in node:
            inner = [self.allowed(n) for n in node["prefixItems"]]
            if any(inner) and len(set(inner)) == 1:
                parts.append(f"each {inner[0]}")
        if "minItems" in node and "prefixItems" not in node:
            parts.append(f"at least {node['minItems']} item{'s' if node['minItems'] != 1 else ''}")
        if "maxLength" in node:
            parts.append(f"at most {node['maxLength']} characters")
        if "pattern" in node:
            parts.append(f"matches `{node['pattern']}`")
        return "; ".join(parts)

    def table_rows(self, node: dict) -> list[str]:
        required = set(node.get("required", []))
        rows = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
        for key, sub in node.get("properties", {}).items():
            target = self.resolve(sub)
            if "default" in sub:
                default = _value(sub["default"])
            elif key in required:
                default = "**required**"
            else:
                default = "-"
            desc = sub.get("description") or (target.get("description") if "$ref" in sub else "") or ""
            rows.append(f"| `{key}` | {self.type_of(sub)} | {default} | {self.allowed(sub)} | {_code(desc)} |")
        return rows

    def note(self, title: str) -> list[str]:
        """The hand-written note for a table (``NOTES``), with this family's constants filled in."""
        text = NOTES.get(title)
        return [_code(text.format(**self.consts)), ""] if text else []

    def properties(self, what: str) -> list[str]:
        """One paragraph per family naming the properties a target or objective may use."""
        out = []
        for family, names in self.known.items():
            label = f"{what} (`{family}`)" if len(self.known) > 1 else what
            out += [f"{label}: " + ", ".join(f"`{p}`" for p in names) + ".", ""]
        return out

    def section(self, path: str, sub: dict, required: bool, level: int) -> list[str]:
        """``[path]`` heading, its description and rows; sub-tables follow as their own sections."""
        node = self.resolve(sub)
        title = node.get("title", path)
        hashes = "#" * level
        anchor = "-".join(filter(None, [self.prefix, path.replace(".", "-").replace("_", "-")]))
        out = [f"{hashes} `[{path}]` {{#{anchor}}}", ""]
        desc = _sentence(node.get("description", ""))
        head = "Required table." if required else "Optional table."
        out += [f"{head} {_code(desc)}".strip(), ""]
        out += self.note(title)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and "enum" in extra:  # e.g. [codopants]: activator -> compensator
            keys = node.get("propertyNames", {}).get("enum")
            out += [("Each key is one of " + ", ".join(f"`{k}`" for k in keys) if keys else "Each key is a name")
                    + " and its value one of " + ", ".join(f"`{v}`" for v in extra["enum"]) + ".", ""]
            return out
        if isinstance(extra, dict):  # e.g. [targets]: any property name -> { min, max }
            inner = self.resolve(extra)
            out += [f"Each key is a property name and its value a table. {_code(inner.get('description', ''))}", ""]
            if self.known and path == "targets":
                out += self.properties("Property names")
            out += self.table_rows(inner) + [""]
            return out
        nested = [(k, v) for k, v in node.get("properties", {}).items()
                  if "properties" in self.resolve(v) and "$ref" in v]
        flat = {k: v for k, v in node.get("properties", {}).items() if (k, v) not in nested}
        if flat:
            out += self.table_rows({**node, "properties": flat}) + [""]
        if path == "ranking" and self.known:
            out += self.properties("Properties an objective may name")
        for key, child in nested:
            out += self.section(f"{path}.{key}", child, key in node.get("required", []), level + 1)
        return out

    def render(self, keys: list[str], level: int = 3) -> list[str]:
        required = set(self.schema.get("required", []))
        out = []
        for key in keys:
            out += self.section(key, self.schema["properties"][key], key in required, level)
        return out


def _resolved_equal(renderers: list[Renderer], key: str) -> bool:
    """A top-level table is shared when its fully resolved schema is the same in every family."""
    def expand(r: Renderer, node):
        if isinstance(node, dict):
            node = r.resolve(node)
            return {k: expand(r, v) for k, v in node.items()}
        if isinstance(node, list):
            return [expand(r, v) for v in node]
        return node

    first = renderers[0]
    if any(key not in r.schema["properties"] for r in renderers):
        return False
    ref = expand(first, first.schema["properties"][key])
    return all(expand(r, r.schema["properties"][key]) == ref for r in renderers[1:]) and \
        all((key in r.schema.get("required", [])) == (key in first.schema.get("required", []))
            for r in renderers)


def render(schemas: dict[str, dict], known: dict[str, tuple[str, ...]] | None = None,
           consts: dict[str, dict] | None = None) -> str:
    """The whole page for ``{family: schema}``; pure, so the test can call it."""
    known = known or {}
    consts = consts or {}
    renderers = [Renderer(f, s, {f: known[f]} if f in known else {}, consts.get(f)) for f, s in schemas.items()]
    order = list(renderers[0].schema["properties"])
    shared = [k for k in order if _resolved_equal(renderers, k)] if len(renderers) > 1 else []
    names = ", ".join(f"`{f}`" for f in schemas)
    lines = [
        "<!-- Generated by scripts/make_docs_reference.py from docs/batch-schema.*.json: do not edit. -->",
        "",
        "# Batch-file reference",
        "",
        "A screening batch is one TOML file. `[batch] family` picks the family "
        f"({names}), and the family decides which other tables are allowed. Validation is strict: "
        "an unknown key, a wrong type or a value out of range is an error naming the file, the key "
        "and its line (`regenome validate BATCH.toml` checks a file without running it; "
        "[Troubleshooting](../troubleshooting.md) lists every message).",
        "",
        "This page is generated from the JSON Schemas that `regenome schema FAMILY` prints: " + ", ".join(
            f"[`batch-schema.{f}.json`](../batch-schema.{f}.json)" for f in schemas) + ". "
        "Rerun `python scripts/make_docs_reference.py` after changing a batch model; "
        "`tests/test_docs.py` fails while the page is out of date.",
        "",
        "Columns: **default** is used when the key is left out (**required** keys have none); "
        "**allowed** lists the values or range the parser accepts.",
        "",
    ]
    if shared:
        lines += ["## Tables of every family", "",
                  "These tables mean the same in every batch file.", ""]
        first = renderers[0]
        lines += Renderer(first.family, first.schema, known, prefix="").render(shared)
    for r in renderers:
        title = r.schema.get("title", r.family)
        rest = [k for k in r.schema["properties"] if k not in shared]
        req = [k for k in r.schema.get("required", []) if k in r.schema["properties"]]
        lines += [f"## Family `{r.family}`", "",
                  f"{_code(r.schema.get('description', title))} Required tables: "
                  + ", ".join(f"`[{k}]`" for k in req) + ".", ""]
        lines += r.render(rest)
    return "\n".join(lines).rstrip() + "\n"


def load(families=FAMILIES) -> tuple[dict, dict, dict]:
    """Published schemas, the properties each family predicts, and constants for the notes."""
    from regenome.families import get_family
    from regenome.families.ndfeb import MIN_STEP
    from regenome.predictors.ndfeb import MAX_CO_FRACTION, RE_ELEMENTS, TM_ELEMENTS

    schemas = {f: json.loads((DOCS / f"batch-schema.{f}.json").read_text()) for f in families}
    known = {f: tuple(get_family(f).spec_model.known_properties) for f in families}
    ndfeb = {"re_elements": ", ".join(RE_ELEMENTS), "tm_elements": ", ".join(TM_ELEMENTS),
             "min_step": f"{MIN_STEP:g}", "max_co": f"{MAX_CO_FRACTION:g}"}
    return schemas, known, {"ndfeb": ndfeb}


# --- mkdocs hooks (mkdocs.yml: hooks: [scripts/make_docs_reference.py]) ---------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.M | re.S)
_LINK = re.compile(r"\[([^\]\n]+)\]\((\.\./[^)\s]+)\)")


def on_pre_build(config, **kwargs) -> None:
    """Stop the build when docs/reference/batch-file.md is not what the schemas render to."""
    if not OUT.is_file() or OUT.read_text() != render(*load()):
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/make_docs_reference.py")


def outside_links(markdown: str, page_dir: Path, docs_dir: Path, root: Path = ROOT) -> str:
    """Replace ``[text](../path)`` links that leave ``docs_dir`` for an existing repository file by
    the text (plus the path in code when the text does not already name it); fenced code is kept."""

    def swap(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        path = (page_dir / target.split("#", 1)[0]).resolve()
        if path.is_relative_to(docs_dir.resolve()) or not path.is_relative_to(root) or not path.exists():
            return match.group(0)  # inside docs/ (mkdocs checks it) or missing: leave it to mkdocs
        rel = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
        return text if rel.rstrip("/") in text else f"{text} (`{rel}` in the source tree)"

    parts, last = [], 0
    for fence in _FENCE.finditer(markdown):
        parts += [_LINK.sub(swap, markdown[last:fence.start()]), fence.group(0)]
        last = fence.end()
    parts.append(_LINK.sub(swap, markdown[last:]))
    return "".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Show links to repository files outside docs/ as their path (the site has no source tree)."""
    docs_dir = Path(config["docs_dir"])
    return outside_links(markdown, (docs_dir / page.file.src_path).parent, docs_dir)


_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const|py:\w+):(?=<code>)")


def on_page_content(html: str, page, config, files) -> str:
    """Docstrings use Sphinx roles (:func:`select`); show them as plain code, not ":func:select"."""
    return _ROLE.sub("", html)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render(*load())
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            print(f"{args.out} is out of date: run python scripts/make_docs_reference.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
