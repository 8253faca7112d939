"""Ranking: Pareto fronts against brute force, joint probabilities, order rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regenome.ranking import (
    non_dominated,
    objective_score,
    pareto_rank,
    probability_meets_targets,
    rank_order,
)
from regenome.spec import TargetBound


def _brute_front(p):
    return np.array([not np.any(np.all(p >= q, axis=1) & np.any(p > q, axis=1)) for q in p])


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 4)),
                  elements=st.integers(0, 5).map(float)))
def test_non_dominated_matches_brute_force(points):
    assert np.array_equal(non_dominated(points), _brute_front(points))


def test_fronts_peel_in_order_and_respect_direction():
    cols = {"a": np.array([3.0, 2.0, 1.0, 3.0]), "cost": np.array([1.0, 1.0, 1.0, 2.0])}
    rank = pareto_rank(cols, [("a", "max"), ("cost", "min")])
    assert rank.tolist() == [1, 2, 3, 2]


def test_probability_is_joint_over_draws():
    draws = {"x": np.array([[1.0, 2.0, 3.0, 4.0]]), "y": np.array([[4.0, 3.0, 2.0, 1.0]])}
    targets = {"x": TargetBound(min=2.0), "y": TargetBound(min=2.0)}
    assert probability_meets_targets(draws, {}, targets, 1, 4)[0] == 0.5  # draws 2 and 3 only
    cost = {"cost": np.array([10.0])}
    assert probability_meets_targets(draws, cost, {**targets, "cost": TargetBound(max=5.0)}, 1, 4)[0] == 0.0


def test_order_targets_then_front_then_score_then_id():
    cols = {"candidate_id": np.array(["d", "c", "b", "a"]), "meets_targets": np.array([False, True, True, True]),
            "pareto_rank": np.array([1, 2, 1, 1]), "score": np.array([0.9, 0.9, 0.5, 0.5])}
    order = rank_order(cols)
    assert cols["candidate_id"][order].tolist() == ["a", "b", "c", "d"]


def test_score_is_normalised_and_directional():
    s = objective_score({"a": np.array([0.0, 5.0, 10.0]), "c": np.array([1.0, 1.0, 3.0])},
                        [("a", "max"), ("c", "min")])
    assert s.tolist() == [0.5, 0.75, 0.5]
