"""Read user CSV tables safely and write result tables atomically."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from regenome.errors import InputDataError

MAX_CSV_BYTES = 2_000_000_000


def read_input_csv(path: Path, required: list[str], hint: str = "") -> pd.DataFrame:
    """All columns of a UTF-8 CSV as text; a clear error for a missing file, bad encoding or column."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: file not found")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise InputDataError(f"{path}: larger than {MAX_CSV_BYTES} bytes; split it into smaller files")
    try:
        if _has_nul(path):  # pandas would silently cut a cell at the NUL ("F\x00e" -> "F")
            raise InputDataError(f"{path}: contains NUL bytes; not a UTF-8 CSV text file")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path}: empty file; the header must include {', '.join(required)}") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0]
        raise InputDataError(f"{path}: not a readable UTF-8 CSV file ({first})") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra first cells as an index
        raise InputDataError(f"{path}: the rows have more cells than the header (an unquoted comma?); "
                             "quote cells that contain commas")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path}: column(s) {', '.join(missing)} missing; the header must include "
                             f"{', '.join(required)}" + (f" ({hint})" if hint else ""))
    return frame


def write_csv_atomic(frame: pd.DataFrame, out: Path, float_format: str = "%.6g") -> None:
    """Write ``frame`` to ``out`` through a temporary file and a rename."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    # the csv writer quotes '\r' only when it is part of the line terminator: quote every cell then
    quoting = csv.QUOTE_ALL if _has_cr(frame) else csv.QUOTE_MINIMAL
    try:
        if not _write_plain_csv(frame, tmp, float_format, quoting):
            frame.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n", quoting=quoting)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _write_plain_csv(frame: pd.DataFrame, path: Path, float_format: str, quoting: int) -> bool:
    """Write the bytes ``frame.to_csv(path, index=False, ...)`` would, for frames of text and float64 columns.

    pandas formats every float through Python and its own chunking; here each float column is
    formatted once (``float_format % x``, NaN as an empty cell, as pandas does) and the rows go
    to the same ``csv`` writer, or, when no cell needs quotes, are joined with commas directly:
    two to three times faster on prediction tables. Returns False (nothing written) for any other
    frame: labels that are not text, or columns that are not all float64 or all ``str`` cells.
    """
    import numpy as np

    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.nlevels != 1:
        return False
    columns, joined = [], []
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        if col.dtype == np.float64:
            values = col.to_numpy()
            text = list(map(float_format.__mod__, values.tolist()))
            for i in np.flatnonzero(np.isnan(values)):
                text[i] = ""
            columns.append(text)
            joined.append("".join(text))
        elif col.dtype == object or pd.api.types.is_string_dtype(col.dtype):  # pandas 3: "str" dtype
            values = col.tolist()
            try:
                joined.append("".join(values))  # TypeError unless every cell is text
            except TypeError:
                return False
            columns.append(values)
        else:
            return False
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=quoting)
        writer.writerow(list(frame.columns))
        if quoting == csv.QUOTE_MINIMAL and len(columns) > 1 and not any(
                c in text for text in joined for c in ',"\n\r'):
            # no cell needs quotes: the csv writer would only join them with commas
            for start in range(0, len(frame), 100_000):
                rows = zip(*(col[start:start + 100_000] for col in columns))
                handle.write("\n".join(map(",".join, rows)) + "\n")
        else:
            writer.writerows(zip(*columns))
    return True


def _has_nul(path: Path, block: int = 1 << 24) -> bool:
    with path.open("rb") as handle:
        return any(b"\x00" in chunk for chunk in iter(lambda: handle.read(block), b""))


def _has_cr(frame: pd.DataFrame) -> bool:
    """Whether a column name or a text cell holds a carriage return."""
    if any("\r" in str(c) for c in frame.columns):
        return True
    for j in range(frame.shape[1]):
        if pd.api.types.is_numeric_dtype(frame.dtypes.iloc[j]):
            continue
        values = frame.iloc[:, j].tolist()
        try:
            if "\r" in "".join(values):  # all text: one search
                return True
        except TypeError:
            if any(isinstance(v, str) and "\r" in v for v in values):
                return True
    return False
