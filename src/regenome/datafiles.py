"""Locate regenome's own curated tables and the external reference data.

Two kinds of data exist:

* the project's small curated tables (``data/`` in the source tree, shipped in
  the wheel as ``regenome/_data``), needed at run time;
* the third-party reference data used to train and calibrate (never shipped),
  found through ``--data``/``REGENOME_DATA`` or ``../shared/data`` beside a
  source checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from regenome.errors import DataFileError

_PACKAGE_DIR = Path(__file__).resolve().parent


def tables_dir() -> Path:
    """Directory of regenome's curated run-time tables."""
    installed = _PACKAGE_DIR / "_data"
    if installed.is_dir():
        return installed
    source_tree = _PACKAGE_DIR.parents[1] / "data"
    if source_tree.is_dir():
        return source_tree
    raise DataFileError(f"regenome's data tables are missing (looked in {installed} and {source_tree})")


def table_path(*parts: str) -> Path:
    """Path of one curated table, e.g. ``table_path("ndfeb", "end_members.csv")``."""
    path = tables_dir().joinpath(*parts)
    if not path.is_file():
        raise DataFileError(f"regenome data table {path} is missing; reinstall regenome")
    return path


def reference_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Directory of the external reference data (``magnets/``, ``elements/``...).

    Order: ``explicit`` argument (used or refused, never replaced), ``REGENOME_DATA``, then
    ``../shared/data`` next to the source checkout. Raises :class:`DataFileError` naming what
    was tried.
    """
    if explicit not in (None, ""):  # an explicit path is used or refused, never silently replaced
        path = Path(explicit).expanduser()
        if not (path / "magnets").is_dir():
            raise DataFileError(f"{path}: not a reference data folder (no magnets/ inside); "
                                "pass --data the folder holding magnets/, elements/ and phosphors/")
        return path.resolve()
    tried = []
    candidates = [explicit, os.environ.get("REGENOME_DATA"), _PACKAGE_DIR.parents[2] / "shared" / "data"]
    for cand in candidates:
        if cand is None or cand == "":
            continue
        path = Path(cand).expanduser()
        tried.append(str(path))
        if (path / "magnets").is_dir():
            return path.resolve()
    raise DataFileError(
        "reference data not found (tried: " + ", ".join(tried or ["nothing"]) + "); "
        "pass --data PATH or set REGENOME_DATA to the folder holding magnets/ and elements/"
    )
