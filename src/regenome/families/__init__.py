"""Material families: each is one module registered under the ``regenome.families``
entry-point group (built-ins are also listed here so a source checkout works).

A family provides ``name``, ``spec_model`` (its batch-file schema), ``count(spec)``,
``generate(spec)`` (an iterator of candidate chunks), ``predict(chunk, spec)`` and
``build_structures(table, spec)``.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points

_BUILTIN = {"ndfeb": "regenome.families.ndfeb:NdFeBFamily", "phosphor": "regenome.families.phosphor:PhosphorFamily"}


@lru_cache(maxsize=1)
def _registry() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group="regenome.families"):
        found.setdefault(ep.name, ep.value)
    return found


def stable_id(prefix: str, key: str) -> str:
    """Candidate id ``<prefix>-<16 hex digits>`` from a candidate's defining text (same text, same id).

    64 bits of BLAKE2b: the chance that any two of a billion candidates share an id is about 3 %, and
    of ten million about 3e-6 (40 bits, used before, gave about 22 shared ids in a 7-million batch).
    """
    import hashlib

    return f"{prefix}-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def family_names() -> list[str]:
    """Names of the installed families."""
    return sorted(_registry())


def get_family(name: str):
    """The family object registered as ``name`` (raises ``KeyError`` listing valid names)."""
    try:
        target = _registry()[name]
    except KeyError:
        raise KeyError(f"unknown family {name!r}; valid: {', '.join(family_names())}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)()
