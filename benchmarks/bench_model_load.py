"""Benchmark: loading a shipped model file, trees packed (regenome) vs skops' own layout.

For each model in ``--models`` (default: every model in ``models/`` whose estimator holds fitted
tree ensembles: histogram gradient boosting or forests), the fitted estimator is loaded once, then
written twice into a temporary folder: with :func:`regenome.modelstore.save_model` (trees packed,
one record per booster or forest: :mod:`regenome.tree_packing`) and with plain ``skops.io.dump``
(an object and several arrays per tree; how regenome wrote model files before). Timed (median of
``--repeats``, in-process, cold page cache not forced): regenome's ``load_from_folder`` (sha256
check, type audit, load, unpack) against the baseline ``skops.io.load(path,
trusted=get_untrusted_types(path))``. Not timed: the writes. Check: both loaded estimators predict
bit-identical values on 256 rows of random inputs, end to end and per booster or forest.

Ratio: baseline load / regenome load for the model with the most trees (no target in an issue;
a phosphor screen loads five such models).

Usage::

    python benchmarks/bench_model_load.py [--models debye-temperature,saturation-magnetization] [--repeats 5]
    python benchmarks/bench_model_load.py --quick     # 1 repeat of the smallest model: a smoke test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "modelload"
TITLE = "Loading a model file: packed tree ensembles vs skops' layout"
BASELINE = "skops.io.load of the same fitted model written by skops.io.dump (one archive entry per tree array)"
ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None, help="comma-separated model names (default: all with tree ensembles)")
    p.add_argument("--repeats", type=int, default=None, help="timed loads per variant (default 5; --quick 1)")
    p.add_argument("--quick", action="store_true", help="one repeat of the model with the fewest trees")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 5)
    return args


def _inputs(estimator, n: int = 256) -> np.ndarray:
    """Random rows in [0, 1), as many columns as ``estimator`` reads."""
    return np.random.default_rng(0).random((n, int(estimator.n_features_in_)))


def main(argv=None) -> int:
    args = parse_args(argv)
    import skops.io as sio

    from _common import median_time, print_table, ratio_entry, table_entry, write_json
    from regenome.modelstore import load_from_folder, models_dir, save_model
    folders = sorted(p for p in models_dir().iterdir() if (p / "card.json").is_file())
    if args.models:
        wanted = set(args.models.split(","))
        folders = [f for f in folders if f.name in wanted]
    loaded = {}
    for folder in folders:
        estimator, card = load_from_folder(folder)
        n_trees = sum(len(getattr(e, "_predictors", None) or e.estimators_) for e in _ensembles(estimator))
        if n_trees:
            loaded[folder.name] = (estimator, card, n_trees)
    if not loaded:
        print("no trained model with tree ensembles found; run `regenome train` first", file=sys.stderr)
        return 2
    if args.quick:
        smallest = min(loaded, key=lambda k: loaded[k][2])
        loaded = {smallest: loaded[smallest]}
    rows, checks, metrics = [], [], {}
    with tempfile.TemporaryDirectory(prefix="regenome-load-") as tmp:
        for name, (estimator, card, n_trees) in loaded.items():
            packed_dir, plain = Path(tmp) / name, Path(tmp) / f"{name}-plain.skops"
            save_model(estimator, card, packed_dir)
            sio.dump(estimator, plain, compression=zipfile.ZIP_DEFLATED, compresslevel=6)

            def baseline():
                return sio.load(plain, trusted=sio.get_untrusted_types(file=plain))

            t_base, _ = median_time(baseline, args.repeats)
            t_ours, _ = median_time(lambda: load_from_folder(packed_dir), args.repeats)
            X = _inputs(getattr(estimator, "regressor_", estimator))
            ours = load_from_folder(packed_dir)[0]
            same = _same_predictions(estimator, baseline(), ours, X) and _same_ensembles(estimator, ours)
            checks.append({"name": f"{name}: identical predictions", "passed": same,
                           "detail": "256 random rows, end to end and per tree ensemble"})
            sizes = [plain.stat().st_size / 1e6, (packed_dir / "model.skops").stat().st_size / 1e6]
            entries = [len(zipfile.ZipFile(plain).namelist()),
                       len(zipfile.ZipFile(packed_dir / "model.skops").namelist())]
            rows.append([name, f"{n_trees:,}", f"{entries[0]:,}", f"{entries[1]:,}", f"{sizes[0]:.1f}",
                         f"{sizes[1]:.1f}", f"{t_base:.2f}", f"{t_ours:.2f}", f"{t_base / t_ours:.1f}x"])
            metrics[f"{name}_load_s"], metrics[f"{name}_baseline_load_s"] = t_ours, t_base
    header = ["model", "trees", "entries (skops)", "entries (packed)", "MB (skops)", "MB (packed)",
              "load s (skops)", "load s (regenome)", "ratio"]
    print(f"{TITLE}; baseline: {BASELINE}; {args.repeats} repeat(s), medians")
    print_table(header, rows)
    biggest = max(loaded, key=lambda k: loaded[k][2])
    ratio = metrics[f"{biggest}_baseline_load_s"] / metrics[f"{biggest}_load_s"]
    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE, "quick": args.quick,
        "params": {"repeats": args.repeats, "models": ", ".join(loaded)},
        "tables": [table_entry("Load time per model file (median s)", header, rows)],
        "ratios": [ratio_entry(f"skops load / regenome load, {biggest}", ratio, None)],
        "checks": checks, "metrics": metrics, "notes": [],
    })
    return 0 if all(c["passed"] for c in checks) else 1


def _same_predictions(estimator, baseline, ours, X) -> bool:
    """The three estimators' predict on the raw model inputs agree exactly (through the featurizer if any)."""
    inner = [getattr(m, "regressor_", m) for m in (estimator, baseline, ours)]
    try:
        outputs = [m.predict(X) for m in inner]
    except Exception:  # noqa: BLE001 - a model whose inner regressor needs structured inputs
        return False
    return all(np.array_equal(outputs[0], o, equal_nan=True) for o in outputs[1:])


def _ensembles(model) -> list:
    """The fitted boosters (with their predictor lists) and forests (with their trees) in ``model``."""
    from regenome.tree_packing import _boosters, _forests

    return ([b for b in _boosters(model) if getattr(b, "_predictors", None)]
            + [f for f in _forests(model) if getattr(f, "estimators_", None)])


def _same_ensembles(estimator, ours) -> bool:
    """Every fitted booster and forest predicts the same on random rows of its own inputs in both
    estimators (the end-to-end check can be NaN for inputs outside a model's domain)."""
    theirs, mine = _ensembles(estimator), _ensembles(ours)
    return len(theirs) == len(mine) and all(
        np.array_equal(a.predict(_inputs(a)), b.predict(_inputs(b))) for a, b in zip(theirs, mine))


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    sys.exit(code)
