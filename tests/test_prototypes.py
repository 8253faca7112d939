"""The Nd2Fe14B prototype reproduces the published checks; decoration hits the requested fractions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regenome.datafiles import table_path
from regenome.structures.prototypes import decorate_nd2fe14b, nd2fe14b_prototype


def _structure(built):
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(built["lattice"]), [int(z) for z in built["numbers"]], built["frac_coords"])


def test_transcription_matches_shared_prototype(reference_data):
    shared = json.loads((reference_data / "structures" / "prototypes.json").read_text())["Nd2Fe14B"]
    ours = json.loads(table_path("structures", "Nd2Fe14B.json").read_text())
    assert ours["space_group"] == shared["space_group"] and ours["lattice"] == shared["lattice"]
    assert [(s["label"], s["coords"]) for s in ours["sites"]] == [(s["label"], s["coords"]) for s in shared["sites"]]


def test_prototype_reproduces_published_checks(reference_data):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    check = json.loads((reference_data / "structures" / "prototypes.json").read_text())["Nd2Fe14B"]["check"]
    proto = nd2fe14b_prototype()
    s = _structure({"lattice": proto["lattice"], "numbers": proto["numbers"], "frac_coords": proto["frac_coords"]})
    assert len(s) == check["atoms"]
    assert s.composition.reduced_formula == "Nd2Fe14B" and s.formula.replace(" ", "") == check["formula"]
    assert SpacegroupAnalyzer(s, symprec=0.01).get_space_group_number() == check["space_group"]
    assert s.density == pytest.approx(check["density_g_cm3"], rel=0.002)
    dist = s.distance_matrix + np.eye(len(s)) * 100
    symbols = [site.specie.symbol for site in s]
    for pair, expected in check["min_distance_A"].items():
        a, b = pair.split("-")
        mask = np.array([[x == a and y == b or x == b and y == a for y in symbols] for x in symbols])
        assert dist[mask].min() == pytest.approx(expected, abs=0.005), pair


def test_decoration_hits_fractions_and_is_seeded():
    a = decorate_nd2fe14b({"Nd": 0.65, "Ce": 0.3, "Dy": 0.05}, 0.05, seed=3)
    b = decorate_nd2fe14b({"Nd": 0.65, "Ce": 0.3, "Dy": 0.05}, 0.05, seed=3)
    assert np.array_equal(a["numbers"], b["numbers"])
    s = _structure(a)
    re = [site.specie.symbol for site in s if site.specie.symbol in ("Nd", "Ce", "Dy")]
    assert re.count("Ce") / len(re) == pytest.approx(0.3) and re.count("Dy") / len(re) == pytest.approx(0.05)
    tm = [site.specie.symbol for site in s if site.specie.symbol in ("Fe", "Co")]
    assert tm.count("Co") / len(tm) == pytest.approx(0.05)
    assert a["recipe"]["supercell"] == [5, 1, 1]
    # Vegard: Ce shrinks the cell relative to Nd2Fe14B (Herbst a = 8.80, c = 12.20 A)
    assert a["recipe"]["lattice_A"]["a"] < 8.80 and a["recipe"]["lattice_A"]["c"] < 12.20
    assert s.distance_matrix[np.triu_indices(len(s), 1)].min() > 2.0
