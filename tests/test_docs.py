"""The documentation site: the generated batch-file reference is current and the nav is complete.

Fast and independent of mkdocs (``make docs`` runs the strict build itself).
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from conftest import ROOT

DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("make_docs_reference", ROOT / "scripts" / "make_docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batch_file_reference_is_current():
    gen = _generator()
    published = (DOCS / "reference" / "batch-file.md").read_text()
    assert published == gen.render(*gen.load()), (
        "docs/reference/batch-file.md is out of date: run python scripts/make_docs_reference.py")


def test_reference_names_every_key_of_every_schema():
    gen = _generator()
    schemas, known, consts = gen.load()
    text = gen.render(schemas, known, consts)
    for family, schema in schemas.items():
        assert f"## Family `{family}`" in text
        for key in schema["properties"]:
            assert f"`[{key}]`" in text, (family, key)
        for definition in schema["$defs"].values():
            for key in definition.get("properties", {}):  # a row, or a sub-table of its own
                assert f"| `{key}` |" in text or f".{key}]`" in text, (family, definition["title"], key)


def test_renderer_on_a_small_schema():
    gen = _generator()
    schema = {
        "title": "Toy", "description": "A toy batch.", "type": "object", "required": ["batch"],
        "properties": {"batch": {"$ref": "#/$defs/Info"}},
        "$defs": {"Info": {"title": "Info", "description": "``[batch]``: what it is.", "type": "object",
                           "required": ["name"],
                           "properties": {
                               "name": {"type": "string", "description": "A | name."},
                               "n": {"type": "integer", "default": 10_000_000, "minimum": 1, "maximum": 10_000_000},
                               "mode": {"type": "string", "enum": ["a", "b"], "default": "a"}}}},
    }
    text = gen.render({"toy": schema})
    assert "### `[batch]` {#toy-batch}" in text and "Required table. What it is." in text
    assert "| `name` | string | **required** |  | A \\| name. |" in text
    assert "| `n` | integer | `10000000` | 1 ≤ x ≤ 10000000 |" in text
    assert '| `mode` | string | `"a"` | `"a"`, `"b"` |' in text


def test_links_out_of_docs_become_paths(tmp_path):
    gen = _generator()
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "a.toml").write_text("")
    text = ("[`workflows/a.toml`](../workflows/a.toml), [the file](../workflows/a.toml), "
            "[gone](../workflows/gone.toml), [page](sub/x.md)\n```\n[`w`](../workflows/a.toml)\n```\n")
    out = gen.outside_links(text, docs, docs, root=tmp_path)
    assert out.startswith("`workflows/a.toml`, the file (`workflows/a.toml` in the source tree), "
                          "[gone](../workflows/gone.toml), [page](sub/x.md)")
    assert "[`w`](../workflows/a.toml)" in out  # fenced code is left alone
    html = "see :func:<code>select</code> and :class:<code>Host</code>, not a:b"
    assert gen.on_page_content(html, None, None, None) == "see <code>select</code> and <code>Host</code>, not a:b"


def _nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return re.findall(r"^\s*-\s*(?:.*:\s+)?([\w./-]+\.md)\s*$", nav, flags=re.M)


def test_every_nav_page_exists_and_every_page_is_in_the_nav():
    pages = _nav_pages()
    assert "index.md" in pages and "reference/batch-file.md" in pages
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    orphans = [p for p in on_disk if p not in pages]
    assert not orphans, f"pages missing from the mkdocs.yml nav: {orphans}"


@pytest.mark.parametrize("page", ["tutorials/ndfeb.md", "tutorials/phosphor.md"])
def test_tutorials_use_shipped_workflows(page):
    text = (DOCS / page).read_text()
    for path in re.findall(r"workflows/[\w.-]+\.toml", text):
        assert (ROOT / path).is_file(), f"{page} names {path}, which is not shipped"


def test_api_reference_names_existing_modules():
    text = (DOCS / "reference" / "api.md").read_text()
    modules = re.findall(r"^::: ([\w.]+)", text, flags=re.M)
    assert modules
    for name in modules:  # a module, or a member of one (regenome.structures.hosts.Host)
        parts = name.split(".")
        paths = [ROOT / "src" / "/".join(parts[:n]) for n in range(len(parts), 1, -1)]
        assert any(p.with_suffix(".py").is_file() or (p / "__init__.py").is_file() for p in paths), name
