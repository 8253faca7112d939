"""Convert stored structures to pymatgen / ASE objects and export them as CIF, extxyz or POSCAR.

Build pymatgen or ASE objects only at the edges (export, inspection); screening works on the
arrays of :mod:`regenome.structures.store`. pymatgen and ASE are imported inside the functions
so that importing this module stays cheap.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from regenome.errors import InputDataError, StructureSetError
from regenome.structures.store import StructureRecord, StructureSet

if TYPE_CHECKING:
    import ase
    from pymatgen.core import Structure

__all__ = [
    "EXTENSIONS",
    "ID_PATTERN",
    "export",
    "from_ase",
    "from_pymatgen",
    "structure_text",
    "to_ase",
    "to_pymatgen",
    "write_structure",
]

Format = Literal["cif", "extxyz", "poscar"]

#: File extension written by :func:`export` for each format.
EXTENSIONS: dict[str, str] = {"cif": "cif", "extxyz": "extxyz", "poscar": "vasp"}

#: Candidate ids that may be used as file names.
ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")


def to_pymatgen(record: StructureRecord) -> Structure:
    """Build a pymatgen ``Structure`` from a stored record.

    Parameters
    ----------
    record : StructureRecord
        A structure read from a :class:`~regenome.structures.store.StructureSet`.

    Returns
    -------
    pymatgen.core.Structure
        Lattice in Angstrom, fractional coordinates as stored (not wrapped), site property
        ``"label"`` and site labels set to the stored site labels.
    """
    from pymatgen.core import Lattice, Structure

    labels = list(record.site_labels)
    return Structure(
        Lattice(np.array(record.lattice, dtype=np.float64)),
        [int(z) for z in record.numbers],
        np.array(record.frac_coords, dtype=np.float64),
        coords_are_cartesian=False,
        site_properties={"label": labels},
        labels=labels,
    )


def to_ase(record: StructureRecord) -> ase.Atoms:
    """Build an ASE ``Atoms`` from a stored record.

    Parameters
    ----------
    record : StructureRecord
        A structure read from a :class:`~regenome.structures.store.StructureSet`.

    Returns
    -------
    ase.Atoms
        Periodic in all three directions, cell in Angstrom, scaled positions as stored.
        ``atoms.arrays["site_label"]`` holds the site labels; ``atoms.info`` holds
        ``candidate_id`` and ``formula``.
    """
    from ase import Atoms

    atoms = Atoms(
        numbers=np.asarray(record.numbers, dtype=int),
        cell=np.array(record.lattice, dtype=np.float64),
        scaled_positions=np.array(record.frac_coords, dtype=np.float64),
        pbc=True,
    )
    atoms.arrays["site_label"] = np.array(record.site_labels, dtype=str)
    atoms.info["candidate_id"] = record.candidate_id
    atoms.info["formula"] = record.formula
    return atoms


def from_pymatgen(
    structure: Structure, labels: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Arrays for :meth:`StructureSet.append_structures` from a pymatgen ``Structure``.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        An ordered structure (one element per site, full occupancy).
    labels : sequence of str, optional
        Site labels. Defaults to the site property ``"label"``, then to the element symbol.

    Returns
    -------
    lattice : numpy.ndarray of float64, shape (3, 3)
        Lattice vectors as rows, Angstrom.
    numbers : numpy.ndarray of int16, shape (m,)
    frac_coords : numpy.ndarray of float64, shape (m, 3)
    labels : list of str

    Raises
    ------
    InputDataError
        If the structure is disordered or ``labels`` has the wrong length.
    """
    if not structure.is_ordered:
        raise InputDataError(
            "from_pymatgen needs an ordered structure (one species per site, occupancy 1)"
        )
    numbers = np.array([site.specie.Z for site in structure], dtype=np.int16)
    if labels is None:
        prop = structure.site_properties.get("label")
        labels = prop if prop is not None else [site.specie.symbol for site in structure]
    labels = [str(s) for s in labels]
    if len(labels) != len(numbers):
        raise InputDataError(
            f"The 'labels' parameter of from_pymatgen must have {len(numbers)} entries; "
            f"got {len(labels)}"
        )
    lattice = np.array(structure.lattice.matrix, dtype=np.float64)
    return lattice, numbers, np.array(structure.frac_coords, dtype=np.float64), labels


