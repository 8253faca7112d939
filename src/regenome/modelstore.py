"""Save and load trained surrogates safely: skops files checked against their model card.

A model lives in a folder ``<models dir>/<name>/`` holding ``card.json`` and the
files the card lists with their sha256. :func:`load_model` verifies every hash
*before* opening a file, opens only skops files, and accepts only object types
from scikit-learn, numpy, scipy and regenome. Nothing is unpickled unless the caller passes
``trust=True`` for a joblib file they trained themselves.

The models directory is ``REGENOME_MODELS_DIR`` when set, else the models shipped
with the package (``regenome/_models`` in a wheel, ``models/`` in a checkout).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regenome.errors import ModelFileError

_PACKAGE_DIR = Path(__file__).resolve().parent
CARD_NAME = "card.json"
SAFE_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "regenome.", "builtins.", "collections.")


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="File name relative to the reference-data folder.")
    sha256: str
    rows_in_file: int
    rows_used: int
    source: str
    filtering: str = Field("", description="Which rows were dropped or merged, and why.")


class ModelCard(BaseModel):
    """What a trained surrogate is, what it was trained on, and how good it is."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    description: str
    created: str = Field(default_factory=lambda: date.today().isoformat())
    model_file: str = "model.skops"
    inputs: dict[str, str] = Field(description="Input column -> unit.")
    outputs: dict[str, str] = Field(description="Output column -> unit; each also gets <column>_std.")
    training_data: list[TrainingData]
    features: list[str] = Field(default_factory=list)
    training_range: dict[str, Any] = Field(default_factory=dict,
                                           description="input -> {min, max, unit}; formula models: elements seen.")
    estimator: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    validation: str = Field("", description="How the metrics were measured.")
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict,
                                                 description="subset/output -> metric -> value.")
    anchors: list[dict[str, Any]] = Field(default_factory=list)
    seed: int = 0
    train_command: str = ""
    package_versions: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict, description="File name -> sha256.")
    object_types: list[str] = Field(default_factory=list,
                                    description="Non-primitive types in the skops file; loading refuses any other.")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def models_dir() -> Path:
    """Where models are read from: ``REGENOME_MODELS_DIR``, else the shipped models."""
    override = os.environ.get("REGENOME_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    installed = _PACKAGE_DIR / "_models"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parents[1] / "models"


def package_versions() -> dict[str, str]:
    """Versions of regenome and the packages that touch a model's numbers (recorded on its card)."""
    from regenome.environment import package_versions as versions

    return versions(("numpy", "scipy", "scikit-learn", "skops"))


def read_card(folder: Path) -> ModelCard:
    """Read and validate ``card.json`` in ``folder``."""
    path = Path(folder) / CARD_NAME
    if not path.is_file():
        raise ModelFileError(f"{path}: model card not found; is {Path(folder).name!r} a trained model folder?")
    try:
        return ModelCard.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(f"{path}: not a valid model card ({first})") from None


PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def save_model(estimator, card: ModelCard, folder: Path, fmt: str = "skops") -> ModelCard:
    """Write ``estimator`` plus ``card.json`` (with the file's sha256) into ``folder``.

    ``fmt`` is ``"skops"`` (the default; loads without running code; fitted gradient-boosted
    trees and forests are stored packed, :mod:`regenome.tree_packing`) or ``"joblib"`` (loads only with
    ``trust=True`` because unpickling can run code).
    """
    import skops.io as sio

    if fmt not in ("skops", "joblib"):
        raise ValueError(f"fmt must be 'skops' or 'joblib'; got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    card = card.model_copy(update={"model_file": f"model.{fmt}"})
    model_path = folder / card.model_file
    tmp = model_path.with_name(f".{model_path.name}.tmp-{os.getpid()}")
    if fmt == "skops":
        from regenome.tree_packing import packed_trees

        with packed_trees(estimator):  # a few archive entries per tree ensemble, not several per tree
            sio.dump(estimator, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    else:
        import joblib

        joblib.dump(estimator, tmp, compress=3)
    os.replace(tmp, model_path)
    types = sorted(sio.get_untrusted_types(file=model_path)) if fmt == "skops" else []
    card = card.model_copy(update={"files": {card.model_file: sha256_file(model_path)},
                                   "package_versions": package_versions(), "object_types": types})
    card_tmp = folder / f".{CARD_NAME}.tmp-{os.getpid()}"
    card_tmp.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(card_tmp, folder / CARD_NAME)
    return card


def verify_files(folder: Path, card: ModelCard) -> None:
    """Refuse any file whose sha256 differs from the card (checked before the file is opened)."""
    if card.model_file not in card.files:
        raise ModelFileError(f"{Path(folder) / CARD_NAME}: files: no sha256 recorded for {card.model_file}")
    for name, expected in card.files.items():
        path = Path(folder) / name
        if not path.is_file():
            raise ModelFileError(f"{path}: missing; the card lists it")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelFileError(f"{path}: sha256 {actual[:12]}... does not match the card ({expected[:12]}...); "
                                 "the file was modified or corrupted; reinstall regenome or retrain the model")


def _check_versions(folder: Path, card: ModelCard) -> None:
    """Warn when scikit-learn or regenome differ in major.minor from the versions that trained the model."""
    here = package_versions()
    for package in ("scikit-learn", "regenome"):
        trained = card.package_versions.get(package, "")
        if trained.split(".")[:2] != here[package].split(".")[:2]:
            warnings.warn(f"{Path(folder) / card.model_file}: trained with {package} {trained or 'unknown'}, "
                          f"running {here[package]}; predictions may differ; retrain with `regenome train`",
                          stacklevel=3)


def load_from_folder(folder: Path, trust: bool = False) -> tuple[Any, ModelCard]:
    """Load the model in ``folder`` after checking its card, hash and object types.

    ``.skops`` files load with only scikit-learn, numpy and regenome types allowed. Pickle and
    joblib files can run code when loaded: they are refused unless ``trust=True`` (for a file
    you trained yourself); their sha256 is checked against the card all the same.
    """
    import skops.io as sio

    folder = Path(folder)
    card = read_card(folder)
    path = folder / card.model_file
    if path.suffix in PICKLE_SUFFIXES:
        if not trust:
            raise ModelFileError(f"{path}: pickle/joblib files can run code when loaded; pass --trust only if you "
                                 "trained this file yourself, or retrain with `regenome train` (skops format)")
        verify_files(folder, card)
        _check_versions(folder, card)
        import joblib

        try:
            return joblib.load(path), card  # safe: only with trust=True, after the sha256 check above
        except Exception as exc:  # noqa: BLE001 - unpickling raises anything
            raise ModelFileError(f"{path}: cannot be loaded ({type(exc).__name__}: {exc})") from None
    if path.suffix != ".skops":
        raise ModelFileError(f"{path}: unknown model format {path.suffix!r}; regenome loads .skops files "
                             "(and .joblib with --trust)")
    verify_files(folder, card)
    types = card.object_types
    if not types:  # a card written by hand: read the types from the file itself
        try:
            types = sio.get_untrusted_types(file=path)
        except Exception as exc:  # skops raises several types for a damaged archive
            raise ModelFileError(f"{path}: not a readable skops file ({exc})") from None
    unsafe = [t for t in types if not t.startswith(SAFE_TYPE_PREFIXES)]
    if unsafe:
        raise ModelFileError(f"{path}: refuses to load object types outside scikit-learn/numpy/regenome: "
                             + ", ".join(unsafe[:5]))
    _check_versions(folder, card)
    from regenome.tree_packing import unpack_trees

    try:  # skops itself refuses any type not in ``types``
        estimator = sio.load(path, trusted=types)
        unpack_trees(estimator)
        return estimator, card
    except Exception as exc:  # noqa: BLE001 - skops raises many types for damaged or unexpected files
        raise ModelFileError(f"{path}: cannot be loaded safely ({type(exc).__name__}: {exc})") from None


@lru_cache(maxsize=16)
def _cached_load(folder: str, stamp: tuple, trust: bool) -> tuple[Any, ModelCard]:
    return load_from_folder(Path(folder), trust)


def model_folder(name: str, folder: Path | None = None) -> Path:
    """Where model ``name`` lives: ``folder`` if given, else ``models_dir() / name``."""
    return Path(folder) if folder is not None else models_dir() / name


def load_model(name: str, folder: Path | None = None, trust: bool = False) -> tuple[Any, ModelCard]:
    """Load model ``name`` (from ``folder`` or the models directory), once per process and file version.

    Raises
    ------
    ModelFileError
        When the folder, card or file is missing, a hash differs, the card names another
        model, or the file is not safe to load (see :func:`load_from_folder`).
    """
    base = model_folder(name, folder)
    if not base.is_dir():
        raise ModelFileError(f"{base}: no trained model {name!r} here; train it with `regenome train {name}` "
                             "or unset REGENOME_MODELS_DIR")
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in base.iterdir() if p.is_file()))
    estimator, card = _cached_load(str(base.resolve()), stamp, bool(trust))
    if card.name != name:
        raise ModelFileError(f"{base / CARD_NAME}: name: holds model {card.name!r}, not {name!r}; "
                             f"pass the folder of a {name!r} model")
    return estimator, card


def card_as_json(card: ModelCard) -> str:
    return json.dumps(card.model_dump(), indent=2)
