"""Benchmark: composition featurization throughput, regenome vs matminer Magpie, one core.

Prints, for one machine and one run, the time per formula of

1. regenome: ``parse_formulas`` (formula strings -> atomic-fraction matrix) and
   ``CompositionFeaturizer(fraction_elements="all").fit(X).transform(X)``, timed separately and
   together, on ``--n`` generated formulas (default 200,000);
2. the baseline: matminer ``ElementProperty.from_preset("magpie")`` (132 features, ``n_jobs=1``) on
   the first ``--baseline-n`` of the same formulas (default 2,000; the per-formula time is
   extrapolated to ``--n``), timed from formula strings *including* ``pymatgen Composition(f)`` as a
   user runs it, and from Composition objects built beforehand (reported too, never used alone
   for the ratio); both a plain loop over ``featurize`` and ``featurize_many`` are timed and the
   faster one is the baseline;
3. a check that the features agree where both define the same statistic of the same element
   property, on the baseline's formulas: per feature pair, the fraction of rows within 0.1 % and
   the max relative deviation. Agreement is *asserted* (exit status 1 otherwise) only for the
   properties whose element values are identical in both element tables over the elements of
   the sample (e.g. atomic number); the others are reported.

Everything runs in this process on one core: OMP/BLAS threads are capped at 1 (``OMP_NUM_THREADS=1``
and threadpoolctl) and matminer runs with ``n_jobs=1``.

Usage::

    python benchmarks/bench_featurize.py [--n 200000] [--baseline-n 2000] [--repeats 3] [--json OUT.json]
    python benchmarks/bench_featurize.py --quick          # small sizes: a smoke test, not a measurement
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "featurize"
TITLE = "Composition featurization throughput (one core)"
BASELINE = 'matminer ElementProperty.from_preset("magpie") (n_jobs=1), from formula strings via pymatgen Composition'
TARGET = 200.0  # issue "Scale out": at least 200x per core
TOLERANCE = 1e-3  # relative, for the features-agree check
PACKAGES = ("regenome", "numpy", "scipy", "scikit-learn", "pymatgen-core", "matminer")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="formulas for regenome (default 200,000; --quick 20,000)")
    p.add_argument("--baseline-n", type=int, default=None,
                   help="formulas for matminer, the first of the same list (default 2,000; --quick 200)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs of each measurement, medians shown "
                                                             "(default 3; --quick 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated formulas")
    p.add_argument("--data", default=None,
                   help="reference-data folder for the formula generator (default: REGENOME_DATA or "
                        "../shared/data; a built-in list when none is found)")
    p.add_argument("--skip-baseline", action="store_true", help="time regenome only")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.n = args.n or (20_000 if args.quick else 200_000)
    args.baseline_n = args.baseline_n or (200 if args.quick else 2000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if min(args.n, args.baseline_n, args.repeats) < 1:
        p.error("--n, --baseline-n and --repeats must be positive")
    args.baseline_n = min(args.baseline_n, args.n)
    return args


def timed(func, repeats: int):
    """Median wall and CPU seconds of ``repeats`` calls, all wall times, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        result = func()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), walls, result


# ----------------------------------------------------------------------------- regenome
def regenome_features(formulas: list[str]):
    from regenome.features.composition import CompositionFeaturizer
    from regenome.features.formula import parse_formulas

    F, errors = parse_formulas(formulas)
    fz = CompositionFeaturizer(fraction_elements="all").fit(F)
    return F, errors, fz, fz.transform(F)


# ----------------------------------------------------------------------------- matminer
def magpie_featurizer():
    from matminer.featurizers.composition import ElementProperty

    ep = ElementProperty.from_preset("magpie")
    ep.set_n_jobs(1)
    return ep


def compositions(formulas: list[str]):
    from pymatgen.core import Composition

    out = []
    for f in formulas:
        try:
            out.append(Composition(f))
        except Exception:  # pymatgen raises several types for bad formulas
            out.append(None)
    return out


def magpie_loop(ep, comps, n_feat: int):
    import numpy as np

    rows = []
    for c in comps:
        try:
            rows.append(ep.featurize(c) if c is not None else [np.nan] * n_feat)
        except Exception:  # elements without Magpie data
            rows.append([np.nan] * n_feat)
    return np.asarray(rows, dtype=float)


