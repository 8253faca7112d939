"""The shortlist page: one synthesis sheet per picked candidate, self-contained HTML."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from regenome.report import _CSS, ReportContent, _esc, _fmt, _safe_filename


def _sheet_table(sheet: pd.DataFrame, batch_mass_g: float) -> str:
    rows = "".join(f"<tr><td>{_esc(r.element)}</td><td class=num>{r.at_percent:.3f}</td>"
                   f"<td class=num>{r.wt_percent:.3f}</td><td class=num>{r.grams:.3f}</td></tr>"
                   for r in sheet.itertuples())
    return ("<table><thead><tr><th>element</th><th class=num>at.%</th><th class=num>wt.%</th>"
            f"<th class=num>g per {batch_mass_g:g} g</th></tr></thead><tbody>{rows}</tbody></table>")


def _route(row: Mapping[str, Any]) -> str:
    if "process" in row:
        return f"process route: {_esc(row['process'])}"
    parts = [f"host {_esc(row.get('host', ''))}", f"{_esc(row.get('activator', ''))} on {_esc(row.get('site', ''))}"]
    if row.get("charge_compensation") and row.get("charge_compensation") != "none needed":
        parts.append(f"charge compensation: {_esc(row['charge_compensation'])}")
    return " · ".join(parts)


def render(picks: pd.DataFrame, *, run_name: str, content: ReportContent, sheets: Mapping[str, pd.DataFrame],
           cifs: Mapping[str, str], batch_mass_g: float, options_text: str) -> str:
    """HTML of the shortlist page (see :func:`write`)."""
    cards = []
    for row in picks.to_dict("records"):
        cid = str(row["candidate_id"])
        parts = [f'<div class="card" id="pick-{_esc(cid)}"><h3>pick {row["pick"]}: <code>{_esc(cid)}</code></h3>',
                 content.card_body(row),
                 f'<p class="muted">{_route(row)}</p>',
                 f"<p><b>why:</b> {_esc(row['why'])}</p>",
                 "<h3>Nominal composition and weigh-in</h3>", _sheet_table(sheets[cid], batch_mass_g)]
        if cifs.get(cid):
            b64 = base64.b64encode(cifs[cid].encode("utf-8")).decode("ascii")
            name = _esc(_safe_filename(cid) + ".cif")
            parts.append(f'<a class="dl" download="{name}" href="data:chemical/x-cif;base64,{b64}">'
                         f"Download CIF ({name})</a>")
        else:
            parts.append('<p class="muted">No crystal structure (host known by composition only).</p>')
        parts.append("</div>")
        cards.append("".join(parts))
    summary = "".join(f"<tr><td class=num>{r['pick']}</td><td><a href=\"#pick-{_esc(r['candidate_id'])}\">"
                      f"{_esc(r['formula'])}</a></td><td class=num>{_esc(r['rank'])}</td>"
                      f"<td class=num>{_fmt(r['p_meets_targets'], 2)}</td><td class=num>{_fmt(r['utility'], 3)}</td>"
                      f"<td class=num>{_fmt(r['distance_to_nearest_pick'], 3)}</td></tr>"
                      for r in picks.to_dict("records"))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>regenome shortlist — {_esc(run_name)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>Shortlist for synthesis — {_esc(run_name)}</h1>",
        f'<p class="sub">{len(picks)} candidates picked by {_esc(options_text)}. Weigh-in masses are for '
        f"{batch_mass_g:g} g of the nominal composition (elements; choose precursors and add the usual "
        "excess for volatile or oxidising elements).</p>",
        "<table><thead><tr><th class=num>pick</th><th>formula</th><th class=num>run rank</th>"
        "<th class=num>P(meets targets)</th><th class=num>utility</th><th class=num>distance to nearest pick</th>"
        f"</tr></thead><tbody>{summary}</tbody></table>",
        f'<div class="cards">{"".join(cards)}</div>',
        "<footer>Written by regenome.shortlist_page; this file is self-contained.</footer>",
        "</main></body></html>\n"])


def write(path: Path, picks: pd.DataFrame, **kwargs) -> Path:
    """Write the page atomically to ``path``."""
    text = render(picks, **kwargs)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
