"""Lab measurements: validation and the append-only local store.

``regenome ingest MEASURED.csv --family ndfeb|phosphor`` checks every row of a table of measured
properties and stores it, with its provenance, in the local store (:func:`home_dir`, the folder
``REGENOME_HOME``, default ``$XDG_DATA_HOME/regenome`` or ``~/.local/share/regenome``)::

    REGENOME_HOME/
      measurements/<family>/<UTC time>-<sha256[:16]>.csv    normalised rows (with their source line)
      measurements/<family>/<UTC time>-<sha256[:16]>.json   provenance: source path and sha256, time,
                                                            regenome version, row count (the commit record)
      models/<model>/<version>/correction.json              a correction layer (regenome.corrections)
      models/<model>/<version>/card.json                    its card: measurement files and sha256,
                                                            parameters, base model, metrics

Nothing in the store is ever overwritten: each ingest writes new files (a file content ingested
before is refused) and each ``regenome train MODEL --include-measurements`` writes a new version
folder ``<base version>+m<N>``. ``regenome predict`` and the ``ndfeb`` family use the newest version
trained on the base model they run; ``--model-version`` selects another, the base version is the
model without any correction; the correction layers and their versions live in
:mod:`regenome.corrected_models`. Design and assumptions: ``docs/lab-loop.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from regenome.errors import InputDataError

MAX_MEASURED_BYTES = 50_000_000


def home_dir() -> Path:
    """The local store: ``REGENOME_HOME``, else ``$XDG_DATA_HOME/regenome``, else ``~/.local/share/regenome``."""
    env = os.environ.get("REGENOME_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "regenome"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _regenome_version() -> str:
    from regenome import __version__

    return __version__


# -- columns and validation ---------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A column of a measured table: ``parse(text) -> value`` raises ``ValueError("problem; fix")``."""

    name: str
    required: bool
    parse: Callable[[str], object]


