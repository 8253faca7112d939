"""Ranking: Pareto fronts against brute force, joint probabilities, order rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regenome.ranking import (
    best_rows,
    non_dominated,
    objective_score,
    order_keys,
    oriented_objectives,
    peel_fronts,
    probability_meets_targets,
    update_front,
)
from regenome.spec import TargetBound


def _brute_front(p):
    return np.array([not np.any(np.all(p >= q, axis=1) & np.any(p > q, axis=1)) for q in p])


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 4)),
                  elements=st.integers(0, 5).map(float)))
def test_non_dominated_matches_brute_force(points):
    assert np.array_equal(non_dominated(points), _brute_front(points))


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 120), st.integers(1, 4)),
                  elements=st.one_of(st.integers(0, 6).map(float), st.just(np.nan))),
       st.integers(1, 7), st.integers(2, 9))
def test_blocked_and_sampled_front_match_brute_force(points, block, sample):
    """Small blocks and a tiny pruning sample (so every path runs); NaN counts as the worst value."""
    import regenome.ranking as ranking

    old = ranking._SAMPLE
    ranking._SAMPLE = sample
    try:
        got = non_dominated(points, block=block)
    finally:
        ranking._SAMPLE = old
    assert np.array_equal(got, _brute_front(np.where(np.isnan(points), -np.inf, points)))


def test_fronts_peel_in_order_and_stop_at_the_last():
    pts = oriented_objectives({"a": np.array([3.0, 2.0, 1.0, 3.0]), "cost": np.array([1.0, 1.0, 1.0, 2.0])},
                              [("a", "max"), ("cost", "min")])
    assert peel_fronts(pts, 1, 10).tolist() == [1, 2, 3, 2]
    assert peel_fronts(pts, 2, 3).tolist() == [2, 3, 4, 3]


def test_front_respects_direction():
    cols = {"a": np.array([3.0, 2.0, 1.0, 3.0, 1.0]), "cost": np.array([1.0, 1.0, 1.0, 2.0, 0.5])}
    pts = oriented_objectives(cols, [("a", "max"), ("cost", "min")])
    assert non_dominated(pts).tolist() == [True, False, False, False, True]


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 80), st.integers(0, 3)), elements=st.integers(0, 4).map(float)),
       st.integers(1, 30), st.integers(1, 90))
def test_chunked_front_and_top_k_equal_the_whole_batch(points, chunk, keep):
    """Merging chunk by chunk gives the front and the best rows of the whole batch, for any chunk size."""
    n, m = points.shape
    ids = np.array([f"id{i:03d}" for i in np.random.default_rng(0).permutation(n)])
    meets = points[:, 0] > 1 if m else np.ones(n, dtype=bool)
    front_pts, front_rows = np.zeros((0, m)), np.zeros(0, dtype=np.int64)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        front_pts, front_rows = update_front(front_pts, front_rows, points[rows], rows)
    whole = _brute_front(points) if m else np.ones(n, dtype=bool)
    assert sorted(front_rows.tolist()) == np.flatnonzero(whole).tolist()

    low, high = (points.min(axis=0), points.max(axis=0)) if n else (None, None)
    score = objective_score(points, low, high)
    on_front = np.isin(np.arange(n), front_rows)
    best = None
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        best = best_rows(best, {"meets": meets[sl], "front": on_front[sl], "score": score[sl], "id": ids[sl],
                                "row": np.arange(n)[sl]}, keep)
    assert best["row"].tolist() == order_keys(meets, on_front, score, ids)[:keep].tolist()


def test_probability_is_joint_over_draws():
    draws = {"x": np.array([[1.0, 2.0, 3.0, 4.0]]), "y": np.array([[4.0, 3.0, 2.0, 1.0]])}
    targets = {"x": TargetBound(min=2.0), "y": TargetBound(min=2.0)}
    assert probability_meets_targets(draws, {}, targets, 1, 4)[0] == 0.5  # draws 2 and 3 only
    cost = {"cost": np.array([10.0])}
    assert probability_meets_targets(draws, cost, {**targets, "cost": TargetBound(max=5.0)}, 1, 4)[0] == 0.0


def test_order_targets_then_front_then_score_then_id():
    ids = np.array(["d", "c", "b", "a"])
    order = order_keys(np.array([False, True, True, True]), np.array([True, False, True, True]),
                       np.array([0.9, 0.9, 0.5, 0.5]), ids)
    assert ids[order].tolist() == ["a", "b", "c", "d"]


def test_score_is_normalised_and_directional():
    pts = oriented_objectives({"a": np.array([0.0, 5.0, 10.0]), "c": np.array([1.0, 1.0, 3.0])},
                              [("a", "max"), ("c", "min")])
    s = objective_score(pts, pts.min(axis=0), pts.max(axis=0))
    assert s.tolist() == [0.5, 0.75, 0.5]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.integers(1, 40), st.integers(1, 60), st.integers(0, 2**31))
def test_best_rows_with_ties_nan_scores_and_int_fronts(n, chunk, keep, seed):
    """The pre-filter of full merges keeps the result equal to one sort of the whole table."""
    rng = np.random.default_rng(seed)
    meets = rng.random(n) < 0.5
    front = rng.integers(1, 4, n) if seed % 2 else rng.random(n) < 0.3
    score = np.round(rng.random(n), 1)
    score[rng.random(n) < 0.2] = np.nan
    ids = np.array([f"id{i:04d}" for i in rng.permutation(n)])
    best = None
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        best = best_rows(best, {"meets": meets[sl], "front": front[sl], "score": score[sl], "id": ids[sl],
                                "row": np.arange(n)[sl]}, keep)
    assert best["row"].tolist() == order_keys(meets, front, score, ids)[:keep].tolist()
