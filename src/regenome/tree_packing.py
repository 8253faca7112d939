"""Compact storage of fitted tree ensembles in model files.

A fitted ``HistGradientBoostingRegressor`` holds one ``TreePredictor`` object per boosting
iteration, each with three small arrays, and a fitted forest (``ExtraTreesRegressor``,
``RandomForestClassifier``...) one decision-tree estimator per tree, each with its own ``Tree`` and
two arrays; skops writes every one of them as its own archive entry or schema object and audits
each on load, so a 2,500-iteration booster or a 600-tree forest loads in seconds.
:func:`packed_trees` replaces them, for the time of a save, by one record per ensemble: all node
arrays concatenated, with the node counts per tree. :func:`unpack_trees` rebuilds the trees after
loading, after checking that every child index points further down its own tree and every split
reads an existing feature. Predictions are bit-identical; files without packed trees load as before.

The booster record is the attribute :data:`PACKED_ATTRIBUTE` of the estimator: a dict of ``nodes``
(structured array, scikit-learn's predictor record), ``binned_bitsets`` and ``raw_bitsets``
(uint32, 8 per categorical split), ``n_nodes`` and ``n_bitsets`` (int64 per tree, trees in
iteration order) and ``trees_per_iteration``. The forest record is the attribute
:data:`PACKED_FOREST_ATTRIBUTE`: ``template`` (the first tree's estimator without its ``tree_``),
``random_states`` and ``n_nodes`` and ``max_depth`` (int64 per tree), ``nodes`` (scikit-learn's
``Tree`` node record) and ``values`` (float64, nodes x outputs x classes), ``n_features`` and
``n_classes`` (int64 per output). A forest whose trees differ in anything but their ``tree_`` and
``random_state`` is left as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

PACKED_ATTRIBUTE = "_regenome_packed_trees"
PACKED_FOREST_ATTRIBUTE = "_regenome_packed_forest"
_WALKED_PACKAGES = ("sklearn", "regenome")


def _boosters(obj: Any) -> Iterator[Any]:
    """Every histogram gradient-boosting estimator reachable from ``obj``, each once."""
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting

    return _reachable(obj, BaseHistGradientBoosting)


def _forests(obj: Any) -> Iterator[Any]:
    """Every forest (bagged decision trees: random forest, extremely randomized trees) reachable from ``obj``."""
    from sklearn.ensemble._forest import BaseForest

    return _reachable(obj, BaseForest)


def _reachable(obj: Any, kind: type, seen: set[int] | None = None) -> Iterator[Any]:
    """Every instance of ``kind`` reachable from ``obj`` (attributes, lists, dicts) through
    scikit-learn and regenome objects, each once; the walk does not enter a ``kind`` instance."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, kind):
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
        yield from _reachable(child, kind, seen)


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