def _number(what: str, unit: str, lo: float, hi: float, hint: str, positive: bool = True) -> Callable[[str], float]:
    """Parser of a finite number in [lo, hi] (``positive``: > 0 first), with a unit hint in the fix."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number; give {what} in {unit}") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise ValueError(f"{text} is not a positive finite number; give {what} in {unit}")
        if not lo <= value <= hi:
            raise ValueError(f"{text} {unit} is outside the plausible range {lo:g}-{hi:g} {unit}; {hint}")
        return value
    return parse


def _ndfeb_formula(text: str) -> str:
    from regenome.predictors.formula_io import parse_ndfeb_formula

    try:
        parse_ndfeb_formula(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; write a 2:14:1 formula such as (Nd0.7Ce0.3)2(Fe0.95Co0.05)14B") from None
    return text


def _route(text: str) -> str:
    from regenome.predictors.ndfeb import ROUTES

    if text not in ROUTES:
        raise ValueError(f"unknown process {text!r}; use one of {', '.join(ROUTES)}")
    return text


def _host(text: str) -> str:
    from regenome.features.formula import parse_formulas

    _, errors = parse_formulas([text])
    if errors[0]:
        raise ValueError(f"cannot use host formula {text!r} ({errors[0]}); write the nominal host such as Y3Al5O12")
    return text


def _activator(text: str) -> str:
    from regenome.surrogates.phosphor_data import ACTIVATORS, parse_activators

    codes, errors = parse_activators([text])
    if errors[0]:
        raise ValueError(errors[0])
    return ACTIVATORS[int(codes[0])]


def _concentration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"{text!r} is not a fraction in (0, 1]; give the activator's fraction of the replaced "
                         "site, e.g. 0.02 for 2 %")
    return value


FAMILY_COLUMNS: dict[str, tuple[Column, ...]] = {
    "ndfeb": (
        Column("formula", True, _ndfeb_formula),
        Column("process", True, _route),
        Column("Br_T", True, _number("the remanence", "T", 0.05, 1.7, "is it in kG or mT? (1 T = 10 kG = 1000 mT)")),
        Column("Hcj_kA_m", True, _number("the intrinsic coercivity", "kA/m", 40.0, 5000.0,
                                         "is it in kOe or A/m? (1 kOe = 79.58 kA/m)")),
        Column("BHmax_kJ_m3", True, _number("the energy product", "kJ/m3", 1.0, 520.0,
                                            "is it in MGOe or J/m3? (1 MGOe = 7.958 kJ/m3)")),
        Column("temperature_K", False, _number("the measurement temperature", "K", 200.0, 600.0,
                                               "the ndfeb model covers 200-600 K (293 K = 20 degC)")),
        Column("source", False, str),
    ),
    "phosphor": (
        Column("host", True, _host),
        Column("activator", True, _activator),
        Column("concentration", True, _concentration),
        Column("emission_nm", True, _number("the emission peak", "nm", 200.0, 1100.0,
                                            "is it in eV? (nm = 1239.84 / eV)")),
        Column("T50_K", False, _number("the temperature of half intensity", "K", 50.0, 1500.0,
                                       "give kelvin (K = degC + 273.15)")),
        Column("source", False, str),
    ),
}
"""Measured columns per family, in the order they are stored."""
DEFAULTS = {"temperature_K": 293.0}


def _ndfeb_row_check(row: dict) -> tuple[str, str] | None:
    """BHmax cannot exceed Br^2/(4 mu0): (column, message) when it does (1 % tolerance)."""
    from regenome.units import MU0

    limit = row["Br_T"] ** 2 / (4.0 * MU0) / 1e3
    if row["BHmax_kJ_m3"] > 1.01 * limit:
        return "BHmax_kJ_m3", (f"{row['BHmax_kJ_m3']:g} kJ/m3 is above the limit Br^2/(4 mu0) = {limit:.0f} kJ/m3 "
                               f"of Br = {row['Br_T']:g} T; check both columns and their units "
                               "(1 MGOe = 7.958 kJ/m3, 1 T = 10 kG)")
    return None


ROW_CHECKS: dict[str, Callable[[dict], tuple[str, str] | None]] = {"ndfeb": _ndfeb_row_check}


def validate_table(path: Path, family: str, data: bytes, source: str | None = None) -> list[dict]:
    """Every row of a measured table as a dict of parsed values (plus ``line``), or one-line errors.

    Raises
    ------
    InputDataError
        ``FILE:LINE: column 'C': problem; fix`` for the first bad cell (and how many more there are).
    """
    if family not in FAMILY_COLUMNS:
        raise InputDataError(f"--family: unknown family {family!r}; valid: {', '.join(FAMILY_COLUMNS)}")
    columns = FAMILY_COLUMNS[family]
    required = [c.name for c in columns if c.required]
    optional = [c.name for c in columns if not c.required]
    header_hint = f"the header must include {', '.join(required)} (optional: {', '.join(optional)})"
    if b"\x00" in data:
        raise InputDataError(f"{path}: contains NUL bytes; not a UTF-8 CSV text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start}); "
                             "save it as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InputDataError(f"{path}: empty file; {header_hint}")
        header = [h.strip() for h in header]
        header_line = reader.line_num
        duplicated = sorted({h for h in header if h and header.count(h) > 1})
        if duplicated:
            raise InputDataError(f"{path}:{header_line}: column(s) {', '.join(duplicated)} appear twice; "
                                 "keep one of each")
        missing = [c for c in required if c not in header]
        if missing:
            raise InputDataError(f"{path}:{header_line}: column(s) {', '.join(missing)} missing; {header_hint}")
        errors: list[str] = []
        rows: list[dict] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                errors.append(f"{path}:{line}: the row has {len(cells)} cells, the header {len(header)}; "
                              "quote cells that contain commas")
                continue
            raw = dict(zip(header, (c.strip() for c in cells)))
            row: dict = {"line": line}
            bad = False
            for column in columns:
                value = raw.get(column.name, "")
                if not value:
                    if column.required:
                        errors.append(f"{path}:{line}: column '{column.name}': empty; every row needs a value")
                        bad = True
                    else:
                        row[column.name] = DEFAULTS.get(column.name, "")
                    continue
                try:
                    row[column.name] = column.parse(value)
                except ValueError as exc:
                    errors.append(f"{path}:{line}: column '{column.name}': {exc}")
                    bad = True
            if not bad and family in ROW_CHECKS:
                problem = ROW_CHECKS[family](row)
                if problem is not None:
                    errors.append(f"{path}:{line}: column '{problem[0]}': {problem[1]}")
                    bad = True
            if not bad:
                row["source"] = row.get("source") or source or Path(path).name
                rows.append(row)
    except csv.Error as exc:
        raise InputDataError(f"{path}:{reader.line_num}: not a readable CSV file ({exc})") from None
    if errors:
        more = f" (+{len(errors) - 1} more error(s) in this file)" if len(errors) > 1 else ""
        raise InputDataError(errors[0] + more)
    if not rows:
        raise InputDataError(f"{path}: no data rows; add one measured sample per line below the header")
    return rows


# -- the store ----------------------------------------------------------------------------------

@dataclass
class IngestResult:
    stored: Path
    provenance: dict
    message: str


def measurements_dir(family: str, home: Path | None = None) -> Path:
    return (home or home_dir()) / "measurements" / family


def _entries(family: str, home: Path | None = None) -> list[dict]:
    """Provenance records of the committed ingests of a family, oldest first."""
    folder = measurements_dir(family, home)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputDataError(f"{path}: unreadable provenance record ({exc}); the store is damaged") from None
        record["_folder"] = str(folder)
        out.append(record)
    return out


def _write_new(path: Path, data: bytes) -> None:
    """Write ``path`` atomically; never replace an existing file (FileExistsError)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.link(tmp, path)  # fails if path exists: append-only
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_if_ingested(path: Path, family: str, digest: str, home: Path | None) -> None:
    """InputDataError if a committed entry of the store holds content with sha256 ``digest``."""
    for entry in _entries(family, home):
        if entry.get("source_sha256") == digest:
            raise InputDataError(f"{path}: this content was already ingested on {entry.get('ingested_at')} "
                                 f"from {entry.get('source_file')} (sha256 {digest[:12]}...); nothing stored. "
                                 "The store is append-only: put only new rows in a new file")


