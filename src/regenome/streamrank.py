"""Rank a stored candidate table in bounded memory: two passes over slices of structures.h5.

Pass 1 finds, over the whole batch, each objective's minimum and maximum and the Pareto
front (merged slice by slice). Pass 2 scores every slice and keeps the best ``keep`` rows
(:mod:`regenome.ranking` defines the order). Only the kept rows are then read in full, and
their later fronts numbered (``pareto_rank``). Memory
grows with ``keep`` and the slice size, not with the batch; the result is the same for any
slice size and for a table written by an interrupted and resumed run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regenome.ranking import (MAX_FRONTS, best_rows, objective_score, order_keys, oriented_objectives, peel_fronts,
                              update_front)

#: Rows read per slice (a few columns each: tens of MB).
SLICE_ROWS = 250_000


@dataclass
class RankedTable:
    """The kept rows in ``ranked.csv`` order, and what the whole batch held."""

    frame: object  # pandas.DataFrame
    n_candidates: int
    n_meeting_targets: int
    n_on_front: int


def _slices(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def rank_store(h5_path: Path, objectives: list[tuple[str, str]], keep: int,
               slice_rows: int = SLICE_ROWS) -> RankedTable:
    """The ``keep`` best candidates of a structure set's table, with ``pareto_rank`` and ``score``."""
    import pandas as pd

    from regenome.structures.store import StructureSet

    names = [name for name, _ in objectives]
    with StructureSet.open(h5_path, "r") as store:
        n = store.n_candidates
        m = len(objectives)
        low, high = np.full(m, np.inf), np.full(m, -np.inf)
        front_pts, front_rows = np.zeros((0, m)), np.zeros(0, dtype=np.int64)
        n_meets = 0
        for sl in _slices(n, slice_rows):
            cols = store.read_candidates(names + ["meets_targets"], rows=sl)
            pts = oriented_objectives(cols, objectives)
            if m and len(pts):
                low, high = np.minimum(low, pts.min(axis=0)), np.maximum(high, pts.max(axis=0))
            front_pts, front_rows = update_front(front_pts, front_rows, pts, np.arange(sl.start, sl.stop))
            n_meets += int(np.count_nonzero(cols["meets_targets"]))
        front_set = np.sort(front_rows)

        best, buffer, buffered = None, [], 0
        for sl in _slices(n, slice_rows):
            cols = store.read_candidates(names + ["meets_targets", "candidate_id"], rows=sl)
            rows = np.arange(sl.start, sl.stop)
            on_front = np.isin(rows, front_set, assume_unique=True)
            score = np.round(objective_score(oriented_objectives(cols, objectives), low, high), 9)
            buffer.append({"meets": np.asarray(cols["meets_targets"], dtype=bool), "front": on_front,
                           "score": score, "id": cols["candidate_id"].astype(str), "row": rows})
            buffered += len(rows)
            if buffered >= keep:  # merge only when the buffer could change the kept rows: few sorts
                best = best_rows(best, _concat(buffer), keep)
                buffer, buffered = [], 0
        if buffer:
            best = best_rows(best, _concat(buffer), keep)

        if best is None:
            columns = store.candidate_columns
            frame = pd.DataFrame({c: [] for c in columns})
            frame["pareto_rank"], frame["score"] = np.zeros(0, dtype=np.int64), np.zeros(0)
        else:
            frame = _read_rows(store, best["row"], slice_rows)
            rank = np.ones(len(frame), dtype=np.int64)
            later = ~best["front"]
            rank[later] = peel_fronts(oriented_objectives({k: frame[k].to_numpy()[later] for k in names}, objectives)
                                      if m else np.zeros((int(later.sum()), 0)), 2, MAX_FRONTS)
            frame["pareto_rank"] = rank
            frame["score"] = best["score"]
            order = order_keys(best["meets"], rank, best["score"], best["id"])
            frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    lead = ["rank", "candidate_id", "formula", "process"]
    frame = frame[[c for c in lead if c in frame.columns] + [c for c in frame.columns if c not in lead]]
    return RankedTable(frame, n, n_meets, len(front_rows))


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _read_rows(store, rows: np.ndarray, slice_rows: int):
    """All columns of the given table rows, in the given order.

    Reads only the runs of HDF5 chunks (``store.row_chunk`` rows) that hold a wanted row, at most
    ``slice_rows`` rows at a time, and decodes text for the wanted rows only.
    """
    import pandas as pd

    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    parts = []
    for sl in _chunk_runs(sorted_rows, store.row_chunk, slice_rows, store.n_candidates):
        lo, hi = np.searchsorted(sorted_rows, [sl.start, sl.stop])
        parts.append(pd.DataFrame(store.read_candidates(rows=sl, take=sorted_rows[lo:hi] - sl.start)))
    table = pd.concat(parts, ignore_index=True)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return table.iloc[inverse].reset_index(drop=True)


def _chunk_runs(sorted_rows: np.ndarray, chunk: int, max_rows: int, n: int):
    """Slices over consecutive chunks that hold at least one of ``sorted_rows``, each at most ``max_rows`` long."""
    touched = np.unique(sorted_rows // chunk)
    if not touched.size:
        return
    breaks = np.flatnonzero(np.diff(touched) > 1) + 1
    per_slice = max(max_rows // chunk, 1)
    for run in np.split(touched, breaks):
        for start in range(0, run.size, per_slice):
            part = run[start:start + per_slice]
            yield slice(int(part[0]) * chunk, min((int(part[-1]) + 1) * chunk, n))
