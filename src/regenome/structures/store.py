"""HDF5 structure-set store: a versioned, appendable file of candidates and their structures.

This docstring is the file-format specification (``docs/hdf5-format.md`` is the user-facing copy).

Format ``regenome.structure_set``, schema version 1.0
=====================================================

Everything is readable with plain h5py: no pickles, and no JSON needed to read geometry.
Every dataset is chunked and resizable along its first axis (``maxshape=(None, ...)``), so a
set grows by appending chunks. Numeric datasets use gzip (level 4) with the shuffle filter.
Text datasets are HDF5 variable-length UTF-8 strings (``h5py.string_dtype()``); they are chunked
but not compressed (HDF5 cannot compress the heap that holds variable-length data).

Root attributes (all strings)
    ``format``            always ``"regenome.structure_set"``.
    ``schema_version``    ``"MAJOR.MINOR"``, currently ``"1.0"``.
    ``regenome_version``  version of regenome that created the file.
    ``created_utc``       ISO 8601 creation time, UTC, e.g. ``"2025-01-31T12:00:00+00:00"``.
    any other             string attributes given at creation (``batch_name``, ``batch_sha256``,
                          ``provenance_json``, ...).

Group ``/candidates``: a column table
    One 1-D dataset per column, all of the same length ``C`` (the number of candidates).
    Numeric columns are ``float64``, ``int64`` or ``bool``; text columns are variable-length
    UTF-8 strings. The column ``candidate_id`` is always present once rows exist.
    Group attribute ``columns``: the column names in insertion order (array of strings).
    Before the first append the group is empty and ``columns`` is an empty array.

Group ``/structures``: ``N`` ordered crystal structures as ragged arrays
    ============== ============ ================ ==================================================
    dataset        dtype        shape            meaning
    ============== ============ ================ ==================================================
    candidate_id   vlen str     (N,)             id of the candidate (unique within the set)
    formula        vlen str     (N,)             chemical formula, e.g. ``"Nd2Fe14B"``
    recipe_json    vlen str     (N,)             JSON object: how the structure was built
    n_sites        int32        (N,)             number of sites of structure i
    offsets        int64        (N + 1,)         ``offsets[0] = 0``,
                                                 ``offsets[i + 1] = offsets[i] + n_sites[i]``
    lattice        float64      (N, 3, 3)        lattice vectors as rows, Angstrom
    numbers        int16        (S,)             atomic number of each site, ``S = sum(n_sites)``
    frac_coords    float64      (S, 3)           fractional coordinates (not wrapped into [0, 1))
    site_label     int16        (S,)             index into ``site_label_names``
    site_label_names vlen str   (L,)             distinct site labels, e.g. ``"R(4f)"``,
                                                 ``"Fe(16k1)"``; only ever appended to, so an
                                                 index never changes meaning
    ============== ============ ================ ==================================================

    The sites of structure ``i`` are rows ``offsets[i]:offsets[i + 1]`` of ``numbers``,
    ``frac_coords`` and ``site_label``. Cartesian positions are ``frac_coords @ lattice[i]``.

Consistency
    After every append followed by :meth:`StructureSet.flush` (or close) the file on disk is
    a complete, valid set: all per-structure datasets have length ``N``, ``offsets`` has
    ``N + 1`` entries and ``offsets[-1]`` equals the length of the site datasets.

Versioning
    ``schema_version`` is ``"MAJOR.MINOR"``. A minor bump only adds optional datasets or
    attributes; readers of the same major version can read the file and ignore what they do not
    know. A major bump is incompatible: readers refuse any major version they do not know.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from regenome.errors import InputDataError, StructureSetError

__all__ = [
    "FORMAT_NAME",
    "SCHEMA_VERSION",
    "StructureRecord",
    "StructureSet",
    "describe",
]

FORMAT_NAME = "regenome.structure_set"
SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR = 1

_RESERVED_ATTRS = frozenset({"format", "schema_version", "regenome_version", "created_utc"})
_STR = h5py.string_dtype(encoding="utf-8")
_ROW_CHUNK = 1024  # structures / candidates per HDF5 chunk
_SITE_CHUNK = 16384  # sites per HDF5 chunk
_GZIP = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_MAX_LABELS = int(np.iinfo(np.int16).max) + 1
_READ_CHUNK = 4096  # structures read at once by iter_structures

# Per-structure and per-site datasets of /structures: name -> (dtype, trailing shape, per-site?)
_STRUCTURE_LAYOUT: dict[str, tuple[Any, tuple[int, ...], bool]] = {
    "candidate_id": (_STR, (), False),
    "formula": (_STR, (), False),
    "recipe_json": (_STR, (), False),
    "n_sites": (np.int32, (), False),
    "lattice": (np.float64, (3, 3), False),
    "numbers": (np.int16, (), True),
    "frac_coords": (np.float64, (3,), True),
    "site_label": (np.int16, (), True),
}


@dataclass(frozen=True, eq=False)
class StructureRecord:
    """One ordered crystal structure read from a structure set.

    The arrays are read-only views; copy them before modifying.

    Attributes
    ----------
    candidate_id : str
        Id of the candidate the structure belongs to.
    formula : str
        Chemical formula as stored.
    recipe : dict
        Parsed JSON recipe describing how the structure was built.
    lattice : numpy.ndarray of float64, shape (3, 3)
        Lattice vectors as rows, in Angstrom.
    numbers : numpy.ndarray of int16, shape (m,)
        Atomic number of each site.
    frac_coords : numpy.ndarray of float64, shape (m, 3)
        Fractional coordinates of each site (dimensionless).
    site_labels : list of str
        Crystallographic label of each site, e.g. ``"Fe(16k1)"``.
    """

    candidate_id: str
    formula: str
    recipe: dict[str, Any]
    lattice: np.ndarray
    numbers: np.ndarray
    frac_coords: np.ndarray
    site_labels: list[str]

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.numbers.shape[0])


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _decode(values: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _attr_str(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return _decode(value.tolist()) if value.dtype.kind in "OSU" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _regenome_version() -> str:
    from regenome import __version__

    return __version__


def _check_version(path: Path, f: h5py.File) -> None:
    fmt = f.attrs.get("format")
    if fmt is None:
        raise StructureSetError(
            f"{path}: not a regenome structure set (root attribute 'format' is missing)"
        )
    if _attr_str(fmt) != FORMAT_NAME:
        raise StructureSetError(
            f"{path}: not a regenome structure set (format is {_attr_str(fmt)!r}, "
            f"expected {FORMAT_NAME!r})"
        )
    version = _attr_str(f.attrs.get("schema_version", ""))
    major = str(version).split(".", 1)[0]
    if not major.isdigit():
        raise StructureSetError(
            f"{path}: invalid schema_version {version!r} (expected 'MAJOR.MINOR')"
        )
    if int(major) != SUPPORTED_MAJOR:
        raise StructureSetError(
            f"{path}: schema_version {version} is not supported by this regenome "
            f"(reads {SUPPORTED_MAJOR}.x); use a regenome release that reads major version {major}"
        )


def _check_layout(path: Path, f: h5py.File) -> None:
    for group in ("candidates", "structures"):
        if not isinstance(f.get(group), h5py.Group):
            raise StructureSetError(f"{path}: group '/{group}' is missing")
    g = f["structures"]
    for name in (*_STRUCTURE_LAYOUT, "offsets", "site_label_names"):
        if not isinstance(g.get(name), h5py.Dataset):
            raise StructureSetError(f"{path}: dataset '/structures/{name}' is missing")
    # ``n_structures`` (set after each whole append) lets datasets run ahead of it while an append
    # is under way; files without it must match exactly
    committed = g.attrs.get("n_structures")
    n = int(committed) if committed is not None else g["n_sites"].shape[0]

    def bad(have: int, want: int) -> bool:
        return have < want if committed is not None else have != want

    for name, (_, _, per_site) in _STRUCTURE_LAYOUT.items():
        if not per_site and bad(g[name].shape[0], n):
            raise StructureSetError(
                f"{path}: '/structures/{name}' has {g[name].shape[0]} rows, expected {n} "
                "(file was not closed after an append?)"
            )
    if bad(g["offsets"].shape[0], n + 1):
        raise StructureSetError(
            f"{path}: '/structures/offsets' has {g['offsets'].shape[0]} entries, expected {n + 1}"
        )
    n_total = int(g["offsets"][n])
    for name in ("numbers", "frac_coords", "site_label"):
        if bad(g[name].shape[0], n_total):
            raise StructureSetError(
                f"{path}: '/structures/{name}' has {g[name].shape[0]} sites, offsets say {n_total}"
            )
    c = f["candidates"]
    cols = _decode(np.atleast_1d(c.attrs.get("columns", np.array([], dtype=object))).tolist())
    lengths = {col: c[col].shape[0] for col in cols if isinstance(c.get(col), h5py.Dataset)}
    missing = [col for col in cols if col not in lengths]
    if missing:
        raise StructureSetError(f"{path}: candidate column(s) {missing} listed but missing")
    committed = c.attrs.get("n_rows")
    if committed is None:
        if len(set(lengths.values())) > 1:
            raise StructureSetError(f"{path}: candidate columns have different lengths {lengths}")
    elif any(v < int(committed) for v in lengths.values()):
        raise StructureSetError(f"{path}: candidate columns are shorter than the {int(committed)} rows "
                                f"written: {lengths}")


def _drop_partial_append(f: h5py.File) -> None:
    """Cut rows past ``n_rows`` / ``n_structures`` (an append that was killed midway)."""
    c = f["candidates"]
    if "n_rows" in c.attrs:
        n = int(c.attrs["n_rows"])
        for name in _decode(np.atleast_1d(c.attrs.get("columns", np.array([], dtype=object))).tolist()):
            if c[name].shape[0] > n:
                c[name].resize(n, axis=0)
    g = f["structures"]
    if "n_structures" in g.attrs:
        n = int(g.attrs["n_structures"])
        sizes = {name: n for name, (_, _, per_site) in _STRUCTURE_LAYOUT.items() if not per_site}
        sizes.update({"offsets": n + 1}, **dict.fromkeys(("numbers", "frac_coords", "site_label"),
                                                         int(g["offsets"][n])))
        for name, size in sizes.items():
            if g[name].shape[0] > size:
                g[name].resize(size, axis=0)


def _column_kind(name: str, values: np.ndarray) -> Literal["f", "i", "b", "s"]:
    kind = values.dtype.kind
    if kind == "f":
        return "f"
    if kind in "iu":
        return "i"
    if kind == "b":
        return "b"
    if kind in "US":
        return "s"
    if kind == "O" and all(isinstance(v, str) for v in values.tolist()):
        return "s"
    raise InputDataError(
        f"candidate column '{name}' has dtype {values.dtype}; "
        "expected float, int, bool or str values"
    )


_KIND_DTYPE = {"f": np.dtype(np.float64), "i": np.dtype(np.int64), "b": np.dtype(bool), "s": _STR}
_KIND_NAME = {"f": "float64", "i": "int64", "b": "bool", "s": "str"}


def _kind_of_dataset(ds: h5py.Dataset) -> str:
    if h5py.check_string_dtype(ds.dtype) is not None:
        return "s"
    return {"f": "f", "i": "i", "u": "i", "b": "b"}.get(ds.dtype.kind, "?")


def _append_rows(ds: h5py.Dataset, values: np.ndarray) -> None:
    start = ds.shape[0]
    ds.resize(start + values.shape[0], axis=0)
    ds[start:] = values


#: Pauses (s) between the attempts of a reader to open a file that is being written.
_READ_RETRY_S = (0.05, 0.2)


class StructureSet:
    """An open HDF5 structure set (see the module docstring for the file layout).

    Do not call the constructor; use :meth:`create` or :meth:`open`. Use as a context manager
    so the file is closed on exit::

        with StructureSet.create("set.h5", attrs={"batch_name": "ce-ndfeb"}) as ss:
            ss.append_candidates({"candidate_id": ids, "x_ce": x})
            ss.append_structures(ids, formulas, recipes, lattices, numbers, coords, labels)

    Parameters
    ----------
    file : h5py.File
        An open file that has already been validated.
    path : pathlib.Path
        Its path, used in error messages.
    """

    def __init__(self, file: h5py.File, path: Path):
        self._f: h5py.File | None = file
        self._path = path
        self._writable = file.mode != "r"
        g = file["structures"]
        self._label_names: list[str] = _decode(g["site_label_names"][()].tolist())
        self._label_codes: dict[str, int] = {s: i for i, s in enumerate(self._label_names)}
        self._id_index: dict[str, int] | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        attrs: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> StructureSet:
        """Create an empty structure set and open it for writing.

        Parameters
        ----------
        path : str or path-like
            File to create.
        attrs : mapping of str to str, optional
            Extra root attributes (``batch_name``, ``batch_sha256``, ``provenance_json``, ...).
            The names ``format``, ``schema_version``, ``regenome_version`` and ``created_utc``
            are reserved.
        overwrite : bool, default False
            Replace an existing file. Without it an existing file raises.

        Returns
        -------
        StructureSet
            Open in append mode.

        Raises
        ------
        StructureSetError
            If the file exists and ``overwrite`` is false, or cannot be created.
        InputDataError
            If an attribute is not a string or uses a reserved name.
        """
        path = Path(path)
        extra = dict(attrs or {})
        for key, value in extra.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InputDataError(
                    f"The 'attrs' parameter of StructureSet.create must map str to str; "
                    f"got {key!r}: {type(value).__name__}"
                )
            if key in _RESERVED_ATTRS:
                raise InputDataError(
                    f"The 'attrs' parameter of StructureSet.create must not set the reserved "
                    f"attribute {key!r} (reserved: {sorted(_RESERVED_ATTRS)})"
                )
        if path.exists() and not overwrite:
            raise StructureSetError(f"{path}: file exists; pass overwrite=True to replace it")
        try:
            f = h5py.File(path, "w")
        except OSError as exc:
            raise StructureSetError(f"{path}: cannot create file ({_short(exc)})") from exc
        try:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["regenome_version"] = _regenome_version()
            f.attrs["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
            for key, value in extra.items():
                f.attrs[key] = value
            c = f.create_group("candidates")
            c.attrs["columns"] = np.array([], dtype=_STR)
            g = f.create_group("structures")
            for name, (dtype, trailing, per_site) in _STRUCTURE_LAYOUT.items():
                _create_dataset(g, name, dtype, trailing, _SITE_CHUNK if per_site else _ROW_CHUNK)
            offsets = _create_dataset(g, "offsets", np.int64, (), _ROW_CHUNK)
            offsets.resize(1, axis=0)
            offsets[0] = 0
            _create_dataset(g, "site_label_names", _STR, (), 256)
            f.flush()
        except Exception:
            f.close()
            raise
        return cls(f, path)

    @classmethod
    def open(cls, path: str | os.PathLike[str], mode: Literal["r", "a"] = "r") -> StructureSet:
        """Open an existing structure set.

        Parameters
        ----------
        path : str or path-like
            The ``.h5`` file.
        mode : {"r", "a"}, default "r"
            Read only, or read and append. Readers do not take HDF5's file lock, so a run's
            file can be read while the run appends to it (the writer flushes after each chunk).

        Returns
        -------
        StructureSet

        Raises
        ------
        StructureSetError
            If the file is missing, not HDF5, truncated or corrupted, is not a regenome
            structure set, has an unsupported major schema version, or its datasets are
            inconsistent.
        """
        if mode not in ("r", "a"):
            raise InputDataError(
                f"The 'mode' parameter of StructureSet.open must be 'r' or 'a'; got {mode!r}"
            )
        path = Path(path)
        if not path.exists():
            raise StructureSetError(f"{path}: no such file")
        if not path.is_file():
            raise StructureSetError(f"{path}: not a regular file")
        if mode == "r":
            # A reader may open a file while its writer flushes a chunk (no SWMR): HDF5 can then see a
            # half-written block for a moment. Try again briefly before calling the file unreadable.
            for wait in _READ_RETRY_S:
                try:
                    return cls._open(path, mode)
                except StructureSetError:
                    time.sleep(wait)
        return cls._open(path, mode)

    @classmethod
    def _open(cls, path: Path, mode: Literal["r", "a"]) -> StructureSet:
        try:
            f = h5py.File(path, "r", locking=False) if mode == "r" else h5py.File(path, "r+")
        except OSError as exc:
            raise StructureSetError(f"{path}: not a readable HDF5 file ({_short(exc)})") from exc
        try:
            _check_version(path, f)
            _check_layout(path, f)
            if mode == "a":
                _drop_partial_append(f)
            return cls(f, path)
        except StructureSetError:
            f.close()
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            f.close()
            raise StructureSetError(f"{path}: corrupted structure set ({_short(exc)})") from exc

    def __enter__(self) -> StructureSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._f is None
            else f"{len(self)} structures, {self.n_candidates} candidates"
        )
        return f"StructureSet({str(self._path)!r}, {state})"

    def flush(self) -> None:
        """Write buffered data to disk; the file is then a complete, readable set."""
        self._file().flush()

    def close(self) -> None:
        """Flush and close the file. Closing twice is allowed."""
        if self._f is not None:
            self._f.close()
            self._f = None

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """Path of the file."""
        return self._path

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes as a plain dict (strings decoded)."""
        return {k: _attr_str(v) for k, v in self._file().attrs.items()}

    def set_attrs(self, attrs: Mapping[str, str]) -> None:
        """Add or replace string root attributes (e.g. ``provenance_json`` when a run completes)."""
        f = self._writable_file()
        for key, value in attrs.items():
            if not isinstance(key, str) or not isinstance(value, str) or key in _RESERVED_ATTRS:
                raise InputDataError(
                    f"The 'attrs' parameter of StructureSet.set_attrs must map str to str and avoid "
                    f"the reserved attributes {sorted(_RESERVED_ATTRS)}; got {key!r}"
                )
            f.attrs[key] = value

    @property
    def candidate_columns(self) -> list[str]:
        """Names of the candidate columns, in insertion order."""
        cols = self._file()["candidates"].attrs.get("columns", np.array([], dtype=object))
        return _decode(np.atleast_1d(cols).tolist())

    @property
    def row_chunk(self) -> int:
        """Rows per HDF5 chunk of the candidate columns (reads aligned to it touch fewer chunks)."""
        g = self._file()["candidates"]
        cols = self.candidate_columns
        chunks = g[cols[0]].chunks if cols else None
        return int(chunks[0]) if chunks else _ROW_CHUNK

    @property
    def n_candidates(self) -> int:
        """Number of rows of the candidate table (whole appends only: ``/candidates`` attribute ``n_rows``)."""
        g = self._file()["candidates"]
        if "n_rows" in g.attrs:
            return int(g.attrs["n_rows"])
        cols = self.candidate_columns
        return int(g[cols[0]].shape[0]) if cols else 0

    @property
    def site_label_names(self) -> list[str]:
        """All distinct site labels in the set; ``site_label`` codes index this list."""
        return list(self._label_names)

    def __len__(self) -> int:
        """Return the number of structures (whole appends only: ``/structures`` attribute ``n_structures``)."""
        g = self._file()["structures"]
        if "n_structures" in g.attrs:
            return int(g.attrs["n_structures"])
        return int(g["n_sites"].shape[0])

    # ------------------------------------------------------------------ writing
    def append_candidates(self, columns: Mapping[str, np.ndarray | Sequence[Any]]) -> None:
        """Append rows to the candidate table.

        Parameters
        ----------
        columns : mapping of str to 1-D array-like
            One array per column, all of the same length. Must include ``candidate_id``
            (str). Every call must give exactly the columns of the first call, each with the
            same kind (float, int, bool or str). Ints are stored as int64, floats as float64.

        Raises
        ------
        InputDataError
            On a missing or extra column, a column of another kind than before, columns of
            different lengths, or an unsupported dtype. The message names the column.
        StructureSetError
            If the set is open read-only.
        """
        f = self._writable_file()
        g = f["candidates"]
        if "candidate_id" not in columns:
            raise InputDataError("candidate columns must include 'candidate_id'")
        arrays: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            if not isinstance(name, str) or not name or "/" in name or name == ".":
                raise InputDataError(f"candidate column name {name!r} is not a valid name")
            a = np.asarray(values)
            if a.ndim != 1:
                raise InputDataError(f"candidate column '{name}' must be 1-D; got shape {a.shape}")
            arrays[name] = a
        lengths = {name: a.shape[0] for name, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise InputDataError(f"candidate columns must have the same length; got {lengths}")
        if _column_kind("candidate_id", arrays["candidate_id"]) != "s":
            raise InputDataError("candidate column 'candidate_id' must hold str values")

        existing = self.candidate_columns
        if existing:
            missing = [c for c in existing if c not in arrays]
            extra = [c for c in arrays if c not in existing]
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"missing column(s) {missing}")
                if extra:
                    parts.append(f"unexpected column(s) {extra}")
                raise InputDataError(
                    f"{self._path}: candidate chunk does not match the table: {'; '.join(parts)} "
                    f"(table columns: {existing})"
                )
            for name in existing:
                want = _kind_of_dataset(g[name])
                got = _column_kind(name, arrays[name])
                if got != want and not (want == "f" and got in "ib"):
                    raise InputDataError(
                        f"candidate column '{name}' holds {_KIND_NAME.get(want, want)} in "
                        f"{self._path}; got {arrays[name].dtype}"
                    )
        else:
            kinds = {name: _column_kind(name, a) for name, a in arrays.items()}
            order = ["candidate_id", *[c for c in arrays if c != "candidate_id"]]
            for name in order:
                _create_dataset(g, name, _KIND_DTYPE[kinds[name]], (), _ROW_CHUNK)
            g.attrs["columns"] = np.array(order, dtype=_STR)
            existing = order

        for name in existing:
            ds = g[name]
            a = arrays[name]
            if _kind_of_dataset(ds) == "s":
                a = np.array([str(v) for v in a.tolist()], dtype=object)
            else:
                a = a.astype(ds.dtype, copy=False)
            _append_rows(ds, a)
        g.attrs["n_rows"] = g[existing[0]].shape[0]  # readers see whole appends only

    def append_structures(
        self,
        candidate_ids: Sequence[str],
        formulas: Sequence[str],
        recipes_json: Sequence[str | Mapping[str, Any]],
        lattices: np.ndarray,
        numbers: Sequence[np.ndarray],
        frac_coords: Sequence[np.ndarray],
        site_labels: Sequence[Sequence[str]],
    ) -> None:
        """Append ``n`` ordered structures.

        Parameters
        ----------
        candidate_ids : sequence of str, length n
            Unique ids (also unique against structures already in the set).
        formulas : sequence of str, length n
            Chemical formulas.
        recipes_json : sequence of str or mapping, length n
            JSON objects (as text, or as mappings that are serialized with sorted keys)
            describing how each structure was built.
        lattices : array-like of float, shape (n, 3, 3)
            Lattice vectors as rows, Angstrom. Must be finite and non-singular.
        numbers : sequence of n int arrays, shape (m_i,)
            Atomic numbers (1-118) of the sites of each structure; ``m_i >= 1``.
        frac_coords : sequence of n float arrays, shape (m_i, 3)
            Fractional coordinates, finite; stored as given (not wrapped).
        site_labels : sequence of n sequences of str, length m_i
            Crystallographic site labels such as ``"R(4f)"``; non-empty, no whitespace.

        Raises
        ------
        InputDataError
            If lengths or shapes disagree, values are out of range, an id is duplicated, or
            a recipe is not a JSON object. Nothing is written in that case.
        StructureSetError
            If the set is open read-only.
        """
        f = self._writable_file()
        ids = [str(i) for i in candidate_ids]
        n = len(ids)
        lengths = {
            "formulas": len(formulas),
            "recipes_json": len(recipes_json),
            "numbers": len(numbers),
            "frac_coords": len(frac_coords),
            "site_labels": len(site_labels),
        }
        bad = {k: v for k, v in lengths.items() if v != n}
        if bad:
            raise InputDataError(f"append_structures got {n} candidate_ids but lengths {bad}")
        lat = np.asarray(lattices, dtype=np.float64)
        if n == 0:
            return
        if lat.shape != (n, 3, 3):
            raise InputDataError(
                f"The 'lattices' parameter must have shape ({n}, 3, 3); got {lat.shape}"
            )
        if not np.isfinite(lat).all():
            raise InputDataError("The 'lattices' parameter must be finite")
        vol = np.abs(np.linalg.det(lat))
        if (vol < 1e-6).any():
            i = int(np.argmax(vol < 1e-6))
            raise InputDataError(
                f"lattice of structure '{ids[i]}' is singular (volume {vol[i]:.3g} A^3)"
            )

        index = self._ids()
        seen: set[str] = set()
        dups: list[str] = []
        for cid in ids:
            if cid in index or cid in seen:
                dups.append(cid)
            seen.add(cid)
        if dups:
            raise InputDataError(
                f"duplicate candidate_id(s) in structures: {sorted(set(dups))[:10]}"
            )

        recipes: list[str] = []
        for cid, r in zip(ids, recipes_json, strict=True):
            text = json.dumps(dict(r), sort_keys=True) if isinstance(r, Mapping) else r
            if not isinstance(text, str):
                raise InputDataError(
                    f"recipe of '{cid}' must be a JSON string or a mapping; got {type(r).__name__}"
                )
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputDataError(f"recipe of '{cid}' is not valid JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise InputDataError(
                    f"recipe of '{cid}' must be a JSON object; got {type(parsed).__name__}"
                )
            recipes.append(text)
        forms = [str(s) for s in formulas]

        counts = np.empty(n, dtype=np.int64)
        z_parts, x_parts, labels_flat = [], [], []
        for k, (cid, z, x, lab) in enumerate(
            zip(ids, numbers, frac_coords, site_labels, strict=True)
        ):
            z = np.asarray(z)
            x = np.asarray(x, dtype=np.float64)
            m = z.shape[0] if z.ndim == 1 else -1
            if z.ndim != 1 or m < 1 or z.dtype.kind not in "iu":
                raise InputDataError(
                    f"numbers of '{cid}' must be a non-empty 1-D int array; "
                    f"got dtype {z.dtype}, shape {z.shape}"
                )
            if x.shape != (m, 3):
                raise InputDataError(
                    f"frac_coords of '{cid}' must have shape ({m}, 3); got {x.shape}"
                )
            if len(lab) != m:
                raise InputDataError(
                    f"site_labels of '{cid}' must have {m} entries; got {len(lab)}"
                )
            counts[k] = m
            z_parts.append(z)
            x_parts.append(x)
            labels_flat.extend(lab)
        z_all = np.concatenate(z_parts)
        x_all = np.concatenate(x_parts)
        if z_all.min() < 1 or z_all.max() > 118:
            raise InputDataError(
                f"atomic numbers must be in 1..118; got range {z_all.min()}..{z_all.max()}"
            )
        if not np.isfinite(x_all).all():
            raise InputDataError("frac_coords must be finite")
        if counts.max() > np.iinfo(np.int32).max:
            raise InputDataError("a structure has more sites than int32 can count")
        label_codes = self._encode_labels(labels_flat)

        g = f["structures"]
        start_site = int(g["offsets"][len(self)])
        _append_rows(g["candidate_id"], np.array(ids, dtype=object))
        _append_rows(g["formula"], np.array(forms, dtype=object))
        _append_rows(g["recipe_json"], np.array(recipes, dtype=object))
        _append_rows(g["lattice"], lat)
        _append_rows(g["numbers"], z_all.astype(np.int16))
        _append_rows(g["frac_coords"], x_all)
        _append_rows(g["site_label"], label_codes)
        _append_rows(g["n_sites"], counts.astype(np.int32))
        _append_rows(g["offsets"], start_site + np.cumsum(counts))
        g.attrs["n_structures"] = g["n_sites"].shape[0]  # readers see whole appends only
        if self._id_index is not None:
            base = len(self._id_index)
            self._id_index.update({cid: base + k for k, cid in enumerate(ids)})

    def _encode_labels(self, labels: list[str]) -> np.ndarray:
        # new labels get codes in order of first appearance, so chunking never changes codes
        names = np.asarray(labels, dtype=object).astype(str)
        uniq, first, inverse = np.unique(names, return_index=True, return_inverse=True)
        new = [
            str(uniq[j])
            for j in np.argsort(first, kind="stable")
            if str(uniq[j]) not in self._label_codes
        ]
        for s in new:
            if not s or any(ch.isspace() for ch in s):
                raise InputDataError(
                    f"site label {s!r} must be non-empty and contain no whitespace"
                )
        if len(self._label_names) + len(new) > _MAX_LABELS:
            raise InputDataError(
                f"a structure set holds at most {_MAX_LABELS} distinct site labels"
            )
        if new:
            _append_rows(self._file()["structures/site_label_names"], np.array(new, dtype=object))
            for s in new:
                self._label_codes[s] = len(self._label_names)
                self._label_names.append(s)
        lut = np.array([self._label_codes[str(s)] for s in uniq.tolist()], dtype=np.int16)
        return lut[inverse.reshape(-1)]

    # ------------------------------------------------------------------ reading
    def structure_ids(self) -> list[str]:
        """Candidate ids of the stored structures, in storage order."""
        ds = self._file()["structures/candidate_id"]
        try:
            return ds.asstr()[: len(self)].tolist()
        except OSError as exc:
            raise StructureSetError(
                f"{self._path}: cannot read candidate ids ({_short(exc)})"
            ) from exc

    def index_of(self, candidate_id: str) -> int:
        """Row of the structure with this candidate id.

        Raises
        ------
        StructureSetError
            If no structure has this id.
        """
        try:
            return self._ids()[candidate_id]
        except KeyError:
            raise StructureSetError(
                f"{self._path}: no structure with candidate_id {candidate_id!r} "
                f"(list the ids with `regenome inspect {self._path}` "
                "or StructureSet.structure_ids())"
            ) from None

    def read_structure(self, key: int | str) -> StructureRecord:
        """Read one structure.

        Parameters
        ----------
        key : int or str
            Row index (negative counts from the end) or candidate id.

        Returns
        -------
        StructureRecord

        Raises
        ------
        StructureSetError
            If the index is out of range, the id is unknown, or the data cannot be read.
        """
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = len(self)
            i = int(key)
            if not -n <= i < n:
                raise StructureSetError(
                    f"{self._path}: structure index {i} out of range (set has {n})"
                )
            i %= n
        elif isinstance(key, str):
            i = self.index_of(key)
        else:
            raise InputDataError(
                f"structure key must be an int or a candidate id; got {type(key).__name__}"
            )
        return next(self._iter_range(i, i + 1))

    def iter_structures(self, chunk_size: int = _READ_CHUNK) -> Iterator[StructureRecord]:
        """Yield every structure in storage order, reading ``chunk_size`` at a time."""
        if chunk_size < 1:
            raise InputDataError(f"The 'chunk_size' parameter must be >= 1; got {chunk_size}")
        n = len(self)
        for start in range(0, n, chunk_size):
            yield from self._iter_range(start, min(start + chunk_size, n))

    def _iter_range(self, start: int, stop: int) -> Iterator[StructureRecord]:
        g = self._file()["structures"]
        try:
            offsets = g["offsets"][start : stop + 1]
            a, b = int(offsets[0]), int(offsets[-1])
            ids = g["candidate_id"].asstr()[start:stop]
            forms = g["formula"].asstr()[start:stop]
            recipes = g["recipe_json"].asstr()[start:stop]
            lat = g["lattice"][start:stop]
            z = g["numbers"][a:b]
            x = g["frac_coords"][a:b]
            lab = g["site_label"][a:b]
        except (OSError, ValueError) as exc:
            raise StructureSetError(
                f"{self._path}: cannot read structures {start}..{stop - 1} ({_short(exc)})"
            ) from exc
        names = self._label_names
        local = offsets - a
        for k in range(stop - start):
            s, e = int(local[k]), int(local[k + 1])
            codes = lab[s:e]
            if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
                raise StructureSetError(
                    f"{self._path}: structure '{ids[k]}' has a site_label outside site_label_names"
                )
            try:
                recipe = json.loads(recipes[k])
            except json.JSONDecodeError as exc:
                raise StructureSetError(
                    f"{self._path}: recipe_json of '{ids[k]}' is not valid JSON ({exc})"
                ) from exc
            yield StructureRecord(
                candidate_id=str(ids[k]),
                formula=str(forms[k]),
                recipe=recipe,
                lattice=_readonly(lat[k].copy()),
                numbers=_readonly(z[s:e].copy()),
                frac_coords=_readonly(x[s:e].copy()),
                site_labels=[names[c] for c in codes.tolist()],
            )

    def read_candidates(self, columns: Sequence[str] | None = None,
                        rows: slice | None = None, take: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Read candidate columns.

        Parameters
        ----------
        columns : sequence of str, optional
            Columns to read; all by default.
        rows : slice, optional
            Rows to read (all by default); read a large table in slices to bound memory.
        take : array of int, optional
            Positions within ``rows`` to return (text is decoded for these rows only).

        Returns
        -------
        dict of str to numpy.ndarray
            Numeric columns as float64/int64/bool arrays; text columns as object arrays of
            ``str``.

        Raises
        ------
        StructureSetError
            If a requested column does not exist (the message lists the available ones).
        """
        g = self._file()["candidates"]
        available = self.candidate_columns
        wanted = available if columns is None else list(columns)
        unknown = [c for c in wanted if c not in available]
        if unknown:
            raise StructureSetError(
                f"{self._path}: unknown candidate column(s) {unknown}; available: {available}"
            )
        out: dict[str, np.ndarray] = {}
        n = self.n_candidates
        sel = slice(0, n) if rows is None else slice(*slice(rows.start, rows.stop).indices(n))
        for name in wanted:
            ds = g[name]
            try:
                text = _kind_of_dataset(ds) == "s"
                if take is None:
                    out[name] = ds.asstr()[sel] if text else ds[sel]
                else:  # decode only the taken rows
                    out[name] = np.array(_decode(ds[sel][take]), dtype=object) if text else ds[sel][take]
            except OSError as exc:
                raise StructureSetError(
                    f"{self._path}: cannot read candidate column '{name}' ({_short(exc)})"
                ) from exc
        return out

    # ------------------------------------------------------------------ helpers
    def _file(self) -> h5py.File:
        if self._f is None:
            raise StructureSetError(f"{self._path}: structure set is closed")
        return self._f

    def _writable_file(self) -> h5py.File:
        f = self._file()
        if not self._writable:
            raise StructureSetError(
                f"{self._path}: opened read-only; use StructureSet.open(path, mode='a') to append"
            )
        return f

    def _ids(self) -> dict[str, int]:
        if self._id_index is None:
            self._id_index = {cid: i for i, cid in enumerate(self.structure_ids())}
        return self._id_index


def _create_dataset(
    g: h5py.Group, name: str, dtype: Any, trailing: tuple[int, ...], chunk: int
) -> h5py.Dataset:
    filters = {} if h5py.check_string_dtype(np.dtype(dtype)) is not None else _GZIP
    return g.create_dataset(
        name,
        shape=(0, *trailing),
        maxshape=(None, *trailing),
        chunks=(chunk, *trailing),
        dtype=dtype,
        **filters,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summarize a structure set (used by ``regenome inspect FILE.h5``).

    Parameters
    ----------
    path : str or path-like
        The ``.h5`` file.

    Returns
    -------
    dict
        ``path``, ``schema_version``, ``attrs`` (all root attributes), ``n_candidates``,
        ``n_structures``, ``n_sites`` (total), ``candidate_columns``,
        ``n_distinct_formulas`` (over structures), ``first_ids`` (up to 5 structure ids)
        and ``file_size_bytes``.

    Raises
    ------
    StructureSetError
        As :meth:`StructureSet.open`.
    """
    p = Path(path)
    with StructureSet.open(p, "r") as ss:
        g = ss._file()["structures"]
        n = len(ss)
        formulas = g["formula"][:n]
        return {
            "path": str(p),
            "schema_version": str(ss.attrs.get("schema_version")),
            "attrs": ss.attrs,
            "n_candidates": ss.n_candidates,
            "n_structures": n,
            "n_sites": int(g["offsets"][n]),
            "candidate_columns": ss.candidate_columns,
            "n_distinct_formulas": len(set(formulas.tolist())),
            "first_ids": g["candidate_id"].asstr()[: min(n, 5)].tolist(),
            "file_size_bytes": p.stat().st_size,
        }
