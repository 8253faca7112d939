"""``regenome predict MODEL``: predictions with one-sigma columns and an error column per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from regenome.modelstore import load_model
from regenome.surrogates import get_spec
from regenome.tableio import read_input_csv, write_csv_atomic

CHUNK_ROWS = 200_000


@dataclass
class PredictSummary:
    n_rows: int
    n_ok: int
    message: str


def predict_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus ``<output>``, ``<output>_std`` and ``error`` columns (blank predictions on error rows)."""
    spec = get_spec(name)
    estimator, _ = load_model(name)
    n = len(frame)
    k = len(spec.outputs)
    mean = np.full((n, k), np.nan)
    std = np.full((n, k), np.nan)
    errors: list[str] = []
    for start in range(0, n, CHUNK_ROWS):
        part = frame.iloc[start:start + CHUNK_ROWS]
        X, part_errors = spec.prepare_inputs(estimator, part)
        ok = np.array([not e for e in part_errors], dtype=bool)
        if ok.any():
            m, s = estimator.predict(X[ok], return_std=True)
            rows = start + np.flatnonzero(ok)
            mean[rows], std[rows] = m, s
        errors.extend(part_errors)
    out = frame.copy()
    for j, column in enumerate(spec.outputs):
        out[column] = mean[:, j]
        out[column + "_std"] = std[:, j]
    out["error"] = errors
    return out


def predict_table(name: str, csv_in: Path, out: Path) -> PredictSummary:
    """Predict every row of ``csv_in`` with trained model ``name``; write ``out`` atomically."""
    spec = get_spec(name)
    frame = read_input_csv(Path(csv_in), list(spec.inputs),
                           hint=", ".join(f"{c} in {u}" for c, u in spec.inputs.items()))
    result = predict_frame(name, frame)
    write_csv_atomic(result, Path(out))
    n_ok = int((result["error"] == "").sum())
    n = len(result)
    _, card = load_model(name)
    msg = f"predicted {n_ok} of {n} rows with {name} {card.version}; wrote {out}"
    if n_ok < n:
        msg += f"; {n - n_ok} rows have a message in the 'error' column"
    return PredictSummary(n, n_ok, msg)