def _same_state(a: Any, b: Any) -> bool:
    """Whether two fitted-attribute values are equal (arrays by dtype, shape and content)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - an object whose == is not a plain truth value
        return False


_PER_TREE = ("tree_", "random_state")  # the attributes in which the trees of one forest differ


def _pack_forest(trees: list[Any]) -> dict[str, Any] | None:
    """The packed record of a forest's fitted trees, or None when they differ in more than
    :data:`_PER_TREE` (then the forest is stored as it is)."""
    first = vars(trees[0])
    shared = {k: v for k, v in first.items() if k not in _PER_TREE}
    for tree in trees:
        state = vars(tree)
        if (type(tree) is not type(trees[0]) or state.keys() != first.keys()
                or not isinstance(state.get("random_state"), (int, np.integer))
                or not all(_same_state(state[k], v) for k, v in shared.items())):
            return None
    states = [t.tree_.__getstate__() for t in trees]
    template = copy.copy(trees[0])
    del template.tree_
    return {
        "template": template,
        "random_states": np.array([t.random_state for t in trees], dtype=np.int64),
        "n_nodes": np.array([s["node_count"] for s in states], dtype=np.int64),
        "max_depth": np.array([s["max_depth"] for s in states], dtype=np.int64),
        "nodes": np.concatenate([s["nodes"] for s in states]),
        "values": np.concatenate([s["values"] for s in states]),
        "n_features": int(trees[0].tree_.n_features),
        "n_classes": np.asarray(trees[0].tree_.n_classes, dtype=np.int64),
    }


def _unpack_forest(record: dict[str, Any]) -> list[Any]:
    """The fitted tree estimators of a packed forest record, after checking its indices."""
    from sklearn.tree._classes import BaseDecisionTree
    from sklearn.tree._tree import Tree

    nodes, values, n_nodes = record["nodes"], record["values"], record["n_nodes"]
    n_classes = np.asarray(record["n_classes"], dtype=np.intp)
    n_features = int(record["n_features"])
    if not isinstance(record["template"], BaseDecisionTree) or n_features < 1 or np.any(n_classes < 1):
        raise ValueError("packed forest: the template is not a decision tree, or its sizes are not positive")
    if (len(n_nodes) != len(record["random_states"]) or len(n_nodes) != len(record["max_depth"])
            or np.any(n_nodes < 1) or n_nodes.sum() != len(nodes) or len(values) != len(nodes)):
        raise ValueError("packed forest: node counts do not match the arrays")
    split = nodes["left_child"] != -1  # scikit-learn's leaves have both children -1
    _check_children(nodes["left_child"], nodes["right_child"], split, n_nodes, "packed forest")
    features = nodes["feature"].astype(np.int64)
    if np.any(split & ((features < 0) | (features >= n_features))):
        raise ValueError("packed forest: a split reads a feature the model does not have")
    trees, end = [], np.cumsum(n_nodes)
    for seed, depth, a, b in zip(record["random_states"], record["max_depth"], end - n_nodes, end):
        tree = copy.copy(record["template"])
        tree.random_state = int(seed)
        tree.tree_ = Tree(n_features, n_classes, len(n_classes))
        tree.tree_.__setstate__({"max_depth": int(depth), "node_count": int(b - a),
                                 "nodes": nodes[a:b], "values": values[a:b]})
        trees.append(tree)
    return trees


def _check_children(left: np.ndarray, right: np.ndarray, split: np.ndarray, n_nodes: np.ndarray,
                    what: str) -> None:
    """Every split node's children lie further down its own tree (no index outside it, no cycle)."""
    size = np.repeat(n_nodes, n_nodes)
    own = np.arange(len(split)) - np.repeat(np.cumsum(n_nodes) - n_nodes, n_nodes)
    for name, child in (("left", left), ("right", right)):
        index = child.astype(np.int64)
        if np.any(split & ((index <= own) | (index >= size))):
            raise ValueError(f"{what}: a {name} child index points outside its tree")


@contextmanager
def packed_trees(estimator: Any) -> Iterator[int]:
    """Within the block, the fitted boosters and forests reachable from ``estimator`` hold packed trees
    instead of their tree objects (restored on exit, also on error). Yields the number of ensembles packed."""
    packed = []
    try:
        for booster in _boosters(estimator):
            predictors = getattr(booster, "_predictors", None)
            if predictors:
                setattr(booster, PACKED_ATTRIBUTE, _pack(predictors))
                booster._predictors = None
                packed.append((booster, "_predictors", predictors, PACKED_ATTRIBUTE))
        for forest in _forests(estimator):
            trees = getattr(forest, "estimators_", None)
            record = _pack_forest(trees) if trees else None
            if record is not None:
                setattr(forest, PACKED_FOREST_ATTRIBUTE, record)
                forest.estimators_ = None
                packed.append((forest, "estimators_", trees, PACKED_FOREST_ATTRIBUTE))
        yield len(packed)
    finally:
        for owner, attribute, trees, record_attribute in packed:
            setattr(owner, attribute, trees)
            vars(owner).pop(record_attribute, None)


def unpack_trees(estimator: Any) -> int:
    """Rebuild the trees of every booster and forest in ``estimator`` that holds packed trees; returns how many.

    Raises
    ------
    ValueError
        If a packed record is inconsistent (counts that do not add up, a child index outside its tree
        or not below its parent, a split on a feature the model does not have).
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    count = 0
    for forest in _forests(estimator):
        record = vars(forest).pop(PACKED_FOREST_ATTRIBUTE, None)
        if record is not None:
            forest.estimators_ = _unpack_forest(record)
            count += 1
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
        split = ~nodes["is_leaf"].astype(bool)
        _check_children(nodes["left"], nodes["right"], split, n_nodes, "packed trees")
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
