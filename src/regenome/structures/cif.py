"""Read a user's CIF file into a pymatgen Structure, with a size limit and one-line errors.

Batch files that name a host structure (phosphor hosts, custom prototypes) read it through
:func:`read_cif`, so a missing, huge, binary or unparseable file is reported the same way
everywhere: the file, what is wrong, and what would work.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from regenome.errors import InputDataError

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Largest CIF read, in bytes (a 10,000-atom P1 cell is about 1 MB).
MAX_CIF_BYTES = 20_000_000


def read_cif(path: str | os.PathLike[str], max_bytes: int = MAX_CIF_BYTES) -> Structure:
    """The first structure in a CIF file (occupancies kept, symmetry expanded).

    Raises
    ------
    InputDataError
        If the file is missing, larger than ``max_bytes``, binary, not UTF-8/Latin-1 text,
        or holds no structure pymatgen can build.
    """
    from pymatgen.io.cif import CifParser

    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"{p}: CIF file not found; give a path relative to the batch file or an absolute one")
    size = p.stat().st_size
    if size > max_bytes:
        raise InputDataError(f"{p}: {size} bytes, larger than the {max_bytes}-byte limit for CIF files; "
                             "is it a CIF file?")
    raw = p.read_bytes()
    if b"\x00" in raw:
        raise InputDataError(f"{p}: binary file; a CIF file is text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "_cell_length_a" not in text:
        raise InputDataError(f"{p}: no '_cell_length_a' entry; not a crystal structure CIF")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns per questionable entry; the outcome is what counts
        try:
            structures = CifParser.from_str(text).parse_structures(primitive=False)
        except Exception as exc:  # noqa: BLE001 - the CIF parser raises many types on bad input
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InputDataError(f"{p}: not a readable CIF file ({first[:200]})") from None
    if not structures:
        raise InputDataError(f"{p}: the CIF holds no structure pymatgen can build (check atom sites and cell)")
    return structures[0]
