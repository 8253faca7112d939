"""Crystal prototypes and their decoration for candidates.

The Nd2Fe14B prototype is built from published Wyckoff positions
(``data/structures/Nd2Fe14B.json``, Herbst et al., Phys. Rev. B 29, 4176 (1984)).
Lattice parameters follow Vegard's law over the rare-earth sublattice, using the
end-member lattice constants of ``data/ndfeb/end_members.csv``, plus a linear Co term.

Site rule (documented in docs/models/ndfeb.md): rare earths are distributed over the
4f and 4g sites at random, without site preference, with exact counts from the
largest-remainder rounding of fraction x sites; Co is distributed at random over
all Fe sites. The smallest supercell (up to ``max_supercell`` cells) that represents
every fraction exactly is used; otherwise the largest allowed supercell and the nearest
counts, and the realised fractions are recorded in the recipe.
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache

import numpy as np

from regenome.datafiles import table_path

# supercell shapes by number of cells, kept compact (a = 8.8 A, c = 12.2 A)
SUPERCELLS = {1: (1, 1, 1), 2: (2, 1, 1), 3: (3, 1, 1), 4: (2, 2, 1), 5: (5, 1, 1), 6: (3, 2, 1),
              7: (7, 1, 1), 8: (2, 2, 2), 9: (3, 3, 1), 10: (5, 2, 1)}


@lru_cache(maxsize=1)
def nd2fe14b_prototype() -> dict:
    """The 68-atom Nd2Fe14B cell: lattice (3, 3), numbers, fractional coords, labels, sublattices."""
    from pymatgen.core import Lattice, Structure

    spec = json.loads(table_path("structures", "Nd2Fe14B.json").read_text())
    lat = Lattice.tetragonal(spec["lattice"]["a"], spec["lattice"]["c"])
    species = [s["species"] for s in spec["sites"]]
    coords = [s["coords"] for s in spec["sites"]]
    labels = [s["label"] for s in spec["sites"]]
    structure = Structure.from_spacegroup(spec["space_group"], lat, species, coords,
                                          site_properties={"label": labels})
    sublattice = {s["label"]: s["sublattice"] for s in spec["sites"]}
    label_list = list(structure.site_properties["label"])
    return {
        "lattice": np.array(structure.lattice.matrix),
        "numbers": np.array([site.specie.Z for site in structure], dtype=np.int16),
        "frac_coords": np.array(structure.frac_coords),
        "labels": label_list,
        "sublattice": np.array([sublattice[lab] for lab in label_list]),
        "source": spec["source"],
        "space_group": spec["space_group"],
    }


@lru_cache(maxsize=1)
def _lattice_tables() -> tuple[dict, dict]:
    with table_path("ndfeb", "end_members.csv").open(newline="") as handle:
        ac = {r["R"]: (float(r["a_A"]), float(r["c_A"])) for r in csv.DictReader(handle)}
    params = json.loads(table_path("ndfeb", "parameters.json").read_text())
    return ac, params["lattice"]


def vegard_lattice(re_frac: dict[str, float], co: float) -> tuple[float, float]:
    """Tetragonal a, c in Angstrom: fraction-weighted end members plus the linear Co shift."""
    ac, co_slope = _lattice_tables()
    total = sum(re_frac.values())
    a = sum(f * ac[e][0] for e, f in re_frac.items()) / total + co * co_slope["co_slope_a_A"]
    c = sum(f * ac[e][1] for e, f in re_frac.items()) / total + co * co_slope["co_slope_c_A"]
    return a, c


def largest_remainder(fractions: np.ndarray, n_sites: int) -> np.ndarray:
    """Integer counts summing to ``n_sites`` closest to ``fractions * n_sites``."""
    target = np.asarray(fractions, dtype=float) * n_sites
    counts = np.floor(target + 1e-9).astype(int)
    short = n_sites - counts.sum()
    order = np.argsort(-(target - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def choose_supercell(fractions: list[np.ndarray], sites_per_cell: list[int], max_cells: int) -> int:
    """Smallest number of cells (<= max_cells) representing all fractions exactly, else max_cells."""
    for n in sorted(k for k in SUPERCELLS if k <= max_cells):
        if all(np.allclose(f * s * n, np.round(f * s * n), atol=1e-6) for f, s in zip(fractions, sites_per_cell)):
            return n
    return max(k for k in SUPERCELLS if k <= max_cells)


def decorate_nd2fe14b(re_frac: dict[str, float], co: float, seed: int, max_supercell: int = 10) -> dict:
    """Build one substituted (R)2(Fe,Co)14B supercell.

    Returns a dict with ``lattice`` (3, 3) in Angstrom, ``numbers``, ``frac_coords``,
    ``site_labels`` and ``recipe`` (supercell, lattice parameters, realised fractions).
    """
    from pymatgen.core.periodic_table import Element

    proto = nd2fe14b_prototype()
    names = [e for e, f in re_frac.items() if f > 0]
    f_re = np.array([re_frac[e] for e in names])
    f_re = f_re / f_re.sum()
    is_re = proto["sublattice"] == "rare_earth"
    is_tm = proto["sublattice"] == "transition_metal"
    n_cells = choose_supercell([f_re, np.array([co, 1 - co])], [int(is_re.sum()), int(is_tm.sum())], max_supercell)
    shape = SUPERCELLS[n_cells]

    a, c = vegard_lattice({e: re_frac[e] for e in names}, co)
    shifts = np.array([(i, j, k) for i in range(shape[0]) for j in range(shape[1]) for k in range(shape[2])])
    frac = (proto["frac_coords"][None, :, :] + shifts[:, None, :]).reshape(-1, 3) / np.array(shape)
    numbers = np.tile(proto["numbers"], n_cells).astype(np.int16)
    labels = list(proto["labels"]) * n_cells
    re_idx = np.nonzero(np.tile(is_re, n_cells))[0]
    tm_idx = np.nonzero(np.tile(is_tm, n_cells))[0]

    rng = np.random.default_rng(seed)
    re_counts = largest_remainder(f_re, len(re_idx))
    re_species = np.repeat([Element(e).Z for e in names], re_counts)
    numbers[rng.permutation(re_idx)] = re_species
    n_co = int(largest_remainder(np.array([co, 1 - co]), len(tm_idx))[0])
    numbers[rng.permutation(tm_idx)[:n_co]] = Element("Co").Z

    lattice = np.diag([a * shape[0], a * shape[1], c * shape[2]])
    realised = {e: int(k) / len(re_idx) for e, k in zip(names, re_counts)}
    return {
        "lattice": lattice,
        "numbers": numbers,
        "frac_coords": frac,
        "site_labels": labels,
        "recipe": {
            "supercell": list(shape),
            "n_sites": int(len(numbers)),
            "lattice_A": {"a": round(a, 5), "c": round(c, 5), "rule": "Vegard over RE end members + linear Co term"},
            "site_rule": "random over 4f/4g (no site preference); Co random over Fe sites",
            "seed": int(seed),
            "realised_rare_earth": realised,
            "realised_co_fraction": n_co / len(tm_idx),
        },
    }
