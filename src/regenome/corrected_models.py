"""Models corrected by lab measurements: fit a correction layer, store it as a version, resolve, predict.

``regenome train MODEL --include-measurements`` fits a correction layer (:mod:`regenome.corrections`)
to the measurements of :mod:`regenome.measurements` against the base model's predictions and writes it,
with its card, as a new version folder ``<base version>+m<N>`` of the local store
(``REGENOME_HOME/models/<model>/``). ``regenome predict``, the ``ndfeb`` family and the phosphor
surrogates use the newest version trained on the base model they run. Design: ``docs/lab-loop.md``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from regenome.errors import InputDataError, ModelFileError, RegenomeError
from regenome.measurements import _regenome_version, _sha256, home_dir, load_measurements, measurements_dir
from regenome.phosphor_physics import HC_EV_NM

logger = logging.getLogger(__name__)

CORRECTION_FILE = "correction.json"
CARD_FILE = "card.json"
_VERSION_RE = re.compile(r"^(?P<base>.+)\+m(?P<n>[1-9]\d*)$")


# -- what a correction is fitted to -------------------------------------------------------------

@dataclass
class Target:
    """How measurements of a family correct one model: properties, features, base predictions."""

    model: str
    family: str
    properties: tuple[str, ...]
    space: str  # "log" (relative) or "ev" (wavelength in nm corrected additively in photon energy)
    features: Callable[[list[dict]], tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]]
    base_predictions: Callable[[list[dict]], dict[str, np.ndarray]]
    base_identity: Callable[[], dict]


def _ndfeb_arrays(rows: list[dict]):
    from regenome.predictors.formula_io import parse_ndfeb_formula
    from regenome.predictors.ndfeb import RE_ELEMENTS, ROUTES

    n = len(rows)
    x, co = np.zeros((n, len(RE_ELEMENTS))), np.zeros(n)
    for i, row in enumerate(rows):
        x[i], co[i] = parse_ndfeb_formula(row["formula"])
    route = np.array([ROUTES.index(r["process"]) for r in rows], dtype=np.intp)
    temp = np.array([float(r["temperature_K"]) for r in rows])
    return x, co, route, temp


def _ndfeb_features(rows):
    from regenome.predictors.ndfeb import (CORRECTION_FEATURES, CORRECTION_TEMPERATURE_SCALE_K,
                                           correction_features)

    x, co, _, temp = _ndfeb_arrays(rows)
    scales = np.ones(len(CORRECTION_FEATURES))
    scales[-1] = CORRECTION_TEMPERATURE_SCALE_K
    groups = np.array([r["process"] for r in rows], dtype=object)
    return correction_features(x, co, temp), groups, CORRECTION_FEATURES, scales


def _ndfeb_base(rows):
    from regenome.predictors.ndfeb import CORRECTED_PROPERTIES, NdFeBModel

    pred = NdFeBModel(correction=None).predict(*_ndfeb_arrays(rows))
    return {p: pred[p] for p in CORRECTED_PROPERTIES}


def _ndfeb_identity() -> dict:
    from regenome.datafiles import table_path
    from regenome.modelstore import model_folder, read_card
    from regenome.predictors.ndfeb import MODEL_NAME, MODEL_VERSION

    grain = read_card(model_folder("single-grain"))
    return {"name": MODEL_NAME, "version": MODEL_VERSION,
            "parameters_sha256": _sha256(table_path("ndfeb", "parameters.json").read_bytes()),
            "single_grain": {"version": grain.version, "files": dict(grain.files)}}


def _phosphor_features(rows):
    from regenome.features.elements import ELEMENTS
    from regenome.features.formula import parse_formulas

    fractions, _ = parse_formulas([r["host"] for r in rows])
    conc = np.array([float(r["concentration"]) for r in rows])
    groups = np.array([r["activator"] for r in rows], dtype=object)
    names = (*ELEMENTS, "concentration")
    return np.column_stack([fractions, conc]), groups, names, np.ones(len(names))


def _surrogate_base(model: str, column: str):
    def predict(rows):
        import pandas as pd

        from regenome.surrogates.predict import predict_frame

        frame = pd.DataFrame({"host": [r["host"] for r in rows], "activator": [r["activator"] for r in rows],
                              "concentration": [repr(float(r["concentration"])) for r in rows]})
        out = predict_frame(model, frame) if len(frame) else frame.assign(**{column: []})
        mean = out[column].to_numpy(dtype=float)
        return {column: np.where(out["error"].to_numpy(dtype=object) == "", mean, np.nan)}
    return predict


def _surrogate_identity(model: str, model_dir: Path | None = None):
    def identity() -> dict:
        from regenome.modelstore import model_folder, read_card

        card = read_card(model_folder(model, model_dir))
        return {"name": model, "version": card.version, "files": dict(card.files)}
    return identity


TARGETS: dict[str, Target] = {
    "ndfeb": Target("ndfeb", "ndfeb", ("Br_T", "Hcj_kA_m", "BHmax_kJ_m3"), "log", _ndfeb_features, _ndfeb_base,
                    _ndfeb_identity),
    "emission": Target("emission", "phosphor", ("emission_nm",), "ev", _phosphor_features,
                       _surrogate_base("emission", "emission_nm"), _surrogate_identity("emission")),
    "thermal-quenching": Target("thermal-quenching", "phosphor", ("T50_K",), "log", _phosphor_features,
                                _surrogate_base("thermal-quenching", "T50_K"),
                                _surrogate_identity("thermal-quenching")),
}
"""Models that ``regenome train MODEL --include-measurements`` can correct (one place to add more)."""


def _target(model: str) -> Target:
    if model not in TARGETS:
        raise InputDataError(f"--include-measurements: model {model!r} has no measurement correction; "
                             f"valid: {', '.join(TARGETS)}")
    return TARGETS[model]


def _residuals(space: str, measured: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if space == "ev":
            r = HC_EV_NM / measured - HC_EV_NM / predicted
        else:
            r = np.log(measured / predicted)
    return np.where(np.isfinite(r) & (predicted > 0), r, np.nan)


# -- versions -----------------------------------------------------------------------------------

@dataclass
class VersionInfo:
    version: str
    number: int
    folder: Path
    card: dict


def versions_dir(model: str, home: Path | None = None) -> Path:
    return (home or home_dir()) / "models" / model


def list_versions(model: str, home: Path | None = None) -> list[VersionInfo]:
    """Correction versions of ``model`` in the store, oldest first (folders without a card are skipped)."""
    folder = versions_dir(model, home)
    out = []
    if folder.is_dir():
        for sub in folder.iterdir():
            match = _VERSION_RE.match(sub.name)
            if not (match and sub.is_dir() and (sub / CARD_FILE).is_file()):
                continue
            try:
                card = json.loads((sub / CARD_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ModelFileError(f"{sub / CARD_FILE}: unreadable card ({exc})") from None
            out.append(VersionInfo(sub.name, int(match["n"]), sub, card))
    return sorted(out, key=lambda v: v.number)


def _same_base(card: dict, identity: dict) -> bool:
    return card.get("base") == identity


def load_layer(info: VersionInfo):
    """The :class:`~regenome.corrections.CorrectionLayer` of a version, after checking its sha256."""
    from regenome.corrections import CorrectionLayer

    path = info.folder / CORRECTION_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    expected = info.card.get("files", {}).get(CORRECTION_FILE)
    if _sha256(data) != expected:
        raise ModelFileError(f"{path}: sha256 differs from its card; the version was edited. Train a new one with "
                             f"`regenome train {info.card.get('name')} --include-measurements`")
    try:
        return CorrectionLayer.from_dict(json.loads(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a valid correction layer ({exc})") from None


def resolve_version(model: str, version: str | None = None, home: Path | None = None,
                    identity: dict | None = None) -> VersionInfo | None:
    """The correction version to use: ``version``, or the newest trained on the current base model.

    Returns None for the base model alone (no version stored, or ``version`` is the base version).
    """
    if model not in TARGETS:
        return None
    versions = list_versions(model, home)
    if version is None and not versions:
        return None  # the common case: nothing trained, nothing to hash
    identity = identity if identity is not None else TARGETS[model].base_identity()
    if version is None:
        matching = [v for v in versions if _same_base(v.card, identity)]
        if versions and not matching:
            logger.warning("%s: the measurement corrections %s were trained on another %s base model; using the "
                           "base model alone (retrain with `regenome train %s --include-measurements`)",
                           versions_dir(model, home), ", ".join(v.version for v in versions), model, model)
        return matching[-1] if matching else None
    if version == identity["version"]:
        return None
    for info in versions:
        if info.version == version:
            if not _same_base(info.card, identity):
                raise ModelFileError(f"--model-version: {version} was trained on another {model} base model "
                                     f"({info.card.get('base', {}).get('version')}, other files); retrain with "
                                     f"`regenome train {model} --include-measurements`")
            return info
    valid = ", ".join([identity["version"], *(v.version for v in versions)])
    raise InputDataError(f"--model-version: {model} has no version {version!r}; valid: {valid}")


@dataclass
class TrainResult:
    version: str
    folder: Path | None
    card: dict
    created: bool
    message: str


def train_with_measurements(model: str, home: Path | None = None, params=None) -> TrainResult:
    """Fit a new correction version of ``model`` on every stored measurement of its family."""
    from regenome.corrections import CorrectionLayer, CorrectionParameters

    target = _target(model)
    params = params or CorrectionParameters()
    home = home or home_dir()
    rows, entries = load_measurements(target.family, home)
    usable = [r for r in rows if all(r.get(p) not in ("", None) for p in target.properties)]
    if not usable:
        raise InputDataError(f"{measurements_dir(target.family, home)}: no stored {target.family} measurements "
                             f"of {', '.join(target.properties)}; add some with "
                             f"`regenome ingest MEASURED.csv --family {target.family}`")
    identity = target.base_identity()
    versions = list_versions(model, home)
    files = [{"file": f"measurements/{target.family}/{e['stored_file']}", "sha256": e["stored_sha256"],
              "source_file": e["source_file"], "source_sha256": e["source_sha256"], "rows": e["rows"],
              "ingested_at": e["ingested_at"]} for e in entries]
    parameters = {"length_scale": params.length_scale, "prior_count": params.prior_count, "noise": params.noise}
    matching = [v for v in versions if _same_base(v.card, identity)]
    if matching and matching[-1].card.get("measurement_files") == files \
            and matching[-1].card.get("parameters") == parameters:
        last = matching[-1]
        return TrainResult(last.version, last.folder, last.card, False,
                           f"{model} {last.version} already includes every stored measurement; nothing written")
    points, groups, names, scales = target.features(usable)
    predicted = target.base_predictions(usable)
    residuals, skipped = {}, []
    for prop in target.properties:
        measured = np.array([float(r[prop]) for r in usable])
        residuals[prop] = _residuals(target.space, measured, predicted[prop])
        skipped += [{"file": r["file"], "line": r["line"], "property": prop,
                     "reason": "the base model has no positive prediction here"}
                    for r, ok in zip(usable, np.isfinite(residuals[prop])) if not ok]
    number = max([v.number for v in versions], default=0) + 1
    version = f"{identity['version']}+m{number}"
    layer = CorrectionLayer(version=version, feature_names=tuple(names), feature_scales=scales, points=points,
                            groups=groups, residuals=residuals,
                            spaces={p: "linear" if target.space == "ev" else "log" for p in target.properties},
                            params=params)
    unit = "eV" if target.space == "ev" else "ln"
    metrics = {}
    for prop in target.properties:
        r = residuals[prop]
        ok = np.isfinite(r)

        def rms(v, ok=ok):
            return float(np.sqrt(np.mean(v[ok] ** 2))) if ok.any() else None

        metrics[prop] = {"n": int(ok.sum()), "residual": unit, "rms_base": rms(r),
                         "rms_corrected_in_sample": rms(layer.in_sample(prop)),
                         "rms_corrected_leave_one_out": rms(layer.leave_one_out(prop))}
    payload = (json.dumps(layer.to_dict(), indent=1) + "\n").encode("utf-8")
    card = {
        "name": model, "version": version,
        "kind": f"measurement correction layer over {identity['name']} {identity['version']}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "regenome_version": _regenome_version(), "base": identity,
        "previous_version": versions[-1].version if versions else identity["version"],
        "method": ("corrected = base x exp(delta) (log) or photon energy + delta (eV); delta(x) = sum_i w_i r_i / "
                   "(k0 + sum_i w_i), w_i = exp(-(d(x, x_i)/length_scale)^2) within the same group; "
                   "see regenome.corrections and docs/lab-loop.md"),
        "residual_space": {p: ("eV (photon energy)" if target.space == "ev" else "ln(measured/predicted)")
                           for p in target.properties},
        "parameters": parameters,
        "features": {"names": list(names), "scales": [float(s) for s in scales],
                     "group": "process route" if target.family == "ndfeb" else "activator"},
        "measurement_files": files, "n_measurements": len(usable), "skipped": skipped, "metrics": metrics,
        "files": {CORRECTION_FILE: _sha256(payload)},
        "train_command": f"regenome train {model} --include-measurements",
    }
    folder = versions_dir(model, home)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / version
    tmp = folder / f".{version}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        (tmp / CORRECTION_FILE).write_bytes(payload)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)  # a folder that exists with files is never replaced
        except OSError:
            raise RegenomeError(f"{final}: another `regenome train {model} --include-measurements` wrote this "
                                "version at the same time; run the command again") from None
    finally:
        for p in tmp.glob("*") if tmp.exists() else []:
            p.unlink()
        if tmp.exists():
            tmp.rmdir()
    lines = [f"{prop}: n {m['n']}  rms {m['residual']} residual: base {_fmt(m['rms_base'])}, corrected "
             f"{_fmt(m['rms_corrected_in_sample'])} (leave-one-out {_fmt(m['rms_corrected_leave_one_out'])})"
             for prop, m in metrics.items()]
    if skipped:
        lines.append(f"{len(skipped)} measured value(s) skipped (listed on the card)")
    lines.append(f"wrote {model} {version} ({len(usable)} measurements) to {final}")
    return TrainResult(version, final, card, True, "\n".join(lines))


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


# -- prediction ---------------------------------------------------------------------------------

@dataclass
class PredictSummary:
    n_rows: int
    n_ok: int
    message: str


def predict_versioned(model: str, csv_in: Path, out: Path, model_version: str | None = None,
                      n_jobs: int | None = None, model_dir: Path | None = None, trust: bool = False):
    """``regenome predict`` with the newest measurement correction (or ``model_version``) applied."""
    if model == "ndfeb":
        from regenome.predictors.formula_io import predict_csv
        from regenome.predictors.ndfeb import use_correction

        info = resolve_version(model, model_version)
        with use_correction(None if info is None else load_layer(info)):
            return predict_csv(model, csv_in, out)
    from regenome.surrogates.predict import predict_table

    if model not in TARGETS:
        if model_version is not None:
            from regenome.modelstore import model_folder, read_card
            from regenome.surrogates import get_spec

            get_spec(model)
            card = read_card(model_folder(model, model_dir))
            if model_version != card.version:
                raise InputDataError(f"--model-version: {model} has no version {model_version!r}; valid: "
                                     f"{card.version}")
        return predict_table(model, csv_in, out, n_jobs=n_jobs, model_dir=model_dir, trust=trust)
    identity = _surrogate_identity(model, model_dir)()
    info = resolve_version(model, model_version, identity=identity)
    if info is None:
        return predict_table(model, csv_in, out, n_jobs=n_jobs, model_dir=model_dir, trust=trust)
    return _predict_surrogate_corrected(model, load_layer(info), csv_in, out, n_jobs, model_dir, trust)


def correct_surrogate(model: str, layer, hosts, activators, concentrations, mean: np.ndarray, std: np.ndarray,
                      prop: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and one-sigma of a phosphor surrogate's output ``prop`` with a measurement correction.

    Emission is corrected in eV (additive), T50 in log space, as the layer was fitted.
    """
    from regenome.corrections import log_sigma
    from regenome.surrogates.phosphor_data import ACTIVATORS, parse_activators

    target = TARGETS[model]
    codes, _ = parse_activators([str(a) for a in activators])
    rows = [{"host": str(h), "concentration": float(c), "activator": ACTIVATORS[int(code)]}
            for h, c, code in zip(hosts, concentrations, codes)]
    features, groups, _, _ = target.features(rows)
    weights = layer.weights(features, groups)
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if target.space == "ev":
        energy, sigma_e = HC_EV_NM / mean, std * HC_EV_NM / mean**2
        shift, sigma = layer.evaluate(prop, weights, sigma_e)
        new_energy = energy + shift
        return HC_EV_NM / new_energy, sigma * HC_EV_NM / new_energy**2
    shift, sigma = layer.evaluate(prop, weights, log_sigma(mean, std))
    new_mean = mean * np.exp(shift)
    return new_mean, sigma * new_mean


