"""Phosphor host structures: the curated library and user structure files.

The library (``data/structures/phosphor_hosts.json``) stores each host as published
crystallographic facts (space group, lattice, Wyckoff representatives with formal oxidation
states, Z, X-ray density, source); :func:`load_host` builds the conventional cell from them with
pymatgen ``Structure.from_spacegroup``. Hosts whose structure could not be sourced reliably are
kept as composition-only (``structure`` is ``None`` and ``note`` says why): site choice still works
on them by element, but no doped cell can be built.

:func:`host_from_file` reads a user's CIF, POSCAR/CONTCAR or extended-XYZ file into the same
:class:`Host`, with Wyckoff-style site labels and bond-valence oxidation states, and refuses files
it cannot use with one line naming the file and the fix.

Nothing is read or imported at import time: the JSON is loaded on first use and pymatgen is
imported inside the functions (the CLI's start-up time matters).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regenome.datafiles import table_path
from regenome.errors import InputDataError
from regenome.structures.cif import MAX_CIF_BYTES, read_cif

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Host categories of the library (the first matching rule of :func:`guess_category` for user files).
CATEGORIES = ("garnet", "nitride", "oxynitride", "silicate", "aluminate", "sulfide", "borate", "phosphate",
              "oxide", "fluoride")
#: Largest host structure file read, in bytes (the CIF limit of :mod:`regenome.structures.cif`).
MAX_HOST_FILE_BYTES = MAX_CIF_BYTES
#: Most sites accepted in a user host cell (conventional cell); larger cells make site analysis slow.
MAX_HOST_SITES = 2000
#: spglib tolerance (Angstrom) for labelling the sites of user files.
SYMPREC = 0.01
_FIX = "give a CIF, POSCAR or extxyz file with full site occupancies"


@dataclass(frozen=True, eq=False)
class Host:
    """A phosphor host: composition, formal oxidation states and (optionally) a crystal structure.

    Attributes
    ----------
    name : str
        Formula as a user types it, e.g. ``"Y3Al5O12"``.
    category : str
        One of :data:`CATEGORIES`.
    oxidation_states : dict of str to int
        Formal oxidation state per element.
    structure : pymatgen Structure or None
        Conventional cell (Angstrom) with ``site_properties["label"]`` on every site, e.g.
        ``"Y(24c)"``; ``None`` for a composition-only host.
    source : str
        Where the structure (or composition) comes from.
    note : str
        Why a host is composition-only, approximations made, or ``"user file PATH"``.

    Notes
    -----
    Hosts compare and hash by identity (``eq=False``): the library ones are cached by
    ``load_host``, and comparing crystal structures site by site would be slow.
    """

    name: str
    category: str
    oxidation_states: dict[str, int]
    structure: Structure | None
    source: str
    note: str = ""

    @property
    def composition_only(self) -> bool:
        """True when no crystal structure is known for this host."""
        return self.structure is None

    @property
    def formula(self) -> str:
        """Reduced formula in pymatgen's notation, e.g. ``"Y3Al5O12"``."""
        if self.structure is not None:
            return self.structure.composition.reduced_formula
        from pymatgen.core import Composition

        return Composition(self.name).reduced_formula


# ----------------------------------------------------------------------------------------------
# library


@lru_cache(maxsize=1)
def _library() -> dict[str, Any]:
    """The parsed library JSON (hosts by name, bond-valence parameters)."""
    doc = json.loads(table_path("structures", "phosphor_hosts.json").read_text())
    return {"hosts": {h["name"]: h for h in doc["hosts"]}, "bond_valence": doc["bond_valence"]}


def host_names() -> list[str]:
    """Names of the library hosts, sorted."""
    return sorted(_library()["hosts"])


def _resolve(name: str) -> str:
    entries = _library()["hosts"]
    if name in entries:
        return name
    from pymatgen.core import Composition

    try:  # accept any way of writing the same formula ("Ca5P3O12F" for "Ca5(PO4)3F")
        wanted = Composition(name).reduced_formula
    except Exception:  # noqa: BLE001 - pymatgen raises several types on a non-formula
        wanted = None
    for known in entries:
        if wanted is not None and Composition(known).reduced_formula == wanted:
            return known
    raise KeyError(f"unknown host {name!r}; valid: {', '.join(host_names())}")


@lru_cache(maxsize=None)
def load_host(name: str) -> Host:
    """The library host ``name`` (any spelling of the same formula gives the same cached object).

    Raises
    ------
    KeyError
        ``"unknown host 'X'; valid: ..."`` for a name not in the library.
    """
    return _load_canonical(_resolve(name))


