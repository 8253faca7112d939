"""Self-contained HTML report of a finished screening run.

The report is a single ``report.html`` file: CSS is inline, plots are embedded
as base64 PNG images and CIF files as ``data:`` download links, so it can be
mailed or archived without any other file and opened offline.

Only :func:`write_report` is public. Plotting uses :class:`matplotlib.figure.Figure`
directly (no ``pyplot``, no global state) and matplotlib is imported lazily.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ReportContent", "write_report"]

#: 1 kOe expressed in kA/m.
KA_M_PER_KOE = 79.577
#: 1 MGOe expressed in kJ/m3.
KJ_M3_PER_MGOE = 7.9577

REQUIRED_COLUMNS: tuple[str, ...] = (
    "rank",
    "candidate_id",
    "formula",
    "process",
    "Nd_fraction",
    "Pr_fraction",
    "Ce_fraction",
    "La_fraction",
    "Dy_fraction",
    "Tb_fraction",
    "Co_fraction",
    "ce_la_fraction",
    "Br_T",
    "Br_T_std",
    "Hcj_kA_m",
    "Hcj_kA_m_std",
    "BHmax_kJ_m3",
    "BHmax_kJ_m3_std",
    "Tc_K",
    "Tc_K_std",
    "comprehensive_index",
    "comprehensive_index_std",
    "raw_material_cost_usd_kg",
    "meets_targets",
    "p_meets_targets",
    "pareto_rank",
)

# Human-readable label and unit of each known quantity, used for targets and objectives.
_QUANTITIES: dict[str, tuple[str, str]] = {
    "Br_T": ("remanence B<sub>r</sub>", "T"),
    "Hcj_kA_m": ("coercivity H<sub>cj</sub>", "kA/m"),
    "BHmax_kJ_m3": ("energy product (BH)<sub>max</sub>", "kJ/m³"),
    "Tc_K": ("Curie temperature T<sub>c</sub>", "K"),
    "comprehensive_index": ("comprehensive index", ""),
    "raw_material_cost_usd_kg": ("raw-material cost", "USD/kg"),
    "ce_la_fraction": ("Ce+La fraction of the rare-earth site", ""),
    "p_meets_targets": ("probability of meeting all targets", ""),
}
_RE_ELEMENTS = ("Nd", "Pr", "Ce", "La", "Dy", "Tb")

_CSS = """
:root{--fg:#1d232b;--muted:#5d6875;--line:#d8dee6;--zebra:#f4f6f9;--accent:#1f5fa8;
--ok:#1b7f3b;--bad:#a33}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--fg);background:#fff}
main{max-width:1280px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;
border-bottom:2px solid var(--line)}h3{font-size:15px;margin:0 0 6px}
.sub{color:var(--muted);margin:0 0 18px}
nav{font-size:13px;margin:0 0 8px}nav a{color:var(--accent);margin-right:14px;text-decoration:none}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.stat{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:130px}
.stat b{display:block;font-size:20px}.stat span{color:var(--muted);font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{padding:4px 7px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#e9eef4;font-weight:600}tbody tr:nth-child(even){background:var(--zebra)}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
small,.muted{color:var(--muted)}td small,th small{display:block;font-size:11px;font-weight:400}
.nw{white-space:nowrap}th.num{white-space:normal;min-width:4em}.card td.num{white-space:normal}
.yes{color:var(--ok);font-weight:600}.no{color:var(--bad)}
figure{margin:18px 0}figure img{display:block;width:100%;max-width:760px;height:auto;
border:1px solid var(--line);border-radius:4px}
figcaption{color:var(--muted);font-size:12.5px;max-width:760px;margin-top:4px}
pre{background:var(--zebra);border:1px solid var(--line);border-radius:4px;padding:10px;
overflow:auto;font-size:12px;max-height:420px}
code{font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px 14px}
.card table{width:100%}.card .formula{font-size:15px;font-weight:600}
a.dl{display:inline-block;margin:4px 0;padding:3px 10px;border:1px solid var(--accent);
border-radius:4px;color:var(--accent);text-decoration:none;font-size:13px}
details{margin:4px 0}summary{cursor:pointer;color:var(--accent)}
ul.kv{margin:2px 0;padding-left:18px}
.empty{border:1px solid #e3c27a;background:#fff8e6;border-radius:6px;padding:10px 14px}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""


# --------------------------------------------------------------------------- helpers


def _esc(value: Any) -> str:
    """HTML-escape ``str(value)`` (quotes included)."""
    return html.escape(str(value), quote=True)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _fmt(value: Any, digits: int) -> str:
    """Format a number with fixed decimals, or an em dash when missing."""
    if _is_missing(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def _pm(mean: Any, std: Any, digits: int) -> str:
    """Format ``mean ± std`` with the same fixed number of decimals."""
    if _is_missing(mean):
        return "—"
    if _is_missing(std):
        return _fmt(mean, digits)
    return f"{_fmt(mean, digits)} ± {_fmt(std, digits)}"


def _scale(value: Any, factor: float) -> Any:
    return None if _is_missing(value) else float(value) / factor


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name) or "structure"


def _fig_to_img(fig: Figure, alt: str) -> str:
    """Render a figure to an ``<img>`` tag holding a base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'


def _new_figure(width_in: float = 7.2, height_in: float = 4.6) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    return fig


def _target_bounds(targets: Mapping[str, Mapping[str, Any]], key: str) -> list[tuple[str, float]]:
    """Return ``[("min", v), ("max", v)]`` for the bounds on ``key`` present in ``targets``."""
    spec = targets.get(key) or {}
    return [(b, float(spec[b])) for b in ("min", "max") if not _is_missing(spec.get(b))]


def _draw_targets(ax: Axes, targets: Mapping, key: str, *, axis: str, unit: str) -> None:
    """Draw the target bounds on ``key`` as dashed lines along ``axis`` ('x' or 'y')."""
    for bound, value in _target_bounds(targets, key):
        label = f"target {'≥' if bound == 'min' else '≤'} {value:g} {unit}".rstrip()
        line = ax.axvline if axis == "x" else ax.axhline
        line(value, color="#c0392b", linestyle="--", linewidth=1.3, label=label, zorder=1)


def _kv_html(value: Any) -> str:
    """Render a provenance value: scalars inline, mappings as (collapsible) nested lists."""
    if isinstance(value, Mapping):
        if not value:
            return '<span class="muted">(empty)</span>'
        items = "".join(f"<li><b>{_esc(k)}</b>: {_kv_html(v)}</li>" for k, v in value.items())
        ul = f'<ul class="kv">{items}</ul>'
        if len(value) > 6:
            return f"<details><summary>{len(value)} entries</summary>{ul}</details>"
        return ul
    if isinstance(value, list | tuple | set):
        if all(not isinstance(v, Mapping | list | tuple | set) for v in value):
            return _esc(", ".join(str(v) for v in value))
        items = "".join(f"<li>{_kv_html(v)}</li>" for v in value)
        return f'<ul class="kv">{items}</ul>'
    text = str(value)
    if re.fullmatch(r"[0-9a-f]{40,}", text):  # long hashes in monospace
        return f"<code>{_esc(text)}</code>"
    return _esc(text)


# --------------------------------------------------------------------------- plots


def _plot_funnel(counts: Mapping[str, int]) -> str:
    names = [str(k) for k in counts]
    values = [int(v) for v in counts.values()]
    fig = _new_figure(7.2, 0.55 * len(names) + 1.3)
    ax = fig.add_subplot()
    pos = list(range(len(names)))
    ax.barh(pos, values, color="#4a7fbf", height=0.62)
    ax.set_yticks(pos, [n.replace("_", " ") for n in names])
    ax.invert_yaxis()
    top = max(values) if values and max(values) > 0 else 1
    ax.set_xlim(0, top * 1.2)
    for p, v in zip(pos, values, strict=True):
        pct = f"  ({100 * v / values[0]:.1f} %)" if values[0] > 0 and p > 0 else ""
        ax.text(v + top * 0.01, p, f"{v:,}{pct}", va="center", fontsize=9)
    ax.set_xlabel("number of candidates")
    ax.set_title("Screening funnel")
    ax.spines[["top", "right"]].set_visible(False)
    return _fig_to_img(fig, "Screening funnel: candidates left after each stage")


def _plot_pareto(df: pd.DataFrame, targets: Mapping) -> str:
    import numpy as np

    fig = _new_figure(7.2, 5.0)
    ax = fig.add_subplot()
    x = df["Hcj_kA_m"].to_numpy(float)
    y = df["BHmax_kJ_m3"].to_numpy(float)
    c = df["ce_la_fraction"].to_numpy(float)
    size = 22 if len(df) <= 500 else 8
    sc = ax.scatter(x, y, c=c, cmap="viridis", s=size, alpha=0.8, linewidths=0, zorder=2)
    cbar = fig.colorbar(sc, ax=ax, pad=0.01)
    cbar.set_label("Ce+La fraction of rare-earth site")
    front = df["pareto_rank"].to_numpy() == 1
    if front.any():
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "-", color="#222", linewidth=1.0, zorder=3)
        ax.scatter(
            x[front],
            y[front],
            s=size + 30,
            facecolors="none",
            edgecolors="#d62728",
            linewidths=1.4,
            zorder=4,
            label=f"Pareto front ({int(front.sum())})",
        )
    _draw_targets(ax, targets, "Hcj_kA_m", axis="x", unit="kA/m")
    _draw_targets(ax, targets, "BHmax_kJ_m3", axis="y", unit="kJ/m³")
    ax.set_xlabel("coercivity $H_{cj}$ (kA/m)")
    ax.set_ylabel("energy product $(BH)_{max}$ (kJ/m³)")
    sec_x = ax.secondary_xaxis(
        "top", functions=(lambda v: v / KA_M_PER_KOE, lambda v: v * KA_M_PER_KOE)
    )
    sec_x.set_xlabel("$H_{cj}$ (kOe)")
    sec_y = ax.secondary_yaxis(
        "right", functions=(lambda v: v / KJ_M3_PER_MGOE, lambda v: v * KJ_M3_PER_MGOE)
    )
    sec_y.set_ylabel("$(BH)_{max}$ (MGOe)")
    ax.grid(alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8.5, framealpha=0.9)
    return _fig_to_img(fig, "Pareto plot of (BH)max against Hcj, coloured by Ce+La fraction")


def _plot_composition(df: pd.DataFrame, targets: Mapping, n_show: int) -> str:
    fig = _new_figure(7.2, 6.2)
    axes = fig.subplots(2, 1, sharex=True)
    top = df.head(n_show)
    size = 14 if len(df) <= 500 else 5
    panels = (
        ("BHmax_kJ_m3", "$(BH)_{max}$ (kJ/m³)", "kJ/m³"),
        ("Hcj_kA_m", "$H_{cj}$ (kA/m)", "kA/m"),
    )
    for ax, (col, label, unit) in zip(axes, panels, strict=True):
        ax.scatter(
            df["ce_la_fraction"],
            df[col],
            s=size,
            color="#9aa5b1",
            alpha=0.6,
            linewidths=0,
            label="all ranked",
            zorder=2,
        )
        if len(top):
            ax.errorbar(
                top["ce_la_fraction"],
                top[col],
                yerr=top[f"{col}_std"].fillna(0),
                fmt="o",
                ms=4,
                color="#1f5fa8",
                ecolor="#1f5fa8",
                elinewidth=1,
                capsize=2,
                label=f"top {len(top)} (±1σ)",
                zorder=3,
            )
        _draw_targets(ax, targets, col, axis="y", unit=unit)
        ax.set_ylabel(label)
        ax.grid(alpha=0.25)
    axes[0].legend(loc="best", fontsize=8.5, framealpha=0.9)
    axes[1].set_xlabel("Ce+La fraction of rare-earth site")
    axes[0].set_title("Properties against Ce+La substitution")
    return _fig_to_img(
        fig, "(BH)max and Hcj against Ce+La fraction, top candidates with error bars"
    )


def _plot_cost(df: pd.DataFrame, targets: Mapping, n_show: int) -> str:
    fig = _new_figure(7.2, 4.8)
    ax = fig.add_subplot()
    size = 22 if len(df) <= 500 else 8
    processes = df["process"].astype(str)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, proc in enumerate(sorted(processes.unique())):
        sel = (processes == proc).to_numpy()
        ax.scatter(
            df.loc[sel, "comprehensive_index"],
            df.loc[sel, "raw_material_cost_usd_kg"],
            s=size,
            color=cmap(i % 10),
            alpha=0.75,
            linewidths=0,
            label=proc,
            zorder=2,
        )
    top = df.head(n_show)
    if len(top):
        ax.scatter(
            top["comprehensive_index"],
            top["raw_material_cost_usd_kg"],
            s=size + 40,
            facecolors="none",
            edgecolors="#222",
            linewidths=1.0,
            zorder=3,
            label=f"top {len(top)}",
        )
    _draw_targets(ax, targets, "comprehensive_index", axis="x", unit="")
    _draw_targets(ax, targets, "raw_material_cost_usd_kg", axis="y", unit="USD/kg")
    ax.set_xlabel("comprehensive index (dimensionless, higher is better)")
    ax.set_ylabel("raw-material cost (USD/kg)")
    ax.set_title("Cost against performance, by process")
    ax.grid(alpha=0.25)
    ax.legend(loc="best", fontsize=8.5, framealpha=0.9, title="process", title_fontsize=8.5)
    return _fig_to_img(fig, "Raw-material cost against comprehensive index, coloured by process")


def _figure(img: str, caption: str) -> str:
    return f"<figure>{img}<figcaption>{caption}</figcaption></figure>"


# --------------------------------------------------------------------------- sections


def _describe_targets(targets: Mapping[str, Mapping[str, Any]],
                      quantities: Mapping[str, tuple[str, str]]) -> str:
    if not targets:
        return "<p>No targets were set.</p>"
    items = []
    for key, spec in targets.items():
        label, unit = quantities.get(key, (_esc(key), ""))
        parts = []
        for bound, value in _target_bounds(targets, key):
            text = f"{'at least' if bound == 'min' else 'at most'} {value:g} {unit}".rstrip()
            if key == "Hcj_kA_m":
                text += f" ({value / KA_M_PER_KOE:.1f} kOe)"
            elif key == "BHmax_kJ_m3":
                text += f" ({value / KJ_M3_PER_MGOE:.1f} MGOe)"
            parts.append(_esc(text))
        other = {k: v for k, v in (spec or {}).items() if k not in ("min", "max")}
        if other:
            parts.append(_esc(", ".join(f"{k} = {v}" for k, v in other.items())))
        items.append(f"<li>{label} <code>{_esc(key)}</code>: {' and '.join(parts) or '—'}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _describe_objectives(objectives: Iterable[str], quantities: Mapping[str, tuple[str, str]]) -> str:
    objectives = list(objectives)
    if not objectives:
        return "<p>No ranking objectives were given.</p>"
    items = []
    for obj in objectives:
        text = str(obj)
        known = [label for key, (label, _) in quantities.items() if key in text]
        lowered = text.lower()
        verb = ""
        if lowered.startswith(("max", "+")):
            verb = "maximise "
        elif lowered.startswith(("min", "-")):
            verb = "minimise "
        extra = f" — {verb}{known[0]}" if known else ""
        items.append(f"<li><code>{_esc(text)}</code>{extra}</li>")
    return "<ol>" + "".join(items) + "</ol>"


def _funnel_table(counts: Mapping[str, int]) -> str:
    rows = []
    values = [int(v) for v in counts.values()]
    for i, (name, v) in enumerate(zip(counts, values, strict=True)):
        prev = f"{100 * v / values[i - 1]:.1f} %" if i and values[i - 1] else "—"
        first = f"{100 * v / values[0]:.1f} %" if values[0] else "—"
        rows.append(
            f"<tr><td>{_esc(str(name).replace('_', ' '))}</td><td class=num>{v:,}</td>"
            f"<td class=num>{prev}</td><td class=num>{first}</td></tr>"
        )
    return (
        "<table><thead><tr><th>stage</th><th class=num>candidates</th>"
        "<th class=num>% of previous</th><th class=num>% of first</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _composition_text(row: Mapping[str, Any]) -> str:
    """Non-zero element fractions, e.g. ``Nd 0.70 · Ce 0.30 · Co 0.03`` (HTML)."""
    parts = []
    for el in (*_RE_ELEMENTS, "Co"):
        value = row.get(f"{el}_fraction")
        if not _is_missing(value) and float(value) > 0:
            parts.append(f'<span class="nw">{el} {float(value):.2f}</span>')
    return " · ".join(parts) or "—"


def _property_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """Format the predicted properties of one candidate row (HTML, already escaped)."""
    hcj, hcj_s = row.get("Hcj_kA_m"), row.get("Hcj_kA_m_std")
    bh, bh_s = row.get("BHmax_kJ_m3"), row.get("BHmax_kJ_m3_std")
    p = row.get("p_meets_targets")
    meets = row.get("meets_targets")
    return {
        "Br": _pm(row.get("Br_T"), row.get("Br_T_std"), 2),
        "Hcj": _pm(hcj, hcj_s, 0),
        "Hcj_kOe": _pm(_scale(hcj, KA_M_PER_KOE), _scale(hcj_s, KA_M_PER_KOE), 1),
        "BH": _pm(bh, bh_s, 0),
        "BH_MGOe": _pm(_scale(bh, KJ_M3_PER_MGOE), _scale(bh_s, KJ_M3_PER_MGOE), 1),
        "Tc": _pm(row.get("Tc_K"), row.get("Tc_K_std"), 0),
        "CI": _pm(row.get("comprehensive_index"), row.get("comprehensive_index_std"), 2),
        "cost": _fmt(row.get("raw_material_cost_usd_kg"), 1),
        "p": "—" if _is_missing(p) else f"{100 * float(p):.0f} %",
        "meets": '<span class="yes">✓ yes</span>' if meets else '<span class="no">✗ no</span>',
        "pareto": "—" if _is_missing(row.get("pareto_rank")) else str(int(row["pareto_rank"])),
    }


def _shortlist_table(df: pd.DataFrame, n_show: int) -> str:
    head = (
        "<tr><th class=num>rank</th><th>candidate</th><th>formula<small>element fractions"
        "</small></th><th>process</th><th class=num>Ce+La</th><th class=num>B<sub>r</sub> (T)</th>"
        "<th class=num>H<sub>cj</sub> (kA/m)<small>(kOe)</small></th>"
        "<th class=num>(BH)<sub>max</sub> (kJ/m³)<small>(MGOe)</small></th>"
        "<th class=num>T<sub>c</sub> (K)</th>"
        '<th class=num><abbr title="comprehensive index">CI</abbr></th>'
        "<th class=num>cost (USD/kg)</th><th class=num>P(meets targets)</th>"
        "<th class=num>Pareto rank</th><th>meets targets</th></tr>"
    )
    rows = []
    for row in df.head(n_show).to_dict("records"):
        cell = _property_cells(row)
        rows.append(
            f'<tr id="row-{_esc(row["candidate_id"])}">'
            f"<td class=num>{_esc(row['rank'])}</td>"
            f"<td><code>{_esc(row['candidate_id'])}</code></td>"
            f"<td>{_esc(row['formula'])}<small>{_composition_text(row)}</small></td>"
            f"<td>{_esc(row['process'])}</td><td class=num>{_fmt(row['ce_la_fraction'], 2)}</td>"
            f"<td class=num>{cell['Br']}</td>"
            f"<td class=num>{cell['Hcj']}<small>{cell['Hcj_kOe']}</small></td>"
            f"<td class=num>{cell['BH']}<small>{cell['BH_MGOe']}</small></td>"
            f"<td class=num>{cell['Tc']}</td><td class=num>{cell['CI']}</td>"
            f"<td class=num>{cell['cost']}</td><td class=num>{cell['p']}</td>"
            f"<td class=num>{cell['pareto']}</td><td>{cell['meets']}</td></tr>"
        )
    return (
        f'<div class="scroll"><table class="shortlist"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _ndfeb_card_body(row: Mapping[str, Any]) -> str:
    cell = _property_cells(row)
    return (
        f'<div class="formula">{_esc(row["formula"])}</div>'
        f'<div class="muted">process: {_esc(row["process"])} · rank {_esc(row["rank"])}'
        f'</div><div class="muted">{_composition_text(row)}</div>'
        "<table><tbody>"
        f"<tr><td>B<sub>r</sub></td><td class=num>{cell['Br']} T</td></tr>"
        f"<tr><td>H<sub>cj</sub></td><td class=num>{cell['Hcj']} kA/m"
        f"<small>{cell['Hcj_kOe']} kOe</small></td></tr>"
        f"<tr><td>(BH)<sub>max</sub></td><td class=num>{cell['BH']} kJ/m³"
        f"<small>{cell['BH_MGOe']} MGOe</small></td></tr>"
        f"<tr><td>T<sub>c</sub></td><td class=num>{cell['Tc']} K</td></tr>"
        f"<tr><td>comprehensive index</td><td class=num>{cell['CI']}</td></tr>"
        f"<tr><td>raw-material cost</td><td class=num>{cell['cost']} USD/kg</td></tr>"
        f"<tr><td>P(meets targets)</td><td class=num>{cell['p']}</td></tr>"
        f"<tr><td>meets targets · Pareto rank</td><td class=num>{cell['meets']} · "
        f"{cell['pareto']}</td></tr>"
        "</tbody></table>"
    )


def _structure_card(cid: str, info: Mapping[str, Any], row: Mapping[str, Any] | None,
                    content: ReportContent) -> str:
    parts = [f'<div class="card" id="card-{_esc(cid)}"><h3><code>{_esc(cid)}</code></h3>']
    if row is not None:
        parts.append(content.card_body(row))
    else:
        parts.append('<p class="muted">Not in the ranked table.</p>')
    abc = info.get("lattice_abc_A")
    summary = []
    if info.get("n_sites") is not None:
        summary.append(f"{_esc(info['n_sites'])} sites")
    if abc is not None:
        summary.append("a, b, c = " + ", ".join(_fmt(v, 3) for v in abc) + " Å")
    if summary:
        parts.append(f"<p>Structure: {' · '.join(summary)}</p>")
    occ = info.get("site_occupancy") or {}
    if occ:
        occ_rows = "".join(
            f"<tr><td>{_esc(site)}</td><td>"
            + _esc(" · ".join(f"{el} {n}" for el, n in (species or {}).items()))
            + "</td></tr>"
            for site, species in occ.items()
        )
        parts.append(
            "<table><thead><tr><th>site</th><th>occupancy (atoms)</th></tr></thead>"
            f"<tbody>{occ_rows}</tbody></table>"
        )
    cif = info.get("cif")
    if cif:
        b64 = base64.b64encode(str(cif).encode("utf-8")).decode("ascii")
        name = _esc(_safe_filename(str(cid)) + ".cif")
        parts.append(
            f'<a class="dl" download="{name}" href="data:chemical/x-cif;base64,{b64}">'
            f"Download CIF ({name})</a>"
        )
    recipe = info.get("recipe")
    if recipe is not None:
        text = json.dumps(recipe, indent=2, default=str, ensure_ascii=False)
        parts.append(f"<details><summary>Recipe (JSON)</summary><pre>{_esc(text)}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


def _provenance_table(provenance: Mapping[str, Any]) -> str:
    if not provenance:
        return '<p class="muted">No provenance recorded.</p>'
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_kv_html(v)}</td></tr>" for k, v in provenance.items()
    )
    return f'<table class="prov"><tbody>{rows}</tbody></table>'


def _timings_table(timings: Mapping[str, float]) -> str:
    total = sum(float(v) for v in timings.values())
    rows = "".join(
        f"<tr><td>{_esc(k)}</td><td class=num>{float(v):,.2f}</td>"
        f"<td class=num>{(100 * float(v) / total if total else 0):.1f} %</td></tr>"
        for k, v in timings.items()
    )
    return (
        "<table><thead><tr><th>stage</th><th class=num>wall time (s)</th>"
        "<th class=num>share</th></tr></thead>"
        f"<tbody>{rows}<tr><th>total</th><th class=num>{total:,.2f}</th><th></th></tr></tbody>"
        "</table>"
    )


# --------------------------------------------------------------------------- family content


@dataclass(frozen=True)
class ReportContent:
    """What a family puts in the report: its columns, shortlist, plots and candidate cards.

    ``shortlist_table(ranked, n_show)`` and ``card_body(row)`` return HTML; ``plots(ranked,
    targets, n_show)`` returns ``(img_tag, caption_html)`` pairs; ``quantities`` maps a column
    to its (label HTML, unit) for the objectives and targets.
    """

    required_columns: tuple[str, ...]
    shortlist_note: str
    shortlist_table: Callable[[pd.DataFrame, int], str]
    plots: Callable[[pd.DataFrame, Mapping, int], list[tuple[str, str]]]
    card_body: Callable[[Mapping[str, Any]], str]
    quantities: Mapping[str, tuple[str, str]]


def _ndfeb_plots(ranked: pd.DataFrame, targets: Mapping, n_show: int) -> list[tuple[str, str]]:
    n, shown = len(ranked), min(n_show, len(ranked))
    return [
        (_plot_pareto(ranked, targets),
         f"(BH)<sub>max</sub> against H<sub>cj</sub> for all {n:,} ranked candidates, coloured by "
         "Ce+La fraction. Circled and connected: the Pareto front of the whole batch over the ranking "
         "objectives (rank 1). Dashed: targets."),
        (_plot_composition(ranked, targets, n_show),
         f"Grey: all ranked candidates; blue: the top {shown:,} with ±1σ error bars."),
        (_plot_cost(ranked, targets, n_show),
         f"Raw-material cost against comprehensive index; the top {shown:,} are circled."),
    ]


NDFEB_CONTENT = ReportContent(
    required_columns=REQUIRED_COLUMNS,
    shortlist_note="Predicted values are mean ± one standard deviation of the surrogate models; CI is the "
                   "dimensionless comprehensive index; 1 kOe = 79.577 kA/m, 1 MGOe = 7.9577 kJ/m³.",
    shortlist_table=_shortlist_table,
    plots=_ndfeb_plots,
    card_body=_ndfeb_card_body,
    quantities=_QUANTITIES,
)


def _stat(value: str, label: str) -> str:
    return f'<div class="stat"><b>{value}</b><span>{label}</span></div>'


# --------------------------------------------------------------------------- public API


def _render(
    *,
    batch_name: str,
    batch_text: str,
    counts: Mapping[str, int],
    ranked: pd.DataFrame,
    top_structures: Mapping[str, Mapping[str, Any]],
    provenance: Mapping[str, Any],
    targets: Mapping[str, Mapping[str, Any]],
    objectives: list[str],
    timings: Mapping[str, float] | None,
    n_show: int,
    content: ReportContent,
) -> str:
    n = len(ranked)
    title = f"regenome screening report — {batch_name}"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
    ]
    sub = [f"regenome {_esc(provenance.get('regenome_version', ''))}".strip()]
    for key, word in (("start", "started"), ("end", "finished")):
        if provenance.get(key):
            sub.append(f"{word} {_esc(provenance[key])}")
    out.append(f'<p class="sub">{" · ".join(sub)}</p>')
    sections = [("goals", "Objectives"), ("funnel", "Funnel"), ("shortlist", "Shortlist")]
    sections += [("plots", "Plots")] if n else []
    sections += [
        ("structures", "Top candidates"),
        ("provenance", "Provenance"),
        ("batch", "Batch file"),
    ]
    out.append("<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in sections) + "</nav>")

    # Key numbers.
    stats = [_stat(f"{int(v):,}", _esc(str(k).replace("_", " "))) for k, v in counts.items()]
    stats.append(_stat(f"{n:,}", "ranked"))
    if n and "meeting_targets" not in counts:
        stats.append(_stat(f"{int(ranked['meets_targets'].eq(True).sum()):,}", "meet all targets"))
    if n and "on_pareto_front" not in counts:
        stats.append(_stat(f"{int((ranked['pareto_rank'] == 1).sum()):,}", "on the Pareto front"))
    out.append(f'<div class="stats">{"".join(stats)}</div>')

    out.append('<h2 id="goals">Objectives and targets</h2>')
    out.append("<h3>Ranking objectives</h3>" + _describe_objectives(objectives, content.quantities))
    out.append("<h3>Targets</h3>" + _describe_targets(targets, content.quantities))

    out.append('<h2 id="funnel">Screening funnel</h2>')
    if counts:
        out.append(_funnel_table(counts))
        out.append(_figure(_plot_funnel(counts), "Candidates remaining after each stage."))
    else:
        out.append('<p class="muted">No stage counts were recorded.</p>')

    out.append('<h2 id="shortlist">Shortlist</h2>')
    if n == 0:
        out.append(
            '<p class="empty"><b>No candidate passed the screening.</b> The ranked table is '
            "empty, so there is no shortlist, no property plots and no top structures. "
            "Check the funnel above to see at which stage candidates were lost, and consider "
            "relaxing the constraints or targets in the batch file.</p>"
        )
    else:
        shown = min(n_show, n)
        out.append(f"<p>The best {shown:,} of {n:,} ranked candidates (best first). "
                   + content.shortlist_note + "</p>")
        out.append(content.shortlist_table(ranked, n_show))

        out.append('<h2 id="plots">Plots</h2>')
        out.extend(_figure(img, cap) for img, cap in content.plots(ranked, targets, n_show))

    out.append('<h2 id="structures">Top candidates</h2>')
    if top_structures:
        by_id: dict[str, dict[str, Any]] = {}
        if n:
            wanted = ranked[
                ranked["candidate_id"].astype(str).isin([str(c) for c in top_structures])
            ]
            by_id = {str(r["candidate_id"]): r for r in wanted.to_dict("records")}
        cards = "".join(
            _structure_card(str(cid), info, by_id.get(str(cid)), content)
            for cid, info in top_structures.items()
        )
        out.append(f'<div class="cards">{cards}</div>')
    else:
        out.append('<p class="muted">No structures were built for this run.</p>')

    out.append('<h2 id="provenance">Provenance</h2>')
    out.append(_provenance_table(provenance))
    if timings:
        out.append("<h3>Timings</h3>" + _timings_table(timings))

    out.append(f'<h2 id="batch">Batch file <small>({_esc(batch_name)})</small></h2>')
    out.append(f"<pre>{_esc(batch_text)}</pre>")
    out.append("<footer>Written by regenome.report; this file is self-contained.</footer>")
    out.append("</main></body></html>\n")
    return "\n".join(out)


def write_report(
    path: Path,
    *,
    batch_name: str,
    batch_text: str,
    counts: dict[str, int],
    ranked: pd.DataFrame,
    top_structures: dict[str, dict],
    provenance: dict,
    targets: dict[str, dict],
    objectives: list[str],
    timings: dict[str, float] | None = None,
    n_show: int = 20,
    content: ReportContent | None = None,
) -> Path:
    """Write a self-contained HTML report of a finished screening run.

    Parameters
    ----------
    path : pathlib.Path
        Output file, usually ``report.html``. Parent directories are created. The file is
        written atomically (temporary file in the same directory, then :func:`os.replace`).
    batch_name : str
        Name of the batch, used in the title.
    batch_text : str
        The TOML batch file as written; shown verbatim (HTML-escaped).
    counts : dict of str to int
        Ordered screening funnel, e.g. ``{"generated": 1200, "passing_constraints": 300}``
        (number of candidates left after each stage).
    ranked : pandas.DataFrame
        Ranked candidates, best first, with the columns in :data:`REQUIRED_COLUMNS`:
        fractions (0-1), ``Br_T`` (T), ``Hcj_kA_m`` (kA/m), ``BHmax_kJ_m3`` (kJ/m3),
        ``Tc_K`` (K), each with a ``*_std`` one-sigma uncertainty in the same unit,
        ``comprehensive_index`` (dimensionless), ``raw_material_cost_usd_kg`` (USD/kg),
        ``meets_targets`` (bool), ``p_meets_targets`` (0-1) and ``pareto_rank``
        (int, 1 = on the Pareto front of the whole batch). May be empty; plots use all rows.
    top_structures : dict of str to dict
        Per candidate id, in display order: ``cif`` (CIF text), ``n_sites`` (int),
        ``lattice_abc_A`` (a, b, c in angstrom), ``site_occupancy`` (site -> element ->
        number of atoms) and ``recipe`` (JSON-serialisable dict).
    provenance : dict
        Run metadata (versions, hashes, seed, start/end, machine, ...); nested dicts allowed.
    targets : dict of str to dict
        Property targets such as ``{"BHmax_kJ_m3": {"min": 279}}`` in the column units.
    objectives : list of str
        Ranking objectives, shown as given.
    timings : dict of str to float, optional
        Wall time of each stage in seconds.
    n_show : int, default 20
        Number of ranked rows shown in the shortlist table and highlighted in the plots.
    content : ReportContent, optional
        The family's columns, shortlist, plots and candidate cards (default: Nd-Fe-B, whose
        columns are :data:`REQUIRED_COLUMNS`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``n_show`` is negative or ``ranked`` is non-empty and lacks required columns.
    """
    if isinstance(n_show, bool) or not isinstance(n_show, int) or n_show < 0:
        raise ValueError(
            f"The 'n_show' parameter of write_report must be a non-negative int; got {n_show!r}."
        )
    content = content or NDFEB_CONTENT
    if len(ranked):
        missing = [c for c in content.required_columns if c not in ranked.columns]
        if missing:
            raise ValueError(
                "The 'ranked' parameter of write_report must have the columns "
                f"{list(content.required_columns)}; missing {missing}."
            )
    document = _render(
        batch_name=batch_name,
        batch_text=batch_text,
        counts=counts,
        ranked=ranked,
        top_structures=top_structures,
        provenance=provenance,
        targets=targets,
        objectives=objectives,
        timings=timings,
        n_show=n_show,
        content=content,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(document)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
