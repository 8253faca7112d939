"""The phosphor family: the batch file of issue 4, concentrations, doped formulas, charge balance,
and a whole run from batch file to report (library hosts plus a user CIF)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

EXAMPLE = ROOT / "workflows" / "phosphor-warm-white-red.toml"


def _copy_example(folder: Path) -> Path:
    shutil.copytree(ROOT / "workflows" / "my_hosts", folder / "my_hosts")
    batch = folder / "batch.toml"
    batch.write_text(EXAMPLE.read_text())
    return batch


def test_issue_batch_is_accepted_as_written(tmp_path):
    from regenome.spec import load_batch

    spec = load_batch(_copy_example(tmp_path))
    assert spec.hosts.include == ["Y3Al5O12", "CaAlSiN3", "Sr2Si5N8"]
    assert spec.hosts.files == [str((tmp_path / "my_hosts" / "SrLiAl3N4.cif").resolve())]
    assert spec.activators.levels("Ce3+").tolist() == [0.01, 0.035, 0.06]
    assert spec.activators.levels("Eu2+").tolist() == [0.005, 0.0175, 0.03]
    assert spec.ranking.top == 20 and spec.targets["emission_nm"].max == 660


def test_absolute_host_path_and_step(tmp_path):
    from regenome.spec import parse_batch

    cif = (ROOT / "workflows" / "my_hosts" / "SrLiAl3N4.cif").resolve()
    text = (f'[batch]\nname = "x"\nfamily = "phosphor"\n[hosts]\nfiles = ["{cif}"]\n'
            '[activators]\n"Eu2+" = [0.01, 0.05]\nstep = 0.01\n')
    spec = parse_batch(text, str(tmp_path / "elsewhere.toml"))
    assert spec.hosts.files == [str(cif)]
    assert spec.activators.levels("Eu2+").tolist() == [0.01, 0.02, 0.03, 0.04, 0.05]


def _grid(pairs):
    """A candidate grid over (host, activator) pairs without the model checks."""
    from regenome.families.phosphor import Grid, HostActivator, _site_per_formula
    from regenome.structures.hosts import load_host
    from regenome.structures.placement import choose_site

    items = []
    for name, activator in pairs:
        host = load_host(name)
        choice = choose_site(host, activator)
        items.append(HostActivator(name, host, "library", "", activator, choice, _site_per_formula(host, choice)))
    return Grid(items, np.arange(len(items)), np.zeros(len(items)), len(items), {})


def test_doped_formulas_follow_the_site_fraction():
    from regenome.families.phosphor import doped_amounts, format_formula, formula_order

    grid = _grid([("Y3Al5O12", "Ce3+"), ("Sr2Si5N8", "Eu2+"), ("Y2O3", "Eu3+")])
    amounts, elements = doped_amounts(grid, np.array([0, 1, 2]), np.array([0.03, 0.02, 0.05]))
    formulas = [format_formula(a, elements, formula_order(p)) for a, p in zip(amounts, grid.pairs)]
    assert formulas[0] == "Y2.91Ce0.09Al5O12"
    # composition-only host: the fraction of all Sr atoms
    assert grid.pairs[1].host.structure is None and formulas[1] == "Sr1.96Eu0.04Si5N8"
    # Y2O3 with structure: Eu3+ on one of the two Y sites, so less than 5 % of all Y
    site = grid.pairs[2].choice.site
    per_formula = grid.pairs[2].site_per_formula
    assert site.startswith("Y") and 0 < per_formula < 2
    assert np.isclose(amounts[2][elements.index("Eu")], 0.05 * per_formula)
    assert np.allclose(amounts.sum(axis=1), [20, 15, 5])  # atoms per formula unit unchanged


@pytest.mark.parametrize("host,activator", [("Y3Al5O12", "Ce3+"), ("CaS", "Ce3+"), ("SrAl2O4", "Tb3+"),
                                            ("Y2O3", "Eu3+"), ("CaAlSiN3", "Eu2+")])
def test_charge_balance_is_stated_when_valences_differ(host, activator):
    """The doped formula's formal charge moves by exactly (activator - replaced charge) per activator,
    and the recipe states a compensation exactly when that is not zero."""
    from regenome.families.phosphor import doped_amounts
    from regenome.structures.placement import activator_ion

    grid = _grid([(host, activator)])
    pair = grid.pairs[0]
    amounts, elements = doped_amounts(grid, np.array([0]), np.array([0.04]))
    states = dict(pair.host.oxidation_states)
    act, charge = activator_ion(activator)
    charges = np.array([charge if e == act and e not in states else states[e] for e in elements])
    moved = 0.04 * pair.site_per_formula
    mismatch = charge - pair.choice.replaced_charge
    assert np.isclose(amounts[0] @ charges, moved * mismatch, atol=1e-9)
    assert bool(pair.choice.compensation) == (mismatch != 0)


def _codoped_grid(cases, concentrations):
    """A grid of (host, activator, compensator) pairs without the model checks, after the capacity mask."""
    from regenome.families.phosphor import Grid, HostActivator, _compensator_fits, _site_per_formula
    from regenome.structures.hosts import load_host
    from regenome.structures.placement import choose_compensator, choose_site

    items = []
    for name, activator, ion in cases:
        host = load_host(name)
        choice = choose_site(host, activator)
        comp = choose_compensator(host, choice, ion)
        items.append(HostActivator(name, host, "library", "", activator, choice, _site_per_formula(host, choice),
                                   {}, comp, _site_per_formula(host, comp) if comp else 0.0))
    index = np.repeat(np.arange(len(items)), len(concentrations))
    grid = Grid(items, index, np.tile(concentrations, len(items)), len(index), {})
    keep = _compensator_fits(grid)
    grid.pair_index, grid.concentration = grid.pair_index[keep], grid.concentration[keep]
    return grid


def test_compensated_formulas_are_charge_neutral():
    """With a compensator the doped formula keeps zero formal charge; the compensator follows its site."""
    from regenome.families.phosphor import doped_amounts, format_formula, formula_order
    from regenome.structures.placement import activator_ion, compensator_ion

    cases = [("CaS", "Ce3+", "Na+"), ("Ba2SiO4", "Ce3+", "Li+"), ("Y3Al5O12", "Eu2+", "Si4+"),
             ("LaPO4", "Eu2+", "Zr4+"), ("Y3Al5O12", "Ce3+", "Na+")]
    grid = _codoped_grid(cases, np.array([0.02]))
    amounts, elements = doped_amounts(grid, grid.pair_index, grid.concentration)
    for a, pair in zip(amounts, grid.pairs):
        charge = dict(pair.host.oxidation_states)
        charge.setdefault(*activator_ion(pair.activator))
        if pair.compensator is not None:
            charge.setdefault(*compensator_ion(pair.compensator.ion))
        assert abs(sum(x * charge.get(e, 0) for x, e in zip(a, elements))) < 1e-9, pair.key
    formulas = [format_formula(a, elements, formula_order(p)) for a, p in zip(amounts, grid.pairs)]
    assert formulas[0] == "Ca0.96Ce0.02Na0.02S"
    assert formulas[1] == "Ba1.92Ce0.04Li0.04SiO4"  # composition-only: 2 % of all Ba, one Li per Ce
    assert formulas[2].startswith("Y2.94Eu0.06Al") and "Si0.06" in formulas[2]  # Si4+ on octahedral Al
    assert formulas[4] == "Y2.94Ce0.06Al5O12" and grid.pairs[4].compensator is None  # Ce3+ on Y3+: none needed


def test_compensator_capacity_drops_concentrations_that_do_not_fit():
    grid = _codoped_grid([("CaS", "Ce3+", "Na+")], np.array([0.1, 0.5, 0.6]))
    assert grid.concentration.tolist() == [0.1, 0.5]  # Ce + Na share the Ca site: at most half of it each
    assert any("too few Ca(4a) sites" in reason for reason in grid.dropped.values())


def test_codopants_table_is_parsed(tmp_path):
    from regenome.spec import parse_batch

    text = ('[batch]\nname = "x"\nfamily = "phosphor"\n[hosts]\ninclude = ["CaS", "Y3Al5O12"]\n'
            '[activators]\n"Ce3+" = [0.01, 0.05]\n"Eu2+" = [0.01, 0.02]\n[codopants]\n"Ce3+" = "Na+"\n')
    spec = parse_batch(text, str(tmp_path / "b.toml"))
    assert spec.codopants == {"Ce3+": "Na+"}


def test_candidate_ids_are_stable_and_distinct():
    from regenome.families.phosphor import candidate_id

    ids = {candidate_id(h, a, c) for h in ("Y3Al5O12", "SrLiAl3N4@x.cif") for a in ("Ce3+", "Eu2+")
           for c in (0.01, 0.02)}
    assert len(ids) == 8
    assert candidate_id("Y3Al5O12", "Ce3+", 0.01) == candidate_id("Y3Al5O12", "Ce3+", 0.010000001)
    assert candidate_id("CaS", "Ce3+", 0.01, "Na+") != candidate_id("CaS", "Ce3+", 0.01)
    assert candidate_id("CaS", "Ce3+", 0.01, "") == candidate_id("CaS", "Ce3+", 0.01)  # ids of earlier runs kept


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    from regenome.modelstore import models_dir
    from regenome.pipeline import screen
    from regenome.spec import load_batch

    for name in ("emission", "thermal-quenching", "band-gap", "debye-temperature"):
        if not (models_dir() / name / "card.json").is_file():
            pytest.skip(f"model {name} not trained")
    folder = tmp_path_factory.mktemp("phosphor")
    batch = _copy_example(folder)
    spec = load_batch(batch)
    result = screen(spec, batch.read_text(), folder / "run", batch_path=str(batch))
    return result, pd.read_csv(result.ranked_csv)


def test_example_runs_end_to_end(example_run):
    from regenome.families.phosphor_report import REQUIRED_COLUMNS

    result, ranked = example_run
    assert set(REQUIRED_COLUMNS) <= set(ranked.columns)
    assert len(ranked) == result.counts["predicted"] == 4 * 2 * 3  # no pair dropped
    assert set(ranked["host"]) == {"Y3Al5O12", "CaAlSiN3", "Sr2Si5N8", "SrLiAl3N4"}
    assert (ranked["host_source"] != "library").sum() == 6  # the CIF host, 2 activators x 3 levels
    for column in ("emission_nm", "T50_K", "debye_K", "band_gap_eV"):
        assert np.isfinite(ranked[column]).all() and (ranked[column + "_std"] > 0).all(), column
    # every candidate reports its site; hosts with a structure also its coordination and bond length
    assert ranked["site"].notna().all()
    structured = ranked["host"].isin(["Y3Al5O12", "SrLiAl3N4"])
    assert ranked.loc[structured, "coordination"].between(4, 12).all()
    assert ranked.loc[structured, "mean_bond_length_A"].between(1.8, 3.5).all()
    assert ranked.loc[~structured, "coordination"].isna().all()
    ce_yag = ranked[(ranked["host"] == "Y3Al5O12") & (ranked["activator"] == "Ce3+")]
    assert (ce_yag["site"].str.startswith("Y")).all() and (ce_yag["coordination"] == 8).all()
    assert ((ranked["p_meets_targets"] >= 0) & (ranked["p_meets_targets"] <= 1)).all()
    assert ranked["pareto_rank"].min() == 1


def test_example_stores_doped_structures_with_recipes(example_run):
    from regenome.structures.store import StructureSet

    result, ranked = example_run
    with StructureSet.open(result.structures_h5, "r") as store:
        ids = set(store.structure_ids())
        assert ids, "no structures stored"
        for cid in ids:
            record = store.read_structure(cid)
            row = ranked[ranked["candidate_id"] == cid].iloc[0]
            recipe = record.recipe
            assert recipe["activator"] == row["activator"] and recipe["site_choice"]["site"] == row["site"]
            assert recipe["structure"]["n_activators"] >= 1
            activator_z = {"Ce3+": 58, "Eu2+": 63}[row["activator"]]
            assert (record.numbers == activator_z).sum() == recipe["structure"]["n_activators"]
    # composition-only hosts have no structure
    only_composition = set(ranked.loc[ranked["host"].isin(["CaAlSiN3", "Sr2Si5N8"]), "candidate_id"])
    assert not ids & only_composition


def test_example_report_has_the_phosphor_views(example_run):
    result, ranked = example_run
    text = result.report_html.read_text()
    assert "CIE 1931 chromaticity" in text or "Colour swatches" in text
    assert "Debye temperature against band gap" in text
    assert "target window" in text
    assert text.count("background:rgb(") >= min(20, len(ranked))  # a colour square per shortlisted row
    provenance = json.loads(result.provenance_json.read_text())
    assert set(provenance["models"]) >= {"emission", "thermal-quenching", "band-gap", "debye-temperature"}


def test_codoped_batch_runs_end_to_end(tmp_path):
    """A batch with a compensator: Na in the formulas and costs, neutral doped cells, and the recipe says so."""
    from regenome.modelstore import models_dir
    from regenome.pipeline import screen
    from regenome.spec import load_batch
    from regenome.structures.store import StructureSet

    for name in ("emission", "thermal-quenching", "band-gap", "debye-temperature"):
        if not (models_dir() / name / "card.json").is_file():
            pytest.skip(f"model {name} not trained")
    batch = tmp_path / "codoped.toml"
    batch.write_text('[batch]\nname = "codoped"\nfamily = "phosphor"\nseed = 2\n'
                     '[hosts]\ninclude = ["CaS", "Ba2SiO4", "Y3Al5O12"]\n'
                     '[activators]\n"Ce3+" = [0.01, 0.04]\nsteps = 2\n[codopants]\n"Ce3+" = "Na+"\n')
    result = screen(load_batch(batch), batch.read_text(), tmp_path / "run", batch_path=str(batch))
    ranked = pd.read_csv(result.ranked_csv, keep_default_na=False)
    assert len(ranked) == 6
    compensated = ranked["host"] != "Y3Al5O12"
    assert (ranked.loc[compensated, "codopant"] == "Na+").all() and (ranked.loc[~compensated, "codopant"] == "").all()
    assert ranked.loc[compensated, "formula"].str.contains("Na").all()
    assert ranked.loc[compensated, "charge_compensation"].str.contains("built into the formula").all()
    assert ranked.loc[ranked["host"] == "Ba2SiO4", "charge_compensation"].str.contains("no cell").all()
    assert (ranked.loc[~compensated, "charge_compensation"] == "none needed").all()
    with StructureSet.open(result.structures_h5, "r") as store:
        recipes = {cid: store.read_structure(cid).recipe for cid in store.structure_ids()}
    cas = [r for r in recipes.values() if r["host"] == "CaS"]
    assert cas and all(r["structure"]["compensation_built"] and r["structure"]["net_charge_e"] == 0
                       and r["structure"]["n_compensators"] == r["structure"]["n_activators"]
                       and r["codopant"]["ion"] == "Na+" for r in cas)
    assert not any(r["host"] == "Ba2SiO4" for r in recipes.values())  # composition-only: no cell


def test_job_array_slices_with_a_relative_host_file_merge_to_the_single_run(tmp_path):
    """`screen --chunks` slices of a batch whose host CIF is relative to the batch file, merged from
    another working folder, rank exactly like one run (merge finds the CIF beside the batch file)."""
    from conftest import run_cli

    (tmp_path / "project").mkdir()
    batch = _copy_example(tmp_path / "project")
    text = batch.read_text().replace('"Ce3+" = [0.01, 0.06]', '"Ce3+" = [0.001, 0.06]').replace(
        "steps = 3              # concentrations per activator (or: step = 0.01)", "step = 0.001")
    batch.write_text(text + "\n[execution]\nchunk_size = 100\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    whole = run_cli("screen", batch, "--out", tmp_path / "whole", "--progress", "none")
    assert whole.returncode == 0, whole.stderr
    for i in (1, 2):
        res = run_cli("screen", batch, "--out", tmp_path / f"part{i}", "--chunks", f"{i}/2", "--progress", "none")
        assert res.returncode == 0, res.stderr
    res = run_cli("merge", tmp_path / "part1", tmp_path / "part2", "--out", tmp_path / "merged",
                  "--progress", "none", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "merged" / "ranked.csv").read_bytes() == (tmp_path / "whole" / "ranked.csv").read_bytes()
