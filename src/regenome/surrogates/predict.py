"""``regenome predict MODEL``: predictions with one-sigma columns and an error column per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from regenome.modelstore import load_model, model_folder, read_card
from regenome.surrogates import get_spec
from regenome.tableio import read_input_csv, write_csv_atomic

CHUNK_ROWS = 100_000


@dataclass
class PredictSummary:
    n_rows: int
    n_ok: int
    message: str


def predict_chunk(name: str, part: pd.DataFrame, model_dir: Path | None = None,
                  trust: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Mean, std (n, k) and error messages for one chunk; the model is loaded once per process."""
    spec = get_spec(name)
    estimator, _ = load_model(name, model_dir, trust)
    n, k = len(part), len(spec.outputs)
    mean = np.full((n, k), np.nan)
    std = np.full((n, k), np.nan)
    X, errors = spec.prepare_inputs(estimator, part)
    ok = np.array([not e for e in errors], dtype=bool)
    if ok.any():
        m, s = estimator.predict(X if ok.all() else X[ok], return_std=True)  # no copy when every row is valid
        if spec.check_predictions is not None:
            flagged = spec.check_predictions(estimator, X[ok], m)
            for i, message in zip(np.flatnonzero(ok), flagged):
                errors[i] = errors[i] or message
            keep = np.array([not e for e in flagged], dtype=bool)
            m, s = np.where(keep[:, None], m, np.nan), np.where(keep[:, None], s, np.nan)
        mean[ok], std[ok] = m, s
    return mean, std, list(errors)


def predict_frame(name: str, frame: pd.DataFrame, n_jobs: int | None = None, model_dir: Path | None = None,
                  trust: bool = False) -> pd.DataFrame:
    """``frame`` plus ``<output>``, ``<output>_std`` and ``error`` columns (blank predictions on error rows).

    Each distinct input (single-column models) is predicted once; chunks run through joblib
    (``n_jobs`` workers, backend from ``joblib.parallel_config``). ``model_dir`` and ``trust``
    select a model folder other than the shipped one (see :func:`regenome.modelstore.load_model`).
    """
    from joblib import Parallel, delayed

    spec = get_spec(name)
    columns = list(spec.inputs)
    if len(columns) == 1:
        codes, uniques = pd.factorize(frame[columns[0]], use_na_sentinel=False)
        distinct = pd.DataFrame({columns[0]: np.asarray(uniques, dtype=object)})
    else:
        codes, distinct = np.arange(len(frame)), frame[columns]
    starts = range(0, len(distinct), CHUNK_ROWS)
    parts = Parallel(n_jobs=n_jobs)(delayed(predict_chunk)(name, distinct.iloc[s:s + CHUNK_ROWS], model_dir, trust)
                                   for s in starts)
    k = len(spec.outputs)
    mean = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, k))
    std = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, k))
    errors = np.array([e for p in parts for e in p[2]], dtype=object)
    out = frame.copy()
    for j, column in enumerate(spec.outputs):
        out[column] = mean[codes, j]
        out[column + "_std"] = std[codes, j]
    out["error"] = errors[codes] if len(frame) else []
    return out


def predict_table(name: str, csv_in: Path, out: Path, n_jobs: int | None = None, model_dir: Path | None = None,
                  trust: bool = False) -> PredictSummary:
    """Predict every row of ``csv_in`` with trained model ``name``; write ``out`` atomically."""
    spec = get_spec(name)
    frame = read_input_csv(Path(csv_in), list(spec.inputs),
                           hint=", ".join(f"{c} in {u}" for c, u in spec.inputs.items()))
    result = predict_frame(name, frame, n_jobs=n_jobs, model_dir=model_dir, trust=trust)
    write_csv_atomic(result, Path(out))
    n_ok = int((result["error"] == "").sum())
    n = len(result)
    card = read_card(model_folder(name, model_dir))
    msg = f"predicted {n_ok} of {n} rows with {name} {card.version}; wrote {out}"
    if n_ok < n:
        msg += f"; {n - n_ok} rows have a message in the 'error' column"
    return PredictSummary(n, n_ok, msg)
