"""Activator site choice, doped supercells and user host files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regenome.errors import InputDataError
from regenome.structures.hosts import host_from_file, host_names, load_host
from regenome.structures.placement import (
    ACTIVATORS,
    COMPENSATORS,
    NETWORK_FORMERS,
    SiteChoice,
    activator_ion,
    cation_sites,
    choose_compensator,
    choose_site,
    compensator_ion,
    dope_supercell,
)

LANTHANIDE_ACTIVATORS = [a for a in ACTIVATORS if a[:2] in ("Ce", "Eu", "Tb", "Pr", "Sm", "Dy", "Yb")]


# ----------------------------------------------------------------------------------------------
# activator_ion


@pytest.mark.parametrize("text, expected", [("Ce3+", ("Ce", 3)), ("Eu2+", ("Eu", 2)), ("Eu3+", ("Eu", 3)),
                                            ("Tb3+", ("Tb", 3)), ("Mn4+", ("Mn", 4)), (" Yb2+ ", ("Yb", 2))])
def test_activator_ion_parses(text, expected):
    assert activator_ion(text) == expected


@pytest.mark.parametrize("text", ["Ce4+", "ce3+", "Ce", "Ce3", "Ce+3", "Nd3+", "", "Eu2+Eu3+", None, 3])
def test_activator_ion_rejects_with_the_valid_list(text):
    with pytest.raises(ValueError, match=r"must be one of Ce3\+, Eu2\+, Eu3\+, Tb3\+"):
        activator_ion(text)


def test_activator_list_has_the_required_ions():
    assert ACTIVATORS[:4] == ("Ce3+", "Eu2+", "Eu3+", "Tb3+")


# ----------------------------------------------------------------------------------------------
# site choice


def test_ce_in_yag_takes_the_dodecahedral_y_site():
    c = choose_site(load_host("Y3Al5O12"), "Ce3+")
    assert (c.site, c.replaced, c.replaced_charge, c.coordination, c.multiplicity) == ("Y(24c)", "Y", 3, 8, 24)
    assert c.mean_bond_length_A == pytest.approx(2.37, abs=0.01)
    assert c.charge_mismatch == 0 and c.compensation == ""
    assert c.activator_radius_A == pytest.approx(1.143) and c.host_radius_A == pytest.approx(1.019)
    assert c.radius_mismatch == pytest.approx((1.143 - 1.019) / 1.019, abs=1e-4)
    assert c.alternatives[0]["label"] == "Y(24c)"
    assert {a["label"] for a in c.alternatives} == {"Y(24c)", "Al(16a)", "Al(24d)"}


@pytest.mark.parametrize("host, activator, replaced, site", [
    ("Sr2Si5N8", "Eu2+", "Sr", "Sr"),           # composition-only: the element
    ("CaAlSiN3", "Eu2+", "Ca", "Ca"),
    ("CaS", "Ce3+", "Ca", "Ca(4a)"),
    ("Y2O3", "Eu3+", "Y", "Y(24d)"),            # the C2 site, the majority one
    ("SrAl2O4", "Tb3+", "Sr", "Sr"),
    ("SrLiAl3N4", "Eu2+", "Sr", None),          # one of the two Sr sites
    ("Ca3Sc2Si3O12", "Ce3+", "Ca", "Ca"),       # size before charge: not octahedral Sc
    ("MgAl2O4", "Mn4+", "Al", "Al(16d)"),
    ("Y3Al5O12", "Mn4+", "Al", "Al(16a)"),      # Mn4+ octahedral, not Al(24d)
    ("LiYF4", "Ce3+", "Y", "Y(4b)"),
])
def test_expected_sites(host, activator, replaced, site):
    c = choose_site(load_host(host), activator)
    assert c.replaced == replaced
    if site is None:
        assert c.site in {"Sr1(2i)", "Sr2(2i)"}
    else:
        assert c.site == site


def test_composition_only_choice_states_its_assumption():
    c = choose_site(load_host("Sr2Si5N8"), "Eu2+")
    assert c.coordination is None and c.mean_bond_length_A is None and c.multiplicity is None
    assert "composition-only" in c.radius_note and "CN 8" in c.radius_note


def test_aliovalent_choices_state_compensation():
    c = choose_site(load_host("CaS"), "Ce3+")
    assert c.charge_mismatch == 1
    assert "one Ca vacancy per two Ce" in c.compensation and "Na+" in c.compensation
    tb = choose_site(load_host("SrAl2O4"), "Tb3+")
    assert tb.charge_mismatch == 1 and "Sr vacancy" in tb.compensation
    eu = choose_site(load_host("LiYF4"), "Eu2+")
    assert eu.charge_mismatch == -1 and "F vacancy per one Eu" in eu.compensation


@pytest.mark.parametrize("activator", ACTIVATORS)
def test_compensation_iff_valences_differ_and_lanthanides_avoid_network_formers(activator):
    _, q = activator_ion(activator)
    for name in host_names():
        host = load_host(name)
        c = choose_site(host, activator)
        assert isinstance(c, SiteChoice) and c.host == name and c.activator == activator
        assert c.charge_mismatch == q - c.replaced_charge
        assert bool(c.compensation) == (c.charge_mismatch != 0)
        if activator in LANTHANIDE_ACTIVATORS and any(s["element"] not in NETWORK_FORMERS
                                                      for s in cation_sites(host)):
            assert c.replaced not in NETWORK_FORMERS, (name, activator, c.site)


def test_missing_shannon_cn_uses_the_nearest_and_says_so():
    c = choose_site(load_host("ZnS"), "Ce3+")  # only a tetrahedral Zn site; Ce3+ has no CN IV radius
    assert c.coordination == 4
    assert "no Shannon radius at CN 4; CN 6 used" in c.radius_note


def test_cation_sites_of_yag():
    sites = {s["label"]: s for s in cation_sites(load_host("Y3Al5O12"))}
    assert set(sites) == {"Y(24c)", "Al(16a)", "Al(24d)"}
    assert [sites[k]["coordination"] for k in ("Y(24c)", "Al(16a)", "Al(24d)")] == [8, 6, 4]
    assert [sites[k]["multiplicity"] for k in ("Y(24c)", "Al(16a)", "Al(24d)")] == [24, 16, 24]
    assert sites["Al(16a)"]["mean_bond_length_A"] == pytest.approx(1.937, abs=0.003)


def test_mixed_anion_coordination_counts_both_anions():
    """La in La2O2S: 4 O at 2.42 A and 3 S at 3.04 A (CN 7), although 3.04 > 1.25 x 2.42."""
    (la,) = cation_sites(load_host("La2O2S"))
    assert la["label"] == "La(2d)" and la["coordination"] == 7
    assert la["mean_bond_length_A"] == pytest.approx((4 * 2.425 + 3 * 3.039) / 7, abs=0.005)


def test_choose_site_is_cached_per_host():
    host = load_host("Y3Al5O12")
    assert choose_site(host, "Ce3+") is choose_site(host, "Ce3+")


# ----------------------------------------------------------------------------------------------
# doped supercells


def _doped(host_name, activator, fraction, seed=0, **kw):
    host = load_host(host_name)
    return host, dope_supercell(host, choose_site(host, activator), fraction, seed, **kw)


def test_dope_supercell_layout_matches_the_nd2fe14b_decorator():
    from regenome.structures.prototypes import decorate_nd2fe14b

    _, out = _doped("Y3Al5O12", "Ce3+", 0.05)
    ref = decorate_nd2fe14b({"Nd": 1.0}, 0.0, seed=0)
    assert set(out) == set(ref)
    assert out["numbers"].dtype == np.int16 and out["lattice"].shape == (3, 3)
    assert out["frac_coords"].shape == (len(out["numbers"]), 3) and len(out["site_labels"]) == len(out["numbers"])
    recipe = out["recipe"]
    for key in ("host", "host_source", "activator", "site", "replaced", "coordination", "mean_bond_length_A",
                "supercell", "n_sites", "n_activators", "requested_fraction", "realised_fraction", "compensation",
                "seed", "rule"):
        assert key in recipe
    assert recipe["compensation_built"] is False


@pytest.mark.parametrize("host, activator, fraction", [("Y3Al5O12", "Ce3+", 0.05), ("Y3Al5O12", "Ce3+", 0.5),
                                                       ("CaS", "Eu2+", 0.01), ("CaS", "Ce3+", 0.3),
                                                       ("Y2O3", "Eu3+", 0.1), ("SrLiAl3N4", "Eu2+", 0.02)])
def test_realised_fraction_is_close_and_at_least_one(host, activator, fraction):
    h, out = _doped(host, activator, fraction)
    r = out["recipe"]
    z_act = {"Ce": 58, "Eu": 63}[activator[:2]]
    assert r["n_activators"] >= 1 and (out["numbers"] == z_act).sum() == r["n_activators"]
    assert r["n_sites"] <= 400 and r["realised_fraction"] == r["n_activators"] / r["n_site_atoms"]
    # at least as close as the best single cell allows
    per_cell = sum(1 for lab in h.structure.site_properties["label"] if lab == r["site"])
    assert abs(r["realised_fraction"] - fraction) <= max(0.5 / per_cell, 1 / r["n_site_atoms"])
    assert {out["site_labels"][i] for i in np.nonzero(out["numbers"] == z_act)[0]} == {r["site"]}


def test_large_conventional_cell_falls_back_to_primitive():
    _, out = _doped("Y3Al5O12", "Ce3+", 0.1, max_sites=100)
    assert out["recipe"]["cell"] == "primitive" and out["recipe"]["n_sites"] == 80


def test_same_seed_same_cell_other_seed_other_positions():
    _, a = _doped("Y3Al5O12", "Ce3+", 0.1, seed=7)
    _, b = _doped("Y3Al5O12", "Ce3+", 0.1, seed=7)
    _, c = _doped("Y3Al5O12", "Ce3+", 0.1, seed=8)
    for key in ("lattice", "numbers", "frac_coords"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["site_labels"] == b["site_labels"] and a["recipe"] == b["recipe"]
    assert not np.array_equal(a["numbers"], c["numbers"])
    assert (a["numbers"] == 58).sum() == (c["numbers"] == 58).sum()


def test_dope_supercell_refuses_bad_input():
    host = load_host("Y3Al5O12")
    choice = choose_site(host, "Ce3+")
    for bad in (0, -0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="'fraction' parameter of dope_supercell must be in"):
            dope_supercell(host, choice, bad, 0)
    with pytest.raises(ValueError, match="must be a site of host Y3Al5O12"):
        dope_supercell(host, choose_site(load_host("CaS"), "Ce3+"), 0.1, 0)
    only = load_host("CaAlSiN3")
    with pytest.raises(InputDataError, match="composition-only"):
        dope_supercell(only, choose_site(only, "Eu2+"), 0.1, 0)


def _formal_charge(numbers, host, activator):
    from pymatgen.core import Element

    el, q = activator_ion(activator)
    charge = {Element(e).Z: v for e, v in host.oxidation_states.items()}
    charge[Element(el).Z] = q
    return sum(charge[int(z)] for z in numbers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fraction=st.floats(min_value=1e-4, max_value=1.0, exclude_min=False),
       case=st.sampled_from([("CaS", "Ce3+"), ("Y2O3", "Eu3+"), ("LiYF4", "Eu2+"), ("SrLiAl3N4", "Tb3+")]),
       seed=st.integers(0, 2**32 - 1))
def test_property_counts_and_charge(fraction, case, seed):
    """At least one activator; total formal charge changes by exactly n_act x charge mismatch."""
    host, out = _doped(*case, fraction, seed=seed)
    r = out["recipe"]
    choice = choose_site(host, case[1])
    n_cells = int(np.prod(r["supercell"]))
    base = host.structure
    if r["cell"] == "primitive":
        base = host.structure.get_primitive_structure(use_site_props=True)
    assert r["n_activators"] >= 1 and r["n_sites"] == len(base) * n_cells
    assert r["n_activators"] == max(1, min(r["n_site_atoms"], int(np.floor(fraction * r["n_site_atoms"] + 0.5))))
    host_charge = _formal_charge(np.tile([s.specie.Z for s in base], n_cells), host, case[1])
    assert host_charge == 0
    assert _formal_charge(out["numbers"], host, case[1]) == r["n_activators"] * choice.charge_mismatch


# ----------------------------------------------------------------------------------------------
# charge-compensating co-dopants


@pytest.mark.parametrize("text, expected", [("Na+", ("Na", 1)), ("Li+", ("Li", 1)), ("Mg2+", ("Mg", 2)),
                                            (" Si4+ ", ("Si", 4)), ("Zr4+", ("Zr", 4))])
def test_compensator_ion_parses(text, expected):
    assert compensator_ion(text) == expected


@pytest.mark.parametrize("text", ["Na1+", "Na", "Cs+", "Ce3+", "O2-", "", None, 1])
def test_compensator_ion_rejects_with_the_valid_list(text):
    with pytest.raises(ValueError, match=r"must be one of Li\+, Na\+, K\+, Mg2\+"):
        compensator_ion(text)


def test_compensators_are_closed_shell_ions_the_surrogates_treat_as_inert():
    """Every compensator element is a non-emitting co-dopant of the emission training data, or Zr/Hf (d0)."""
    from regenome.surrogates.phosphor_data import INERT_CODOPANTS

    elements = {compensator_ion(c)[0] for c in COMPENSATORS}
    assert elements - set(INERT_CODOPANTS) == {"Zr", "Hf"}


@pytest.mark.parametrize("host, activator, ion, site, per", [
    ("CaS", "Ce3+", "Na+", "Ca(4a)", 1.0),            # Ce3+ + Na+ for two Ca2+
    ("Ca3Sc2Si3O12", "Ce3+", "Mg2+", "Sc", 1.0),     # the classic Ce,Mg co-doping of CSS: Mg on Sc
    ("Ca3Sc2Si3O12", "Ce3+", "Li+", "Ca", 1.0),
    ("LaPO4", "Eu2+", "Zr4+", "La(4e)", 1.0),         # deficit -1 balanced by +1 on a La site
    ("SrAl2O4", "Ce3+", "Li+", "Sr", 1.0),            # composition-only host: the site is the element
    ("CaF2", "Ce3+", "Na+", "Ca(4a)", 1.0),
    ("Y3Al5O12", "Eu2+", "Si4+", "Al(16a)", 1.0),     # Si4+ on the octahedral Al3+ site, not on Y
])
def test_compensator_site_and_amount(host, activator, ion, site, per):
    h = load_host(host)
    choice = choose_site(h, activator)
    comp = choose_compensator(h, choice, ion)
    assert comp.site == site and comp.per_activator == per
    assert np.sign(comp.charge_mismatch) == -np.sign(choice.charge_mismatch)
    assert choice.charge_mismatch + comp.per_activator * comp.charge_mismatch == 0
    assert ion in comp.text and "built into" in comp.text


def test_no_compensator_when_the_valences_match():
    h = load_host("Y3Al5O12")
    assert choose_compensator(h, choose_site(h, "Ce3+"), "Na+") is None


def test_compensator_of_the_wrong_sign_or_size_is_refused():
    lapo4 = load_host("LaPO4")
    with pytest.raises(ValueError, match="cannot compensate Eu2\\+ on La3\\+ in LaPO4.*higher charge"):
        choose_compensator(lapo4, choose_site(lapo4, "Eu2+"), "Na+")
    y2o3 = load_host("Y2O3")  # Si4+ has the right charge on Y3+, but is far too small for it
    with pytest.raises(ValueError, match="within 50% of its Shannon radius"):
        choose_compensator(y2o3, choose_site(y2o3, "Eu2+"), "Si4+")


def _total_charge(numbers, host, ions):
    from pymatgen.core import Element

    charge = {Element(e).Z: v for e, v in host.oxidation_states.items()}
    for el, q in ions:
        charge[Element(el).Z] = q
    return sum(charge[int(z)] for z in numbers)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fraction=st.floats(min_value=1e-3, max_value=0.5),
       case=st.sampled_from([("CaS", "Ce3+", "Na+"), ("Y3Al5O12", "Eu2+", "Si4+"), ("SrLiAl3N4", "Ce3+", "Li+"),
                             ("LaPO4", "Eu2+", "Zr4+")]),
       seed=st.integers(0, 2**32 - 1))
def test_property_compensated_cells_are_neutral(fraction, case, seed):
    """With a compensator the doped cell keeps zero formal charge, with no atom substituted twice."""
    host_name, activator, ion = case
    host = load_host(host_name)
    choice = choose_site(host, activator)
    comp = choose_compensator(host, choice, ion)
    out = dope_supercell(host, choice, fraction, seed=seed, compensator=comp)
    r = out["recipe"]
    el_a, el_c = activator_ion(activator)[0], compensator_ion(ion)[0]
    from pymatgen.core import Element

    element_of = {site.properties["label"]: site.specie.symbol for site in host.structure}
    host_element = np.array([element_of[lab] for lab in out["site_labels"]])
    placed = np.nonzero((out["numbers"] == Element(el_c).Z) & (host_element != el_c))[0]
    assert len(placed) == r["n_compensators"] == r["n_activators"]
    assert {out["site_labels"][i] for i in placed} == {comp.site}
    assert r["compensation_built"] is True and r["net_charge_e"] == 0
    assert _total_charge(out["numbers"], host, [activator_ion(activator), compensator_ion(ion)]) == 0
    assert (out["numbers"] == Element(el_a).Z).sum() == r["n_activators"]


def test_compensated_cell_is_seeded():
    host = load_host("CaS")
    choice = choose_site(host, "Ce3+")
    comp = choose_compensator(host, choice, "Na+")
    a, b = (dope_supercell(host, choice, 0.05, seed=3, compensator=comp) for _ in range(2))
    np.testing.assert_array_equal(a["numbers"], b["numbers"])
    assert a["recipe"] == b["recipe"]


# ----------------------------------------------------------------------------------------------
# user host files


def test_cif_round_trip(tmp_path):
    from pymatgen.io.cif import CifWriter
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    lib = load_host("SrLiAl3N4")
    path = tmp_path / "SLA.cif"
    CifWriter(lib.structure).write_file(str(path))
    user = host_from_file(path)
    assert user.formula == lib.formula and user.category == "nitride"
    assert user.oxidation_states == lib.oxidation_states
    assert SpacegroupAnalyzer(user.structure, symprec=0.01).get_space_group_number() == 2
    assert "SLA.cif" in user.note and "SLA.cif" in user.source
    labels = set(user.structure.site_properties["label"])
    assert {"Sr1(2i)", "Sr2(2i)", "Li1(2i)", "Al6(2i)", "N8(2i)"} <= labels
    choice = choose_site(user, "Eu2+")
    assert choice.replaced == "Sr" and choice.coordination == 8
    out = dope_supercell(user, choice, 0.25, seed=1)
    assert out["recipe"]["n_activators"] >= 1


def test_poscar_and_extxyz_round_trip(tmp_path):
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp import Poscar

    lib = load_host("CaWO4")
    Poscar(lib.structure).write_file(str(tmp_path / "POSCAR"))
    user = host_from_file(tmp_path / "POSCAR")
    assert user.formula == "CaWO4" and user.oxidation_states == {"Ca": 2, "W": 6, "O": -2}
    assert choose_site(user, "Eu3+").site == "Ca(4b)"
    write(tmp_path / "LiYF4.extxyz", AseAtomsAdaptor.get_atoms(load_host("LiYF4").structure), format="extxyz")
    user = host_from_file(tmp_path / "LiYF4.extxyz")
    assert user.formula == "LiYF4" and user.category == "fluoride"
    assert choose_site(user, "Ce3+").site == "Y(4b)"


PARTIAL_CIF = """data_partial
_cell_length_a 5.8
_cell_length_b 5.8
_cell_length_c 5.8
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Ca1 Ca 0 0 0 0.5
Sr1 Sr 0 0 0 0.5
S1 S 0.5 0.5 0.5 1
"""

METAL_POSCAR = """Cu
1.0
3.6 0 0
0 3.6 0
0 0 3.6
Cu
4
Direct
0 0 0
0.5 0.5 0
0.5 0 0.5
0 0.5 0.5
"""


@pytest.mark.parametrize("filename, text, match", [
    ("empty.cif", "", "empty file"),
    ("empty_POSCAR", "", "empty file"),
    ("notes.cif", "just some notes\nnot a crystal\n", "not a crystal structure CIF"),
    ("POSCAR", "hello world\n", "no structure could be read as poscar"),
    ("bad.extxyz", "3\nnot an xyz header\n", "no structure could be read as extxyz"),
    ("mixed.cif", PARTIAL_CIF, "partially occupied or mixed"),
    ("copper.vasp", METAL_POSCAR, "no cation|no anion|oxidation state"),
    ("missing.cif", None, "not found"),
])
def test_bad_files_give_one_line_errors(tmp_path, filename, text, match):
    path = tmp_path / filename
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputDataError, match=match) as info:
        host_from_file(path)
    message = str(info.value)
    assert filename in message and "\n" not in message


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "host.cif"
    path.write_bytes(b"\x00\x01\x02data")
    with pytest.raises(InputDataError, match="binary"):
        host_from_file(path)


# ----------------------------------------------------------------------------------------------
# regenome hosts list | show


def test_hosts_cli_lists_shows_places_and_writes_cif(tmp_path):
    from conftest import run_cli

    res = run_cli("hosts", "list")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == len(host_names())
    assert "Y3Al5O12" in res.stdout and "composition only" in res.stdout
    res = run_cli("hosts", "show", "CaS", "--activator", "Ce3+", "--codopant", "Na+", "--cif", tmp_path / "CaS.cif")
    assert res.returncode == 0, res.stderr
    assert "Ce3+ -> Ca(4a)" in res.stdout and "one Na+ on Ca2+ (site Ca(4a)) per Ce" in res.stdout
    assert host_from_file(tmp_path / "CaS.cif").formula == "CaS"
    res = run_cli("hosts", "show", "Y3Al5O12", "--activator", "Ce3+", "--codopant", "Na+")
    assert res.returncode == 0 and "Na+: not needed" in res.stdout
    for args, words in ((("LaPO4", "--activator", "Eu2+", "--codopant", "Na+"), "cannot compensate"),
                        (("LaPO4", "--codopant", "Na+"), "needs --activator"),
                        (("CaAlSiN3", "--cif", tmp_path / "x.cif"), "composition-only")):
        res = run_cli("hosts", "show", *args)
        assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "x.cif").exists()
