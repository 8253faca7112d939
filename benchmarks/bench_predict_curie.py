"""Benchmark: ``regenome predict curie-temperature`` against matminer Magpie + random forest.

Prints, for one machine and one run, the time per formula of

1. regenome end to end, as a user runs it: ``regenome predict curie-temperature IN.csv --out OUT.csv``
   in a subprocess (start-up, CSV read, formula parsing, features, mean and one-sigma prediction,
   CSV write) on ``--n`` generated formulas, plus where that time goes (the same stages called
   in-process);
2. the baseline: matminer ``ElementProperty.from_preset("magpie")`` on pymatgen ``Composition``
   objects (serial, ``n_jobs=1``) followed by a scikit-learn ``RandomForestRegressor`` trained here on
   the Magpie features of the Curie-temperature reference data, on the first ``--baseline-n`` of
   the same formulas, CSV read and write included;
3. a check that regenome's composition features agree with matminer's Magpie values where both
   define the same statistic of the same element property.

Usage::

    python benchmarks/bench_predict_curie.py [--n 1000000] [--baseline-n 2000] [--threads 1] [--json OUT.json]
    python benchmarks/bench_predict_curie.py --quick      # small sizes: a smoke test, not a measurement

The model is the one ``regenome`` loads: the shipped model, or ``REGENOME_MODELS_DIR`` (``--models``).
The reference data is found like ``regenome train`` finds it (``--data``, ``REGENOME_DATA`` or
``../shared/data`` beside the checkout). Generated inputs go to a temporary folder that is deleted.
See ``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BASELINE = ('matminer ElementProperty.from_preset("magpie") on pymatgen Composition (n_jobs=1) '
            '+ scikit-learn RandomForestRegressor')
MODEL = "curie-temperature"
PACKAGES = ("regenome", "numpy", "scipy", "pandas", "scikit-learn", "skops", "pymatgen-core", "matminer")

#: regenome element-table column -> (Magpie property, factor to Magpie units, note when they differ).
MATCHED = {
    "Z": ("Number", 1.0, ""),
    "row": ("Row", 1.0, ""),
    "group": ("Column", 1.0, ""),
    "mendeleev_number": ("MendeleevNumber", 1.0, "two Mendeleev scales (pymatgen vs Magpie/Villars)"),
    "electronegativity_pauling": ("Electronegativity", 1.0, ""),
    "atomic_mass_u": ("AtomicWeight", 1.0, ""),
    "melting_point_K": ("MeltingT", 1.0, ""),
    "n_valence_s": ("NsValence", 1.0, ""),
    "n_valence_p": ("NpValence", 1.0, ""),
    "n_valence_d": ("NdValence", 1.0, ""),
    "n_valence_f": ("NfValence", 1.0, ""),
    "n_valence": ("NValence", 1.0, ""),
    "n_unfilled_s": ("NsUnfilled", 1.0, ""),
    "n_unfilled_p": ("NpUnfilled", 1.0, ""),
    "n_unfilled_d": ("NdUnfilled", 1.0, ""),
    "n_unfilled_f": ("NfUnfilled", 1.0, ""),
    "n_unfilled": ("NUnfilled", 1.0, ""),
    "atomic_radius_A": ("CovalentRadius", 100.0,
                        "not the same quantity: empirical atomic radius (A) vs covalent radius (pm)"),
    "molar_volume_cm3_mol": ("GSvolume_pa", 1e24 / 6.02214076e23,
                             "not the same quantity: measured molar volume vs DFT ground-state "
                             "volume per atom (converted to A^3/atom)"),
}
#: regenome stat -> Magpie stat.
STAT_NAMES = {"mean": "mean", "min": "minimum", "max": "maximum", "range": "range", "dev": "avg_dev"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="formulas for regenome (default 1,000,000)")
    p.add_argument("--baseline-n", type=int, default=2000,
                   help="formulas for the matminer baseline, the first of the same list (default 2000)")
    p.add_argument("--agree-n", type=int, default=300,
                   help="formulas for the features-agree check (default 300)")
    p.add_argument("--breakdown-n", type=int, default=50_000,
                   help="rows for the in-process stage breakdown of regenome's path (default 50,000; 0 skips)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed runs of each measurement (default 3); medians are shown")
    p.add_argument("--budget", type=float, default=300.0,
                   help="seconds after which the runs on --n formulas (and each breakdown stage, at a "
                        "tenth of it) stop repeating (default 300; at least one run is always made)")
    p.add_argument("--threads", type=int, default=1,
                   help="OpenMP/BLAS threads for regenome and the forest (default 1; matminer is always "
                        "serial; regenome's tree models cap themselves at one OpenMP thread)")
    p.add_argument("--n-jobs", type=int, default=1,
                   help="worker processes for regenome predict (--n-jobs); the baseline stays serial, its best")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated formulas")
    p.add_argument("--data", default=None, help="reference-data folder (default: REGENOME_DATA or ../shared/data)")
    p.add_argument("--models", default=None, help="models folder (default: REGENOME_MODELS_DIR, else shipped)")
    p.add_argument("--trees", type=int, default=100, help="trees of the baseline random forest (default 100)")
    p.add_argument("--skip-baseline", action="store_true", help="time regenome only")
    p.add_argument("--quick", action="store_true",
                   help="small sizes for a smoke test (--n 50000 --baseline-n 200 --agree-n 100 "
                        "--breakdown-n 5000 --repeats 1 --trees 20 unless given)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        given = set(argv if argv is not None else sys.argv[1:])
        for opt, value in (("--n", 50_000), ("--baseline-n", 200), ("--agree-n", 100),
                           ("--breakdown-n", 5000), ("--repeats", 1), ("--trees", 20)):
            if not any(g == opt or g.startswith(opt + "=") for g in given):
                setattr(args, opt[2:].replace("-", "_"), value)
    if args.n < 1 or args.baseline_n < 1 or args.agree_n < 1 or args.repeats < 1 or args.threads < 1:
        p.error("--n, --baseline-n, --agree-n, --repeats and --threads must be positive")
    args.baseline_n = min(args.baseline_n, args.n)
    return args


def thread_env(threads: int) -> dict[str, str]:
    return {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def regenome_command() -> list[str]:
    """The ``regenome`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("regenome")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("regenome")
    if found:
        return [found]
    return [sys.executable, "-c", "from regenome.cli import main; main()"]


N_JOBS = ["--n-jobs", "1"]


def n_trees(model) -> int:
    """Trees of a fitted forest or gradient-boosting model."""
    return len(model.estimators_) if hasattr(model, "estimators_") else int(model.n_iter_)


def run_cli(csv_in: Path, csv_out: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time (s), CPU time of the child (user + system, s) and stderr of one CLI run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([*regenome_command(), "predict", MODEL, str(csv_in), "--out", str(csv_out), *N_JOBS],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"regenome predict failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr.strip()


def timed(func, repeats: int, budget: float = float("inf")) -> tuple[float, float, object]:
    """Median wall and CPU time (s) of up to ``repeats`` calls (fewer once ``budget`` s are spent),
    and the last result."""
    walls, cpus = [], []
    result = None
    start = time.perf_counter()
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        result = func()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if time.perf_counter() - start > budget:
            break
    return statistics.median(walls), statistics.median(cpus), result


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:,.1f}"


# ----------------------------------------------------------------------------- regenome
def describe_model(estimator, card) -> str:
    reg = getattr(estimator, "regressor_", None)
    parts = [f"{card.name} {card.version} (created {card.created})"]
    try:
        parts.append(f"{type(reg.estimator_).__name__} {n_trees(reg.estimator_)} trees for the mean + "
                     f"{type(reg.error_estimator_).__name__} {n_trees(reg.error_estimator_)} trees for the "
                     f"one-sigma error, {len(estimator.featurizer_.get_feature_names_out())} features")
    except AttributeError:
        parts.append(type(estimator).__name__)
    return "; ".join(parts)


def breakdown(csv_in: Path, out_dir: Path, repeats: int, budget: float) -> tuple[int, list[list[str]]]:
    """Time each stage of regenome's predict path in-process (the model is already loaded)."""
    import numpy as np

    from regenome.features.formula import parse_formulas
    from regenome.modelstore import load_model
    from regenome.surrogates import get_spec
    from regenome.tableio import read_input_csv, write_csv_atomic

    spec = get_spec(MODEL)
    estimator, _ = load_model(MODEL)
    featurizer = estimator.featurizer_
    mean_model = estimator.regressor_.estimator_
    error_model = estimator.regressor_.error_estimator_
    stages: list[tuple[str, float, float]] = []

    def stage(name, func):
        wall, cpu, result = timed(func, repeats, budget)
        stages.append((name, wall, cpu))
        return result

    frame = stage("read CSV (tableio.read_input_csv)", lambda: read_input_csv(csv_in, ["formula"]))
    n = len(frame)
    formulas = frame["formula"].astype(str).tolist()
    F, errors = stage("parse formulas (features.formula.parse_formulas)", lambda: parse_formulas(formulas))
    stage("training-domain check (rest of prepare_inputs)",
          lambda: spec.prepare_inputs(estimator, frame))
    stages[-1] = (stages[-1][0], max(stages[-1][1] - stages[-2][1], 0.0),
                  max(stages[-1][2] - stages[-2][2], 0.0))
    ok = ~np.array([bool(e) for e in errors])
    F = F[ok]
    X = stage("featurize (CompositionFeaturizer.transform)", lambda: featurizer.transform(F))
    calibrated = estimator.regressor_
    inverse = getattr(calibrated, "_inverse", lambda z: z)  # the target transform, if any
    # each model gets the memory layout CalibratedRegressor.predict gives it
    from regenome.surrogates.uncertainty import _layout

    mean = stage(f"mean model predict ({n_trees(mean_model)} trees)",
                 lambda: inverse(mean_model.predict(_layout(mean_model, X))))
    err = stage(f"error model predict ({n_trees(error_model)} trees)",
                lambda: calibrated.scale_ * np.maximum(error_model.predict(_layout(error_model, X)),
                                                       calibrated.error_floor_))
    result = frame.copy()
    col_mean = np.full(n, np.nan)
    col_std = np.full(n, np.nan)
    col_mean[ok], col_std[ok] = mean, err
    result["Tc_K"], result["Tc_K_std"], result["error"] = col_mean, col_std, errors
    stage("write CSV (tableio.write_csv_atomic)", lambda: write_csv_atomic(result, out_dir / "breakdown.csv"))
    total_wall = sum(s[1] for s in stages)
    rows = [[name, f"{wall:.3f}", us(wall, n), us(cpu, n), f"{wall / total_wall:.0%}"]
            for name, wall, cpu in stages]
    rows.append(["sum of stages", f"{total_wall:.3f}", us(total_wall, n), us(sum(s[2] for s in stages), n),
                 "100%"])
    # comparison: the mean model on the other memory layout; identical predictions
    XF = np.ascontiguousarray(X) if np.isfortran(_layout(mean_model, X)) else np.asfortranarray(X)
    mean_cpu = next(s[2] for s in stages if s[0].startswith("mean model"))
    w_f, c_f, pred_f = timed(lambda: inverse(mean_model.predict(XF)), repeats, budget)
    same = bool(np.array_equal(pred_f, mean))
    other = "row-major" if np.isfortran(XF) is False else "column-major"
    rows.append([f"for comparison: mean model on {other} features (same output: {same})", f"{w_f:.3f}",
                 us(w_f, n), us(c_f, n), f"{c_f / mean_cpu:.1f}x the CPU"])
    return n, rows


# ----------------------------------------------------------------------------- baseline
def magpie_featurizer():
    from matminer.featurizers.composition import ElementProperty

    ep = ElementProperty.from_preset("magpie")
    ep.set_n_jobs(1)
    return ep


def to_compositions(formulas: list[str]):
    """pymatgen Compositions (None where pymatgen cannot parse the formula) and error messages."""
    from pymatgen.core import Composition

    comps, errors = [], []
    for f in formulas:
        try:
            comps.append(Composition(f))
            errors.append("")
        except Exception as exc:  # pymatgen raises several types for bad formulas
            comps.append(None)
            errors.append(f"cannot parse formula: {exc}")
    return comps, errors


def magpie_features(ep, comps, variant: str):
    """(n, 132) Magpie features, NaN rows for None compositions; ``variant`` is 'loop' or 'many'."""
    import numpy as np

    n_feat = len(ep.feature_labels())
    out = np.full((len(comps), n_feat), np.nan)
    idx = [i for i, c in enumerate(comps) if c is not None]
    valid = [comps[i] for i in idx]
    if variant == "many":
        values = ep.featurize_many(valid, ignore_errors=True, pbar=False)
    else:
        values = []
        for c in valid:
            try:
                values.append(ep.featurize(c))
            except Exception:  # matminer raises for elements without data
                values.append([np.nan] * n_feat)
    if idx:
        out[idx] = np.asarray(values, dtype=float)
    return out


def train_baseline(data_dir: Path, trees: int):
    """Random forest on Magpie features of the curie-temperature training set (not timed)."""
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    from regenome.surrogates.curie_temperature import load_training_set

    ts = load_training_set(data_dir, quick=False)
    formulas = ts.frame["formula"].astype(str).tolist()
    ep = magpie_featurizer()
    comps, _ = to_compositions(formulas)
    t0 = time.perf_counter()
    X = magpie_features(ep, comps, "many")
    t_feat = time.perf_counter() - t0
    y = ts.Y.ravel()
    medians = np.nanmedian(X, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    X = np.where(np.isnan(X), medians, X)
    t0 = time.perf_counter()
    forest = RandomForestRegressor(n_estimators=trees, min_samples_leaf=1, random_state=0,
                                   n_jobs=os.cpu_count()).fit(X, y)
    t_fit = time.perf_counter() - t0
    return ep, forest, medians, len(y), t_feat, t_fit


def baseline_predict(csv_in: Path, csv_out: Path, ep, forest, medians, variant: str, threads: int,
                     stages: dict[str, list[float]]):
    """The baseline pipeline, end to end: read CSV, parse, featurize, predict mean and std, write CSV."""
    import numpy as np
    import pandas as pd

    t = [time.perf_counter()]
    frame = pd.read_csv(csv_in, dtype=str, keep_default_na=False)
    comps, errors = to_compositions(frame["formula"].tolist())
    t.append(time.perf_counter())
    X = magpie_features(ep, comps, variant)
    t.append(time.perf_counter())
    bad = np.isnan(X).all(axis=1)
    X = np.where(np.isnan(X), medians, X)
    forest.set_params(n_jobs=threads)
    per_tree = np.stack([tree.predict(X) for tree in forest.estimators_])
    mean, std = per_tree.mean(axis=0), per_tree.std(axis=0)
    mean[bad] = std[bad] = np.nan
    t.append(time.perf_counter())
    out = frame.copy()
    out["Tc_K"], out["Tc_K_std"] = mean, std
    out["error"] = [e or ("featurization failed" if b else "") for e, b in zip(errors, bad)]
    out.to_csv(csv_out, index=False, float_format="%.6g", lineterminator="\n")
    t.append(time.perf_counter())
    for name, a, b in zip(("read CSV + Composition", "Magpie featurize", "forest mean + std", "write CSV"),
                          t[:-1], t[1:]):
        stages.setdefault(name, []).append(b - a)
    return int((~bad).sum())


# ----------------------------------------------------------------------------- features agree
def features_agree(formulas: list[str], ep) -> tuple[list[list[str]], list[str]]:
    """Max deviation of regenome's features from matminer's Magpie values, per matched property."""
    import numpy as np
    from pymatgen.core import Element

    from regenome.features.composition import CompositionFeaturizer
    from regenome.features.elements import ELEMENTS
    from regenome.features.formula import parse_formulas

    F, errors = parse_formulas(formulas)
    comps, perrors = to_compositions(formulas)
    keep = [i for i in range(len(formulas)) if not errors[i] and not perrors[i]]
    F = F[keep]
    comps = [comps[i] for i in keep]
    fz = CompositionFeaturizer(properties=tuple(MATCHED), stats=tuple(STAT_NAMES)).fit()
    ours = fz.transform(F).astype(np.float64)
    our_names = list(fz.get_feature_names_out())
    theirs = magpie_features(ep, comps, "loop")
    their_names = ep.feature_labels()
    default = set(CompositionFeaturizer().fit().get_feature_names_out())
    present = np.flatnonzero((F > 0).any(axis=0))
    table, col = fz.element_table_, {c: i for i, c in enumerate(fz.element_properties_)}

    rows = []
    for prop, (magpie, factor, note) in MATCHED.items():
        devs = []
        # values below 0.1 % of the property's largest magnitude count as zero (regenome's features
        # are float32, so e.g. the avg_dev of a one-row-element compound is ~1e-7, not 0)
        floor = 1e-3 * np.nanmax(np.abs(table[present, col[prop]] * factor))
        for stat, mstat in STAT_NAMES.items():
            a = ours[:, our_names.index(f"{stat}_{prop}")] * factor
            b = theirs[:, their_names.index(f"MagpieData {mstat} {magpie}")]
            both = np.isfinite(a) & np.isfinite(b)
            denom = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
            rel = np.abs(a - b) / denom
            rel = np.where(both, rel, np.where(np.isfinite(a) == np.isfinite(b), 0.0, np.inf))
            devs.append(float(rel.max()) if rel.size else 0.0)
        # which elements of the sample carry different values in the two tables
        diffs = []
        for e in present:
            mine = table[e, col[prop]] * factor
            try:
                other = float(ep.data_source.get_elemental_property(Element(ELEMENTS[e]), magpie))
            except Exception:
                other = float("nan")
            if np.isnan(mine) and np.isnan(other):
                continue
            if np.isnan(mine) or np.isnan(other) or abs(mine - other) > 0.01 * max(abs(mine), abs(other)):
                rel = np.inf if np.isnan(mine) or np.isnan(other) else abs(mine - other) / max(abs(mine), abs(other))
                diffs.append((rel, f"{ELEMENTS[e]} {mine:.4g}/{other:.4g}"))
        diffs.sort(key=lambda d: -d[0])
        worst = max(devs)
        verdict = "agree <1%" if worst < 0.01 else "differ"
        why = (f"{len(diffs)} of {len(present)} elements differ, e.g. " + ", ".join(d[1] for d in diffs[:3])
               if diffs else "same element values")
        if note:
            why = note + "; " + why
        in_model = "yes" if f"mean_{prop}" in default else "no"
        rows.append([f"{prop} ~ {magpie}", in_model, *[_pct(d) for d in devs], verdict, why])
    return rows, [f"{len(keep)} formulas ({len(formulas) - len(keep)} dropped: unparseable by one side), "
                  f"{len(present)} distinct elements"]


def _pct(x: float) -> str:
    if x == float("inf"):
        return "NaN vs value"
    return f"{x:.2%}" if x < 10 else f"{x:.0f}x"


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import pandas as pd
    from threadpoolctl import threadpool_limits

    global N_JOBS
    N_JOBS = ["--n-jobs", str(args.n_jobs)]

    from _common import machine_header, make_formulas, print_table, reference_formulas

    if args.models:
        os.environ["REGENOME_MODELS_DIR"] = str(Path(args.models).resolve())
    from regenome.datafiles import reference_data_dir
    from regenome.modelstore import load_model, models_dir

    model_dir = models_dir() / MODEL
    if not (model_dir / "card.json").is_file():
        print(f"No trained {MODEL} model in {model_dir}. Train one, e.g.\n"
              f"  regenome train {MODEL} --quick --out /tmp/bench-models\n"
              f"and run with REGENOME_MODELS_DIR=/tmp/bench-models (or --models /tmp/bench-models).",
              file=sys.stderr)
        return 2
    from regenome.errors import RegenomeError

    try:
        data_dir = reference_data_dir(args.data)
        estimator, card = load_model(MODEL)
    except RegenomeError as exc:
        print(f"bench_predict_curie: {exc}", file=sys.stderr)
        return 2
    env = {**os.environ, **thread_env(args.threads)}
    limits = threadpool_limits(args.threads)  # in this process: the baseline forest and the breakdown

    with tempfile.TemporaryDirectory(prefix="regenome-bench-") as tmp:
        tmp = Path(tmp)
        log(f"generating {args.n:,} formulas (seed {args.seed})")
        t0 = time.perf_counter()
        formulas, kinds = make_formulas(reference_formulas(data_dir), args.n, args.seed)
        distinct = len(set(formulas)) / len(formulas)
        csv_n = tmp / "formulas.csv"
        pd.DataFrame({"formula": formulas}).to_csv(csv_n, index=False)
        csv_small = tmp / "formulas_small.csv"
        pd.DataFrame({"formula": formulas[:args.baseline_n]}).to_csv(csv_small, index=False)
        csv_one = tmp / "formulas_one.csv"
        pd.DataFrame({"formula": formulas[:1]}).to_csv(csv_one, index=False)
        log(f"generated in {time.perf_counter() - t0:.1f} s; {distinct:.1%} distinct")

        # 1. regenome end to end
        results = []
        for label, path, n in (("regenome CLI, start-up only (1 formula)", csv_one, 1),
                               (f"regenome CLI, {args.baseline_n:,} formulas", csv_small, args.baseline_n),
                               (f"regenome CLI, {args.n:,} formulas", csv_n, args.n)):
            walls, cpus = [], []
            start = time.perf_counter()
            for r in range(args.repeats):
                log(f"{label}: run {r + 1}/{args.repeats}")
                wall, cpu, msg = run_cli(path, tmp / "out.csv", env)
                walls.append(wall)
                cpus.append(cpu)
                if time.perf_counter() - start > args.budget:
                    break
            m = re.search(r"predicted (\d+) of (\d+)", msg)
            results.append((label, n, statistics.median(walls), statistics.median(cpus),
                            int(m.group(1)) if m else -1, walls))
        start_wall, start_cpu = results[0][2], results[0][3]
        big = results[-1]

        bd_rows = []
        bd_n = min(args.breakdown_n, args.n)
        if bd_n:
            log(f"stage breakdown on {bd_n:,} rows")
            bd_csv = csv_n if bd_n == args.n else tmp / "formulas_breakdown.csv"
            if bd_csv != csv_n:
                pd.DataFrame({"formula": formulas[:bd_n]}).to_csv(bd_csv, index=False)
            try:
                bd_n, bd_rows = breakdown(bd_csv, tmp, args.repeats, args.budget / 10)
            except AttributeError as exc:
                log(f"stage breakdown skipped: the model does not have the expected parts ({exc})")

        # 2. baseline
        base_results = []
        base_stages: dict[str, dict[str, list[float]]] = {}
        agree_rows, agree_note = [], []
        train_info = ""
        if not args.skip_baseline:
            warnings.filterwarnings("ignore")
            log("baseline: Magpie features of the training set and random-forest fit (not timed)")
            ep, forest, medians, n_train, t_feat, t_fit = train_baseline(data_dir, args.trees)
            train_info = (f"forest: {args.trees} trees, trained on Magpie features of {n_train:,} "
                          f"reference compositions (featurized in {t_feat:.0f} s, fitted in {t_fit:.0f} s; "
                          "not timed); NaN features imputed with training medians; std = spread of the "
                          "trees' predictions")
            for variant, name in (("loop", "plain loop over ElementProperty.featurize"),
                                  ("many", "ElementProperty.featurize_many")):
                stages: dict[str, list[float]] = {}
                walls, cpus = [], []
                n_ok = 0
                for r in range(args.repeats):
                    log(f"baseline ({variant}): run {r + 1}/{args.repeats}")
                    c0, t0 = time.process_time(), time.perf_counter()
                    n_ok = baseline_predict(csv_small, tmp / "base_out.csv", ep, forest, medians, variant,
                                            args.threads, stages)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
                base_results.append((f"baseline, {name}", args.baseline_n, statistics.median(walls),
                                     statistics.median(cpus), n_ok, walls))
                base_stages[variant] = stages
            log(f"features-agree check on {args.agree_n} formulas")
            rng = np.random.default_rng(args.seed + 1)
            pick = rng.choice(len(formulas), size=min(args.agree_n, len(formulas)), replace=False)
            agree_rows, agree_note = features_agree([formulas[i] for i in sorted(pick)], ep)
    limits.restore_original_limits()

    # ------------------------------------------------------------------------- report
    print()
    print(f"regenome predict {MODEL} vs the baseline: {BASELINE}")
    print("=" * 100)
    for line in machine_header(PACKAGES, args.threads):
        print(line)
    print(f"model: {describe_model(estimator, card)}; folder {model_dir}")
    if "quick" in card.version:
        print("       NOTE: a --quick development model (few trees): the shipped model's predict cost differs")
    print(f"input: {args.n:,} generated formulas, seed {args.seed}, {distinct:.1%} distinct; kinds: "
          + ", ".join(f"{k} {v / args.n:.0%}" for k, v in kinds.items()))
    if train_info:
        print(train_info)
    print()
    print("Time per formula (medians of the runs listed; wall clock, and CPU time = user + system of the "
          "process)")
    rows = []
    for label, n, wall, cpu, n_ok, walls in results + base_results:
        rows.append([label, f"{n:,}", f"{n_ok:,}", f"{wall:.2f}", f"{cpu:.2f}", us(wall, n), us(cpu, n),
                     " ".join(f"{w:.1f}" for w in walls)])
    marginal_wall = max(big[2] - start_wall, 1e-9)
    marginal_cpu = max(big[3] - start_cpu, 1e-9)
    rows.append([f"regenome CLI, {args.n:,} formulas minus start-up", f"{args.n:,}", "", f"{marginal_wall:.2f}",
                 f"{marginal_cpu:.2f}", us(marginal_wall, args.n), us(marginal_cpu, args.n), ""])
    main_header = ["pipeline", "formulas", "predicted", "wall s", "CPU s", "us/formula wall",
                   "us/formula CPU", "all wall s"]
    print_table(main_header, rows, "lrrrrrrl")
    from _common import ratio_entry, table_entry, write_json

    ratios, tables, metrics = [], [], {"regenome_us_per_formula": big[2] / big[1] * 1e6,
                                       "regenome_formulas_per_s": big[1] / big[2],
                                       "startup_s": start_wall}
    tables.append(table_entry("Time per formula (medians; wall clock and CPU time of the process)", main_header,
                              rows, [f"model: {describe_model(estimator, card)}",
                                     f"input: {args.n:,} generated formulas, seed {args.seed}, {distinct:.1%} "
                                     "distinct"] + ([train_info] if train_info else [])))
    if base_results:
        best = min(base_results, key=lambda r: r[2])
        print()
        per_big_w, per_big_c = big[2] / big[1], big[3] / big[1]
        small = results[1]
        ratio_w = (best[2] / best[1]) / per_big_w
        ratio_c = (best[3] / best[1]) / per_big_c
        print(f"ratio baseline/regenome per formula ({best[0].removeprefix('baseline, ')} vs regenome at "
              f"{args.n:,}): {ratio_w:,.0f}x wall, {ratio_c:,.0f}x CPU  "
              f"[issue target >= 100x: {'met' if min(ratio_w, ratio_c) >= 100 else 'NOT met'}]")
        ratios += [ratio_entry(f"baseline / regenome per formula, wall (regenome at {args.n:,})", ratio_w, 100.0,
                               best[0].removeprefix("baseline, ")),
                   ratio_entry("the same, CPU time", ratio_c, 100.0),
                   ratio_entry(f"same {args.baseline_n:,} formulas, regenome start-up included, wall",
                               best[2] / small[2], None)]
        metrics.update(baseline_us_per_formula=best[2] / best[1] * 1e6, ratio_wall=ratio_w, ratio_cpu=ratio_c)
        print(f"same number of formulas ({args.baseline_n:,}, regenome start-up included): "
              f"{best[2] / small[2]:,.1f}x wall, {best[3] / small[3]:,.1f}x CPU")
        print("the baseline runs in-process after its imports and training; regenome's CLI times include "
              f"Python start-up, imports and the model load ({start_wall:.1f} s wall, {start_cpu:.1f} s CPU)")
        print()
        print(f"Baseline stages, {args.baseline_n:,} formulas (median s; us per formula)")
        srows = []
        for name in base_stages["loop"]:
            cells = []
            for variant in ("loop", "many"):
                s = statistics.median(base_stages[variant][name])
                cells += [f"{s:.3f}", us(s, args.baseline_n)]
            srows.append([name, *cells])
        print_table(["stage", "loop s", "loop us", "featurize_many s", "featurize_many us"], srows)
        tables.append(table_entry(f"Baseline stages, {args.baseline_n:,} formulas (median s; us per formula)",
                                  ["stage", "loop s", "loop us", "featurize_many s", "featurize_many us"], srows))
    if bd_rows:
        print()
        print(f"Where regenome's time goes: the stages of predict_table called in-process on {bd_n:,} rows "
              "(model already loaded; medians)")
        print_table(["stage", "wall s", "us/row wall", "us/row CPU", "share"], bd_rows, "lrrrl")
        tables.append(table_entry(f"Where regenome's time goes: predict_table stages in-process, {bd_n:,} rows",
                                  ["stage", "wall s", "us/row wall", "us/row CPU", "share"], bd_rows))
    if agree_rows:
        print()
        print("Features agree? regenome CompositionFeaturizer vs matminer Magpie, max relative deviation "
              "|a-b|/max(|a|,|b|,0.1% of the property's scale) over " + "; ".join(agree_note))
        print("(in model = the property is among the shipped featurizer's defaults; "
              "elements column: regenome/Magpie value)")
        print_table(["regenome ~ Magpie property", "in model", "mean", "min", "max", "range", "avg_dev",
                     "verdict", "why"], agree_rows, "llrrrrrll")
        tables.append(table_entry("Features agree? max relative deviation, regenome vs Magpie, over "
                                  + "; ".join(agree_note),
                                  ["regenome ~ Magpie property", "in model", "mean", "min", "max", "range",
                                   "avg_dev", "verdict", "why"], agree_rows))
    write_json(args.json, {
        "name": "predict", "title": f"regenome predict {MODEL} end to end",
        "baseline": BASELINE if base_results else "skipped", "quick": args.quick,
        "command": "python benchmarks/bench_predict_curie.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"n": args.n, "baseline_n": args.baseline_n, "repeats": args.repeats, "threads": args.threads,
                   "n_jobs": args.n_jobs, "trees": args.trees, "model": describe_model(estimator, card)},
        "tables": tables, "ratios": ratios, "checks": [], "metrics": metrics,
        "notes": (["NOTE: a --quick development model (few trees): the shipped model's predict cost differs"]
                  if "quick" in card.version else []),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
