"""Files users hand to regenome are read with limits, and nothing in the package evaluates code."""

from __future__ import annotations

import re

import pytest

from regenome.errors import InputDataError
from regenome.structures.cif import read_cif
from regenome.tableio import read_input_csv

from conftest import ROOT

CIF = """data_NaCl
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
x,y,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Na1 Na 0 0 0 1
Cl1 Cl 0.5 0.5 0.5 1
"""


def test_cif_reads_a_structure(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(CIF)
    structure = read_cif(path)
    assert structure.composition.reduced_formula == "NaCl"
    assert structure.lattice.a == pytest.approx(5.64)


@pytest.mark.parametrize("content,words", [
    (None, "CIF file not found"),
    (b"\x00\x01binary", "binary file"),
    (b"hello, not a cif\n", "not a crystal structure CIF"),
    (CIF.replace("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n", "").encode(), "not a readable CIF file"),
    (CIF.encode() * 3, None),  # several blocks: the first is read
])
def test_cif_errors_are_one_line(tmp_path, content, words):
    path = tmp_path / "host.cif"
    if content is not None:
        path.write_bytes(content)
    if words is None:
        assert read_cif(path).composition.reduced_formula == "NaCl"
        return
    with pytest.raises(InputDataError) as info:
        read_cif(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def test_size_limits(tmp_path, monkeypatch):
    path = tmp_path / "big.cif"
    path.write_text(CIF)
    with pytest.raises(InputDataError, match="larger than the 100-byte limit"):
        read_cif(path, max_bytes=100)
    table = tmp_path / "t.csv"
    table.write_text("formula\nFe\n")
    monkeypatch.setattr("regenome.tableio.MAX_CSV_BYTES", 5)
    with pytest.raises(InputDataError, match="larger than 5 bytes"):
        read_input_csv(table, ["formula"])


def test_nothing_evaluates_or_unpickles_code():
    """No eval/exec, no pickle/marshal, no shell=True, no unsafe YAML in the package source."""
    banned = re.compile(r"\b(eval|exec)\s*\(|\bimport (pickle|marshal|shelve)\b|shell\s*=\s*True|yaml\.load\(")
    hits = []
    for path in sorted((ROOT / "src" / "regenome").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if banned.search(code):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, hits
    # the one unpickling path is joblib.load behind trust=True in the model store
    source = (ROOT / "src" / "regenome" / "modelstore.py").read_text()
    assert source.count("joblib.load(") == 1 and "if not trust:" in source
