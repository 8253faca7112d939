"""Targets, probabilities, Pareto fronts and the final order: pure functions over arrays.

Order of ``ranked.csv`` (documented in the README): candidates whose mean predictions meet
every target first; then by Pareto front over the objectives (1 = non-dominated); then by
a score (mean over objectives of the min-max normalised value, direction-adjusted); ties
by candidate id, so the order is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


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


def _oriented(columns: Mapping[str, np.ndarray], objectives: list[tuple[str, str]]) -> np.ndarray:
    """Objective matrix (n, m) where larger is better in every column."""
    return np.stack([np.asarray(columns[name], dtype=float) * (1.0 if sense == "max" else -1.0)
                     for name, sense in objectives], axis=1)


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


def pareto_rank(columns: Mapping[str, np.ndarray], objectives: list[tuple[str, str]],
                max_fronts: int = 100) -> np.ndarray:
    """Front index of every row (1 = non-dominated); rows beyond ``max_fronts`` get ``max_fronts + 1``."""
    n = len(next(iter(columns.values())))
    rank = np.full(n, max_fronts + 1, dtype=np.int64)
    if not objectives or n == 0:
        rank[:] = 1
        return rank
    pts = _oriented(columns, objectives)
    left = np.arange(n)
    for front in range(1, max_fronts + 1):
        if not left.size:
            break
        mask = non_dominated(pts[left])
        rank[left[mask]] = front
        left = left[~mask]
    return rank


def objective_score(columns: Mapping[str, np.ndarray], objectives: list[tuple[str, str]]) -> np.ndarray:
    """Mean over objectives of the min-max normalised, direction-adjusted value (0-1, higher is better)."""
    n = len(next(iter(columns.values())))
    if not objectives or n == 0:
        return np.zeros(n)
    pts = _oriented(columns, objectives)
    span = pts.max(axis=0) - pts.min(axis=0)
    norm = (pts - pts.min(axis=0)) / np.where(span > 0, span, 1.0)
    return norm.mean(axis=1)


def rank_order(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Row order, best first: meets_targets, then Pareto front, then score, then candidate id."""
    keys = (np.asarray(columns["candidate_id"]).astype(str),
            -np.round(np.asarray(columns["score"], dtype=float), 12),
            np.asarray(columns["pareto_rank"]),
            ~np.asarray(columns["meets_targets"], dtype=bool))
    return np.lexsort(keys)
