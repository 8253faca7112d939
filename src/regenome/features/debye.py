"""Lattice-dynamics features for the Debye temperature, from atomic fractions and the element table.

Lindemann's melting rule ties the Debye temperature of a solid to its melting point ``T_m``,
atomic mass ``M`` and volume per atom ``V``: ``theta_D = C * sqrt(T_m / (M * V**(2/3)))``, with
``C = 137`` for ``T_m`` in K, ``M`` in u and ``V`` in cm^3/mol (theta_D in K). A compound's
``T_m``, ``M`` and ``V`` are estimated from its elements (composition averages), so the estimate
is rough; trees get it, its ingredients and a few mass/volume descriptors as features next to
the composition statistics. Everything is numpy over the fraction matrix (no per-row Python).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS, load_element_table

__all__ = ["DEBYE_FEATURES", "LIGHT_ELEMENTS", "LINDEMANN_C", "ANION_ELEMENTS", "DebyeFeaturizer",
           "debye_features", "lindemann_debye"]

#: Lindemann constant for T_m in K, M in u, V in cm^3/mol (theta_D in K).
LINDEMANN_C = 137.0
#: Elements counted by ``frac_light``.
LIGHT_ELEMENTS: tuple[str, ...] = ("H", "Li", "Be", "B", "C", "N", "O", "F")
#: Anion-forming elements left out of the cation-averaged melting point.
ANION_ELEMENTS: tuple[str, ...] = ("H", "N", "O", "F", "P", "S", "Cl", "As", "Se", "Br", "Te", "I")

#: Output columns of :func:`debye_features`, with units.
DEBYE_FEATURES: tuple[str, ...] = (
    "mean_mass_u", "harmonic_mass_u", "mass_disorder", "mean_volume_cm3_mol", "mean_radius_volume_A3",
    "density_g_cm3", "cation_melting_point_K", "lindemann_mean_K", "lindemann_max_K",
    "lindemann_cation_K", "lindemann_harmonic_K", "frac_light",
)

_COLUMNS = ("atomic_mass_u", "melting_point_K", "molar_volume_cm3_mol", "atomic_radius_A")


def lindemann_debye(melting_point_K, mass_u, volume_cm3_mol):
    """Lindemann estimate of the Debye temperature (K).

    ``LINDEMANN_C * sqrt(T_m / (M * V**(2/3)))`` for melting point ``T_m`` (K), atomic mass ``M`` (u)
    and volume ``V`` (cm^3 per mole of atoms); numpy arrays broadcast.
    """
    return LINDEMANN_C * np.sqrt(melting_point_K / (mass_u * np.power(volume_cm3_mol, 2.0 / 3.0)))


def debye_features(fractions: np.ndarray, table: np.ndarray, names) -> np.ndarray:
    """Debye-temperature descriptors of each row of an atomic-fraction matrix.

    Parameters
    ----------
    fractions : numpy.ndarray, shape (n, len(ELEMENTS))
        Non-negative amounts per element (rows are normalized here).
    table, names
        Element table and its column names (:func:`~regenome.features.elements.load_element_table`).

    Returns
    -------
    numpy.ndarray of float64, shape (n, len(DEBYE_FEATURES))
        Per row, in :data:`DEBYE_FEATURES` order: mean atomic mass (u); harmonic-mean mass (u, weighted
        towards light atoms); mass disorder ``sum x (M - <M>)^2 / <M>^2``; mean molar volume of the
        elemental solids (cm^3/mol); mean atomic-radius volume ``4/3 pi r^3`` (A^3); density
        ``<M>/<V>`` (g/cm^3); melting point averaged over the non-anion atoms (K; all atoms if none);
        Lindemann Debye temperatures (K) from the mean, the largest and the cation-averaged melting point
        with the mean mass, and from the mean melting point with the harmonic mass; fraction of
        atoms among :data:`LIGHT_ELEMENTS`. All-zero rows give NaN. Unknown element values are
        left out of the averages.
    """
    X = np.asarray(fractions, dtype=np.float64)
    total = X.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = X / total
        col = {name: i for i, name in enumerate(names)}
        mass, tm, vol, radius = (table[:, col[c]] for c in _COLUMNS)

        def mean(values, weights=x):
            known = ~np.isnan(values)
            return (weights @ np.where(known, values, 0.0)) / (weights @ known.astype(np.float64))

        m_mean = mean(mass)
        m_harm = 1.0 / mean(1.0 / mass)
        disorder = (x * np.square(np.nan_to_num(mass)[None, :] - m_mean[:, None])).sum(axis=1) / m_mean**2
        v_mean = mean(vol)
        r_vol = mean(4.0 / 3.0 * np.pi * radius**3)
        tm_mean = mean(tm)
        present = X > 0
        tm_max = np.where(present, np.nan_to_num(tm, nan=-np.inf)[None, :], -np.inf).max(axis=1)
        tm_max = np.where(np.isfinite(tm_max), tm_max, np.nan)
        cation = np.ones(len(ELEMENTS), bool)
        cation[[ELEMENT_INDEX[e] for e in ANION_ELEMENTS]] = False
        xc = x * cation[None, :]
        tm_cat = mean(tm, xc)
        tm_cat = np.where(xc.sum(axis=1) > 0, tm_cat, tm_mean)
        light = x[:, [ELEMENT_INDEX[e] for e in LIGHT_ELEMENTS]].sum(axis=1)
        out = np.column_stack([
            m_mean, m_harm, disorder, v_mean, r_vol, m_mean / v_mean, tm_cat,
            lindemann_debye(tm_mean, m_mean, v_mean), lindemann_debye(tm_max, m_mean, v_mean),
            lindemann_debye(tm_cat, m_mean, v_mean), lindemann_debye(tm_mean, m_harm, v_mean), light,
        ])
    out[~(total[:, 0] > 0)] = np.nan
    return out


class DebyeFeaturizer(TransformerMixin, BaseEstimator):
    """Composition features followed by the Debye descriptors of :func:`debye_features`.

    Parameters
    ----------
    composition : CompositionFeaturizer or None
        Featurizer of the atomic fractions; None means ``CompositionFeaturizer(fraction_elements="all")``.

    Attributes
    ----------
    composition_ : CompositionFeaturizer
        The fitted composition featurizer.
    element_table_, element_properties_
        Element table read at fit time (transform uses only this copy).
    """

    def __init__(self, composition=None):
        self.composition = composition

    def fit(self, X=None, y=None):
        """Fit the composition featurizer and keep the element table; returns self."""
        from regenome.features.composition import CompositionFeaturizer

        base = self.composition if self.composition is not None else CompositionFeaturizer(fraction_elements="all")
        self.composition_ = clone(base).fit(X)
        values, names = load_element_table()
        self.element_table_ = values
        self.element_properties_ = tuple(names)
        self.n_features_in_ = len(ELEMENTS)
        return self

    def transform(self, X) -> np.ndarray:
        """(n, n_composition_features + len(DEBYE_FEATURES)) float32 features of a fraction matrix."""
        check_is_fitted(self, "composition_")
        base = self.composition_.transform(X)
        extra = debye_features(np.asarray(X, dtype=np.float64), self.element_table_, self.element_properties_)
        return np.hstack([base, extra.astype(np.float32)])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "composition_")
        return np.concatenate([self.composition_.get_feature_names_out(), np.asarray(DEBYE_FEATURES, dtype=object)])