def active_layer(model: str):
    """(version, layer) of the newest measurement correction of ``model`` in REGENOME_HOME, or (None, None)."""
    info = resolve_version(model)
    if info is None:
        return None, None
    return info.version, cached_layer(str(info.folder), info.card["files"][CORRECTION_FILE])


def _predict_surrogate_corrected(model, layer, csv_in, out, n_jobs, model_dir, trust) -> PredictSummary:
    from regenome.surrogates import get_spec
    from regenome.surrogates.predict import predict_frame
    from regenome.tableio import read_input_csv, write_csv_atomic

    target = TARGETS[model]
    spec = get_spec(model)
    frame = read_input_csv(Path(csv_in), list(spec.inputs),
                           hint=", ".join(f"{c} in {u}" for c, u in spec.inputs.items()))
    result = predict_frame(model, frame, n_jobs=n_jobs, model_dir=model_dir, trust=trust)
    ok = (result["error"] == "").to_numpy()
    if ok.any():
        for prop in target.properties:
            result.loc[ok, prop], result.loc[ok, prop + "_std"] = correct_surrogate(
                model, layer, result.loc[ok, "host"], result.loc[ok, "activator"], result.loc[ok, "concentration"],
                result.loc[ok, prop].to_numpy(dtype=float), result.loc[ok, prop + "_std"].to_numpy(dtype=float), prop)
    write_csv_atomic(result, Path(out))
    n_ok, n = int(ok.sum()), len(result)
    msg = f"predicted {n_ok} of {n} rows with {model} {layer.version} (measurement correction); wrote {out}"
    if n_ok < n:
        msg += f"; {n - n_ok} rows have a message in the 'error' column"
    return PredictSummary(n, n_ok, msg)


# -- the ndfeb family ---------------------------------------------------------------------------

@lru_cache(maxsize=8)
def cached_layer(folder: str, sha: str):
    """The layer of a version folder, loaded once per process (versions are immutable once written)."""
    card = json.loads((Path(folder) / CARD_FILE).read_text(encoding="utf-8"))
    return load_layer(VersionInfo(Path(folder).name, 0, Path(folder), card))
