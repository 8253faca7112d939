"""The batch file: pydantic models and a loader with one-line errors.

A batch file is TOML. The tables every family shares live here (``[batch]``,
``[targets]``, ``[ranking]``, ``[execution]``, ``[funnel]``); a family adds its own
tables by subclassing :class:`BatchSpec` (see :mod:`regenome.families.ndfeb`).
Unknown keys are errors everywhere (``extra="forbid"``).
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regenome.errors import BatchSpecError

MAX_BATCH_BYTES = 1_000_000


class StrictModel(BaseModel):
    """Base of every batch-file table: unknown keys are errors, values are not coerced from text."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _short(value: Any) -> str:
    """``repr`` of a value, shortened for messages (TOML integers can have hundreds of digits)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:40] + "..." + text[-10:]


def _finite(value: float, what: str = "value") -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number; got {value}")
    return value


class BatchInfo(StrictModel):
    """``[batch]``: what the batch is."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                      description="Batch name: letters, digits, '.', '_' or '-' (used in ids and file names).")
    family: str = Field(description="Material family, e.g. 'ndfeb'.")
    seed: int = Field(0, ge=0, description="Seed for every random choice (sampling, structure decoration).")
    description: str = Field("", max_length=2000, description="Free text shown in the report.")


class TargetBound(StrictModel):
    """One target: ``{ min = ... }``, ``{ max = ... }`` or both, in the property's units."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _table(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a target is a table such as { min = 279 }, { max = 900 } or both; "
                             f"got {_short(data)}")
        return data

    @model_validator(mode="after")
    def _check(self) -> TargetBound:
        if self.min is None and self.max is None:
            raise ValueError("a target needs 'min', 'max' or both")
        for v in (self.min, self.max):
            if v is not None:
                _finite(v)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class Ranking(StrictModel):
    """``[ranking]``: objectives as ``"property:max"`` or ``"property:min"``, and how many to show."""

    objectives: list[str] = Field(default_factory=list, description="Objectives, 'property:max|min'.")
    top: int = Field(50, ge=1, le=100_000, description="Rows of the shortlist in the report.")
    keep: int = Field(100_000, ge=1, le=10_000_000,
                      description="Rows written to ranked.csv, best first (the whole candidate table "
                                  "is in structures.h5).")

    @field_validator("objectives")
    @classmethod
    def _syntax(cls, values: list[str]) -> list[str]:
        for v in values:
            if not re.fullmatch(r"[A-Za-z0-9_]+:(max|min)", v):
                raise ValueError(f"objective {v!r} must look like 'BHmax_kJ_m3:max' or 'raw_material_cost_usd_kg:min'")
        return values

    def parsed(self) -> list[tuple[str, str]]:
        """Objectives as (property, 'max'|'min') pairs."""
        return [tuple(v.split(":")) for v in self.objectives]  # type: ignore[misc]


class Execution(StrictModel):
    """``[execution]``: how to run; maps onto ``joblib.parallel_config``."""

    n_jobs: int = Field(1, description="Worker processes or threads; -1 means all cores.")
    backend: Literal["loky", "threading", "dask", "ray"] = Field("loky", description="joblib backend.")
    chunk_size: int = Field(5000, ge=100, le=1_000_000, description="Candidates per task.")

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, v: int) -> int:
        if v == 0 or v < -1:
            raise ValueError("n_jobs must be a positive number of workers or -1 for all cores; got " + str(v))
        return v


class Funnel(StrictModel):
    """``[funnel]``: how much work each stage does."""

    structures_for_top: int = Field(20, ge=0, le=10_000,
                                    description="Build and store crystal structures for this many top candidates.")
    max_candidates: int = Field(2_000_000, ge=1, description="Refuse batches larger than this (raise it explicitly).")
    sampling: Literal["grid", "sobol"] = Field("grid", description="Full grid, or a seeded quasi-random sample.")
    n_samples: int = Field(20_000, ge=1, description="Samples drawn when sampling = 'sobol'.")


class BatchSpec(StrictModel):
    """Tables shared by every family; a family subclasses this with its own tables."""

    batch: BatchInfo
    targets: dict[str, TargetBound] = Field(default_factory=dict)
    ranking: Ranking = Field(default_factory=Ranking)
    execution: Execution = Field(default_factory=Execution)
    funnel: Funnel = Field(default_factory=Funnel)

    #: property names a family can predict (checked against targets and objectives)
    known_properties: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _properties_known(self) -> BatchSpec:
        known = self.known_properties
        if not known:
            return self
        for name in self.targets:
            if name not in known:
                raise _FieldError(("targets", name), f"unknown property; valid: {', '.join(known)}")
        for i, (name, _) in enumerate(self.ranking.parsed()):
            if name not in known:
                raise _FieldError(("ranking", "objectives", i), f"unknown property {name!r}; valid: {', '.join(known)}")
        return self


class _FieldError(ValueError):
    """Raised inside validators to point at a precise location."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc, self.message = loc, message


# -- loading ------------------------------------------------------------------------------------