@lru_cache(maxsize=None)
def _load_canonical(name: str) -> Host:
    entry = _library()["hosts"][name]
    spec = entry["structure"]
    return Host(name=entry["name"], category=entry["category"],
                oxidation_states={el: int(q) for el, q in entry["oxidation_states"].items()},
                structure=None if spec is None else build_structure(spec),
                source=entry["source"], note=entry.get("note", ""))


def host_entry(name: str) -> dict[str, Any]:
    """The raw library record of ``name`` (published facts, density, dopant sites), as a copy."""
    return json.loads(json.dumps(_library()["hosts"][_resolve(name)]))


def build_structure(spec: dict[str, Any]) -> Structure:
    """Conventional cell from a library ``structure`` record (space group, lattice, Wyckoff sites).

    Lattice lengths default to ``b = a``, ``c = a`` and angles to 90 deg (``gamma`` 120 deg for the
    trigonal and hexagonal groups 143-194), so each record lists only its free parameters.
    ``origin_shift`` is added to the published coordinates; ``setting_symbol`` selects a
    non-standard setting (e.g. ``"Pbnm"``).
    """
    import numpy as np
    from pymatgen.core import Lattice, Structure

    lat = spec["lattice"]
    hexagonal = 143 <= spec["space_group"] <= 194
    lattice = Lattice.from_parameters(lat["a"], lat.get("b", lat["a"]), lat.get("c", lat["a"]),
                                      lat.get("alpha", 90.0), lat.get("beta", 90.0),
                                      lat.get("gamma", 120.0 if hexagonal else 90.0))
    shift = np.asarray(spec.get("origin_shift", (0.0, 0.0, 0.0)), dtype=float)
    sites = spec["sites"]
    with warnings.catch_warnings():  # pymatgen warns that non-standard settings have no full symbol
        warnings.filterwarnings("ignore", message="Full symbol not available")
        return Structure.from_spacegroup(spec.get("setting_symbol", spec["space_group"]), lattice,
                                         [s["species"] for s in sites],
                                         [np.asarray(s["coords"], dtype=float) + shift for s in sites],
                                         site_properties={"label": [s["label"] for s in sites]})


def library_table() -> list[dict[str, Any]]:
    """One row per library host: name, category, composition_only, space_group, n_sites, source, note."""
    rows = []
    for name in host_names():
        entry = _library()["hosts"][name]
        spec = entry["structure"]  # conventional-cell sites = sum of the Wyckoff multiplicities (no build needed)
        n_sites = None if spec is None else sum(int(site["wyckoff"][:-1]) for site in spec["sites"])
        rows.append({"name": name, "category": entry["category"], "composition_only": spec is None,
                     "space_group": None if spec is None else f"{spec['symbol']} ({spec['space_group']})",
                     "n_sites": n_sites, "source": entry["source"], "note": entry.get("note", "")})
    return rows


# ----------------------------------------------------------------------------------------------
# bond valence


def bond_valence_sums(host: Host, cutoff_A: float = 3.5) -> dict[str, float]:
    """Bond-valence sum (valence units) of every symmetry-distinct cation site of ``host``.

    ``V = sum_j exp((R0 - d_j) / b)`` over the anions within ``cutoff_A`` Angstrom, with the pair
    parameters R0 and b = 0.37 A of Brese & O'Keeffe, Acta Cryst. B47, 192 (1991), stored in the
    library JSON (pymatgen's ``calculate_bv_sum`` uses generic element parameters that miss simple
    structures by up to 30%; see the ``bond_valence.why`` entry there).

    Raises
    ------
    KeyError
        If a cation-anion pair of the structure has no stored R0.
    ValueError
        For a composition-only host.
    """
    if host.structure is None:
        raise ValueError(f"host {host.name!r} is composition-only; it has no bond lengths")
    params = _library()["bond_valence"]
    r0, b = params["R0_A"], float(params["b_A"])
    structure = host.structure
    labels = structure.site_properties["label"]
    sums: dict[str, float] = {}
    for i, site in enumerate(structure):
        el = site.specie.symbol
        if labels[i] in sums or host.oxidation_states[el] <= 0:
            continue
        total = 0.0
        for nb in structure.get_neighbors(site, cutoff_A):
            other = nb.specie.symbol
            if host.oxidation_states[other] < 0:
                pair = f"{el}-{other}"
                if pair not in r0:
                    raise KeyError(f"no bond-valence R0 for {pair} in phosphor_hosts.json")
                total += math.exp((r0[pair] - nb.nn_distance) / b)
        sums[labels[i]] = total
    return sums


# ----------------------------------------------------------------------------------------------
# user files


