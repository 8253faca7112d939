"""Helpers shared by the benchmarks: realistic formula generation, machine description, timing.

Nothing here is part of regenome's API; the benchmarks import it as a sibling module.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

#: Rare earths used when a generated formula swaps or mixes rare earths.
SWAP_RE = ("La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Y")
#: Rare earths of the substituted 2:14:1 magnets and the upper bound of each one's share.
MAGNET_RE = {"Nd": 1.0, "Pr": 0.5, "Ce": 0.6, "La": 0.4, "Dy": 0.15, "Tb": 0.1, "Y": 0.3, "Gd": 0.3,
             "Ho": 0.2}
#: Minor additions on the transition-metal sublattice of the 2:14:1 magnets and their max share.
MAGNET_TM = {"Co": 0.2, "Al": 0.03, "Cu": 0.02, "Ga": 0.03, "Ni": 0.05, "Mn": 0.05}

_AMOUNT = re.compile(r"([A-Z][a-z]?|\))(\d+(?:\.\d*)?|\.\d+)?")
_SYMBOL = re.compile(r"[A-Z][a-z]?")


def _fmt(value: float) -> str:
    """A stoichiometric coefficient as a chemist writes it: at most 3 decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "0") else "0.001"


def _template(formula: str) -> tuple[list[str], np.ndarray, list[str]] | None:
    """Split a formula into literal pieces and its coefficients (implicit 1s made explicit).

    ``"Nd2Fe14B"`` -> ``(["Nd", "Fe", "B", ""], [2, 14, 1], ["Nd", "Fe", "B"])``; the formula is
    ``pieces[0] + c0 + pieces[1] + c1 + ... + pieces[-1]``. Returns None for formulas with hydrate
    separators or anything else this simple splitter does not keep intact.
    """
    pieces: list[str] = []
    amounts: list[float] = []
    symbols: list[str] = []
    pos = 0
    literal = ""
    for m in _AMOUNT.finditer(formula):
        literal += formula[pos:m.start()] + m.group(1)
        pos = m.end()
        if m.group(1) == ")" and m.group(2) is None:
            continue
        pieces.append(literal)
        literal = ""
        amounts.append(float(m.group(2)) if m.group(2) else 1.0)
        symbols.append(m.group(1))
    pieces.append(literal + formula[pos:])
    if not amounts or any(a <= 0 for a in amounts):
        return None
    rebuilt = "".join(p + _fmt(a) for p, a in zip(pieces, amounts)) + pieces[-1]
    if _SYMBOL.findall(rebuilt) != _SYMBOL.findall(formula):
        return None
    return pieces, np.asarray(amounts), symbols


