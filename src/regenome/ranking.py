"""Targets, probabilities, Pareto fronts and the final order: pure functions over arrays.

Which rows ``ranked.csv`` keeps (documented in the README): the best ``[ranking] keep`` by
(meets every target on the means; on the Pareto front of the whole batch; score = mean over
objectives of the value min-max normalised over the whole batch, direction-adjusted; candidate
id). Every part of that key is computed chunk by chunk, so a batch of millions of candidates is
ranked in bounded memory (:func:`update_front`, :func:`best_rows`). The kept rows are then
ordered by (meets targets, ``pareto_rank``, score, id), where ``pareto_rank`` is 1 on the front of
the whole batch and 2, 3, ... for the next fronts peeled among the kept rows (up to
:data:`MAX_FRONTS`; later rows share ``MAX_FRONTS + 1`` and go by score).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: Fronts numbered in ``pareto_rank``; rows behind them share ``MAX_FRONTS + 1``.
MAX_FRONTS = 10


def meets_targets(values: Mapping[str, np.ndarray], targets: Mapping, n: int) -> np.ndarray:
    """Rows whose values (means or per-draw arrays) satisfy every target bound."""
    ok = np.ones(n, dtype=bool) if not targets else None
    for name, bound in targets.items():
        v = np.asarray(values[name])
        good = np.ones(v.shape, dtype=bool)
        if bound.min is not None:
            good &= v >= bound.min
        if bound.max is not None:
            good &= v <= bound.max
        ok = good if ok is None else ok & good
    return ok


def probability_meets_targets(draws: Mapping[str, np.ndarray], fixed: Mapping[str, np.ndarray],
                              targets: Mapping, n: int, n_draws: int) -> np.ndarray:
    """Share of parameter draws in which all targets hold (joint, with correlations kept).

    ``draws`` holds per-draw arrays (n, K); ``fixed`` holds exact columns (n,) such as cost.
    """
    values = {k: v for k, v in draws.items()}
    values.update({k: np.broadcast_to(np.asarray(v, dtype=float)[:, None], (n, n_draws)) for k, v in fixed.items()})
    joint = meets_targets(values, targets, n)
    if joint.ndim == 1:
        return joint.astype(float)
    return joint.mean(axis=1)


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (larger is better everywhere)."""
    n = len(points)
    order = np.argsort(-points[:, 0], kind="stable")  # strong points first prune the most
    idx, pts = order, points[order]
    i = 0
    while i < len(pts):
        keep = np.any(pts > pts[i], axis=1) | np.all(pts == pts[i], axis=1)
        idx, pts = idx[keep], pts[keep]
        i = int(np.count_nonzero(keep[:i])) + 1
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def oriented_objectives(columns: Mapping[str, np.ndarray], objectives: list[tuple[str, str]]) -> np.ndarray:
    """Objective matrix (n, m), larger is better in every column (m = 0 without objectives)."""
    n = len(next(iter(columns.values())))
    if not objectives:
        return np.zeros((n, 0))
    return np.stack([np.asarray(columns[name], dtype=float) * (1.0 if sense == "max" else -1.0)
                     for name, sense in objectives], axis=1)


def update_front(front_points: np.ndarray, front_rows: np.ndarray, points: np.ndarray,
                 rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Pareto front of (front so far + new points): merged chunk by chunk, exact and order-free."""
    pts = np.concatenate([front_points, points])
    idx = np.concatenate([front_rows, rows])
    if pts.shape[1] == 0:  # no objectives: every candidate is on the front
        return pts, idx
    mask = non_dominated(pts)
    return pts[mask], idx[mask]


def peel_fronts(points: np.ndarray, first: int, last: int) -> np.ndarray:
    """Front index of each row among these rows, numbered from ``first``; rows past ``last`` get ``last + 1``."""
    rank = np.full(len(points), last + 1, dtype=np.int64)
    if points.shape[1] == 0:
        rank[:] = first
        return rank
    left = np.arange(len(points))
    for front in range(first, last + 1):
        if not left.size:
            break
        mask = non_dominated(points[left])
        rank[left[mask]] = front
        left = left[~mask]
    return rank


def objective_score(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Mean over objectives of the min-max normalised oriented value (0-1, higher is better).

    ``low``/``high`` are the per-objective minimum and maximum over the whole batch.
    """
    if points.shape[1] == 0:
        return np.zeros(len(points))
    span = high - low
    norm = (points - low) / np.where(span > 0, span, 1.0)
    return norm.mean(axis=1)


def order_keys(meets: np.ndarray, front: np.ndarray, score: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row order, best first: meets_targets, then front (bool: on it first; int: lower first), score, id."""
    front = np.asarray(front)
    front_key = ~front if front.dtype == bool else front
    return np.lexsort((np.asarray(ids).astype(str), -np.round(np.asarray(score, dtype=float), 12),
                       front_key, ~np.asarray(meets, dtype=bool)))


def best_rows(best: dict[str, np.ndarray] | None, chunk: dict[str, np.ndarray], keep: int) -> dict[str, np.ndarray]:
    """The ``keep`` best of (best so far + chunk), in order; arrays ``meets``, ``front``, ``score``, ``id``, ``row``."""
    merged = chunk if best is None else {k: np.concatenate([best[k], chunk[k]]) for k in chunk}
    order = order_keys(merged["meets"], merged["front"], merged["score"], merged["id"])[:keep]
    return {k: v[order] for k, v in merged.items()}
