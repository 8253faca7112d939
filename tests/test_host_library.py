"""The phosphor host library reproduces its published facts.

Every host with a structure is built from ``data/structures/phosphor_hosts.json`` and checked for
formula and Z, space group, X-ray density, bond-valence sums and physically possible contacts.
These checks are how a transcription error shows up (a wrong special position changes the atom
count and density, a wrong coordinate or lattice constant the bond valences and contacts); they do
not prove every digit. Structures are built once per session (``load_host`` is cached).
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from regenome.structures import hosts as H

NAMES = H.host_names()
STRUCTURED = [n for n in NAMES if H.host_entry(n)["structure"] is not None]
COMPOSITION_ONLY = [n for n in NAMES if H.host_entry(n)["structure"] is None]
REQUIRED = ["Y3Al5O12", "Lu3Al5O12", "Ca3Sc2Si3O12", "CaAlSiN3", "Sr2Si5N8", "SrLiAl3N4", "SrSi2O2N2", "Ba2SiO4",
            "Sr3SiO5", "SrAl2O4", "BaMgAl10O17", "SrGa2S4", "CaS", "NaBaB9O15", "Y2O3"]
AVOGADRO = 6.02214076e23
#: Tolerances of the acceptance criteria.
DENSITY_RTOL = 0.02
BVS_RTOL = 0.15
SPGLIB_SYMPREC = 0.01


def _min_shannon(element: str, charge: int) -> float:
    from pymatgen.core import Element

    table = Element(element).data["Shannon radii"][str(charge)]
    return min(entry["ionic_radius"] for spins in table.values() for entry in spins.values())


def test_library_covers_the_issue():
    assert len(NAMES) >= 25
    assert set(REQUIRED) <= set(NAMES)
    assert len(STRUCTURED) >= 18
    assert {H.host_entry(n)["category"] for n in NAMES} == set(H.CATEGORIES)


@pytest.mark.parametrize("name", NAMES)
def test_record_is_complete_and_charge_neutral(name):
    from pymatgen.core import Composition

    entry = H.host_entry(name)
    assert entry["category"] in H.CATEGORIES
    assert entry["source"]
    comp = Composition(name)
    assert set(entry["oxidation_states"]) == {el.symbol for el in comp}
    assert sum(q * comp[el] for el, q in entry["oxidation_states"].items()) == 0
    spec = entry["structure"]
    if spec is not None:
        assert set(spec) >= {"space_group", "symbol", "lattice", "Z", "sites"}
        for site in spec["sites"]:
            assert set(site) == {"label", "species", "wyckoff", "coords", "oxidation_state"}
            assert site["label"].endswith(f"({site['wyckoff']})")
            assert site["oxidation_state"] == entry["oxidation_states"][site["species"]]
        assert entry["density_g_cm3"] > 0


@pytest.mark.parametrize("name", STRUCTURED)
def test_formula_z_and_wyckoff_multiplicities(name):
    from pymatgen.core import Composition

    host = H.load_host(name)
    spec = H.host_entry(name)["structure"]
    assert host.formula == Composition(name).reduced_formula
    comp, z = host.structure.composition.get_reduced_composition_and_factor()
    assert z == spec["Z"]
    labels = host.structure.site_properties["label"]
    for site in spec["sites"]:  # each orbit has the multiplicity of its Wyckoff letter
        assert labels.count(site["label"]) == int(site["wyckoff"][:-1]), site["label"]


@pytest.mark.parametrize("name", STRUCTURED)
def test_space_group(name):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    host = H.load_host(name)
    found = SpacegroupAnalyzer(host.structure, symprec=SPGLIB_SYMPREC).get_space_group_number()
    assert found == H.host_entry(name)["structure"]["space_group"]


@pytest.mark.parametrize("name", STRUCTURED)
def test_density(name):
    """Built cell within 2% of the stored X-ray density, and the stored value reproduces from the cell."""
    from pymatgen.core import Composition

    entry = H.host_entry(name)
    host = H.load_host(name)
    assert host.structure.density == pytest.approx(entry["density_g_cm3"], rel=DENSITY_RTOL)
    lat = entry["structure"]["lattice"]
    a, b, c = lat["a"], lat.get("b", lat["a"]), lat.get("c", lat["a"])
    hexagonal = 143 <= entry["structure"]["space_group"] <= 194
    al, be, ga = (math.radians(lat.get(k, d)) for k, d in (("alpha", 90), ("beta", 90),
                                                          ("gamma", 120 if hexagonal else 90)))
    volume = a * b * c * math.sqrt(1 - math.cos(al) ** 2 - math.cos(be) ** 2 - math.cos(ga) ** 2
                                   + 2 * math.cos(al) * math.cos(be) * math.cos(ga))
    mass = Composition(name).weight * entry["structure"]["Z"] / AVOGADRO
    assert mass / (volume * 1e-24) == pytest.approx(entry["density_g_cm3"], rel=1e-3)


@pytest.mark.parametrize("name", STRUCTURED)
def test_bond_valence_sums(name):
    """Every cation site within 15% of its formal valence (Brese & O'Keeffe R0, neighbours within 3.5 A)."""
    host = H.load_host(name)
    sums = H.bond_valence_sums(host, cutoff_A=3.5)
    charge = {site.properties["label"]: host.oxidation_states[site.specie.symbol] for site in host.structure}
    assert sums
    bad = {lab: round(v, 2) for lab, v in sums.items() if abs(v - charge[lab]) > BVS_RTOL * charge[lab]}
    assert not bad, f"{name}: bond-valence sums off by more than 15%: {bad}"


@pytest.mark.parametrize("name", STRUCTURED)
def test_contacts_are_physical(name):
    """No contact shorter than physically possible.

    Rules, over all pairs within 3.0 A (periodic images included):

    * no two sites closer than 1.0 A: the shortest bond possible in these hosts (no hydrogen) is
      B-O or P-O at 1.37-1.55 A;
    * every cation-anion distance at least 0.75 x (r_cation + r_anion), with r the smallest Shannon
      ionic radius tabulated for the ion at any CN: real bonds are close to the sum of the radii
      at the actual CN, which is never below the smallest-CN sum by 25% (Si-O: 1.62 A vs 0.75 x
      1.61 = 1.21 A);
    * like charges (cation-cation, anion-anion) at least 2.2 A apart: the closest such pairs in
      ionic solids are across shared polyhedron edges, O-O in PO4/BO3 at about 2.4 A and cations
      across shared tetrahedron edges at 2.5-2.7 A.
    """
    import numpy as np

    host = H.load_host(name)
    structure = host.structure
    ox = host.oxidation_states
    centers, neighbors, _, dists = structure.get_neighbor_list(3.0)
    assert dists.size == 0 or dists.min() >= 1.0
    charge = np.array([ox[site.specie.symbol] for site in structure])
    radius = {el: _min_shannon(el, q) for el, q in ox.items()}
    r = np.array([radius[site.specie.symbol] for site in structure])
    opposite = charge[centers] * charge[neighbors] < 0
    floor = 0.75 * (r[centers] + r[neighbors])
    short = opposite & (dists < floor)
    assert not short.any(), f"{name}: cation-anion contact {dists[short].min():.3f} A too short"
    like = ~opposite & (dists < 2.2)
    assert not like.any(), f"{name}: like-charge contact {dists[like].min():.3f} A"


@pytest.mark.parametrize("name", STRUCTURED)
def test_every_site_labelled(name):
    labels = H.load_host(name).structure.site_properties["label"]
    assert all(isinstance(lab, str) and "(" in lab for lab in labels)


@pytest.mark.parametrize("name", COMPOSITION_ONLY)
def test_composition_only_hosts_say_so(name):
    host = H.load_host(name)
    assert host.composition_only and host.structure is None
    assert host.note.startswith("composition-only:")
    assert H.host_entry(name)["dopant_sites"]
    row = next(r for r in H.library_table() if r["name"] == name)
    assert row["composition_only"] and row["space_group"] is None and row["n_sites"] is None


def test_library_table():
    rows = H.library_table()
    assert [r["name"] for r in rows] == NAMES
    assert set(rows[0]) == {"name", "category", "composition_only", "space_group", "n_sites", "source", "note"}
    yag = next(r for r in rows if r["name"] == "Y3Al5O12")
    assert yag == {**yag, "composition_only": False, "space_group": "Ia-3d (230)", "n_sites": 160}


def test_unknown_host_names_the_valid_ones():
    with pytest.raises(KeyError, match=r"unknown host 'Nd2Fe14B'; valid: .*Y3Al5O12"):
        H.load_host("Nd2Fe14B")


def test_other_spellings_of_a_formula_resolve():
    assert H.load_host("Ca5P3O12F") is H.load_host("Ca5(PO4)3F")
    assert H.load_host("Al5Y3O12") is H.load_host("Y3Al5O12")


def test_yag_site_geometry():
    """Y(24c) has 4 + 4 O at 2.30 / 2.43 A (Euler & Bruce 1965)."""
    host = H.load_host("Y3Al5O12")
    idx = host.structure.site_properties["label"].index("Y(24c)")
    d = sorted(nb.nn_distance for nb in host.structure.get_neighbors(host.structure[idx], 2.6))
    assert d == pytest.approx([2.303] * 4 + [2.432] * 4, abs=0.005)


def test_no_pymatgen_at_import():
    code = ("import sys, regenome.structures.hosts, regenome.structures.placement; "
            "print(any(m.split('.')[0] in ('pymatgen', 'ase', 'spglib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
