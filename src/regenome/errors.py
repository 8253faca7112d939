"""Exceptions raised by regenome.

Every user-facing error carries enough context (file, field, what would be valid)
to be printed as one line by the CLI without a traceback.
"""

from __future__ import annotations


class RegenomeError(Exception):
    """Base class of all errors regenome raises on purpose."""


class BatchSpecError(RegenomeError, ValueError):
    """A batch file is unreadable or invalid.

    Parameters
    ----------
    path : str
        The batch file.
    field : str
        Dotted key of the offending field (``"composition.rare_earth.Nd"``), or ``""``.
    message : str
        What is wrong and what would be valid.
    line : int or None
        1-based TOML line of the key, when known.
    """

    def __init__(self, path: str, field: str, message: str, line: int | None = None):
        self.path, self.field, self.message, self.line = str(path), field, message, line
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class InputDataError(RegenomeError, ValueError):
    """A CSV or structure input cannot be used (missing column, unreadable file)."""


class StructureSetError(RegenomeError, ValueError):
    """An HDF5 structure set is missing, truncated, corrupted or of an unknown schema."""


class DataFileError(RegenomeError, FileNotFoundError):
    """A reference-data file needed for training or calibration is absent."""


class ModelFileError(RegenomeError, ValueError):
    """A model file or its card is missing, tampered with, or not safe to load."""
