"""The phosphor family's part of the report: shortlist, colour swatches, host map, emission window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from regenome.report import (ReportContent, _draw_targets, _esc, _fig_to_img, _fmt, _is_missing, _new_figure, _pm,
                             _target_bounds)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

REQUIRED_COLUMNS = (
    "rank", "candidate_id", "formula", "host", "category", "activator", "concentration", "site", "coordination",
    "mean_bond_length_A", "charge_compensation", "emission_nm", "emission_nm_std", "T50_K", "T50_K_std",
    "debye_K", "debye_K_std", "band_gap_eV", "band_gap_eV_std", "raw_material_cost_usd_kg",
    "meets_targets", "p_meets_targets", "pareto_rank",
)

QUANTITIES: dict[str, tuple[str, str]] = {
    "emission_nm": ("emission maximum", "nm"),
    "T50_K": ("thermal-quenching temperature T<sub>50</sub>", "K"),
    "debye_K": ("Debye temperature of the host (rigidity)", "K"),
    "band_gap_eV": ("band gap of the host", "eV"),
    "raw_material_cost_usd_kg": ("raw-material cost (cations)", "USD/kg"),
    "export_controlled_wt_frac": ("mass fraction of export-controlled rare earths", ""),
    "concentration": ("activator fraction of the site", ""),
    "p_meets_targets": ("probability of meeting all targets", ""),
}


def _swatch(row: Mapping[str, Any]) -> str:
    """An inline colour square for the predicted emission of one row, with its CIE (x, y)."""
    from regenome.colour import emission_xy, xy_to_srgb

    if _is_missing(row.get("emission_nm")):
        return ""
    x, y = emission_xy(float(row["emission_nm"]), str(row["activator"]))
    r, g, b = (round(255 * v) for v in xy_to_srgb(x, y))
    return (f'<span title="CIE x={x:.3f}, y={y:.3f}" style="display:inline-block;width:14px;height:14px;'
            f'border:1px solid #888;vertical-align:middle;background:rgb({r},{g},{b})"></span> '
            f"<small>x {x:.3f}, y {y:.3f}</small>")


def _site_text(row: Mapping[str, Any]) -> str:
    cn = row.get("coordination")
    bond = row.get("mean_bond_length_A")
    parts = [_esc(row["site"])]
    if not _is_missing(cn):
        parts.append(f"CN {int(cn)}")
    if not _is_missing(bond):
        parts.append(f"{float(bond):.3f} Å")
    return " · ".join(parts)


def _yes_no(value: Any) -> str:
    return '<span class="yes">✓ yes</span>' if value else '<span class="no">✗ no</span>'


def shortlist_table(df: pd.DataFrame, n_show: int) -> str:
    head = ("<tr><th class=num>rank</th><th>candidate</th><th>formula<small>host · category</small></th>"
            "<th>activator<small>fraction of site</small></th><th>site<small>CN · mean bond</small></th>"
            "<th class=num>emission (nm)<small>colour, CIE x, y</small></th>"
            "<th class=num>T<sub>50</sub> (K)</th><th class=num>Debye (K)</th><th class=num>gap (eV)</th>"
            "<th class=num>cost (USD/kg)</th><th class=num>P(meets targets)</th>"
            "<th class=num>Pareto rank</th><th>meets targets</th></tr>")
    rows = []
    for row in df.head(n_show).to_dict("records"):
        p = row["p_meets_targets"]
        p_text = "—" if _is_missing(p) else f"{100 * float(p):.0f} %"
        rows.append(
            f'<tr id="row-{_esc(row["candidate_id"])}"><td class=num>{_esc(row["rank"])}</td>'
            f"<td><code>{_esc(row['candidate_id'])}</code></td>"
            f"<td>{_esc(row['formula'])}<small>{_esc(row['host'])} · {_esc(row['category'])}</small></td>"
            f"<td>{_esc(row['activator'])}<small>{_fmt(row['concentration'], 3)}</small></td>"
            f"<td>{_site_text(row)}</td>"
            f"<td class=num>{_pm(row['emission_nm'], row['emission_nm_std'], 0)}<small>{_swatch(row)}</small></td>"
            f"<td class=num>{_pm(row['T50_K'], row['T50_K_std'], 0)}</td>"
            f"<td class=num>{_pm(row['debye_K'], row['debye_K_std'], 0)}</td>"
            f"<td class=num>{_pm(row['band_gap_eV'], row['band_gap_eV_std'], 2)}</td>"
            f"<td class=num>{_fmt(row['raw_material_cost_usd_kg'], 1)}</td>"
            f"<td class=num>{p_text}</td>"
            f"<td class=num>{_esc(row['pareto_rank'])}</td><td>{_yes_no(row['meets_targets'])}</td></tr>")
    return (f'<div class="scroll"><table class="shortlist"><thead>{head}</thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def card_body(row: Mapping[str, Any]) -> str:
    lines = [
        ("emission maximum", f"{_pm(row['emission_nm'], row['emission_nm_std'], 0)} nm {_swatch(row)}"),
        ("T<sub>50</sub>", f"{_pm(row['T50_K'], row['T50_K_std'], 0)} K"),
        ("Debye temperature (host)", f"{_pm(row['debye_K'], row['debye_K_std'], 0)} K"),
        ("band gap (host)", f"{_pm(row['band_gap_eV'], row['band_gap_eV_std'], 2)} eV"),
        ("activator site", _site_text(row)),
        ("charge compensation", _esc(row["charge_compensation"])),
        ("raw-material cost", f"{_fmt(row['raw_material_cost_usd_kg'], 1)} USD/kg"),
        ("meets targets · Pareto rank", f"{_yes_no(row['meets_targets'])} · {_esc(row['pareto_rank'])}"),
    ]
    body = "".join(f"<tr><td>{k}</td><td class=num>{v}</td></tr>" for k, v in lines)
    return (f'<div class="formula">{_esc(row["formula"])}</div>'
            f'<div class="muted">{_esc(row["activator"])} at {_fmt(row["concentration"], 3)} of the site in '
            f'{_esc(row["host"])} ({_esc(row["category"])}) · rank {_esc(row["rank"])}</div>'
            f"<table><tbody>{body}</tbody></table>")


def _plot_swatches(df: pd.DataFrame, n_show: int) -> str:
    from matplotlib.patches import Rectangle

    from regenome.colour import emission_xy, spectral_locus, xy_to_srgb

    top = df.head(min(n_show, 24))
    fig = _new_figure(7.2, 0.32 * len(top) + 1.4)
    ax, cie = fig.subplots(1, 2, width_ratios=[1.5, 1])
    for i, row in enumerate(top.to_dict("records")):
        x, y = emission_xy(float(row["emission_nm"]), str(row["activator"]))
        ax.add_patch(Rectangle((0, i), 0.8, 0.8, color=xy_to_srgb(x, y), ec="#555", lw=0.5))
        ax.text(1.0, i + 0.4, f"#{row['rank']} {row['formula']} ({row['activator']}): "
                f"{float(row['emission_nm']):.0f} nm, x {x:.3f} y {y:.3f}", va="center", fontsize=7.5)
        cie.plot(x, y, "o", color=xy_to_srgb(x, y), mec="#222", ms=5, zorder=3)
    ax.set_xlim(0, 8)
    ax.set_ylim(len(top), -0.2)
    ax.axis("off")
    ax.set_title("Predicted emission colour, top candidates", fontsize=9)
    locus = spectral_locus()
    cie.plot(*locus.T, color="#333", lw=1)
    cie.plot([locus[0, 0], locus[-1, 0]], [locus[0, 1], locus[-1, 1]], color="#333", lw=0.8, ls=":")
    cie.set_xlabel("CIE x")
    cie.set_ylabel("CIE y")
    cie.set_xlim(0, 0.8)
    cie.set_ylim(0, 0.9)
    cie.set_aspect("equal")
    cie.set_title("CIE 1931 chromaticity", fontsize=9)
    return _fig_to_img(fig, "Colour swatches and CIE 1931 chromaticity of the predicted emission of the top candidates")


def _plot_host_map(df: pd.DataFrame, targets: Mapping) -> str:
    hosts = df.drop_duplicates("host")
    fig = _new_figure(7.2, 5.0)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, category in enumerate(sorted(hosts["category"].astype(str).unique())):
        sel = hosts[hosts["category"].astype(str) == category]
        ax.errorbar(sel["debye_K"], sel["band_gap_eV"], xerr=sel["debye_K_std"], yerr=sel["band_gap_eV_std"],
                    fmt="o", ms=6, color=cmap(i % 10), alpha=0.85, elinewidth=0.8, capsize=2, label=category)
        for row in sel.to_dict("records"):
            ax.annotate(str(row["host"]), (row["debye_K"], row["band_gap_eV"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
    _draw_targets(ax, targets, "debye_K", axis="x", unit="K")
    _draw_targets(ax, targets, "band_gap_eV", axis="y", unit="eV")
    ax.set_xlabel("Debye temperature of the host (K): structural rigidity")
    ax.set_ylabel("band gap of the host (eV)")
    ax.set_title("Host screening map (Brgoch et al.): rigid, wide-gap hosts at the top right")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="best", title="host family", title_fontsize=8)
    return _fig_to_img(fig, "Debye temperature against band gap of every host in the ranked table")


def _plot_emission_window(df: pd.DataFrame, targets: Mapping, n_show: int) -> str:
    from regenome.colour import emission_xy, xy_to_srgb

    top = df.head(min(n_show, 30))
    fig = _new_figure(7.2, 0.26 * len(top) + 1.6)
    ax = fig.add_subplot()
    bounds = dict(_target_bounds(targets, "emission_nm"))
    if bounds:
        ax.axvspan(bounds.get("min", 350), bounds.get("max", 800), color="#2e8b57", alpha=0.12,
                   label="target window")
    for i, row in enumerate(top.to_dict("records")):
        colour = xy_to_srgb(*emission_xy(float(row["emission_nm"]), str(row["activator"])))
        ax.errorbar(row["emission_nm"], i, xerr=row["emission_nm_std"], fmt="o", color=colour, mec="#222",
                    ecolor="#555", capsize=2)
    ax.set_yticks(range(len(top)), [f"#{r['rank']} {r['formula']} ({r['activator']})"
                                    for r in top.to_dict("records")], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("predicted emission maximum (nm), mean ± 1σ")
    ax.set_title("Emission of the top candidates against the target window")
    ax.grid(alpha=0.25, axis="x")
    if bounds:
        ax.legend(fontsize=8, loc="best")
    return _fig_to_img(fig, "Predicted emission maxima of the top candidates with the target window")


def plots(df: pd.DataFrame, targets: Mapping, n_show: int) -> list[tuple[str, str]]:
    shown = min(n_show, len(df))
    return [
        (_plot_swatches(df, n_show),
         f"Colour of the predicted emission of the top {min(shown, 24)} candidates: a Gaussian band at the predicted "
         "maximum (FWHM 0.45 eV for Ce<sup>3+</sup>, 0.30 eV for Eu<sup>2+</sup>, lines for 4f-4f emitters) "
         "through the CIE 1931 colour-matching functions; an illustration, not a measured chromaticity."),
        (_plot_host_map(df, targets),
         "Debye temperature against band gap of each host (mean ± 1σ of the surrogates), the screening view of "
         "Brgoch and co-workers: a rigid lattice (high Debye temperature) and a wide gap favour a high quantum "
         "efficiency and little thermal quenching. Dashed: targets."),
        (_plot_emission_window(df, targets, n_show),
         f"Predicted emission maximum (± 1σ) of the top {min(shown, 30)} candidates; shaded: the "
         "emission_nm target window."),
    ]


CONTENT = ReportContent(
    required_columns=REQUIRED_COLUMNS,
    shortlist_note="Predicted values are mean ± one standard deviation of the surrogate models; the band gap "
                   "and Debye temperature are those of the undoped host. The colour square shows the predicted "
                   "emission (see the first plot).",
    shortlist_table=shortlist_table,
    plots=plots,
    card_body=card_body,
    quantities=QUANTITIES,
)
