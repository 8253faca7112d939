"""Trained surrogate models: a registry of specs, each with its training data and estimator.

A surrogate module exposes ``SPEC``, a :class:`regenome.surrogates.base.SurrogateSpec`.
To add one, write the module and add its name here; ``regenome train NAME``,
``regenome predict NAME`` and ``regenome models`` then know it.
"""

from __future__ import annotations

from importlib import import_module

from regenome.errors import InputDataError

_REGISTRY = {
    "band-gap": "regenome.surrogates.band_gap",
    "centroid-shift": "regenome.surrogates.centroid_shift",
    "curie-temperature": "regenome.surrogates.curie_temperature",
    "debye-temperature": "regenome.surrogates.debye_temperature",
    "emission": "regenome.surrogates.emission",
    "saturation-magnetization": "regenome.surrogates.saturation_magnetization",
    "single-grain": "regenome.surrogates.single_grain",
    "thermal-quenching": "regenome.surrogates.thermal_quenching",
}


def surrogate_names() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str):
    """The :class:`SurrogateSpec` of a trained-surrogate name (imports its module)."""
    if name not in _REGISTRY:
        raise InputDataError(f"unknown model {name!r}; valid: {', '.join(['ndfeb', *_REGISTRY])}")
    return import_module(_REGISTRY[name]).SPEC
