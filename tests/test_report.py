"""Tests of :mod:`regenome.report` (the self-contained HTML report)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regenome.report import REQUIRED_COLUMNS, write_report

HOSTILE_ID = "<script>alert(1)</script>&x"
BATCH_TEXT = '[batch]\nname = "ce-la <sweep> & friends"\nseed = 7\n'
N_ROWS = 60
N_SHOW = 12
PLOT_MARK = '<img src="data:image/png;base64,'

MINIMAL_CIF = """data_Fe
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   3.0
_cell_length_b   3.0
_cell_length_c   3.0
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Fe0  Fe  0.0  0.0  0.0  1
"""


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows (maximise every column), by brute force."""
    dominated = ((points[None, :, :] >= points[:, None, :]).all(-1)
                 & (points[None, :, :] > points[:, None, :]).any(-1)).any(1)
    return ~dominated


def make_ranked(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """Synthetic ranked table with realistic Ce/La-substituted Nd2Fe14B values."""
    rng = np.random.default_rng(seed)
    ce = rng.uniform(0, 0.4, n)
    la = rng.uniform(0, 0.15, n)
    pr = rng.uniform(0, 0.2, n)
    dy = rng.choice([0.0, 0.02, 0.04], n)
    tb = np.zeros(n)
    nd = 1 - ce - la - pr - dy - tb
    cela = ce + la
    bh = 400 - 350 * cela - 1200 * dy + rng.normal(0, 15, n)
    hcj = 1300 - 900 * cela + 4000 * dy + rng.normal(0, 60, n)
    ci = (bh / 400 + hcj / 1300) / 2
    df = pd.DataFrame(
        {
            "candidate_id": [f"ndfeb-{i:05d}" for i in range(n)],
            "formula": [
                f"(Nd{a:.2f}Ce{b:.2f}La{c:.2f})2Fe14B" for a, b, c in zip(nd, ce, la, strict=True)
            ],
            "process": rng.choice(["sintered", "hot-deformed", "GBD-sintered"], n),
            "Nd_fraction": nd,
            "Pr_fraction": pr,
            "Ce_fraction": ce,
            "La_fraction": la,
            "Dy_fraction": dy,
            "Tb_fraction": tb,
            "Co_fraction": rng.choice([0.0, 0.03], n),
            "ce_la_fraction": cela,
            "critical_cut": cela > 0.2,
            "Br_T": 1.45 - 0.5 * cela,
            "Br_T_std": rng.uniform(0.01, 0.04, n),
            "Hcj_kA_m": hcj,
            "Hcj_kA_m_std": rng.uniform(20, 80, n),
            "BHmax_kJ_m3": bh,
            "BHmax_kJ_m3_std": rng.uniform(5, 20, n),
            "Tc_K": 585 - 120 * cela,
            "Tc_K_std": rng.uniform(2, 8, n),
            "comprehensive_index": ci,
            "comprehensive_index_std": rng.uniform(0.01, 0.05, n),
            "raw_material_cost_usd_kg": 60 - 80 * cela + 300 * dy,
            "meets_targets": (bh >= 279) & (hcj >= 955),
            "p_meets_targets": rng.uniform(0, 1, n),
        }
    )
    df["pareto_rank"] = np.where(pareto_front(df[["BHmax_kJ_m3", "Hcj_kA_m"]].to_numpy()), 1, 2)
    df = df.sort_values("comprehensive_index", ascending=False, ignore_index=True)
    df.insert(0, "rank", np.arange(1, n + 1))
    df.loc[0, "candidate_id"] = HOSTILE_ID
    return df


def make_cif() -> str:
    try:
        from pymatgen.core import Lattice, Structure
    except ImportError:  # pragma: no cover
        return MINIMAL_CIF
    return Structure(Lattice.cubic(3), ["Fe"], [[0, 0, 0]]).to(fmt="cif")


def report_kwargs(ranked: pd.DataFrame, cif: str) -> dict:
    ids = list(ranked["candidate_id"].head(2))
    return dict(
        batch_name="ce-la-sweep",
        batch_text=BATCH_TEXT,
        counts={
            "generated": 1200,
            "passing_constraints": 300,
            "predicted": 300,
            "with_structures": 50,
        },
        ranked=ranked,
        top_structures={
            cid: {
                "cif": cif,
                "n_sites": 68,
                "lattice_abc_A": [8.80, 8.80, 12.20],
                "site_occupancy": {"R(4f)": {"Nd": 3, "Ce": 1}, "R(4g)": {"Nd": 4}},
                "recipe": {"prototype": "Nd2Fe14B", "substitutions": {"Nd": {"Ce": 0.25}}},
            }
            for cid in ids
        },
        provenance={
            "regenome_version": "0.1.0",
            "batch_sha256": "ab" * 32,
            "seed": 7,
            "models": {"ndfeb-hcj": {"version": "1.0", "sha256": "cd" * 32}},
            "start": "2025-01-01T10:00:00Z",
            "end": "2025-01-01T10:05:00Z",
            "packages": {
                "numpy": "2.0",
                "pandas": "2.2",
                "matplotlib": "3.9",
                "h5py": "3.11",
                "pymatgen": "2024.6",
            },
        },
        targets={"BHmax_kJ_m3": {"min": 279}, "Hcj_kA_m": {"min": 955}},
        objectives=["max:BHmax_kJ_m3", "max:Hcj_kA_m", "min:raw_material_cost_usd_kg"],
        timings={"generate": 1.5, "predict": 12.25, "rank": 0.4},
        n_show=N_SHOW,
    )


class _TagChecker(HTMLParser):
    """Checks that non-void elements are properly nested and closed."""

    VOID = {"meta", "img", "br", "hr", "input", "link", "col", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def assert_well_formed(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, checker.stack


@pytest.fixture(scope="module")
def ranked() -> pd.DataFrame:
    return make_ranked()


@pytest.fixture(scope="module")
def cif() -> str:
    return make_cif()


@pytest.fixture(scope="module")
def report(tmp_path_factory, ranked, cif) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert write_report(out, **report_kwargs(ranked, cif)) == out
    return out


@pytest.fixture(scope="module")
def text(report) -> str:
    return report.read_text(encoding="utf-8")


def test_one_self_contained_file(report, text):
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # no temp files left
    assert_well_formed(text)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<link" not in text and "<script" not in text


def test_plots_embedded(text):
    assert text.count(PLOT_MARK) >= 4  # funnel, Pareto, composition, cost
    for b64 in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)"', text):
        assert base64.b64decode(b64).startswith(b"\x89PNG")


def test_shortlist(text, ranked):
    table = re.search(r'<table class="shortlist">(.*?)</table>', text, re.S).group(1)
    body = table.split("<tbody>")[1]
    assert body.count("<tr") == N_SHOW
    for cid in ranked["candidate_id"].iloc[1:N_SHOW]:
        assert f"<code>{cid}</code>" in body
    assert ranked["candidate_id"].iloc[N_SHOW] not in body
    for unit in ("(T)", "(kA/m)", "(kOe)", "(kJ/m³)", "(MGOe)", "(K)", "(USD/kg)"):
        assert unit in table
    row = ranked.iloc[1]
    bh = f"{row.BHmax_kJ_m3:,.0f} ± {row.BHmax_kJ_m3_std:,.0f}"
    bh_mgoe = f"{row.BHmax_kJ_m3 / 7.9577:.1f} ± {row.BHmax_kJ_m3_std / 7.9577:.1f}"
    hcj_koe = f"{row.Hcj_kA_m / 79.577:.1f} ± {row.Hcj_kA_m_std / 79.577:.1f}"
    assert bh in body and bh_mgoe in body and hcj_koe in body
    assert f"{100 * row.p_meets_targets:.0f} %" in body


def test_goals_funnel_and_provenance(text):
    assert "at least 279 kJ/m³ (35.1 MGOe)" in text
    assert "at least 955 kA/m (12.0 kOe)" in text
    assert "max:BHmax_kJ_m3" in text
    assert "passing constraints" in text and "1,200" in text
    assert "ab" * 32 in text and "cd" * 32 in text
    assert "predict" in text and "12.25" in text


def test_cif_download(text, ranked, cif):
    cid = ranked["candidate_id"].iloc[1]
    m = re.search(
        rf'<a class="dl" download="{cid}\.cif" href="data:chemical/x-cif;base64,([^"]+)"', text
    )
    assert m, "CIF download link missing"
    assert base64.b64decode(m.group(1)).decode("utf-8") == cif
    assert "<details><summary>Recipe (JSON)</summary>" in text
    assert "R(4f)" in text and "Nd 3 · Ce 1" in text


def test_escaping(text):
    assert "<script>" not in text and "<sweep>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;x" in text
    assert "&lt;sweep&gt; &amp; friends" in text


@pytest.mark.parametrize("empty", [pd.DataFrame(), pd.DataFrame(columns=list(REQUIRED_COLUMNS))])
def test_empty_ranked(tmp_path, empty, cif):
    kwargs = report_kwargs(make_ranked(), cif)
    kwargs.update(ranked=empty, top_structures={})
    out = write_report(tmp_path / "sub" / "report.html", **kwargs)
    text = out.read_text(encoding="utf-8")
    assert_well_formed(text)
    assert "No candidate passed the screening" in text
    assert text.count(PLOT_MARK) == 1  # only the funnel
    assert 'class="shortlist"' not in text


def test_bad_input(tmp_path, ranked, cif):
    kwargs = report_kwargs(ranked, cif)
    with pytest.raises(ValueError, match="'n_show' parameter"):
        write_report(tmp_path / "r.html", **{**kwargs, "n_show": -1})
    with pytest.raises(ValueError, match="missing \\['Tc_K'\\]"):
        write_report(tmp_path / "r.html", **{**kwargs, "ranked": ranked.drop(columns="Tc_K")})
    assert not list(tmp_path.iterdir())


def test_atomic_write_keeps_old_file(tmp_path, ranked, cif, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_report(out, **report_kwargs(ranked.head(5), cif))
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = report.resolve().as_uri()
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "<title>regenome screening report — ce-la-sweep</title>" in dom
    assert dom.count(PLOT_MARK) >= 4
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,2000", url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