def read_batch_text(path: str | Path) -> str:
    """Read a batch file as text, with clear errors for missing, huge or binary files."""
    p = Path(path)
    if p.is_dir():
        raise BatchSpecError(str(p), "", "is a folder; pass the path of a .toml batch file")
    if not p.is_file():
        raise BatchSpecError(str(p), "", "file not found; pass the path of a .toml batch file")
    if p.stat().st_size > MAX_BATCH_BYTES:
        raise BatchSpecError(str(p), "", f"file is larger than {MAX_BATCH_BYTES} bytes; is it a batch file?")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BatchSpecError(str(p), "", f"cannot read the file ({exc.strerror}); "
                                         "check its permissions") from None
    if b"\x00" in raw:
        raise BatchSpecError(str(p), "", "binary file; a batch file is TOML text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchSpecError(str(p), "", "not UTF-8 text; save the batch file as UTF-8") from None


def spec_sha256(text: str) -> str:
    """sha256 of a batch file's text (recorded in provenance)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_batch(path: str | Path, max_candidates: int | None = None) -> BatchSpec:
    """Read and validate a batch file; the family named in ``[batch]`` supplies the schema.

    Raises
    ------
    BatchSpecError
        With the file, the dotted key, the TOML line where known, and what would be valid.
    """
    text = read_batch_text(path)
    return parse_batch(text, str(path), max_candidates=max_candidates)


def _batch_dir(path: str) -> str:
    """Folder that relative paths in a batch file are relative to (the working folder for text)."""
    p = Path(path)
    return str(p.parent.resolve()) if p.is_file() else str(Path.cwd())


def parse_batch(text: str, path: str = "<batch>", max_candidates: int | None = None,
                base_dir: str | None = None) -> BatchSpec:
    """Validate batch-file text (see :func:`load_batch`).

    Relative file paths in the batch (e.g. ``[hosts] files``) are taken relative to ``base_dir``,
    by default the folder of ``path``.

    ``max_candidates`` (from ``--max-candidates``) replaces ``[funnel] max_candidates`` so that a
    big batch runs only when someone raised the limit on purpose.
    """
    from regenome.families import family_names, get_family

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        raise BatchSpecError(path, "", f"invalid TOML: {exc}", int(match.group(1)) if match else None) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise BatchSpecError(path, "", f"invalid TOML: {str(exc).split(';')[0]}") from None
    batch = data.get("batch")
    if not isinstance(batch, dict):
        raise BatchSpecError(path, "batch", "missing table [batch] with name, family and seed")
    family_name = batch.get("family")
    if family_name not in family_names():
        raise BatchSpecError(path, "batch.family", f"unknown family {family_name!r}; valid: {', '.join(family_names())}",
                             _toml_line(text, ("batch", "family")))
    model = get_family(family_name).spec_model
    try:
        if max_candidates is not None:
            funnel = data.get("funnel")
            data["funnel"] = {**(funnel if isinstance(funnel, dict) else {}), "max_candidates": max_candidates}
        return model.model_validate(data, context={"batch_dir": base_dir or _batch_dir(path)})
    except ValidationError as exc:
        raise _to_spec_error(exc, model, text, path) from None
    except _FieldError as exc:
        raise BatchSpecError(path, _dotted(exc.loc), exc.message, _toml_line(text, exc.loc)) from None


def _dotted(loc: tuple) -> str:
    parts = (f"[{p}]" if isinstance(p, int) else _printable(p) for p in loc)
    return ".".join(parts).replace(".[", "[")


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits at


def _printable(part: Any) -> str:
    """A key as shown in a message: line breaks escaped, so the message stays one line."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in str(part))


def _to_spec_error(exc: ValidationError, model: type[BaseModel], text: str, path: str) -> BatchSpecError:
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _FieldError):
        loc, message = loc + ctx_error.loc, ctx_error.message
    elif err["type"] == "extra_forbidden":
        valid = _valid_keys(model, loc[:-1])
        message = "unknown key" + (f"; valid keys here: {', '.join(valid)}" if valid else "")
    elif err["type"] == "missing":
        message = _missing_message(model, loc)
    else:
        message = err["msg"].removeprefix("Value error, ")
        if "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], (dict, list)):
            message += f"; got {_short(err['input'])}"
    return BatchSpecError(path, _dotted(loc), message, _toml_line(text, loc))


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _missing_message(model: type[BaseModel], loc: tuple) -> str:
    parent: Any = model
    for part in loc[:-1]:
        fields = getattr(parent, "model_fields", None)
        annotation = fields[part].annotation if fields and part in fields else None
        parent = annotation if _is_model(annotation) else None
    info = getattr(parent, "model_fields", {}).get(loc[-1]) if loc else None
    if info is not None and _is_model(info.annotation):
        return (f"required table [{_dotted(loc)}] is missing; see workflows/ for complete "
                "batch files or `regenome schema` for every key")
    if info is not None and info.description:
        return f"required key is missing; {info.description}"
    return "required key is missing"


def _valid_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _toml_line(text: str, loc: tuple) -> int | None:
    """Best-effort 1-based line of a key given as a location tuple."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts:
        return None
    table: list[str] = []
    best = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        header = re.fullmatch(r"\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            table = [h.strip().strip('"') for h in header.group(1).split(".")]
            if table == parts:
                best = best or number
            continue
        key = re.match(r'("?[^"=]+"?)\s*=', line)
        if key:
            full = table + [k.strip().strip('"') for k in key.group(1).split(".")]
            if full == parts:
                return number
            if full == parts[: len(full)] and best is None:
                best = number
    return best