def guess_category(elements: set[str], space_group: int | None = None) -> str:
    """Category of a host from its elements: the first rule that applies wins.

    N and O -> oxynitride; N -> nitride; S -> sulfide; space group 230 with O -> garnet;
    B -> borate; P -> phosphate; Si -> silicate; Al or Ga -> aluminate; F without O -> fluoride;
    otherwise oxide. A heuristic for user files only; the library states its categories.
    """
    if "N" in elements:
        return "oxynitride" if "O" in elements else "nitride"
    if "S" in elements:
        return "sulfide"
    if space_group == 230 and "O" in elements:
        return "garnet"
    for el, category in (("B", "borate"), ("P", "phosphate"), ("Si", "silicate"), ("Al", "aluminate"),
                         ("Ga", "aluminate")):
        if el in elements:
            return category
    if "F" in elements and "O" not in elements:
        return "fluoride"
    return "oxide"


def _file_format(path: Path, text: str) -> str:
    name, suffix = path.name.upper(), path.suffix.lower()
    if suffix == ".cif":
        return "cif"
    if suffix in (".extxyz", ".xyz"):
        return "extxyz"
    if suffix in (".vasp", ".poscar") or name.startswith(("POSCAR", "CONTCAR")):
        return "poscar"
    if "_cell_length_a" in text:
        return "cif"
    if "Lattice=" in text:
        return "extxyz"
    return "poscar"


def _read_structure(path: Path) -> tuple[Structure, str]:
    """The structure in ``path`` and the format it was read as; InputDataError otherwise."""
    if not path.is_file():
        raise InputDataError(f"{path}: host structure file not found; {_FIX}")
    size = path.stat().st_size
    if size == 0:
        raise InputDataError(f"{path}: empty file; {_FIX}")
    if size > MAX_HOST_FILE_BYTES:
        raise InputDataError(f"{path}: {size} bytes, larger than the {MAX_HOST_FILE_BYTES}-byte limit for host "
                             f"structure files; {_FIX}")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InputDataError(f"{path}: binary file, not a structure; {_FIX}")
    text = raw.decode("utf-8", errors="replace")
    fmt = _file_format(path, text)
    if fmt == "cif":
        return read_cif(path), fmt
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "poscar":
                from pymatgen.io.vasp import Poscar

                structure = Poscar.from_str(text).structure
            else:
                from ase.io import read
                from pymatgen.io.ase import AseAtomsAdaptor

                atoms = read(path, format="extxyz", index=0)
                if not all(atoms.pbc) or atoms.cell.volume < 1e-6:
                    raise ValueError("not periodic in three dimensions (no Lattice=... with pbc=\"T T T\")")
                structure = AseAtomsAdaptor.get_structure(atoms)
    except InputDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - the readers raise many types on bad input
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200] or type(exc).__name__
        raise InputDataError(f"{path}: no structure could be read as {fmt} ({first}); {_FIX}") from None
    if len(structure) == 0:
        raise InputDataError(f"{path}: no atoms in the file; {_FIX}")
    return structure, fmt


def _check_ordered(path: Path, structure: Structure) -> None:
    from pymatgen.core import DummySpecies

    for i, site in enumerate(structure):
        if not site.is_ordered or abs(sum(site.species.values()) - 1.0) > 1e-3:
            occ = ", ".join(f"{sp} {x:g}" for sp, x in site.species.items())
            raise InputDataError(f"{path}: site {i + 1} is partially occupied or mixed ({occ}); regenome builds "
                                 f"doped cells from ordered hosts only; {_FIX} (one element per site)")
        if isinstance(site.specie, DummySpecies):
            raise InputDataError(f"{path}: site {i + 1} has no chemical element ({site.specie}); {_FIX}")


def _oxidation_states(path: Path, structure: Structure) -> tuple[dict[str, int], str]:
    """Per-element oxidation states: BVAnalyzer, else the first Composition guess."""
    from pymatgen.core.bond_valence import BVAnalyzer

    by_element: dict[str, set[int]] = {}
    method = "pymatgen BVAnalyzer"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            valences = BVAnalyzer().get_valences(structure)
        for site, v in zip(structure, valences):
            by_element.setdefault(site.specie.symbol, set()).add(int(round(v)))
    except Exception:  # noqa: BLE001 - BVAnalyzer raises ValueError (and others) when no assignment works
        guesses = structure.composition.oxi_state_guesses()
        if not guesses:
            raise InputDataError(f"{path}: cannot assign oxidation states to {structure.composition.reduced_formula} "
                                 f"(bond valence and charge-balance guesses both fail); {_FIX} of an ionic "
                                 "host (cations and O, N, S or F anions)") from None
        method = "pymatgen Composition.oxi_state_guesses (bond valence failed)"
        for el, v in guesses[0].items():
            if abs(v - round(v)) > 1e-6:
                raise InputDataError(f"{path}: {el} gets a fractional oxidation state ({v:g}); {_FIX} "
                                     "of a host with integer valences") from None
            by_element[el] = {int(round(v))}
    mixed = {el: sorted(v) for el, v in by_element.items() if len(v) > 1}
    if mixed:
        el, vals = next(iter(mixed.items()))
        raise InputDataError(f"{path}: {el} takes several oxidation states ({', '.join(map(str, vals))}); "
                             "regenome needs one per element; give a host with a single valence per element")
    return {el: next(iter(v)) for el, v in by_element.items()}, method


