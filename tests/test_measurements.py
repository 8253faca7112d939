"""Lab measurements: ingest (validation, append-only store), train --include-measurements, versioned predict.

Every test runs against its own REGENOME_HOME under tmp_path: the suite never reads the user's store.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from regenome.cli import app
from regenome.corrections import CorrectionLayer, CorrectionParameters, kernel_weights, posterior_sigma, shrunk_shift
from regenome.predictors.formula_io import parse_ndfeb_formula
from regenome.predictors.ndfeb import MODEL_VERSION, ROUTES, NdFeBModel

HEADER = "formula,process,Br_T,Hcj_kA_m,BHmax_kJ_m3,temperature_K,source\n"
PROPS = ("Br_T", "Hcj_kA_m", "BHmax_kJ_m3")
# three made-up measured magnets: factors applied to the current physics prediction (10-20 % away, both signs)
MEASURED = [("(Nd0.7Ce0.3)2Fe14B", "sintered", (1.12, 0.85, 1.15)),
            ("(Nd0.5Ce0.5)2Fe14B", "sintered", (0.88, 1.18, 0.86)),
            ("(Nd0.8La0.2)2(Fe0.95Co0.05)14B", "hot_deformed", (1.10, 0.82, 1.12))]
FAR = [("Nd2Fe14B", "sintered"), ("(Nd0.8Pr0.2)2Fe14B", "sintered"), ("(Nd0.7Ce0.3)2Fe14B", "melt_spun")]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """An empty store of our own (never the user's REGENOME_HOME / ~/.local/share/regenome)."""
    path = tmp_path / "home"
    monkeypatch.setenv("REGENOME_HOME", str(path))
    return path


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _physics(rows):
    x, co, route = [], [], []
    for formula, process in rows:
        f, c = parse_ndfeb_formula(formula)
        x.append(f), co.append(c), route.append(ROUTES.index(process))
    return NdFeBModel(correction=None).predict(np.array(x), np.array(co), np.array(route), 293.0)


@pytest.fixture(scope="module")
def measured_csv(tmp_path_factory) -> tuple[Path, np.ndarray]:
    pred = _physics([(f, p) for f, p, _ in MEASURED])
    values = np.array([[pred[p][i] * fac[j] for j, p in enumerate(PROPS)] for i, (_, _, fac) in enumerate(MEASURED)])
    path = tmp_path_factory.mktemp("lab") / "measured.csv"
    lines = [f"{f},{p},{v[0]:.4f},{v[1]:.1f},{v[2]:.1f},293,test lab\n" for (f, p, _), v in zip(MEASURED, values)]
    path.write_text(HEADER + "".join(lines))
    return path, np.column_stack([np.round(values[:, 0], 4), np.round(values[:, 1:], 1)])


def _read(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    with path.open() as handle:
        return {(r["formula"], r.get("process") or "sintered"): {p: float(r[p]) for p in PROPS}
                for r in csv.DictReader(handle)}


def _store_files(home: Path) -> list[Path]:
    """Data files and provenance records of the store (not the per-content claim markers)."""
    if not home.exists():
        return []
    return sorted(p for p in home.rglob("*") if p.is_file() and not p.name.startswith(".claim-"))


# -- ingest: validation -------------------------------------------------------------------------

GOOD = "(Nd0.7Ce0.3)2Fe14B,sintered,1.30,800,300,293,x\n"


@pytest.mark.parametrize("text, expected", [
    (HEADER + GOOD + "Nd2Fe14Q,sintered,1.3,900,300,293,x\n", ":3: column 'formula'"),
    (HEADER + "(Nd0.7Y0.3)2Fe14B,sintered,1.3,900,300,293,x\n", ":2: column 'formula': element(s) Y"),
    (HEADER + "Nd2Fe14B,cast,1.3,900,300,293,x\n", ":2: column 'process': unknown process 'cast'; use one of"),
    (HEADER + "Nd2Fe14B,sintered,-1.3,900,300,293,x\n", ":2: column 'Br_T': -1.3 is not a positive finite"),
    (HEADER + "Nd2Fe14B,sintered,1.3,inf,300,293,x\n", ":2: column 'Hcj_kA_m': inf is not a positive finite"),
    (HEADER + "Nd2Fe14B,sintered,1.3,900,nan,293,x\n", ":2: column 'BHmax_kJ_m3': nan is not a positive"),
    (HEADER + "Nd2Fe14B,sintered,13,900,300,293,x\n", ":2: column 'Br_T': 13 T is outside the plausible range"),
    (HEADER + "Nd2Fe14B,sintered,1.3,900,0,293,x\n", ":2: column 'BHmax_kJ_m3': 0 is not a positive"),
    (HEADER + "Nd2Fe14B,sintered,1.2,900,400,293,x\n", ":2: column 'BHmax_kJ_m3': 400 kJ/m3 is above the limit"),
    (HEADER + GOOD + "\n" + "Nd2Fe14B,sintered,1.3,,300,293,x\n", ":4: column 'Hcj_kA_m': empty"),
    ("formula,process,Br_T,Hcj_kA_m\nNd2Fe14B,sintered,1.3,900\n", ":1: column(s) BHmax_kJ_m3 missing"),
    (HEADER, ": no data rows"),
])
def test_bad_measurements_one_line_exit_2_nothing_stored(tmp_path, home, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = cli("ingest", path, "--family", "ndfeb")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"regenome: error: {path}"), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert _store_files(home) == []


def test_bad_phosphor_measurement_and_family(tmp_path, home):
    path = tmp_path / "ph.csv"
    path.write_text("host,activator,concentration,emission_nm\nY3Al5O12,Ce3+,0.02,540\nY3Al5O12,Ce3+,0.02,2.3\n")
    result = cli("ingest", path, "--family", "phosphor")
    assert result.exit_code == 2 and f"{path}:3: column 'emission_nm': 2.3 nm" in result.stderr
    result = cli("ingest", path, "--family", "magnets")
    assert result.exit_code == 2 and "--family: unknown family 'magnets'; valid: ndfeb, phosphor" in result.stderr
    assert _store_files(home) == []


# -- ingest: append-only store ------------------------------------------------------------------

def test_append_only_store_refuses_the_same_content(tmp_path, home):
    first = tmp_path / "a.csv"
    first.write_text(HEADER + GOOD.replace(",x\n", ",\n"))
    result = cli("ingest", first, "--family", "ndfeb", "--source", "notebook 7, p. 12")
    assert result.exit_code == 0, result.output
    files = _store_files(home)
    assert [p.suffix for p in files] == [".csv", ".json"] and files[0].stem == files[1].stem
    before = {p: p.read_bytes() for p in files}
    record = json.loads(files[1].read_text())
    assert record["source_file"] == str(first.resolve()) and record["rows"] == 1
    assert record["source_sha256"] == __import__("hashlib").sha256(first.read_bytes()).hexdigest()
    assert {"ingested_at", "regenome_version", "stored_sha256"} <= set(record)
    assert "notebook 7, p. 12" in files[0].read_text()  # rows without a source take --source

    copy = tmp_path / "copy.csv"  # same content under another name: refused
    copy.write_bytes(first.read_bytes())
    result = cli("ingest", copy, "--family", "ndfeb")
    assert result.exit_code == 2 and "already ingested" in result.stderr and "nothing stored" in result.stderr
    assert _store_files(home) == files

    second = tmp_path / "b.csv"
    second.write_text(HEADER + GOOD.replace("1.30", "1.31"))
    assert cli("ingest", second, "--family", "ndfeb").exit_code == 0
    after = _store_files(home)
    assert len(after) == 4 and all(p.read_bytes() == data for p, data in before.items())


def test_concurrent_ingest_of_the_same_content_stores_it_once(tmp_path, home, monkeypatch):
    """Two ingests that both pass the duplicate check: the per-content claim lets only one commit."""
    import regenome.measurements as measurements

    table = tmp_path / "a.csv"
    table.write_text(HEADER + GOOD)
    real_entries = measurements._entries
    monkeypatch.setattr(measurements, "_entries", lambda family, home=None: [])  # both see an empty store
    measurements.ingest_file(table, "ndfeb")
    with pytest.raises(measurements.InputDataError, match="another ingest of this content"):
        measurements.ingest_file(table, "ndfeb")
    assert len(_store_files(home)) == 2
    monkeypatch.setattr(measurements, "_entries", real_entries)  # once committed, the usual message
    with pytest.raises(measurements.InputDataError, match="already ingested"):
        measurements.ingest_file(table, "ndfeb")


def test_interrupted_ingest_releases_its_claim(tmp_path, home, monkeypatch):
    import regenome.measurements as measurements

    table = tmp_path / "a.csv"
    table.write_text(HEADER + GOOD)
    real_write = measurements._write_new

    def fail_on_record(path, data):
        if path.suffix == ".json":
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(measurements, "_write_new", fail_on_record)
    with pytest.raises(KeyboardInterrupt):
        measurements.ingest_file(table, "ndfeb")
    assert _store_files(home) == [] and not list(home.rglob(".claim-*"))
    monkeypatch.setattr(measurements, "_write_new", real_write)
    assert measurements.ingest_file(table, "ndfeb").provenance["rows"] == 1


# -- train --include-measurements and versioned predict -----------------------------------------

def test_measurements_pull_predictions_toward_them(tmp_path, home, measured_csv):
    path, measured = measured_csv
    query = tmp_path / "in.csv"
    query.write_text("formula,process\n" + "".join(f"{f},{p}\n" for f, p, _ in MEASURED)
                     + "".join(f"{f},{p}\n" for f, p in FAR))
    assert cli("predict", "ndfeb", query, "--out", tmp_path / "before.csv").exit_code == 0

    result = cli("train", "ndfeb")
    assert result.exit_code == 2 and "--include-measurements" in result.stderr
    result = cli("train", "ndfeb", "--include-measurements")
    assert result.exit_code == 2 and "no stored ndfeb measurements" in result.stderr

    assert cli("ingest", path, "--family", "ndfeb").exit_code == 0
    result = cli("train", "ndfeb", "--include-measurements")
    assert result.exit_code == 0, result.output
    version = f"{MODEL_VERSION}+m1"
    assert f"wrote ndfeb {version}" in result.output

    result = cli("predict", "ndfeb", query, "--out", tmp_path / "after.csv")
    assert result.exit_code == 0 and version in result.stderr
    before, after = _read(tmp_path / "before.csv"), _read(tmp_path / "after.csv")
    for (formula, process, _), values in zip(MEASURED, measured):
        for prop, y in zip(PROPS, values):
            old, new = before[formula, process][prop], after[formula, process][prop]
            assert abs(new - y) < abs(old - y), (formula, prop, old, new, y)  # strictly closer
            assert abs(new - y) > 0.2 * abs(old - y)  # a single measurement is not taken as the truth
    for key in FAR:  # other compositions, or the same composition made by another route
        for prop in PROPS:
            assert after[key][prop] == pytest.approx(before[key][prop], rel=1e-4)

    # the base version is still there and reproduces the old prediction exactly
    result = cli("predict", "ndfeb", query, "--out", tmp_path / "base.csv", "--model-version", MODEL_VERSION)
    assert result.exit_code == 0
    assert (tmp_path / "base.csv").read_bytes() == (tmp_path / "before.csv").read_bytes()
    result = cli("predict", "ndfeb", query, "--out", tmp_path / "v9.csv", "--model-version", "2.0+m9")
    assert result.exit_code == 2 and f"valid: {MODEL_VERSION}, {version}" in result.stderr

    card = json.loads((home / "models" / "ndfeb" / version / "card.json").read_text())
    record = json.loads(next((home / "measurements" / "ndfeb").glob("*.json")).read_text())
    [entry] = card["measurement_files"]
    assert entry["sha256"] == record["stored_sha256"] and entry["source_sha256"] == record["source_sha256"]
    assert card["base"]["version"] == MODEL_VERSION and card["n_measurements"] == 3
    assert card["parameters"] == {"length_scale": 0.1, "prior_count": 1.0, "noise": 0.02}
    for prop in PROPS:
        m = card["metrics"][prop]
        assert m["rms_corrected_in_sample"] < m["rms_base"]

    # the screening family applies the same version and says so in its provenance
    from regenome.families.ndfeb import NdFeBFamily

    family = NdFeBFamily()
    x, co = zip(*(parse_ndfeb_formula(f) for f, _, _ in MEASURED))
    table = family.candidate_table(np.array(x), np.array(co), np.array([p for _, p, _ in MEASURED], dtype=object))
    draws = family.predict(table, SimpleNamespace(process=SimpleNamespace(temperature_K=293.0)))
    for i, (formula, process, _) in enumerate(MEASURED):
        assert draws["Br_T"][i].mean() == pytest.approx(after[formula, process]["Br_T"], rel=1e-5)
    provenance = family.model_provenance()["ndfeb-physics"]
    assert provenance["version"] == version and provenance["physics_version"] == MODEL_VERSION
    assert provenance["measurement_correction"]["measurement_files"] == card["measurement_files"]

    # a second ingest + train is a new version; the first stays loadable
    more = tmp_path / "more.csv"
    more.write_text(HEADER + "(Nd0.6Ce0.4)2Fe14B,sintered,1.20,600,260,293,x\n")
    assert cli("ingest", more, "--family", "ndfeb").exit_code == 0
    assert cli("train", "ndfeb", "--include-measurements").exit_code == 0
    assert (home / "models" / "ndfeb" / f"{MODEL_VERSION}+m2" / "card.json").is_file()
    result = cli("predict", "ndfeb", query, "--out", tmp_path / "v1.csv", "--model-version", version)
    assert result.exit_code == 0
    assert (tmp_path / "v1.csv").read_bytes() == (tmp_path / "after.csv").read_bytes()

    # a version edited after training is refused
    layer = home / "models" / "ndfeb" / version / "correction.json"
    layer.write_text(layer.read_text().replace('"noise": 0.02', '"noise": 0.01'))
    result = cli("predict", "ndfeb", query, "--out", tmp_path / "x.csv", "--model-version", version)
    assert result.exit_code == 2 and "sha256 differs from its card" in result.stderr


# -- the correction layer -----------------------------------------------------------------------

def _layer(points, groups, residuals, **params) -> CorrectionLayer:
    points = np.asarray(points, dtype=float)
    return CorrectionLayer("t+m1", ("a", "b"), np.ones(2), points, np.asarray(groups, dtype=object),
                           {"p": np.asarray(residuals, dtype=float)}, {"p": "log"}, CorrectionParameters(**params))


def test_shrinkage_and_sigma():
    layer = _layer([[0.3, 0.0], [0.3, 0.0], [0.9, 0.0]], ["s", "s", "s"], [0.2, 0.2, -0.1])
    query = np.array([[0.3, 0.0], [0.9, 0.0], [0.6, 0.5]])
    w = layer.weights(query, np.array(["s", "s", "s"]))
    shift, sigma = layer.evaluate("p", w, np.full(3, 0.1))
    assert shift[0] == pytest.approx(0.4 / 3, rel=1e-6)  # two consistent measurements: 2/3 of the way
    assert shift[1] == pytest.approx(-0.05, rel=1e-6)  # one: half way
    assert abs(shift[2]) < 1e-12 and sigma[2] == pytest.approx(0.1)  # far away: the base model
    assert sigma[0] < 0.1  # consistent measurements shrink the one-sigma
    # measurements that disagree (+0.3 and -0.3 at one point) do not
    conflict = _layer([[0, 0], [0, 0]], ["s", "s"], [0.3, -0.3])
    shift, sigma = conflict.evaluate("p", conflict.weights(np.zeros((1, 2)), np.array(["s"])), np.array([0.1]))
    assert shift[0] == pytest.approx(0.0) and sigma[0] > 0.1
    # other groups get no weight, NaN residuals neither
    assert kernel_weights(np.zeros((1, 2)), np.zeros((1, 2)), np.array(["a"]), np.array(["b"]), 0.1)[0, 0] == 0
    s, total = shrunk_shift(np.ones((1, 2)), np.array([0.2, np.nan]), 1.0)
    assert s[0] == pytest.approx(0.1) and total[0] == 1.0
    params = CorrectionParameters(noise=0.0)
    assert posterior_sigma(np.array([0.1]), np.ones((1, 1)), np.array([0.0]), np.array([0.0]), params)[0] \
        == pytest.approx(0.1 / np.sqrt(2))


def test_layer_json_round_trip_and_leave_one_out():
    layer = _layer([[0.3, 0.0], [0.35, 0.0]], ["s", "s"], [0.1, np.nan], length_scale=0.2)
    again = CorrectionLayer.from_dict(json.loads(json.dumps(layer.to_dict())))
    assert again.to_dict() == layer.to_dict()
    assert np.isnan(again.residuals["p"][1])
    loo = layer.leave_one_out("p")
    assert loo[0] == pytest.approx(0.1)  # the only other point has no residual
    with pytest.raises(ValueError, match="length_scale"):
        CorrectionParameters(length_scale=0.0)


def test_phosphor_screen_applies_the_emission_correction(tmp_path, home):
    """A measured emission of one (host, activator) moves that candidate's screened emission toward it,
    and the run's provenance names the correction version; another activator in the same host stays."""
    import shutil

    import pandas as pd

    from regenome.pipeline import screen
    from regenome.spec import load_batch

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "workflows" / "my_hosts", tmp_path / "my_hosts")
    batch = tmp_path / "batch.toml"
    batch.write_text((root / "workflows" / "phosphor-warm-white-red.toml").read_text())

    def emission(out):
        result = screen(load_batch(batch), batch.read_text(), out, batch_path=str(batch))
        ranked = pd.read_csv(result.ranked_csv).set_index(["host", "activator", "concentration"])
        return ranked["emission_nm"], json.loads(result.provenance_json.read_text())

    before, _ = emission(tmp_path / "before")
    key = ("Y3Al5O12", "Ce3+", 0.035)
    measured = before[key] + 25.0
    path = tmp_path / "measured.csv"
    path.write_text(f"host,activator,concentration,emission_nm,source\nY3Al5O12,Ce3+,0.035,{measured:.1f},test lab\n")
    assert cli("ingest", path, "--family", "phosphor").exit_code == 0
    trained = cli("train", "emission", "--include-measurements")
    assert trained.exit_code == 0, trained.output
    after, provenance = emission(tmp_path / "after")
    assert before[key] < after[key] < measured
    other = ("Y3Al5O12", "Eu2+", 0.0175)
    assert after[other] == pytest.approx(before[other], abs=1e-6)
    assert "measurement_correction" in provenance["models"]["emission"]
