"""Element symbols and the per-element property table used by the composition featurizers.

The table lives in ``data/elements/element_properties.csv`` (rebuilt by
``scripts/make_element_table.py``; every column's source is listed in ``data/README.md``).
This module only reads it: it imports neither pymatgen nor pandas so that predicting stays
cheap to start.
"""

from __future__ import annotations

import csv
import math

import numpy as np

from regenome.datafiles import table_path
from regenome.errors import DataFileError

__all__ = ["ELEMENTS", "ELEMENT_INDEX", "RARE_EARTHS", "LANTHANIDES", "load_element_table"]

#: Element symbols H (Z=1) .. Lr (Z=103) in atomic-number order; column order of fraction matrices.
ELEMENTS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne",
    "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca",
    "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr",
    "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb",
    "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg",
    "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm",
    "Md", "No", "Lr",
)

#: Column index of each symbol in :data:`ELEMENTS`.
ELEMENT_INDEX: dict[str, int] = {sym: i for i, sym in enumerate(ELEMENTS)}

#: La..Lu.
LANTHANIDES: tuple[str, ...] = ELEMENTS[56:71]
#: Sc, Y and La..Lu (IUPAC rare-earth elements).
RARE_EARTHS: tuple[str, ...] = ("Sc", "Y") + LANTHANIDES

_TABLE_FILE = ("elements", "element_properties.csv")


def load_element_table() -> tuple[np.ndarray, tuple[str, ...]]:
    """Read the element property table.

    Returns
    -------
    values : numpy.ndarray of float64, shape (len(ELEMENTS), n_properties)
        Row ``i`` describes ``ELEMENTS[i]``; NaN where a value is unknown or undefined
        (e.g. the Lande factor of a J = 0 ion).
    names : tuple of str
        Property names with their unit in the name (``melting_point_K``, ``atomic_radius_A``).

    Raises
    ------
    regenome.errors.DataFileError
        If the file is missing or its rows do not match :data:`ELEMENTS`.
    """
    path = table_path(*_TABLE_FILE)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(line for line in handle if not line.startswith("#"))]
    if not rows or rows[0][:1] != ["symbol"]:
        raise DataFileError(f"{path}: the first column must be 'symbol'")
    names = tuple(rows[0][1:])
    symbols = tuple(row[0] for row in rows[1:])
    if symbols != ELEMENTS:
        raise DataFileError(f"{path}: rows must list {ELEMENTS[0]}..{ELEMENTS[-1]} in Z order; "
                            "rebuild it with scripts/make_element_table.py")
    values = np.array([[float(cell) if cell != "" else math.nan for cell in row[1:]]
                       for row in rows[1:]], dtype=np.float64)
    if values.shape != (len(ELEMENTS), len(names)):
        raise DataFileError(f"{path}: ragged rows (expected {len(names)} values per element)")
    return values, names