def _site_labels(structure: Structure) -> list[str]:
    """Wyckoff-style label per site, e.g. ``"Sr(2i)"``; numbered ``"Sr1(2i)"`` when an element has several orbits."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sym = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_symmetrized_structure()
    orbits = [(structure[idx[0]].specie.symbol, wyck, idx) for idx, wyck in
              zip(sym.equivalent_indices, sym.wyckoff_symbols)]
    n_orbits = Counter(el for el, _, _ in orbits)
    seen: Counter = Counter()
    labels = [""] * len(structure)
    for el, wyck, idx in orbits:
        seen[el] += 1
        tag = f"{el}{seen[el]}" if n_orbits[el] > 1 else el
        for i in idx:
            labels[i] = f"{tag}({wyck})"
    return labels


def host_from_file(path: str | os.PathLike[str]) -> Host:
    """A :class:`Host` from a user's CIF, POSCAR/CONTCAR (VASP) or extended-XYZ file.

    The structure is converted to its conventional standard cell (spglib, symprec
    :data:`SYMPREC` Angstrom; positions are symmetrised within that tolerance), labelled per
    symmetry-distinct site (``"Sr(2i)"``, ``"Sr1(2i)"``/``"Sr2(2i)"`` when an element has several
    orbits), and given one oxidation state per element from pymatgen's ``BVAnalyzer``, falling back
    to ``Composition.oxi_state_guesses()``. The category is guessed by :func:`guess_category`.

    Raises
    ------
    InputDataError
        One line naming the file and the fix, if the file is missing, empty, larger than
        :data:`MAX_HOST_FILE_BYTES`, unreadable, partially occupied or mixed, has more than
        :data:`MAX_HOST_SITES` sites, overlapping atoms, no cation or no anion, or no assignable
        oxidation states.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    p = Path(path)
    structure, fmt = _read_structure(p)
    _check_ordered(p, structure)
    if len(structure) > MAX_HOST_SITES:
        raise InputDataError(f"{p}: {len(structure)} sites, more than the {MAX_HOST_SITES} accepted for a host cell; "
                             "give the conventional or primitive cell, not a supercell")
    if len(structure) > 1:
        dmin = float(structure.distance_matrix[~_eye(len(structure))].min())
        if dmin < 0.5:
            raise InputDataError(f"{p}: two atoms are {dmin:.2f} A apart (overlapping sites); {_FIX}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sga = SpacegroupAnalyzer(structure, symprec=SYMPREC)
            conventional = sga.get_conventional_standard_structure()
            space_group = sga.get_space_group_number()
    except Exception as exc:  # noqa: BLE001 - spglib failures surface as several types
        raise InputDataError(f"{p}: symmetry analysis failed ({str(exc)[:120]}); {_FIX}") from None
    if len(conventional) > MAX_HOST_SITES:
        raise InputDataError(f"{p}: the conventional cell has {len(conventional)} sites, more than the "
                             f"{MAX_HOST_SITES} accepted for a host cell")
    conventional.add_site_property("label", _site_labels(conventional))
    oxidation, method = _oxidation_states(p, conventional)
    if not any(q > 0 for q in oxidation.values()):
        raise InputDataError(f"{p}: no cation found ({conventional.composition.reduced_formula}); {_FIX} of an "
                             "ionic host")
    if not any(q < 0 for q in oxidation.values()):
        raise InputDataError(f"{p}: no anion found ({conventional.composition.reduced_formula}, oxidation states "
                             f"{oxidation}); a phosphor host needs O, N, S, F or another anion")
    zero = [el for el, q in oxidation.items() if q == 0]
    if zero:
        raise InputDataError(f"{p}: {', '.join(zero)} gets oxidation state 0; {_FIX} of an ionic host")
    return Host(name=conventional.composition.reduced_formula,
                category=guess_category(set(oxidation), space_group),
                oxidation_states=oxidation, structure=conventional,
                source=f"user file {p} (read as {fmt}; oxidation states from {method}; site labels from spglib, "
                       f"symprec {SYMPREC} A)",
                note=f"user file {p}")


def _eye(n: int):
    import numpy as np

    return np.eye(n, dtype=bool)
