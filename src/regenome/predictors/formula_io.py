"""``regenome predict``: read a CSV of formulas, predict, write a CSV with ``_std`` and ``error`` columns."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regenome.errors import InputDataError
from regenome.predictors import summarize
from regenome.predictors.ndfeb import MAX_CO_FRACTION, RE_ELEMENTS, ROUTES, NdFeBModel

MAX_CSV_BYTES = 200_000_000
KNOWN_ELEMENTS = set(RE_ELEMENTS) | {"Fe", "Co", "B"}


@dataclass
class PredictSummary:
    n_rows: int
    n_ok: int
    message: str


def parse_ndfeb_formula(formula: str) -> tuple[np.ndarray, float]:
    """RE sublattice fractions (7,) and Co share of the Fe sites from a 2:14:1-type formula.

    Accepts ``(Nd0.7Ce0.3)2Fe14B``, ``(Nd0.6Ce0.3La0.1)2(Fe0.95Co0.05)14B`` or atomic
    formulas such as ``Nd10.5Ce4.5Fe79B6``. Raises ``ValueError`` with a reason.
    """
    from pymatgen.core import Composition

    try:
        comp = Composition(formula)
    except Exception:  # pymatgen raises several types for unparseable text
        raise ValueError(f"cannot parse formula {formula!r}") from None
    amounts = {str(el): float(v) for el, v in comp.get_el_amt_dict().items()}
    unknown = sorted(set(amounts) - KNOWN_ELEMENTS)
    if unknown:
        raise ValueError(f"element(s) {', '.join(unknown)} not supported by the ndfeb model "
                         f"(supported: {', '.join(RE_ELEMENTS)}, Fe, Co, B)")
    re_total = sum(amounts.get(e, 0.0) for e in RE_ELEMENTS)
    tm_total = amounts.get("Fe", 0.0) + amounts.get("Co", 0.0)
    if re_total <= 0 or amounts.get("Fe", 0.0) <= 0:
        raise ValueError("a 2:14:1 magnet needs a rare earth and Fe")
    share = re_total / (re_total + tm_total)
    if not 0.08 <= share <= 0.25:
        raise ValueError(f"rare-earth share of the metals {share:.3f} is far from a 2:14:1 phase (0.125)")
    co = amounts.get("Co", 0.0) / tm_total
    if co > MAX_CO_FRACTION:
        raise ValueError(f"Co share of the Fe sites {co:.2f} is above the calibrated domain ({MAX_CO_FRACTION})")
    return np.array([amounts.get(e, 0.0) / re_total for e in RE_ELEMENTS]), co


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    if not path.is_file():
        raise InputDataError(f"{path}: file not found")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise InputDataError(f"{path}: larger than {MAX_CSV_BYTES} bytes; split it into smaller files")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputDataError(f"{path}: not a readable UTF-8 CSV file ({exc})") from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if "formula" not in header:
        raise InputDataError(f"{path}: column 'formula' is missing; the header must include formula "
                             "(optional: process, temperature_K)")
    return header, rows


def predict_csv(model_name: str, csv_in: Path, out: Path) -> PredictSummary:
    """Predict every row of ``csv_in`` with the named model and write ``out`` atomically."""
    if model_name != "ndfeb":
        raise InputDataError(f"unknown model {model_name!r}; valid: ndfeb")
    header, rows = _read_rows(Path(csv_in))
    n = len(rows)
    x = np.zeros((n, len(RE_ELEMENTS)))
    co = np.zeros(n)
    route = np.zeros(n, dtype=int)
    temp = np.full(n, 293.0)
    errors = [""] * n
    for i, row in enumerate(rows):
        try:
            extra = row.pop(None, None) or []  # DictReader puts cells beyond the header under the key None
            if any(cell.strip() for cell in extra):
                raise ValueError("the row has more cells than the header (an unquoted comma?)")
            x[i], co[i] = parse_ndfeb_formula((row.get("formula") or "").strip())
            proc = (row.get("process") or "sintered").strip()
            if proc not in ROUTES:
                raise ValueError(f"unknown process {proc!r}; valid: {', '.join(ROUTES)}")
            route[i] = ROUTES.index(proc)
            t_text = (row.get("temperature_K") or "").strip()
            if t_text:
                t = float(t_text)
                if not (math.isfinite(t) and 200.0 <= t <= 600.0):
                    raise ValueError(f"temperature_K {t_text} outside 200-600 K")
                temp[i] = t
        except ValueError as exc:
            errors[i] = str(exc)
            x[i] = 0.0
            x[i, 0] = 1.0  # placeholder row, prediction blanked below
    model = NdFeBModel()
    pred = summarize(model.sample(x, co, route, temp)) if n else {}
    ok = np.array([not e for e in errors], dtype=bool)
    names = [p for name in model.properties for p in (name, name + "_std")]
    fields = header + [c for c in names if c not in header] + (["error"] if "error" not in header else [])
    tmp = Path(out).with_name(f".{Path(out).name}.tmp-{os.getpid()}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # the csv writer quotes '\r' only when it is part of the line terminator: quote every cell then
    has_cr = any("\r" in v for v in [*header, *(v for row in rows for v in row.values() if v)])
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n",
                                quoting=csv.QUOTE_ALL if has_cr else csv.QUOTE_MINIMAL)
        writer.writeheader()
        for i, row in enumerate(rows):
            record = dict(row)
            for c in names:
                record[c] = f"{pred[c][i]:.6g}" if ok[i] else ""
            record["error"] = errors[i]
            writer.writerow(record)
    os.replace(tmp, out)
    n_ok = int(ok.sum())
    msg = f"predicted {n_ok} of {n} rows with {model.name} {model.version}; wrote {out}"
    if n_ok < n:
        msg += f"; {n - n_ok} rows have a message in the 'error' column"
    return PredictSummary(n, n_ok, msg)
