"""Composition features: formula parsing, the element table and vectorized featurizers.

``parse_formulas`` and the element table import only numpy; the scikit-learn featurizer
(:class:`~regenome.features.composition.CompositionFeaturizer`) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regenome.features.elements import ELEMENTS, load_element_table
from regenome.features.formula import parse_formula, parse_formulas

if TYPE_CHECKING:
    from regenome.features.composition import CompositionFeaturizer

__all__ = ["ELEMENTS", "CompositionFeaturizer", "load_element_table", "parse_formula", "parse_formulas"]


def __getattr__(name: str):
    if name == "CompositionFeaturizer":
        from regenome.features.composition import CompositionFeaturizer

        return CompositionFeaturizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
