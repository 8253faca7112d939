"""Benchmark: the HDF5 structure set (regenome.structures.store) vs one extxyz file written with ASE.

Prints, for one machine and one run:

1. regenome: ``StructureSet.create`` + ``append_structures`` in batches of ``--batch`` (default 5,000)
   of ``--n`` (default 100,000) Nd2Fe14B-like structures (68 sites: random fractional
   coordinates, a slightly distorted tetragonal lattice, rare earths and Co drawn per site, the
   Wyckoff site labels, a JSON recipe) and ``close``; then reading every structure back
   (``iter_structures``) and ``--random`` (default 1,000) random ids (``read_structure(id)``;
   the id index, built on the first lookup, is timed separately). Structures/s, MB/s of the file
   and the file size. Generating the inputs is not timed.
2. the baseline: the same structures as ``ase.Atoms`` (site labels as a per-atom array, id,
   formula and recipe in ``info``) written with ``ase.io.write(path, atoms, format="extxyz")`` as one
   file and read back with ``ase.io.read(path, index=":")``, on the first ``--baseline-n`` (default
   2,000) structures; rates per structure are extrapolated to ``--n`` (the file is a sequential
   text file, so its cost per structure does not depend on the count). Building the Atoms objects
   is timed separately (a user with arrays must pay it; the ratio is given with and without it).
3. checks: the structures read back equal the ones written (bit for bit for HDF5; extxyz keeps
   Cartesian positions to 8 decimals).

Usage::

    python benchmarks/bench_hdf5.py [--n 100000] [--batch 5000] [--baseline-n 2000] [--json OUT.json]
    python benchmarks/bench_hdf5.py --quick       # small sizes: a smoke test, not a measurement
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "hdf5"
TITLE = "HDF5 structure set: write and read 68-site structures"
BASELINE = 'ASE ase.io.write(..., format="extxyz") / ase.io.read(..., index=":") on one extxyz file'
#: Issue targets for the ratios (None: the issue states no number for this benchmark).
TARGETS: dict[str, float | None] = {"write": None, "read": None}
PACKAGES = ("regenome", "numpy", "h5py", "ase")

#: Wyckoff sites of Nd2Fe14B (P4_2/mnm, 68 atoms): label, element kind, multiplicity.
SITES = (("R(4f)", "R", 4), ("R(4g)", "R", 4), ("Fe(16k1)", "Fe", 16), ("Fe(16k2)", "Fe", 16),
         ("Fe(8j1)", "Fe", 8), ("Fe(8j2)", "Fe", 8), ("Fe(4e)", "Fe", 4), ("Fe(4c)", "Fe", 4),
         ("B(4g)", "B", 4))
RARE_EARTHS = {"Nd": 60, "Pr": 59, "Ce": 58, "La": 57, "Dy": 66}
RE_P = (0.55, 0.1, 0.2, 0.1, 0.05)
SYMBOL = {60: "Nd", 59: "Pr", 58: "Ce", 57: "La", 66: "Dy", 26: "Fe", 27: "Co", 5: "B"}
ROUTES = ("sintered", "hot_deformed", "melt_spun", "bonded")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="structures (default 100,000; --quick 5,000)")
    p.add_argument("--batch", type=int, default=None, help="structures per append_structures call "
                                                          "(default 5,000; --quick 1,000)")
    p.add_argument("--baseline-n", type=int, default=None,
                   help="structures written with ASE, the first of the same list (default 2,000; --quick 200)")
    p.add_argument("--random", type=int, default=None, help="random ids read one by one (default 1,000; "
                                                           "--quick 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated structures")
    p.add_argument("--dir", default=None, help="folder for the files (default: a temporary folder, deleted)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.n = args.n or (5000 if args.quick else 100_000)
    args.batch = args.batch or (1000 if args.quick else 5000)
    args.baseline_n = min(args.baseline_n or (200 if args.quick else 2000), args.n)
    args.random = min(args.random or (200 if args.quick else 1000), args.n)
    if min(args.n, args.batch, args.baseline_n, args.random) < 1:
        p.error("sizes must be positive")
    return args


# ----------------------------------------------------------------------------- inputs
def make_batch(start: int, n: int, seed: int) -> dict:
    """``n`` structures with ids ``start..start+n-1`` (deterministic per batch start and seed)."""
    import numpy as np

    rng = np.random.default_rng([seed, start])
    labels = [lab for lab, _, m in SITES for _ in range(m)]
    kind = np.array([k for _, k, m in SITES for _ in range(m)])
    m = kind.size
    numbers = np.empty((n, m), dtype=np.int16)
    is_re, is_fe = kind == "R", kind == "Fe"
    numbers[:, is_re] = rng.choice(np.array(list(RARE_EARTHS.values()), dtype=np.int16),
                                   p=RE_P, size=(n, int(is_re.sum())))
    co = rng.uniform(0.0, 0.15, size=(n, 1))
    numbers[:, is_fe] = np.where(rng.random((n, int(is_fe.sum()))) < co, 27, 26)
    numbers[:, kind == "B"] = 5
    coords = rng.random((n, m, 3))
    a = rng.uniform(8.75, 8.85, n)
    c = rng.uniform(12.15, 12.25, n)
    lattices = np.zeros((n, 3, 3))
    lattices[:, 0, 0], lattices[:, 1, 1], lattices[:, 2, 2] = a, a, c
    lattices += rng.normal(0.0, 1e-3, (n, 3, 3))
    ids = [f"ndfeb-{start + k:08d}" for k in range(n)]
    routes = rng.integers(0, len(ROUTES), n)
    formulas, recipes = [], []
    for k in range(n):
        counts = np.bincount(numbers[k], minlength=67)
        z = np.flatnonzero(counts)
        order = sorted(z.tolist(), key=lambda e: (e == 5, e in (26, 27), e))  # R..., Fe, Co, B
        formulas.append("".join(f"{SYMBOL[e]}{counts[e]}" for e in order))
        re_counts = {SYMBOL[e]: int(counts[e]) for e in RARE_EARTHS.values() if counts[e]}
        recipes.append(json.dumps({"prototype": "Nd2Fe14B", "space_group": "P4_2/mnm",
                                   "re_site_counts": re_counts, "co_sites": int(counts[27]),
                                   "route": ROUTES[routes[k]], "seed": seed, "index": start + k},
                                  sort_keys=True))
    return {"ids": ids, "formulas": formulas, "recipes": recipes, "lattices": lattices,
            "numbers": list(numbers), "coords": list(coords), "labels": [labels] * n}


def payload_bytes(batch: dict) -> int:
    """Bytes of the arrays and text of a batch as stored (float64 coords and lattice, int16 numbers and
    labels, int32 site counts, int64 offsets, UTF-8 text)."""
    n = len(batch["ids"])
    sites = sum(len(z) for z in batch["numbers"])
    text = sum(len(s.encode()) for key in ("ids", "formulas", "recipes") for s in batch[key])
    return sites * (3 * 8 + 2 + 2) + n * (9 * 8 + 4 + 8) + text


def to_atoms(batch: dict, k: int):
    import ase

    atoms = ase.Atoms(numbers=batch["numbers"][k], scaled_positions=batch["coords"][k],
                      cell=batch["lattices"][k], pbc=True)
    atoms.arrays["site_label"] = __import__("numpy").array(batch["labels"][k])
    atoms.info["candidate_id"] = batch["ids"][k]
    atoms.info["formula"] = batch["formulas"][k]
    atoms.info["recipe_json"] = batch["recipes"][k]
    return atoms


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    from _common import fmt_rate, limit_threads, machine_header, print_table, ratio_entry, table_entry
    from _common import write_json

    limit_threads(1)
    import numpy as np

    from regenome.structures.store import StructureSet

    checks, notes = [], []
    with tempfile.TemporaryDirectory(prefix="regenome-bench-hdf5-") as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        h5 = folder / "bench-structures.h5"
        xyz = folder / "bench-structures.extxyz"

        # 1. regenome write
        log(f"writing {args.n:,} structures in batches of {args.batch:,} (generation not timed)")
        t_write = 0.0
        payload = 0
        first = None
        t0 = time.perf_counter()
        ss = StructureSet.create(h5, attrs={"batch_name": "bench-hdf5"}, overwrite=True)
        t_write += time.perf_counter() - t0
        for start in range(0, args.n, args.batch):
            b = make_batch(start, min(args.batch, args.n - start), args.seed)
            payload += payload_bytes(b)
            if first is None:
                first = b
            t0 = time.perf_counter()
            ss.append_structures(b["ids"], b["formulas"], b["recipes"], b["lattices"], b["numbers"],
                                 b["coords"], b["labels"])
            t_write += time.perf_counter() - t0
        t0 = time.perf_counter()
        ss.close()
        t_write += time.perf_counter() - t0
        size = h5.stat().st_size

        # read everything
        log("reading every structure back (iter_structures)")
        t0 = time.perf_counter()
        with StructureSet.open(h5) as ss:
            count = 0
            last = None
            for rec in ss.iter_structures():
                count += 1
                if count <= len(first["ids"]):
                    last = rec
                    k = count - 1
                    if k < 50 and not (rec.candidate_id == first["ids"][k]
                                       and np.array_equal(rec.frac_coords, first["coords"][k])
                                       and np.array_equal(rec.numbers, first["numbers"][k])
                                       and np.array_equal(rec.lattice, first["lattices"][k])
                                       and rec.site_labels == first["labels"][k]
                                       and rec.recipe == json.loads(first["recipes"][k])):
                        checks.append({"name": f"HDF5 round trip of {rec.candidate_id}", "passed": False,
                                       "detail": "structure read back differs from the one written"})
        t_read = time.perf_counter() - t0
        del last
        checks.append({"name": "HDF5 structures read back", "passed": count == args.n,
                       "detail": f"{count:,} of {args.n:,}"})
        if not any(c["name"].startswith("HDF5 round trip") for c in checks):
            checks.append({"name": "HDF5 round trip (first 50, bit for bit)", "passed": True, "detail": "equal"})

        # random ids
        rng = np.random.default_rng(args.seed + 1)
        pick = rng.choice(args.n, size=args.random, replace=False)
        wanted = [f"ndfeb-{i:08d}" for i in pick.tolist()]
        log(f"reading {args.random:,} random ids")
        t0 = time.perf_counter()
        with StructureSet.open(h5) as ss:
            t_open = time.perf_counter() - t0
            t0 = time.perf_counter()
            ss.index_of(wanted[0])  # builds the id -> row index (reads every id once)
            t_index = time.perf_counter() - t0
            t0 = time.perf_counter()
            got = [ss.read_structure(cid) for cid in wanted]
            t_random = time.perf_counter() - t0
        checks.append({"name": "random reads return the requested ids",
                       "passed": [r.candidate_id for r in got] == wanted, "detail": f"{len(got):,} reads"})

        # 2. baseline: ASE extxyz on the first baseline_n structures
        import ase.io

        m = args.baseline_n
        base = make_batch(0, m, args.seed)  # the same structures as the first m written above
        log(f"baseline: {m:,} structures as ase.Atoms, ase.io.write extxyz, ase.io.read")
        to_atoms(base, 0)  # imports: not timed
        t0 = time.perf_counter()
        atoms = [to_atoms(base, k) for k in range(m)]
        t_atoms = time.perf_counter() - t0
        t0 = time.perf_counter()
        ase.io.write(xyz, atoms, format="extxyz")
        t_xyz_write = time.perf_counter() - t0
        xyz_size = xyz.stat().st_size
        t0 = time.perf_counter()
        back = ase.io.read(xyz, index=":", format="extxyz")
        t_xyz_read = time.perf_counter() - t0
        pos_dev = max(float(np.abs(a.positions - b.positions).max()) for a, b in zip(atoms[:50], back[:50]))
        checks.append({"name": "extxyz round trip (first 50)",
                       "passed": len(back) == m and all(a.info["candidate_id"] == b.info["candidate_id"]
                                                        and list(b.arrays["site_label"]) == base["labels"][0]
                                                        for a, b in zip(atoms[:50], back[:50])),
                       "detail": f"{len(back):,} frames; max Cartesian deviation {pos_dev:.1e} A (text, 8 decimals)"})
        del atoms, back

    # ------------------------------------------------------------------------- report
    n = args.n
    mb = 1e6
    h5_w_rate, h5_r_rate = n / t_write, n / t_read
    xyz_per = xyz_size / m
    xyz_w_rate, xyz_r_rate = m / t_xyz_write, m / t_xyz_read
    xyz_wa_rate = m / (t_xyz_write + t_atoms)
    header = ["operation", "structures", "seconds", "structures/s", "MB/s (file)", "file MB", "bytes/structure"]
    rows = [
        ["regenome StructureSet write (create, append_structures, close)", f"{n:,}", f"{t_write:.2f}",
         fmt_rate(h5_w_rate), f"{size / mb / t_write:,.1f}", f"{size / mb:,.1f}", f"{size / n:,.0f}"],
        ["regenome read all (iter_structures -> StructureRecord)", f"{n:,}", f"{t_read:.2f}",
         fmt_rate(h5_r_rate), f"{size / mb / t_read:,.1f}", "", ""],
        ["regenome open + id index (first read_structure by id)", "", f"{t_open + t_index:.3f}", "", "", "", ""],
        [f"regenome read_structure(id), {args.random:,} random ids", f"{args.random:,}", f"{t_random:.3f}",
         fmt_rate(args.random / t_random), "", "", ""],
        ["ASE: build ase.Atoms from the arrays", f"{m:,}", f"{t_atoms:.3f}", fmt_rate(m / t_atoms), "", "", ""],
        ["ASE ase.io.write extxyz (Atoms built beforehand)", f"{m:,}", f"{t_xyz_write:.3f}", fmt_rate(xyz_w_rate),
         f"{xyz_size / mb / t_xyz_write:,.1f}", f"{xyz_size / mb:,.1f}", f"{xyz_per:,.0f}"],
        ["ASE ase.io.read extxyz, all frames", f"{m:,}", f"{t_xyz_read:.3f}", fmt_rate(xyz_r_rate),
         f"{xyz_size / mb / t_xyz_read:,.1f}", "", ""],
        [f"ASE write extrapolated to {n:,} (Atoms + write)", f"{n:,}", f"{n / xyz_wa_rate:,.1f}", "", "",
         f"{xyz_per * n / mb:,.0f}", ""],
        [f"ASE read extrapolated to {n:,}", f"{n:,}", f"{n / xyz_r_rate:,.1f}", "", "", "", ""],
    ]
    ratios = [
        ratio_entry("write, structures/s: regenome / ASE extxyz (Atoms construction included)",
                    h5_w_rate / xyz_wa_rate, TARGETS["write"]),
        ratio_entry("write, structures/s: regenome / ASE extxyz (Atoms built outside the timing)",
                    h5_w_rate / xyz_w_rate, TARGETS["write"], "favours ASE"),
        ratio_entry("read all, structures/s: regenome / ASE extxyz", h5_r_rate / xyz_r_rate, TARGETS["read"]),
        ratio_entry("file size per structure: extxyz / regenome HDF5", xyz_per / (size / n), None),
    ]
    notes.append(f"ASE is timed on the first {m:,} of the {n:,} structures and its rates extrapolated "
                 f"to {n:,} (one sequential text file: constant cost per structure).")
    notes.append(f"Uncompressed payload of the {n:,} structures: {payload / mb:,.1f} MB (float64 coordinates "
                 "and lattices, int16 numbers and labels, text); random float64 coordinates barely compress.")
    notes.append("extxyz has no random access: ase.io.read(path, index=k) scans the file for frame k, "
                 "so there is no baseline for the random-id reads.")
    metrics = {"write_structures_per_s": h5_w_rate, "read_structures_per_s": h5_r_rate,
               "random_reads_per_s": args.random / t_random, "write_MB_per_s": size / mb / t_write,
               "read_MB_per_s": size / mb / t_read, "file_MB": size / mb, "id_index_s": t_index,
               "ase_write_structures_per_s": xyz_w_rate, "ase_read_structures_per_s": xyz_r_rate,
               "ase_atoms_per_s": m / t_atoms, "extxyz_bytes_per_structure": xyz_per}

    print()
    print(f"{TITLE}: regenome vs the baseline: {BASELINE}")
    print("=" * 100)
    for line in machine_header(PACKAGES, 1):
        print(line)
    print(f"input: {n:,} Nd2Fe14B-like structures, 68 sites each, seed {args.seed}, appended in batches of "
          f"{args.batch:,}; HDF5 chunked + gzip 4 (numeric), variable-length UTF-8 text")
    print()
    print_table(header, rows, "lrrrrrr")
    for note in notes:
        print(note)
    print()
    for r in ratios:
        target = "no target" if r["target"] is None else \
            f"issue target >= {r['target']:g}x: {'met' if r['met'] else 'NOT met'}"
        print(f"ratio {r['name']}: {r['value']:,.1f}x  [{target}]" + (f" ({r['detail']})" if r["detail"] else ""))
    for c in checks:
        print(f"check {c['name']}: {'ok' if c['passed'] else 'FAILED'} ({c['detail']})")

    write_json(args.json, {
        "name": NAME, "title": TITLE, "baseline": BASELINE, "quick": args.quick,
        "command": "python benchmarks/bench_hdf5.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "params": {"n": n, "batch": args.batch, "baseline_n": m, "random": args.random, "seed": args.seed,
                   "sites_per_structure": 68},
        "tables": [table_entry(f"Write and read {n:,} structures of 68 sites", header, rows, notes)],
        "ratios": ratios, "checks": checks, "metrics": metrics, "notes": [],
    })
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
