"""The contract every trained surrogate follows.

A :class:`SurrogateSpec` says what a model reads and writes (columns and units),
where its training data comes from, how to build its estimator, and how to turn
a user's table into model inputs. Estimators follow scikit-learn: ``fit(X, Y,
groups=None)`` and ``predict(X, return_std=True) -> (mean, std)``, both ``(n, k)``
for ``k`` outputs, in the units of ``outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd


@dataclass
class TrainingSet:
    """Model inputs, targets and CV groups built from one reference-data file."""

    X: np.ndarray
    Y: np.ndarray
    groups: np.ndarray | None
    frame: pd.DataFrame  # one row per training row: identifiers and family labels for reports
    file: str  # relative to the reference-data folder
    rows_in_file: int
    filtering: str
    subsets: dict[str, np.ndarray] = field(default_factory=dict)  # name -> boolean mask
    extra_files: list[ExtraFile] = field(default_factory=list)  # further files the set was built from
    context: dict = field(default_factory=dict)  # objects built from the data that make_estimator needs
    rows_used: int | None = None  # rows of ``file`` behind the set, when not len(Y) (e.g. sets joined from files)


@dataclass
class ExtraFile:
    """A further reference file a training set reads (recorded with its sha256 on the model card)."""

    file: str  # relative to the reference-data folder
    rows_in_file: int
    rows_used: int
    source: str
    filtering: str = ""


def subsample(ts: TrainingSet, n: int, seed: int) -> TrainingSet:
    """A random subset of ``n`` rows (for quick training in tests); the card still counts the file rows behind the set."""
    if len(ts.Y) <= n:
        return ts
    idx = np.sort(np.random.default_rng(seed).choice(len(ts.Y), n, replace=False))
    return TrainingSet(X=ts.X[idx], Y=ts.Y[idx], groups=None if ts.groups is None else ts.groups[idx],
                       frame=ts.frame.iloc[idx].reset_index(drop=True), file=ts.file,
                       rows_in_file=ts.rows_in_file, rows_used=len(ts.Y) if ts.rows_used is None else ts.rows_used,
                       filtering=ts.filtering + f"; quick mode: trained on a random subset of {n} of the "
                                                f"{len(ts.Y)} rows of the set",
                       subsets={k: v[idx] for k, v in ts.subsets.items()}, extra_files=ts.extra_files,
                       context=ts.context)


#: Card metrics where larger is better; a target on any other metric is an upper bound.
HIGHER_IS_BETTER = frozenset({"R2"})


def target_relation(metric: str) -> str:
    """How a metric must compare with its target: ``">="`` (R2) or ``"<="`` (errors)."""
    return ">=" if metric in HIGHER_IS_BETTER else "<="


@dataclass(frozen=True)
class TargetCheck:
    """One target of a spec against a card's cross-validated metric (``value`` NaN when the card lacks it)."""

    key: str  # subset/output
    metric: str
    value: float
    bound: float

    @property
    def relation(self) -> str:
        return target_relation(self.metric)

    @property
    def met(self) -> bool:
        return bool(self.value >= self.bound if self.metric in HIGHER_IS_BETTER else self.value <= self.bound)

    def __str__(self) -> str:
        value = f"{self.value:.6f}" if self.metric in HIGHER_IS_BETTER else f"{self.value:.4g}"
        verdict = "met" if self.met else "not met"
        return f"{self.key} {self.metric} {value} (target {self.relation} {self.bound:g}: {verdict})"


def check_targets(targets: dict[str, dict[str, float]], metrics: dict[str, dict]) -> list[TargetCheck]:
    """Every target (subset/output -> metric -> bound) against the card's metrics of that subset/output."""
    return [TargetCheck(key, metric, float(metrics.get(key, {}).get(metric, float("nan"))), float(bound))
            for key, bounds in targets.items() for metric, bound in bounds.items()]


@dataclass(frozen=True)
class SurrogateSpec:
    """A trained surrogate: its interface, data and estimator factory."""

    name: str
    version: str
    description: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    source: str
    load_training_set: Callable[[Path, bool], TrainingSet]
    make_estimator: Callable[[int, bool, dict], Any]  # (seed, quick, TrainingSet.context)
    prepare_inputs: Callable[[Any, pd.DataFrame], tuple[np.ndarray, list[str]]]
    feature_names: Callable[[Any], list[str]]
    training_range: Callable[[Any], dict]
    validation: str
    anchors: list[dict] = field(default_factory=list)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)  # subset/output -> metric -> bound
    n_splits: int = 5
    check_predictions: Callable[[Any, np.ndarray, np.ndarray], list[str]] | None = None  # (est, X, mean) -> errors
    # metrics also reported in other units: name -> (output it derives from, unit, function of values in the
    # output's units), e.g. {"emission_eV": ("emission_nm", "eV", nm_to_ev)}; the card gets "<subset>/<name>"
    derived_outputs: dict[str, tuple[str, str, Callable[[np.ndarray], np.ndarray]]] = field(default_factory=dict)
    # also score a predictor of the training folds' mean target (per subset, same grouped folds): card keys
    # "<subset> (mean predictor)/<output>"
    mean_baseline: bool = False
