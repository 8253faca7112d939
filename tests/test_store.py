"""Tests of the HDF5 structure-set store and the pymatgen/ASE/file converters."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regenome.errors import InputDataError, StructureSetError
from regenome.structures.convert import (
    export,
    from_ase,
    from_pymatgen,
    structure_text,
    to_ase,
    to_pymatgen,
    write_structure,
)
from regenome.structures.store import SCHEMA_VERSION, StructureSet, describe


def _tiny_data() -> dict:
    """A 2-site cubic NdFe cell and a 5-site triclinic cell, as plain arrays."""
    lat2 = np.diag([2.87, 2.87, 3.10])
    lat5 = np.array([[5.1, 0.0, 0.0], [1.2, 4.9, 0.0], [-0.7, 0.4, 7.3]])
    return {
        "candidate_ids": ["nd-fe-0001", "ce.nd_b-0002"],
        "formulas": ["NdFe", "CeNd2FeB"],
        "recipes_json": [
            json.dumps({"prototype": "CsCl", "steps": []}),
            json.dumps(
                {"prototype": "toy5", "steps": [{"substitute": {"Nd": "Ce"}, "site": "R(4f)"}]}
            ),
        ],
        "lattices": np.stack([lat2, lat5]),
        "numbers": [np.array([60, 26]), np.array([58, 60, 60, 26, 5])],
        "frac_coords": [
            np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
            np.array(
                [
                    [0.1, 0.2, 0.3],
                    [0.9, 0.8, 0.7],
                    [0.25, 0.5, 0.125],
                    [0.0, 0.5, 0.5],
                    [1.05, -0.02, 0.4],
                ]
            ),
        ],
        "site_labels": [["R(4f)", "Fe(16k1)"], ["R(4f)", "R(4g)", "R(4g)", "Fe(16k1)", "B(4g)"]],
    }


def _candidates(ids: list[str], x: list[float]) -> dict[str, np.ndarray]:
    return {
        "candidate_id": np.array(ids),
        "x_ce": np.array(x, dtype=float),
        "n_re": np.arange(len(ids), dtype=np.int32),
        "ok": np.array([True] * len(ids)),
        "family": np.array(["ndfeb"] * len(ids), dtype=object),
    }


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.h5"
    data = _tiny_data()
    with StructureSet.create(path, attrs={"batch_name": "tiny", "batch_sha256": "0" * 64}) as ss:
        ss.append_candidates(_candidates(data["candidate_ids"], [0.0, 0.5]))
        ss.append_structures(**data)
    return path


def _assert_same(record, data: dict, i: int) -> None:
    assert record.candidate_id == data["candidate_ids"][i]
    assert record.formula == data["formulas"][i]
    assert record.recipe == json.loads(data["recipes_json"][i])
    np.testing.assert_array_equal(record.lattice, data["lattices"][i])
    np.testing.assert_array_equal(record.numbers, data["numbers"][i])
    np.testing.assert_array_equal(record.frac_coords, data["frac_coords"][i])
    assert record.site_labels == data["site_labels"][i]


# ---------------------------------------------------------------------------- store round trip
def test_round_trip_exact(tiny_set: Path) -> None:
    data = _tiny_data()
    with StructureSet.open(tiny_set) as ss:
        assert len(ss) == 2
        assert ss.n_candidates == 2
        assert ss.structure_ids() == data["candidate_ids"]
        for i in range(2):
            _assert_same(ss.read_structure(i), data, i)
            _assert_same(ss.read_structure(data["candidate_ids"][i]), data, i)
        _assert_same(ss.read_structure(-1), data, 1)
        records = list(ss.iter_structures(chunk_size=1))
        assert [r.candidate_id for r in records] == data["candidate_ids"]
        assert records[1].n_sites == 5
        assert records[1].numbers.dtype == np.int16
        assert not records[1].frac_coords.flags.writeable
        attrs = ss.attrs
    assert attrs["format"] == "regenome.structure_set"
    assert attrs["schema_version"] == SCHEMA_VERSION == "1.0"
    assert attrs["batch_name"] == "tiny" and attrs["batch_sha256"] == "0" * 64
    assert attrs["created_utc"].endswith("+00:00") and "regenome_version" in attrs


def test_read_errors(tiny_set: Path) -> None:
    with StructureSet.open(tiny_set) as ss:
        with pytest.raises(StructureSetError, match="out of range"):
            ss.read_structure(2)
        with pytest.raises(StructureSetError, match=r"no-such-id.*regenome inspect"):
            ss.read_structure("no-such-id")
        with pytest.raises(StructureSetError, match="read-only"):
            ss.append_candidates(_candidates(["z"], [0.1]))
    with pytest.raises(StructureSetError, match="closed"):
        len(ss)


def test_chunked_appends_equal_one_append(tmp_path: Path) -> None:
    data = _tiny_data()
    # four structures: the two tiny ones, then the same geometry under new ids
    big = {k: list(v) if not isinstance(v, np.ndarray) else v for k, v in data.items()}
    big = {
        "candidate_ids": data["candidate_ids"] + ["c3", "c4"],
        "formulas": data["formulas"] * 2,
        "recipes_json": data["recipes_json"] * 2,
        "lattices": np.concatenate([data["lattices"], data["lattices"] * 1.01]),
        "numbers": data["numbers"] * 2,
        "frac_coords": data["frac_coords"] * 2,
        "site_labels": [
            data["site_labels"][0],
            data["site_labels"][1],
            ["Fe(8j1)", "R(4f)"],
            data["site_labels"][1],
        ],
    }
    one, many = tmp_path / "one.h5", tmp_path / "many.h5"
    with StructureSet.create(one) as ss:
        ss.append_structures(**big)
    with StructureSet.create(many) as ss:
        for lo, hi in [(0, 1), (1, 3)]:
            ss.append_structures(**{k: v[lo:hi] for k, v in big.items()})
    with StructureSet.open(many, mode="a") as ss:  # reopen in append mode and continue
        ss.append_structures(**{k: v[3:] for k, v in big.items()})
    with h5py.File(one, "r") as a, h5py.File(many, "r") as b:
        names = sorted(a["structures"])
        assert names == sorted(b["structures"])
        for name in names:
            np.testing.assert_array_equal(
                a["structures"][name][()], b["structures"][name][()], err_msg=name
            )
        assert a["structures/offsets"][()].tolist() == [0, 2, 7, 9, 14]


def test_readable_with_plain_h5py(tiny_set: Path) -> None:
    data = _tiny_data()
    with h5py.File(tiny_set, "r") as f:
        assert f.attrs["format"] == "regenome.structure_set"
        g = f["structures"]
        names = g["site_label_names"].asstr()[()]
        for i in range(2):
            a, b = g["offsets"][i], g["offsets"][i + 1]
            assert g["candidate_id"].asstr()[i] == data["candidate_ids"][i]
            assert g["n_sites"][i] == b - a
            np.testing.assert_array_equal(g["lattice"][i], data["lattices"][i])
            np.testing.assert_array_equal(g["numbers"][a:b], data["numbers"][i])
            np.testing.assert_array_equal(g["frac_coords"][a:b], data["frac_coords"][i])
            assert list(names[g["site_label"][a:b]]) == data["site_labels"][i]
        assert g["lattice"].compression == "gzip" and g["lattice"].maxshape == (None, 3, 3)
        assert g["numbers"].dtype == np.int16 and g["offsets"].dtype == np.int64
        c = f["candidates"]
        assert list(c.attrs["columns"]) == ["candidate_id", "x_ce", "n_re", "ok", "family"]
        assert c["n_re"].dtype == np.int64 and c["ok"].dtype == bool
        assert h5py.check_string_dtype(c["family"].dtype).encoding == "utf-8"


def test_snapshot_after_flush_is_a_valid_set(tmp_path: Path) -> None:
    data = _tiny_data()
    path, snap = tmp_path / "grow.h5", tmp_path / "snap.h5"
    ss = StructureSet.create(path)
    ss.append_structures(**{k: v[:1] for k, v in data.items()})
    ss.flush()
    shutil.copyfile(path, snap)  # what a reader would see if the writer were killed now
    ss.append_structures(**{k: v[1:] for k, v in data.items()})
    ss.close()
    with StructureSet.open(snap) as s:
        assert s.structure_ids() == data["candidate_ids"][:1]
        _assert_same(s.read_structure(0), data, 0)


def test_describe(tiny_set: Path) -> None:
    d = describe(tiny_set)
    assert d["schema_version"] == "1.0"
    assert (d["n_candidates"], d["n_structures"], d["n_sites"], d["n_distinct_formulas"]) == (
        2,
        2,
        7,
        2,
    )
    assert d["candidate_columns"][0] == "candidate_id"
    assert d["attrs"]["batch_name"] == "tiny"
    assert d["file_size_bytes"] == tiny_set.stat().st_size > 0


# ---------------------------------------------------------------------------- candidates table
def test_candidates_append_and_read(tiny_set: Path) -> None:
    with StructureSet.open(tiny_set, mode="a") as ss:
        ss.append_candidates(_candidates(["c3", "c4", "c5"], [0.1, 0.2, 0.3]))
        cand = ss.read_candidates()
        assert ss.n_candidates == 5
        assert cand["candidate_id"].tolist() == ["nd-fe-0001", "ce.nd_b-0002", "c3", "c4", "c5"]
        assert all(isinstance(v, str) for v in cand["family"])
        np.testing.assert_array_equal(cand["x_ce"], [0.0, 0.5, 0.1, 0.2, 0.3])
        assert cand["n_re"].dtype == np.int64 and cand["ok"].dtype == bool
        assert list(ss.read_candidates(["x_ce"])) == ["x_ce"]
        with pytest.raises(StructureSetError, match="nope"):
            ss.read_candidates(["nope"])
        some = ss.read_candidates(["candidate_id", "x_ce"], rows=slice(1, 5), take=np.array([0, 2, 3]))
        assert some["candidate_id"].tolist() == ["ce.nd_b-0002", "c4", "c5"]
        np.testing.assert_array_equal(some["x_ce"], [0.5, 0.2, 0.3])
        assert ss.row_chunk >= 1


def test_read_rows_reads_chunk_runs_in_the_asked_order(tmp_path: Path) -> None:
    """streamrank._read_rows: any rows, any order, chunk runs capped by slice_rows, same as a full read."""
    from regenome.streamrank import _chunk_runs, _read_rows

    path = tmp_path / "big.h5"
    n = 5000
    with StructureSet.create(path) as ss:
        ss.append_candidates(_candidates([f"c{i:05d}" for i in range(n)], list(np.arange(n) / n)))
    rows = np.random.default_rng(1).choice(n, 300, replace=False)
    with StructureSet.open(path) as ss:
        whole = ss.read_candidates()
        got = _read_rows(ss, rows, slice_rows=2048)
    assert got["candidate_id"].tolist() == whole["candidate_id"][rows].tolist()
    np.testing.assert_array_equal(got["x_ce"].to_numpy(), whole["x_ce"][rows])
    runs = list(_chunk_runs(np.array([0, 5, 3000, 3001, 4999]), 1024, 2048, n))
    assert runs == [slice(0, 1024), slice(2048, 3072), slice(4096, 5000)]


def test_an_append_killed_midway_is_invisible_and_cut_on_reopen(tiny_set: Path) -> None:
    """Columns are appended one by one and ``n_rows`` set last: readers see whole appends only."""
    with h5py.File(tiny_set, "r+") as f:  # as if killed after the first column of a new chunk
        ds = f["candidates/candidate_id"]
        ds.resize(ds.shape[0] + 3, axis=0)
        ds[-3:] = ["p1", "p2", "p3"]
    with StructureSet.open(tiny_set) as ss:
        assert ss.n_candidates == 2
        assert ss.read_candidates(["candidate_id"])["candidate_id"].tolist() == ["nd-fe-0001", "ce.nd_b-0002"]
        assert ss.read_candidates(["x_ce"], rows=slice(1, 99))["x_ce"].tolist() == [0.5]
    with StructureSet.open(tiny_set, mode="a") as ss:  # the writer cuts the partial rows and goes on
        ss.append_candidates(_candidates(["c3"], [0.1]))
        assert ss.read_candidates(["candidate_id"])["candidate_id"].tolist() == ["nd-fe-0001", "ce.nd_b-0002", "c3"]
    with h5py.File(tiny_set, "r") as f:
        assert {f["candidates"][c].shape[0] for c in f["candidates"]} == {3}


def test_a_structure_append_killed_midway_is_invisible_and_cut_on_reopen(tiny_set: Path) -> None:
    data = _tiny_data()
    with h5py.File(tiny_set, "r+") as f:  # as if killed after two datasets of a new structure
        for name, extra in (("candidate_id", ["half-done"]), ("numbers", np.array([26, 26, 26], dtype=np.int16))):
            ds = f["structures"][name]
            ds.resize(ds.shape[0] + len(extra), axis=0)
            ds[-len(extra):] = extra
    with StructureSet.open(tiny_set) as ss:
        assert len(ss) == 2 and ss.structure_ids() == data["candidate_ids"]
        _assert_same(ss.read_structure(1), data, 1)
    with StructureSet.open(tiny_set, mode="a") as ss:
        ss.append_structures(**{k: v[:1] for k, v in data.items()} | {"candidate_ids": ["again"]})
        assert ss.structure_ids() == data["candidate_ids"] + ["again"]
        np.testing.assert_array_equal(ss.read_structure("again").numbers, data["numbers"][0])
    with h5py.File(tiny_set, "r") as f:  # the half-written rows were cut, not kept behind the new ones
        assert f["structures/candidate_id"].shape[0] == 3 and f["structures/numbers"].shape[0] == 9


def test_candidates_column_mismatch(tiny_set: Path) -> None:
    with StructureSet.open(tiny_set, mode="a") as ss:
        chunk = _candidates(["c3"], [0.1])
        del chunk["x_ce"]
        with pytest.raises(InputDataError, match=r"missing column.*x_ce"):
            ss.append_candidates(chunk)
        with pytest.raises(InputDataError, match=r"unexpected column.*extra"):
            ss.append_candidates({**_candidates(["c3"], [0.1]), "extra": np.array([1.0])})
        with pytest.raises(InputDataError, match="'ok'"):
            ss.append_candidates({**_candidates(["c3"], [0.1]), "ok": np.array(["yes"])})
        with pytest.raises(InputDataError, match="same length"):
            ss.append_candidates({**_candidates(["c3"], [0.1]), "x_ce": np.array([0.1, 0.2])})
        with pytest.raises(InputDataError, match="candidate_id"):
            ss.append_candidates({"x_ce": np.array([0.1])})
        assert ss.n_candidates == 2  # nothing written by the failed appends


def test_append_structures_rejects_bad_input(tiny_set: Path) -> None:
    data = _tiny_data()
    one = {k: v[:1] for k, v in data.items()}
    with StructureSet.open(tiny_set, mode="a") as ss:
        with pytest.raises(InputDataError, match=r"duplicate.*nd-fe-0001"):
            ss.append_structures(**one)
        new = {**one, "candidate_ids": ["new"]}
        with pytest.raises(InputDataError, match="shape"):
            ss.append_structures(**{**new, "frac_coords": [np.zeros((3, 3))]})
        with pytest.raises(InputDataError, match=r"1\.\.118"):
            ss.append_structures(**{**new, "numbers": [np.array([0, 26])]})
        with pytest.raises(InputDataError, match="singular"):
            ss.append_structures(**{**new, "lattices": np.zeros((1, 3, 3))})
        with pytest.raises(InputDataError, match="JSON object"):
            ss.append_structures(**{**new, "recipes_json": ["[1, 2]"]})
        with pytest.raises(InputDataError, match="whitespace"):
            ss.append_structures(**{**new, "site_labels": [["R 4f", "Fe"]]})
        assert len(ss) == 2


# ------------------------------------------------------------------ corrupted / wrong files
def test_missing_and_corrupted_files(tiny_set: Path, tmp_path: Path) -> None:
    with pytest.raises(StructureSetError, match="no such file"):
        StructureSet.open(tmp_path / "absent.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(StructureSetError, match=r"garbage\.h5: not a readable HDF5 file"):
        StructureSet.open(garbage)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(tiny_set.read_bytes()[: tiny_set.stat().st_size // 2])
    with pytest.raises(StructureSetError, match=r"truncated\.h5"):
        StructureSet.open(truncated)
    with pytest.raises(StructureSetError, match=r"truncated\.h5"):
        describe(truncated)


def test_not_a_structure_set_and_unknown_major(tiny_set: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(StructureSetError, match="'format' is missing"):
        StructureSet.open(plain)
    with h5py.File(tiny_set, "a") as f:
        f.attrs["schema_version"] = "2.0"
    with pytest.raises(StructureSetError, match=r"tiny\.h5: schema_version 2\.0 is not supported"):
        StructureSet.open(tiny_set)
    with h5py.File(tiny_set, "a") as f:
        f.attrs["schema_version"] = "1.7"  # a newer minor version stays readable
    with StructureSet.open(tiny_set) as ss:
        assert len(ss) == 2


def test_create_refuses_to_overwrite(tiny_set: Path) -> None:
    with pytest.raises(StructureSetError, match="exists"):
        StructureSet.create(tiny_set)
    with pytest.raises(InputDataError, match="reserved"):
        StructureSet.create(tiny_set.parent / "x.h5", attrs={"format": "mine"})
    with StructureSet.create(tiny_set, overwrite=True) as ss:
        assert len(ss) == 0 and ss.n_candidates == 0


# ---------------------------------------------------------------------------- converters
def test_pymatgen_and_ase_round_trip(tiny_set: Path) -> None:
    with StructureSet.open(tiny_set) as ss:
        records = list(ss.iter_structures())
    for rec in records:
        s = to_pymatgen(rec)
        assert [site.specie.Z for site in s] == rec.numbers.tolist()
        assert s.site_properties["label"] == rec.site_labels
        lat, z, x, labels = from_pymatgen(s)
        np.testing.assert_allclose(lat, rec.lattice, atol=1e-8)
        np.testing.assert_array_equal(z, rec.numbers)
        np.testing.assert_allclose(x, rec.frac_coords, atol=1e-8)
        assert labels == rec.site_labels

        atoms = to_ase(rec)
        assert atoms.pbc.all() and atoms.info["candidate_id"] == rec.candidate_id
        lat, z, x, labels = from_ase(atoms)
        np.testing.assert_allclose(lat, rec.lattice, atol=1e-8)
        np.testing.assert_array_equal(z, rec.numbers)
        np.testing.assert_allclose(x, rec.frac_coords, atol=1e-8)
        assert labels == rec.site_labels


def _composition_and_abc(path: Path, fmt: str):
    if fmt == "extxyz":
        import ase.io

        atoms = ase.io.read(path, format="extxyz")
        from_file = (
            sorted(atoms.numbers.tolist()),
            np.asarray(atoms.cell.cellpar()),
            atoms.cell.array,
        )
        assert atoms.arrays["site_label"].size == len(atoms)
        return from_file
    from pymatgen.core import Structure

    s = Structure.from_file(path)
    return (
        sorted(site.specie.Z for site in s),
        np.array([*s.lattice.abc, *s.lattice.angles]),
        s.lattice.matrix,
    )


@pytest.mark.parametrize(("fmt", "ext"), [("cif", "cif"), ("extxyz", "extxyz"), ("poscar", "vasp")])
def test_export_reads_back(tiny_set: Path, tmp_path: Path, fmt: str, ext: str) -> None:
    out = tmp_path / "out"
    paths = export(tiny_set, None, fmt, out)
    data = _tiny_data()
    assert [p.name for p in paths] == [f"{i}.{ext}" for i in data["candidate_ids"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in paths
    )  # no temp files left
    with StructureSet.open(tiny_set) as ss:
        for p in paths:
            rec = ss.read_structure(p.name.removesuffix(f".{ext}"))
            z, cellpar, matrix = _composition_and_abc(p, fmt)
            assert z == sorted(rec.numbers.tolist())
            ref = np.array([*to_pymatgen(rec).lattice.abc, *to_pymatgen(rec).lattice.angles])
            np.testing.assert_allclose(cellpar, ref, atol=1e-4)
            if fmt == "cif" and rec.n_sites == 5:  # repeated labels are made unique for CIF
                assert " R(4g)_1 " in p.read_text() and " R(4g)_2 " in p.read_text()
            if fmt != "cif":  # CIF stores cell parameters only, not the orientation
                np.testing.assert_allclose(matrix, rec.lattice, atol=1e-4)
    # a subset by id, written again with write_structure / structure_text
    one = export(tiny_set, [data["candidate_ids"][1]], fmt, out)
    assert one == [out / f"{data['candidate_ids'][1]}.{ext}"]
    with StructureSet.open(tiny_set) as ss:
        rec = ss.read_structure(1)
    target = write_structure(rec, fmt, tmp_path / f"single.{ext}")
    assert target.read_text() == structure_text(rec, fmt) == one[0].read_text()


def test_export_errors(tiny_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(StructureSetError, match=r"'nope-1'.*regenome inspect"):
        export(tiny_set, ["nd-fe-0001", "nope-1"], "cif", out)
    with pytest.raises(InputDataError, match=r"\.\./evil"):
        export(tiny_set, ["../evil"], "cif", out)
    with pytest.raises(InputDataError, match="fmt"):
        export(tiny_set, None, "xyz", out)  # type: ignore[arg-type]
    assert not out.exists() or not any(out.iterdir())
    # an existing symlink that points outside out_dir is refused, not followed
    out.mkdir(exist_ok=True)
    outside = tmp_path / "outside.cif"
    outside.write_text("keep")
    (out / "nd-fe-0001.cif").symlink_to(outside)
    with pytest.raises(InputDataError, match="outside"):
        export(tiny_set, ["nd-fe-0001"], "cif", out)
    assert outside.read_text() == "keep"


# ---------------------------------------------------------------------------- imports stay light
def test_store_import_does_not_load_pymatgen_or_ase() -> None:
    code = (
        "import sys, regenome.structures.store, regenome.structures.convert; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pymatgen', 'ase', 'pandas'}))"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src},
        check=True,
    )
    assert res.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- property-based
_finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def _structures(draw):
    n = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    # diagonally dominant lattices are never singular; off-diagonal parts are arbitrary floats
    diag = draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(3.0, 30.0, width=64)))
    off = draw(hnp.arrays(np.float64, (n, 3, 3), elements=st.floats(-0.9, 0.9, width=64)))
    lattices = off * (1 - np.eye(3)) + diag[:, :, None] * np.eye(3)
    numbers = [draw(hnp.arrays(np.int64, m, elements=st.integers(1, 118))) for m in sizes]
    coords = [draw(hnp.arrays(np.float64, (m, 3), elements=_finite)) for m in sizes]
    labels = [
        draw(
            st.lists(
                st.sampled_from(["R(4f)", "R(4g)", "Fe(16k1)", "B(4g)", "Ce"]),
                min_size=m,
                max_size=m,
            )
        )
        for m in sizes
    ]
    return {
        "candidate_ids": [f"h-{i}" for i in range(n)],
        "formulas": [f"X{m}" for m in sizes],
        "recipes_json": [json.dumps({"i": i, "note": "é ✓"}) for i in range(n)],
        "lattices": lattices,
        "numbers": numbers,
        "frac_coords": coords,
        "site_labels": labels,
    }


@settings(max_examples=25, deadline=None)
@given(data=_structures(), split=st.integers(0, 4))
def test_property_round_trip_exact(data: dict, split: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.h5"
        with StructureSet.create(path) as ss:
            ss.append_structures(**{k: v[:split] for k, v in data.items()})
            ss.append_structures(**{k: v[split:] for k, v in data.items()})
        with StructureSet.open(path) as ss:
            assert len(ss) == len(data["candidate_ids"])
            for i, rec in enumerate(ss.iter_structures(chunk_size=3)):
                _assert_same(rec, data, i)