def magpie_many(ep, comps, n_feat: int):
    import numpy as np

    out = np.full((len(comps), n_feat), np.nan)
    idx = [i for i, c in enumerate(comps) if c is not None]
    if idx:
        values = ep.featurize_many([comps[i] for i in idx], ignore_errors=True, pbar=False)
        out[idx] = np.asarray(values, dtype=float)
    return out


# ----------------------------------------------------------------------------- features agree
def features_agree(F, ours, our_names, theirs, their_names, ep):
    """Per feature pair: rows compared, fraction within TOLERANCE, max relative deviation."""
    import numpy as np
    from pymatgen.core import Element

    from bench_predict_curie import MATCHED, STAT_NAMES
    from regenome.features.elements import ELEMENTS, load_element_table

    table, names = load_element_table()
    col = {c: i for i, c in enumerate(names)}
    present = np.flatnonzero((F > 0).any(axis=0))
    rows, checks = [], []
    for prop, (magpie, factor, note) in MATCHED.items():
        if f"mean_{prop}" not in our_names or prop not in col:
            continue
        mine = table[present, col[prop]] * factor
        other = []
        for e in present:
            try:
                other.append(float(ep.data_source.get_elemental_property(Element(ELEMENTS[e]), magpie)))
            except Exception:
                other.append(np.nan)
        other = np.asarray(other)
        same_nan = np.isnan(mine) & np.isnan(other)
        close = np.isclose(mine, other, rtol=1e-9, atol=0.0) | same_nan
        identical = bool(close.all())
        n_diff = int((~close).sum())
        floor = 1e-3 * np.nanmax(np.abs(np.concatenate([mine, other])))
        cells = []
        for stat, mstat in STAT_NAMES.items():
            a = ours[:, our_names.index(f"{stat}_{prop}")].astype(np.float64) * factor
            b = theirs[:, their_names.index(f"MagpieData {mstat} {magpie}")]
            both = np.isfinite(a) & np.isfinite(b)
            rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
            rel = np.where(both, rel, np.where(np.isfinite(a) == np.isfinite(b), 0.0, np.inf))
            within = float((rel <= TOLERANCE).mean()) if rel.size else 1.0
            worst = float(rel.max()) if rel.size else 0.0
            cells.append(f"{within:.1%} / " + ("NaN vs value" if worst == float("inf") else f"{worst:.2%}"))
            if identical:
                checks.append({"name": f"{stat}_{prop} == MagpieData {mstat} {magpie}",
                               "passed": within == 1.0,
                               "detail": f"{within:.1%} of rows within {TOLERANCE:.1%}, max dev {worst:.2e}"})
        rows.append([f"{prop} ~ {magpie}", "identical" if identical else f"{n_diff} of {present.size} differ",
                     *cells, ("asserted" if identical else "reported") + (f"; {note}" if note else "")])
    return rows, checks, int(present.size)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    from _common import benchmark_formulas, fmt_rate, limit_threads, machine_header, print_table
    from _common import ratio_entry, table_entry, write_json

    limits = limit_threads(1)
    log(f"generating {args.n:,} formulas (seed {args.seed})")
    formulas, kinds, source = benchmark_formulas(args.n, args.seed, args.data)
    distinct = len(set(formulas)) / len(formulas)
    sub = formulas[:args.baseline_n]
    distinct_sub = len(set(sub)) / len(sub)

    # 1. regenome
    from regenome.features.composition import CompositionFeaturizer
    from regenome.features.formula import parse_formulas

    log(f"regenome on {args.n:,} formulas: one untimed warm-up run, then {args.repeats} timed")
    regenome_features(formulas)  # imports, first-call costs and first-touch memory: not timed
    w_tot, c_tot, walls_tot, (F, errors, fz, X) = timed(lambda: regenome_features(formulas), args.repeats)
    w_parse, c_parse, walls_parse, _ = timed(lambda: parse_formulas(formulas), args.repeats)
    w_feat, c_feat, walls_feat, _ = timed(
        lambda: CompositionFeaturizer(fraction_elements="all").fit(F).transform(F), args.repeats)
    our_names = list(fz.get_feature_names_out())
    n_ok = sum(1 for e in errors if not e)
    n = args.n

    def us(s, k):
        return s / k * 1e6

    rows = [["regenome parse_formulas", f"{n:,}", f"{w_parse:.3f}", f"{us(w_parse, n):.2f}", f"{us(c_parse, n):.2f}",
             fmt_rate(n / w_parse), ""],
            ["regenome CompositionFeaturizer fit + transform", f"{n:,}", f"{w_feat:.3f}", f"{us(w_feat, n):.2f}",
             f"{us(c_feat, n):.2f}", fmt_rate(n / w_feat), ""],
            ["regenome total (strings -> features)", f"{n:,}", f"{w_tot:.3f}", f"{us(w_tot, n):.2f}",
             f"{us(c_tot, n):.2f}", fmt_rate(n / w_tot), ""]]
    metrics = {"regenome_us_per_formula": us(w_tot, n), "regenome_formulas_per_s": n / w_tot,
               "regenome_parse_us_per_formula": us(w_parse, n),
               "regenome_featurize_us_per_formula": us(w_feat, n),
               "regenome_n_features": len(our_names)}

    # 2. baseline
    ratios, checks, agree_rows, notes = [], [], [], []
    n_elements = 0
    baseline_ok = not args.skip_baseline
    if baseline_ok:
        import importlib.util

        if importlib.util.find_spec("matminer") is None:
            baseline_ok = False
            notes.append("matminer is not installed: baseline skipped (pip install -e '.[bench]')")
            log(notes[-1])
    best = None
    if baseline_ok:
        warnings.filterwarnings("ignore")
        ep = magpie_featurizer()
        their_names = ep.feature_labels()
        n_feat = len(their_names)
        magpie_loop(ep, compositions(sub[:20]), n_feat)  # imports, data tables: not timed
        m = len(sub)
        log(f"matminer on {m:,} formulas x {args.repeats} (4 variants)")
        w_comp, c_comp, _, comps = timed(lambda: compositions(sub), args.repeats)
        variants = {}
        for label, func in (("loop over featurize", magpie_loop), ("featurize_many", magpie_many)):
            w_s, c_s, _, theirs = timed(lambda: func(ep, compositions(sub), n_feat), args.repeats)
            w_c, c_c, _, _ = timed(lambda: func(ep, comps, n_feat), args.repeats)
            variants[label] = (w_s, c_s, w_c, c_c, theirs)
            rows.append([f"matminer Magpie, {label}, from strings (Composition(f) included)", f"{m:,}",
                         f"{w_s:.3f}", f"{us(w_s, m):.1f}", f"{us(c_s, m):.1f}", fmt_rate(m / w_s),
                         f"{us(w_s, m) * n / 1e6:,.1f} s"])
            rows.append([f"matminer Magpie, {label}, from prebuilt Composition objects", f"{m:,}",
                         f"{w_c:.3f}", f"{us(w_c, m):.1f}", f"{us(c_c, m):.1f}", fmt_rate(m / w_c),
                         f"{us(w_c, m) * n / 1e6:,.1f} s"])
        rows.append(["pymatgen Composition(f) alone", f"{m:,}", f"{w_comp:.3f}", f"{us(w_comp, m):.1f}",
                     f"{us(c_comp, m):.1f}", fmt_rate(m / w_comp), ""])
        best = min(variants, key=lambda k: variants[k][0])
        w_s, c_s, w_c, c_c, theirs = variants[best]
        base_us, base_cpu_us = us(w_s, m), us(c_s, m)
        ours_us, ours_cpu_us = us(w_tot, n), us(c_tot, n)
        r_wall, r_cpu = base_us / ours_us, base_cpu_us / ours_cpu_us
        r_comp = us(w_c, m) / ours_us
        ratios.append(ratio_entry("matminer / regenome per formula, from strings (wall)", r_wall, TARGET,
                                  f"matminer {best} {base_us:,.1f} us vs regenome {ours_us:.2f} us"))
        ratios.append(ratio_entry("the same, CPU time", r_cpu, TARGET,
                                  f"{base_cpu_us:,.1f} us vs {ours_cpu_us:.2f} us"))
        ratios.append(ratio_entry("matminer from prebuilt Compositions / regenome from strings (wall)", r_comp,
                                  TARGET, "Composition construction left out of the baseline: favours matminer"))
        metrics.update(matminer_us_per_formula=base_us, matminer_formulas_per_s=1e6 / base_us,
                       matminer_prebuilt_us_per_formula=us(w_c, m), ratio_wall=r_wall, ratio_cpu=r_cpu,
                       ratio_prebuilt=r_comp)
        notes.append(f"matminer is timed on the first {m:,} of the {n:,} formulas ({distinct_sub:.0%} distinct) "
                     f"and its time per formula extrapolated to {n:,} (last column); regenome runs on all "
                     f"{n:,} ({distinct:.0%} distinct; parse_formulas parses each distinct string once).")
        log("features-agree check")
        fz_rows = [i for i in range(m) if not errors[i]]
        agree_rows, checks, n_elements = features_agree(F[fz_rows], X[fz_rows], our_names, theirs[fz_rows],
                                                        their_names, ep)
        metrics["agree_rows"] = len(fz_rows)
    if limits is not None:
        limits.restore_original_limits()

    # ------------------------------------------------------------------------- report
    header = ["pipeline", "formulas", "wall s", "us/formula wall", "us/formula CPU", "formulas/s (one core)",
              f"extrapolated to {n:,}"]
    print()
    print(f"{TITLE}: regenome vs the baseline: {BASELINE}")
    print("=" * 100)
    for line in machine_header(PACKAGES, 1):
        print(line)
    print(f"input: {n:,} formulas generated from {source}, seed {args.seed}, {distinct:.1%} distinct, "
          f"{n_ok:,} parsed; kinds: " + ", ".join(f"{k} {v / n:.0%}" for k, v in kinds.items()))
    print(f"features: regenome {len(our_names)} (CompositionFeaturizer(fraction_elements='all')), "
          f"Magpie {132 if baseline_ok else 'n/a'}")
    print()
    print_table(header, rows, "lrrrrrr")
    for note in notes:
        print(note)
    if ratios:
        print()
        for r in ratios:
            print(f"ratio {r['name']}: {r['value']:,.0f}x ({r['detail']})  "
                  f"[issue target >= {TARGET:.0f}x: {'met' if r['met'] else 'NOT met'}]")
    if agree_rows:
        print()
        print(f"Features agree? {metrics['agree_rows']:,} formulas, {n_elements} distinct elements; "
              f"fraction of rows within {TOLERANCE:.1%} (|a-b| / max(|a|, |b|, 0.1% of the property's scale)) "
              "and the max deviation, per statistic (cells: rows within / max dev); element tables: identical = same "
              "value for every element of the sample")
        agree_header = ["regenome ~ Magpie property", "element tables",
                        "mean", "min", "max", "range", "dev (Magpie avg_dev)", "check"]
        print_table(agree_header, agree_rows, "llrrrrrl")
        failed = [c for c in checks if not c["passed"]]
        print(f"asserted pairs: {len(checks) - len(failed)} of {len(checks)} agree on every row"
              + ("" if not failed else "; FAILED: " + ", ".join(c["name"] for c in failed)))

    tables = [table_entry(f"Time per formula, {n:,} formulas (median of {args.repeats})", header, rows, notes)]
    if agree_rows:
        tables.append(table_entry(
            f"Features agree (regenome vs Magpie, {metrics['agree_rows']:,} formulas, {n_elements} elements, "
            f"tolerance {TOLERANCE:.1%})", agree_header, agree_rows,
            ["Cells: fraction of rows within the tolerance / max relative deviation |a-b| / max(|a|, |b|, 0.1% of "
             "the property's largest element value).",
             "Asserted only where both element tables hold the same value for every element of the sample; "
             "the other pairs differ because the tables differ (see bench_predict_curie / benchmarks/README.md)."]))
    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE if baseline_ok else "skipped",
        "quick": args.quick,
        "command": "python benchmarks/bench_featurize.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"n": n, "baseline_n": args.baseline_n, "repeats": args.repeats, "seed": args.seed,
                   "formula_source": source, "distinct": round(distinct, 4), "threads": 1},
        "tables": tables, "ratios": ratios, "checks": checks, "metrics": metrics,
        "notes": [f"regenome features: {len(our_names)}; Magpie: 132" if baseline_ok else
                  f"regenome features: {len(our_names)}"],
    })
    return 1 if any(not c["passed"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