def from_ase(
    atoms: ase.Atoms, labels: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Arrays for :meth:`StructureSet.append_structures` from an ASE ``Atoms``.

    Parameters
    ----------
    atoms : ase.Atoms
        A structure with a full 3-D cell.
    labels : sequence of str, optional
        Site labels. Defaults to ``atoms.arrays["site_label"]``, then to the chemical symbols.

    Returns
    -------
    lattice, numbers, frac_coords, labels
        As :func:`from_pymatgen`. Scaled positions are not wrapped into the cell.

    Raises
    ------
    InputDataError
        If the cell is not 3-D or ``labels`` has the wrong length.
    """
    if atoms.cell.rank != 3:
        raise InputDataError(f"from_ase needs a 3-D cell; got rank {atoms.cell.rank}")
    if labels is None:
        labels = (
            atoms.arrays["site_label"]
            if "site_label" in atoms.arrays
            else atoms.get_chemical_symbols()
        )
    labels = [str(s) for s in labels]
    if len(labels) != len(atoms):
        raise InputDataError(
            f"The 'labels' parameter of from_ase must have {len(atoms)} entries; got {len(labels)}"
        )
    return (
        np.array(atoms.cell.array, dtype=np.float64),
        np.asarray(atoms.numbers, dtype=np.int16),
        np.asarray(atoms.get_scaled_positions(wrap=False), dtype=np.float64),
        labels,
    )


def _check_fmt(fmt: str, func: str) -> None:
    if fmt not in EXTENSIONS:
        raise InputDataError(
            f"The 'fmt' parameter of {func} must be one of {sorted(EXTENSIONS)}; got {fmt!r}"
        )


def structure_text(record: StructureRecord, fmt: Format) -> str:
    """Serialize one structure as text.

    Parameters
    ----------
    record : StructureRecord
        The structure to serialize.
    fmt : {"cif", "extxyz", "poscar"}
        CIF via pymatgen ``CifWriter`` (P1, site labels as ``_atom_site_label``, made unique
        with a ``_1``, ``_2``, ... suffix where a label repeats, as CIF requires), POSCAR via
        pymatgen ``Poscar`` (comment line = candidate id, sites in stored order, direct
        coordinates), extxyz via ``ase.io.write`` (per-atom ``site_label`` column).

    Returns
    -------
    str

    Raises
    ------
    InputDataError
        If ``fmt`` is not one of the supported formats.
    """
    _check_fmt(fmt, "structure_text")
    if fmt == "extxyz":
        from ase.io import write

        buf = io.StringIO()
        write(buf, to_ase(record), format="extxyz")
        return buf.getvalue()
    structure = to_pymatgen(record)
    if fmt == "cif":
        from pymatgen.io.cif import CifWriter

        # CIF requires unique _atom_site_label values: "R(4g)" twice becomes "R(4g)_1", "R(4g)_2"
        for site, label in zip(structure, _unique_labels(record.site_labels), strict=True):
            site.label = label
        return str(CifWriter(structure))
    from pymatgen.io.vasp import Poscar

    return Poscar(structure, comment=record.candidate_id).get_str()


def _unique_labels(labels: Sequence[str]) -> list[str]:
    total: dict[str, int] = {}
    for lab in labels:
        total[lab] = total.get(lab, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        if total[lab] == 1:
            out.append(lab)
        else:
            seen[lab] = seen.get(lab, 0) + 1
            out.append(f"{lab}_{seen[lab]}")
    return out


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_structure(record: StructureRecord, fmt: Format, path: str | os.PathLike[str]) -> Path:
    """Write one structure to ``path`` (atomically: a temporary file, then ``os.replace``).

    Parameters
    ----------
    record : StructureRecord
        The structure to write.
    fmt : {"cif", "extxyz", "poscar"}
        File format, as in :func:`structure_text`.
    path : str or path-like
        Destination file; its directory must exist.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    text = structure_text(record, fmt)
    out = Path(path)
    _write_atomic(out, text)
    return out


def export(
    path_h5: str | os.PathLike[str],
    ids: Sequence[str] | None,
    fmt: Format,
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Export structures of a set, one file per structure named ``<candidate_id>.<ext>``.

    Parameters
    ----------
    path_h5 : str or path-like
        The structure set.
    ids : sequence of str or None
        Candidate ids to export, in this order (duplicates are written once); ``None``
        exports every structure in storage order.
    fmt : {"cif", "extxyz", "poscar"}
        Output format; extensions are ``.cif``, ``.extxyz`` and ``.vasp`` (POSCAR).
    out_dir : str or path-like
        Output directory, created if missing. Existing files of the same name are replaced.

    Returns
    -------
    list of pathlib.Path
        The written files, in export order.

    Raises
    ------
    InputDataError
        If ``fmt`` is unknown, or an id is not a safe file name (``^[A-Za-z0-9._-]+$``) or
        would resolve outside ``out_dir``. Nothing is written in these cases.
    StructureSetError
        If the set cannot be opened, or some ids are not in it (the message names them).
    """
    _check_fmt(fmt, "export")
    out = Path(out_dir)
    ext = EXTENSIONS[fmt]
    if ids is not None:
        ids = list(dict.fromkeys(str(i) for i in ids))
        _check_ids(ids)
    with StructureSet.open(path_h5, "r") as ss:
        stored = ss.structure_ids()
        if ids is None:
            ids = stored
            _check_ids(ids)
        else:
            known = set(stored)
            missing = [i for i in ids if i not in known]
            if missing:
                shown = ", ".join(repr(m) for m in missing[:10]) + (
                    " ..." if len(missing) > 10 else ""
                )
                raise StructureSetError(
                    f"{ss.path}: {len(missing)} id(s) not in the structure set: {shown}; "
                    f"list the valid ids with `regenome inspect {ss.path}` "
                    "or StructureSet.structure_ids()"
                )
        out.mkdir(parents=True, exist_ok=True)
        root = out.resolve()
        targets = {}
        for cid in ids:
            target = (out / f"{cid}.{ext}").resolve()
            if target.parent != root:
                raise InputDataError(f"exporting {cid!r} would write outside {out} (to {target})")
            targets[cid] = target
        written: list[Path] = []
        records = (
            ss.iter_structures()
            if len(ids) == len(stored) and ids == stored
            else map(ss.read_structure, ids)
        )
        for record in records:
            target = targets[record.candidate_id]
            _write_atomic(target, structure_text(record, fmt))
            written.append(out / target.name)
    return written


def _check_ids(ids: Sequence[str]) -> None:
    bad = [i for i in ids if not ID_PATTERN.fullmatch(i)]
    if bad:
        raise InputDataError(
            f"candidate id(s) {bad[:10]!r} cannot be used as file names; "
            f"ids must match {ID_PATTERN.pattern}"
        )