def make_formulas(base: list[str], n: int, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """``n`` realistic, mostly distinct formulas built deterministically from ``base``.

    Mix (by row, drawn with ``seed``):

    * 60 % a real composition of ``base`` with each coefficient scaled by a factor in [0.85, 1.15]
      (with probability 0.6 per coefficient), e.g. ``Ba0.3La0.7Mn0.85Fe0.15O3`` ->
      ``Ba0.288La0.7Mn0.85Fe0.161O3``;
    * 10 % the same (factors in [0.9, 1.1], probability 0.5) after replacing one rare earth of
      a rare-earth compound by another (``SWAP_RE``);
    * 25 % substituted 2:14:1 magnets, ``(Nd0.7Ce0.3)2Fe14B`` up to
      ``(Nd0.52Pr0.12Ce0.21La0.15)2.2(Fe0.9Co0.08Cu0.02)14B``: Nd plus 0-3 other rare earths
      (``MAGNET_RE``) and 0-2 additions on the Fe sites (``MAGNET_TM``), shares rounded to 0.01;
    * 5 % a real composition of ``base`` unchanged (repeats, as in real screening tables).

    Base formulas with symbols that are not elements, or that the simple splitter cannot
    template (hydrates), are skipped.

    Parameters
    ----------
    base : list of str
        Real formulas.
    n : int
        Number of formulas.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    formulas : list of str
    counts : dict of str to int
        Rows generated per kind.
    """
    from regenome.features.elements import ELEMENT_INDEX

    rng = np.random.default_rng(seed)
    templates = [t for t in (_template(f) for f in base)
                 if t is not None and all(s == ")" or s in ELEMENT_INDEX for s in t[2])]
    re_templates = [t for t in templates if any(s in SWAP_RE for s in t[2])]
    width = max(len(t[1]) for t in templates)
    kinds = rng.choice(4, size=n, p=[0.60, 0.10, 0.25, 0.05])
    out: list[str] = [""] * n
    names = ("perturbed", "rare-earth swapped", "substituted 2:14:1", "unchanged")
    counts = {name: int((kinds == k).sum()) for k, name in enumerate(names)}

    # real compositions, perturbed or not
    rows = np.flatnonzero((kinds == 0) | (kinds == 3))
    picks = rng.integers(0, len(templates), size=rows.size).tolist()
    scale = np.where(rng.random((rows.size, width)) < 0.6,
                     rng.uniform(0.85, 1.15, (rows.size, width)), 1.0)
    scale[kinds[rows] == 3] = 1.0
    for i, pick, factors in zip(rows.tolist(), picks, scale.tolist()):
        pieces, amounts, _ = templates[pick]
        out[i] = "".join([p + _fmt(a * s) for p, a, s in zip(pieces, amounts, factors)]) + pieces[-1]

    # one rare earth swapped for another
    rows = np.flatnonzero(kinds == 1)
    picks = rng.integers(0, len(re_templates), size=rows.size).tolist()
    which = rng.random(rows.size).tolist()
    new_re = rng.integers(0, len(SWAP_RE), size=rows.size).tolist()
    scale = np.where(rng.random((rows.size, width)) < 0.5,
                     rng.uniform(0.9, 1.1, (rows.size, width)), 1.0)
    for i, pick, u, new, factors in zip(rows.tolist(), picks, which, new_re, scale.tolist()):
        pieces, amounts, symbols = re_templates[pick]
        present = [s for s in symbols if s in SWAP_RE]
        old = present[int(u * len(present))]
        swapped = [p.replace(old, SWAP_RE[new]) if s == old else p for p, s in zip(pieces, symbols)]
        out[i] = "".join([p + _fmt(a * s) for p, a, s in zip(swapped, amounts, factors)]) + pieces[-1]

    # substituted 2:14:1 magnets
    rows = np.flatnonzero(kinds == 2)
    m = rows.size
    re_names = list(MAGNET_RE)
    re_max = np.array(list(MAGNET_RE.values()))
    n_other = rng.integers(0, 4, size=m)
    order = np.argsort(rng.random((m, len(re_names) - 1)), axis=1) + 1  # random other rare earths
    shares = np.zeros((m, len(re_names)))
    for j in range(3):
        use = n_other > j
        cols = order[use, j]
        shares[use, cols] = rng.uniform(0.0, re_max[cols])
    shares[:, 0] = np.maximum(0.0, 1.0 - shares[:, 1:].sum(axis=1))
    shares = np.round(shares / shares.sum(axis=1, keepdims=True), 2)
    tm_names = list(MAGNET_TM)
    tm_max = np.array(list(MAGNET_TM.values()))
    n_add = rng.integers(0, 3, size=m)
    tm_order = np.argsort(rng.random((m, len(tm_names))), axis=1)
    adds = np.zeros((m, len(tm_names)))
    for j in range(2):
        use = n_add > j
        cols = tm_order[use, j]
        adds[use, cols] = np.round(rng.uniform(0.005, tm_max[cols]), 2)
    fe = np.round(1.0 - adds.sum(axis=1), 2)
    re_count = rng.choice(["2", "2", "2", "2.1", "2.2", "2.4"], size=m).tolist()
    for i, x_re, x_tm, x_fe, count in zip(rows.tolist(), shares.tolist(), adds.tolist(), fe.tolist(),
                                           re_count):
        re_part = [(el, x) for el, x in zip(re_names, x_re) if x > 0]
        re_text = (f"{re_part[0][0]}{count}" if len(re_part) == 1
                   else "(" + "".join([el + _fmt(x) for el, x in re_part]) + ")" + count)
        tm_part = "".join([el + _fmt(x) for el, x in zip(tm_names, x_tm) if x > 0])
        out[i] = f"{re_text}(Fe{_fmt(x_fe)}{tm_part})14B" if tm_part else f"{re_text}Fe14B"
    return out, counts


def reference_formulas(data_dir: Path) -> list[str]:
    """Formulas of the Curie-temperature reference table (the training data of curie-temperature)."""
    frame = pd.read_csv(Path(data_dir) / "magnets" / "experimental_curie_temperature.csv")
    return frame["composition"].astype(str).tolist()


def median_time(func: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median and all wall times (s) of ``repeats`` calls of ``func``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what the platform module knows."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        return names[0] if names else cpu
    except OSError:
        return cpu


def machine_header(packages: tuple[str, ...], threads: int) -> list[str]:
    """Lines naming the date, the machine and the package versions of a benchmark run."""
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    cpu = cpu_name()
    blas_env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return [
        f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"load average at start {load}",
        f"python: {platform.python_version()}; threads per process: {threads} (OMP/BLAS)"
        + (f"; {blas_env}" if blas_env else ""),
        "packages: " + ", ".join(f"{p} {package_version(p)}" for p in packages),
    ]


def print_table(header: list[str], rows: list[list[str]], align: str | None = None) -> None:
    """A plain-text table; ``align`` has one 'l' or 'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(str(r[j])) for r in [header, *rows]) for j in range(len(header))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


# ----------------------------------------------------------------------------- machine-readable results
#: Packages named in every machine description (run_all adds them to docs/benchmarks.md).
CORE_PACKAGES = ("regenome", "numpy", "scipy", "pandas", "scikit-learn", "joblib", "h5py", "ase",
                 "pymatgen-core", "matminer", "dask", "distributed", "ray")


def machine_info(packages: tuple[str, ...] = CORE_PACKAGES) -> dict:
    """The machine, OS, Python and package versions as a dict (the JSON form of machine_header)."""
    cpu = cpu_name()
    ram_gb = None
    try:
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        pass
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        os_name = ""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": round(ram_gb, 1) if ram_gb else None,
        "os": f"{platform.system()} {platform.release()}" + (f" ({os_name})" if os_name else ""),
        "python": platform.python_version(),
        "load_average": load,
        "threads_env": {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                              "MKL_NUM_THREADS")},
        "packages": {p: package_version(p) for p in packages},
    }


def ratio_entry(name: str, value: float | None, target: float | None, detail: str = "") -> dict:
    """One ratio of a result: measured value, the issue's target (None: no target) and met/not met."""
    met = None if value is None or target is None else bool(value >= target)
    return {"name": name, "value": value, "target": target, "met": met, "detail": detail}


def table_entry(title: str, columns: list[str], rows: list[list], notes: list[str] | None = None) -> dict:
    """One table of a result (cells are printed as given)."""
    return {"title": title, "columns": list(columns), "rows": [[c for c in r] for r in rows],
            "notes": list(notes or [])}


def write_json(path: str | os.PathLike | None, result: dict) -> None:
    """Write a benchmark's result dict as JSON (no-op without a path)."""
    if not path:
        return
    import json

    result = {"machine": machine_info(), **result}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=_json_default), encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def fmt_rate(x: float) -> str:
    """A rate or count with thousands separators and sensible precision."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def limit_threads(threads: int = 1):
    """Cap OpenMP/BLAS pools of this process (threadpoolctl) and of child processes (environment)."""
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(threads)


#: Formulas used when the reference data (``--data``, REGENOME_DATA, ../shared/data) is not found.
FALLBACK_FORMULAS = [
    "Nd2Fe14B", "Pr2Fe14B", "Ce2Fe14B", "La2Fe14B", "Dy2Fe14B", "Nd2Co14B", "Y2Fe14B", "Gd2Fe14B",
    "SmCo5", "Sm2Co17", "Sm2Fe17N3", "NdFe11Ti", "Fe3O4", "BaFe12O19", "SrFe12O19", "MnBi", "FePt",
    "CoPt", "Fe16N2", "La0.7Sr0.3MnO3", "Ba0.3La0.7Mn0.85Fe0.15O3", "Gd5Si2Ge2", "LaFe11.6Si1.4",
    "Ni2MnGa", "Co2MnSi", "Fe2O3", "NiFe2O4", "CoFe2O4", "Y3Fe5O12", "Tb0.3Dy0.7Fe2", "ErCo2", "HoCo2",
    "TbCo2", "DyNi2", "GdAl2", "EuO", "CrO2", "MnAl", "Fe65Co35", "Ni80Fe20",
]


def benchmark_formulas(n: int, seed: int, data: str | None = None) -> tuple[list[str], dict[str, int], str]:
    """``n`` generated formulas (``make_formulas``) and where their base list came from."""
    source = "reference data magnets/experimental_curie_temperature.csv"
    try:
        from regenome.datafiles import reference_data_dir

        base = reference_formulas(reference_data_dir(data))
    except Exception as exc:  # no reference data on this machine: a built-in list
        if data:
            raise
        base = FALLBACK_FORMULAS
        source = f"{len(FALLBACK_FORMULAS)} built-in magnet formulas (reference data not found: {exc})"
    formulas, kinds = make_formulas(base, n, seed)
    return formulas, kinds, source
