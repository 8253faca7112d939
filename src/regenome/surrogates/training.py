"""Train a surrogate: grouped cross-validation for honest metrics, then a final fit and its card."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import clone

from regenome.modelstore import ModelCard, TrainingData, save_model, sha256_file
from regenome.surrogates import get_spec
from regenome.surrogates.base import SurrogateSpec, TrainingSet
from regenome.surrogates.uncertainty import grouped_folds


@dataclass
class TrainingResult:
    card: ModelCard
    folder: Path
    training_set: TrainingSet
    oof_mean: np.ndarray  # (n, k) out-of-fold predictions
    oof_std: np.ndarray


def regression_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R2, median relative error and one-sigma coverage of one output."""
    err = mean - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    nonzero = y != 0
    return {
        "n": float(len(y)),
        "MAE": float(np.mean(np.abs(err))),
        "RMSE": float(np.sqrt(np.mean(err**2))),
        "R2": float(1.0 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "median_relative_error": float(np.median(np.abs(err[nonzero]) / np.abs(y[nonzero]))),
        "coverage_1sigma": float(np.mean(np.abs(err) <= std)),
    }


def cross_validate(spec: SurrogateSpec, ts: TrainingSet, estimator, seed: int):
    """Out-of-fold mean and one-sigma predictions from grouped K-fold.

    Estimators with their own ``cross_validate`` (one mean-model fit per fold, see
    :meth:`CalibratedRegressor.cross_validate`) also return model-space out-of-fold
    predictions that the final fit reuses; others are refitted whole in every fold.
    Returns (mean, std, oof or None).
    """
    folds = grouped_folds(spec.n_splits, ts.groups, seed)
    if hasattr(estimator, "cross_validate"):
        return estimator.cross_validate(ts.X, ts.Y, ts.groups, folds)
    mean = np.empty_like(ts.Y, dtype=float)
    std = np.empty_like(ts.Y, dtype=float)
    for train, test in folds.split(ts.X, ts.Y, ts.groups):
        groups = None if ts.groups is None else ts.groups[train]
        fitted = clone(estimator).fit(ts.X[train], ts.Y[train], groups=groups)
        mean[test], std[test] = fitted.predict(ts.X[test], return_std=True)
    return mean, std, None


def subset_metrics(spec: SurrogateSpec, ts: TrainingSet, mean: np.ndarray, std: np.ndarray,
                   label: str = "{subset}") -> dict:
    """Metrics per subset (of 10 rows or more) and output, then per subset and derived output.

    Keys are ``label.format(subset=...) + "/" + output``. A derived output (``spec.derived_outputs``)
    is scored on ``fn`` of the reference and predicted values, with the one-sigma width mapped through
    ``fn`` as ``|fn(mean + std) - fn(mean - std)| / 2``.
    """
    out = {}
    for j, output in enumerate(spec.outputs):
        for subset, mask in ts.subsets.items():
            if mask.sum() >= 10:
                out[f"{label.format(subset=subset)}/{output}"] = regression_metrics(ts.Y[mask, j], mean[mask, j],
                                                                                   std[mask, j])
    for name, (source, _unit, fn) in spec.derived_outputs.items():
        j = list(spec.outputs).index(source)
        with np.errstate(invalid="ignore", divide="ignore"):
            y, m = fn(ts.Y[:, j]), fn(mean[:, j])
            s = np.abs(fn(mean[:, j] + std[:, j]) - fn(mean[:, j] - std[:, j])) / 2.0
        for subset, mask in ts.subsets.items():
            if mask.sum() >= 10:
                out[f"{label.format(subset=subset)}/{name}"] = regression_metrics(y[mask], m[mask], s[mask])
    return out


def mean_baseline(spec: SurrogateSpec, ts: TrainingSet, seed: int) -> dict:
    """Metrics of predicting, per subset, the mean (+- standard deviation) of the training folds' rows of
    that subset, on the same grouped folds as the model: keys ``"<subset> (mean predictor)/<output>"``."""
    folds = list(grouped_folds(spec.n_splits, ts.groups, seed).split(ts.X, ts.Y, ts.groups))
    out = {}
    for subset, mask in ts.subsets.items():
        mean = np.full_like(ts.Y, np.nan, dtype=float)
        std = np.full_like(ts.Y, np.nan, dtype=float)
        for train, test in folds:
            rows = train[mask[train]]
            rows = rows if len(rows) else train
            mean[test], std[test] = ts.Y[rows].mean(axis=0), ts.Y[rows].std(axis=0)
        part = TrainingSet(X=ts.X, Y=ts.Y, groups=ts.groups, frame=ts.frame, file=ts.file,
                           rows_in_file=ts.rows_in_file, filtering=ts.filtering, subsets={subset: mask})
        out.update(subset_metrics(spec, part, mean, std, label="{subset} (mean predictor)"))
    return out


def train_surrogate(name: str, data_dir: Path, out_dir: Path, seed: int = 0, quick: bool = False,
                    cross_validation: bool = True, fmt: str = "skops") -> TrainingResult:
    """Cross-validate and fit model ``name`` on the reference data; write ``out_dir/name``.

    ``fmt``: ``"skops"`` (safe to load anywhere) or ``"joblib"`` (loads only with ``trust``).
    """
    spec = get_spec(name)
    ts = spec.load_training_set(Path(data_dir), quick)
    estimator = spec.make_estimator(seed, quick, ts.context)
    oof = None
    if cross_validation:
        oof_mean, oof_std, oof = cross_validate(spec, ts, estimator, seed)
        metrics = subset_metrics(spec, ts, oof_mean, oof_std)
        if spec.mean_baseline:
            metrics.update(mean_baseline(spec, ts, seed))
    else:
        oof_mean = oof_std = np.full_like(ts.Y, np.nan, dtype=float)
        metrics = {}
    fit_args = {"oof": oof} if oof is not None else {}
    final = clone(estimator).fit(ts.X, ts.Y, groups=ts.groups, **fit_args)
    data_file = Path(data_dir) / ts.file
    card = ModelCard(
        name=spec.name, version=spec.version + ("-quick" if quick else ""), description=spec.description,
        inputs=spec.inputs, outputs=spec.outputs,
        training_data=[TrainingData(file=ts.file, sha256=sha256_file(data_file), rows_in_file=ts.rows_in_file,
                                    rows_used=len(ts.Y) if ts.rows_used is None else ts.rows_used, source=spec.source, filtering=ts.filtering)]
        + [TrainingData(file=f.file, sha256=sha256_file(Path(data_dir) / f.file), rows_in_file=f.rows_in_file,
                        rows_used=f.rows_used, source=f.source, filtering=f.filtering) for f in ts.extra_files],
        features=list(spec.feature_names(final)), training_range=spec.training_range(final),
        estimator=type(final).__name__, hyperparameters=_params(estimator),
        validation=spec.validation.format(n_splits=spec.n_splits, seed=seed) if cross_validation else "none",
        metrics=metrics, anchors=spec.anchors, seed=seed,
        train_command="regenome train " + shlex.join([name, "--data", "DATA", "--out", "DIR", "--seed", str(seed)]
                                                     + (["--quick"] if quick else [])),
    )
    card = save_model(final, card, Path(out_dir) / spec.name, fmt=fmt)
    return TrainingResult(card, Path(out_dir) / spec.name, ts, oof_mean, oof_std)


def _params(estimator) -> dict:
    """JSON-friendly hyper-parameters (nested estimators shown by class name)."""
    out = {}
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (int, float, str)) for v in value):
            out[key] = list(value)
        else:
            out[key] = type(value).__name__
    return out
