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


def mass_fractions(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Mass fractions (n, e) from atom amounts (n, e) in the column order of ``elements``."""
    masses = np.array([ATOMIC_MASS[e] for e in elements])
    weight = np.asarray(amounts, dtype=float) * masses
    return weight / weight.sum(axis=1, keepdims=True)


def raw_material_cost(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Raw-material cost in USD per kg of alloy: sum of mass fraction x metal price."""
    prices = element_prices()
    missing = [e for e in elements if e not in prices]
    if missing:
        raise KeyError(f"no price for {', '.join(missing)} in data/elements/prices.csv")
    return mass_fractions(amounts, elements) @ np.array([prices[e] for e in elements])


def critical_mass_fraction(amounts: np.ndarray, elements: tuple[str, ...]) -> np.ndarray:
    """Mass fraction (0-1) of elements on the US DOE 2023 critical list."""
    flags = np.array([e in critical_elements() for e in elements], dtype=float)
    return mass_fractions(amounts, elements) @ flags