def ingest_file(path: Path, family: str, source: str | None = None, home: Path | None = None) -> IngestResult:
    """Validate a measured table and store it, with its provenance, as a new entry of the store."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: " + ("a folder; give the measured CSV file" if path.is_dir() else "file not found"))
    if path.stat().st_size > MAX_MEASURED_BYTES:
        raise InputDataError(f"{path}: larger than {MAX_MEASURED_BYTES} bytes; split it into smaller files")
    data = path.read_bytes()
    rows = validate_table(path, family, data, source)
    digest = _sha256(data)
    _refuse_if_ingested(path, family, digest, home)
    now = datetime.now(timezone.utc)
    stem = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:16]}"
    folder = measurements_dir(family, home)
    folder.mkdir(parents=True, exist_ok=True)
    claim = folder / f".claim-{digest}"  # one per content: of two concurrent ingests only one gets it
    try:
        _write_new(claim, b"")
    except FileExistsError:
        _refuse_if_ingested(path, family, digest, home)
        raise InputDataError(f"{path}: another ingest of this content is running or was interrupted; nothing "
                             f"stored. If none is running, delete {claim} and ingest again") from None
    names = ["line"] + [c.name for c in FAMILY_COLUMNS[family]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    table = buffer.getvalue().encode("utf-8")
    stored, record_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    record = {"family": family, "stored_file": stored.name, "stored_sha256": _sha256(table),
              "source_file": str(path.resolve()), "source_sha256": digest, "source_label": source or "",
              "ingested_at": now.isoformat(timespec="seconds"), "regenome_version": _regenome_version(),
              "rows": len(rows), "columns": names}
    try:
        _write_new(stored, table)
        try:
            _write_new(record_path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))  # the commit record
        except BaseException:
            stored.unlink(missing_ok=True)
            raise
    except BaseException:
        claim.unlink(missing_ok=True)  # nothing committed: the content may be ingested again
        raise
    return IngestResult(stored, record, f"stored {len(rows)} {family} measurements from {path} as {stored}")


def load_measurements(family: str, home: Path | None = None) -> tuple[list[dict], list[dict]]:
    """All stored rows of a family (parsed again, with ``file``) and the provenance records, oldest first."""
    rows: list[dict] = []
    entries = _entries(family, home)
    for entry in entries:
        stored = Path(entry["_folder"]) / entry["stored_file"]
        try:
            data = stored.read_bytes()
        except OSError as exc:
            raise InputDataError(f"{stored}: cannot read a stored measurement file ({exc.strerror or exc}); "
                                 "the store is damaged") from None
        if _sha256(data) != entry.get("stored_sha256"):
            raise InputDataError(f"{stored}: sha256 differs from its provenance record; the store was edited. "
                                 "Move the file away and ingest its source again")
        source_lines = [r["line"] for r in csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))]
        for row, line in zip(validate_table(stored, family, data), source_lines):
            row["file"], row["line"] = entry["stored_file"], int(line)  # the line in the ingested file
            rows.append(row)
    return rows, entries
