"""Raw-material cost and supply criticality of a composition, from the curated element tables."""

from __future__ import annotations

import csv
from functools import lru_cache

import numpy as np

from regenome.datafiles import table_path

# standard atomic weights, g/mol (IUPAC 2021 abridged values)
ATOMIC_MASS = {"Nd": 144.24, "Pr": 140.91, "Ce": 140.12, "La": 138.91, "Dy": 162.50, "Tb": 158.93,
               "Gd": 157.25, "Fe": 55.845, "Co": 58.933, "B": 10.81}


@lru_cache(maxsize=1)
def element_prices() -> dict[str, float]:
    """USD per kg of contained metal for each element in ``data/elements/prices.csv``."""
    with table_path("elements", "prices.csv").open(newline="") as handle:
        return {r["element"]: float(r["price_usd_per_kg_contained_metal"]) for r in csv.DictReader(handle)}


@lru_cache(maxsize=1)
def critical_elements() -> frozenset[str]:
    """Elements on the US DOE 2023 critical-materials list (``data/elements/criticality.csv``)."""
    with table_path("elements", "criticality.csv").open(newline="") as handle:
        return frozenset(r["element"] for r in csv.DictReader(handle) if r["doe_2023_critical"] == "1")


#: Anions priced at zero in :func:`cation_cost`: phosphors are made from oxides, nitrides,
#: carbonates, fluorides and sulfides of their cations, whose price is quoted per cation.
ANIONS = ("N", "O", "F", "S", "Cl", "Br", "I", "Se", "H")


@lru_cache(maxsize=1)
def _table_masses() -> dict[str, float]:
    from regenome.features.elements import ELEMENTS, load_element_table

    values, names = load_element_table()
    column = values[:, names.index("atomic_mass_u")]
    return dict(zip(ELEMENTS, column.tolist()))


def atomic_mass(element: str) -> float:
    """Standard atomic weight in g/mol (IUPAC 2021 values above, else the element table)."""
    return ATOMIC_MASS.get(element) or _table_masses()[element]


def mass_fractions(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Mass fractions (n, e) from atom amounts (n, e) in the column order of ``elements``."""
    masses = np.array([atomic_mass(e) for e in elements])
    weight = np.asarray(amounts, dtype=float) * masses
    return weight / weight.sum(axis=1, keepdims=True)


def raw_material_cost(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Raw-material cost in USD per kg of alloy: sum of mass fraction x metal price."""
    prices = element_prices()
    missing = [e for e in elements if e not in prices]
    if missing:
        raise KeyError(f"no price for {', '.join(missing)} in data/elements/prices.csv")
    return mass_fractions(amounts, elements) @ np.array([prices[e] for e in elements])


def cation_cost(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Raw-material cost in USD per kg of compound, anions (:data:`ANIONS`) at zero price.

    Each cation counts its mass fraction times its price per kg of contained element (rare
    earths from oxide prices, see ``data/elements/prices.csv``); the price of the anion source
    is left out, so the figure ranks compositions rather than quoting a batch.
    """
    prices = element_prices()
    cations = [e for e in elements if e not in ANIONS]
    missing = [e for e in cations if e not in prices]
    if missing:
        raise KeyError(f"no price for {', '.join(missing)} in data/elements/prices.csv")
    price = np.array([0.0 if e in ANIONS else prices[e] for e in elements])
    return mass_fractions(amounts, elements) @ price


@lru_cache(maxsize=1)
def export_controlled_elements() -> frozenset[str]:
    """Rare earths under China's 2025 export controls (``data/elements/criticality.csv``)."""
    with table_path("elements", "criticality.csv").open(newline="") as handle:
        return frozenset(r["element"] for r in csv.DictReader(handle) if r["china_2025_export_control"] == "1")


def export_controlled_mass_fraction(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Mass fraction (0-1) of elements under China's 2025 export controls (Tb, Dy, Gd, Sm, Y, Lu, Eu)."""
    flags = np.array([e in export_controlled_elements() for e in elements], dtype=float)
    return mass_fractions(amounts, elements) @ flags


def critical_mass_fraction(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Mass fraction (0-1) of elements on the US DOE 2023 critical list."""
    flags = np.array([e in critical_elements() for e in elements], dtype=float)
    return mass_fractions(amounts, elements) @ flags
