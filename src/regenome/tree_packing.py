"""Compact storage of fitted histogram gradient-boosting trees in model files.

A fitted ``HistGradientBoostingRegressor`` holds one ``TreePredictor`` object per boosting
iteration, each with three small arrays; skops writes every one of them as its own archive entry
and audits each on load, so a 2,500-iteration model loads in seconds. :func:`packed_trees`
replaces them, for the time of a save, by one record per model: all node arrays concatenated, with
the node and bitset counts per tree. :func:`unpack_trees` rebuilds the predictors after loading,
after checking that every child index stays inside its own tree. Predictions are bit-identical;
files without packed trees load as before.

The record is the attribute :data:`PACKED_ATTRIBUTE` of the estimator: a dict of ``nodes``
(structured array, scikit-learn's predictor record), ``binned_bitsets`` and ``raw_bitsets``
(uint32, 8 per categorical split), ``n_nodes`` and ``n_bitsets`` (int64 per tree, trees in
iteration order) and ``trees_per_iteration``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

PACKED_ATTRIBUTE = "_regenome_packed_trees"
_WALKED_PACKAGES = ("sklearn", "regenome")


def _boosters(obj: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every histogram gradient-boosting estimator reachable from ``obj`` (attributes, lists, dicts)
    through scikit-learn and regenome objects, each once."""
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseHistGradientBoosting):
        yield obj
        return
    if isinstance(obj, (list, tuple)):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in _WALKED_PACKAGES:
        children = vars(obj).values()
    else:
        return
    for child in children:
        yield from _boosters(child, seen)


def _pack(predictors: list[list[Any]]) -> dict[str, Any]:
    flat = [tree for iteration in predictors for tree in iteration]
    return {
        "nodes": np.concatenate([t.nodes for t in flat]),
        "binned_bitsets": np.concatenate([t.binned_left_cat_bitsets for t in flat]),
        "raw_bitsets": np.concatenate([t.raw_left_cat_bitsets for t in flat]),
        "n_nodes": np.array([len(t.nodes) for t in flat], dtype=np.int64),
        "n_bitsets": np.array([len(t.binned_left_cat_bitsets) for t in flat], dtype=np.int64),
        "trees_per_iteration": len(predictors[0]),
    }


@contextmanager
def packed_trees(estimator: Any) -> Iterator[int]:
    """Within the block, the fitted boosters reachable from ``estimator`` hold packed trees instead of
    their predictor lists (restored on exit, also on error). Yields the number of boosters packed."""
    packed = []
    try:
        for booster in _boosters(estimator):
            predictors = getattr(booster, "_predictors", None)
            if predictors:
                setattr(booster, PACKED_ATTRIBUTE, _pack(predictors))
                booster._predictors = None
                packed.append((booster, predictors))
        yield len(packed)
    finally:
        for booster, predictors in packed:
            booster._predictors = predictors
            vars(booster).pop(PACKED_ATTRIBUTE, None)


def unpack_trees(estimator: Any) -> int:
    """Rebuild the predictor lists of every booster in ``estimator`` that holds packed trees; returns how many.

    Raises
    ------
    ValueError
        If a packed record is inconsistent (counts that do not add up, a child index outside its tree).
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    count = 0
    for booster in _boosters(estimator):
        record = vars(booster).pop(PACKED_ATTRIBUTE, None)
        if record is None:
            continue
        nodes, n_nodes, n_bitsets = record["nodes"], record["n_nodes"], record["n_bitsets"]
        per_iteration = int(record["trees_per_iteration"])
        node_end, bitset_end = np.cumsum(n_nodes), np.cumsum(n_bitsets)
        if (node_end[-1] != len(nodes) or bitset_end[-1] != len(record["binned_bitsets"])
                or bitset_end[-1] != len(record["raw_bitsets"]) or len(n_nodes) % per_iteration
                or np.any(n_nodes < 1)):
            raise ValueError("packed trees: node or bitset counts do not match the arrays")
        size = np.repeat(n_nodes, n_nodes)
        split = ~nodes["is_leaf"].astype(bool)
        for child in ("left", "right"):
            index = nodes[child].astype(np.int64)
            if np.any(split & ((index < 1) | (index >= size))):
                raise ValueError(f"packed trees: a {child} child index points outside its tree")
        if np.any(split & (nodes["feature_idx"].astype(np.int64) >= booster.n_features_in_)):
            raise ValueError("packed trees: a split reads a feature the model does not have")
        categorical = split & nodes["is_categorical"].astype(bool)
        if np.any(categorical & (nodes["bitset_idx"].astype(np.int64) >= np.repeat(n_bitsets, n_nodes))):
            raise ValueError("packed trees: a categorical split points outside its tree's bitsets")
        node_start, bitset_start = node_end - n_nodes, bitset_end - n_bitsets
        flat = [TreePredictor(nodes[a:b], record["binned_bitsets"][c:d], record["raw_bitsets"][c:d])
                for a, b, c, d in zip(node_start, node_end, bitset_start, bitset_end)]
        booster._predictors = [flat[i:i + per_iteration] for i in range(0, len(flat), per_iteration)]
        count += 1
    return count
