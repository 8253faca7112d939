"""Magnetic-sublattice features of a composition (used by the ``curie-temperature`` surrogate).

The Curie temperature of a rare-earth (R) / transition-metal (T) compound is set mostly by the
T sublattice (how much Fe, Co, Ni, Mn it holds, how it is diluted by Al, Si, Ga...) and by the
R-T exchange, which scales with the de Gennes factor of the rare earth. Compounds come in
families of fixed stoichiometry (RT2, RT5, R2T17, R2T14B, RT12...), so the T/R ratio and the
distance to those stoichiometries matter as much as the element identities.

:class:`MagnetismFeaturizer` returns composition statistics (a lean
:class:`~regenome.features.composition.CompositionFeaturizer`: fraction-weighted means only, plus
every element fraction) followed by these sublattice features. All of it is vectorized numpy
over the atomic-fraction matrix of :func:`regenome.features.formula.parse_formulas`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS, RARE_EARTHS

__all__ = ["MagnetismFeaturizer", "MAGNETIC_3D", "TSITE_ELEMENTS", "INTERSTITIALS", "ANIONS", "PHASES"]

#: The magnetic 3d elements.
MAGNETIC_3D: tuple[str, ...] = ("Fe", "Co", "Ni", "Mn")
#: Elements that sit on the transition-metal sublattice of R-T compounds (magnetic or substituents).
TSITE_ELEMENTS: tuple[str, ...] = MAGNETIC_3D + (
    "Cu", "Al", "Si", "Ga", "Ti", "V", "Cr", "Zr", "Ge", "Sn", "Mo", "Nb", "W",
    "Zn", "Ru", "Rh", "Pd", "Pt", "Ir", "Hf", "Ta", "In", "Sb",
)
#: Light interstitials (R2Fe17N3, Nd2Fe14B, LaFe11.5Si1.5H...).
INTERSTITIALS: tuple[str, ...] = ("H", "B", "C", "N")
#: Anions other than N (counted with the interstitials).
ANIONS: tuple[str, ...] = ("O", "F", "S", "Cl", "Se", "Br", "Te", "I", "P", "As")
#: Well-known R-T stoichiometries as (name, T atoms per R atom).
PHASES: tuple[tuple[str, float], ...] = (
    ("1:1", 1.0), ("1:2", 2.0), ("1:3", 3.0), ("2:7", 3.5), ("6:23", 23 / 6), ("1:4", 4.0), ("1:5", 5.0),
    ("2:14:1", 7.0), ("2:17", 8.5), ("1:12", 12.0), ("1:13", 13.0),
)

_EPS = 1e-9
_CHUNK_ROWS = 4_096  # rows per block: the intermediate arrays stay in the CPU cache
_LOG_PHASES = np.log([ratio for _, ratio in PHASES])


def _idx(symbols: Sequence[str]) -> np.ndarray:
    return np.array([ELEMENT_INDEX[s] for s in symbols], dtype=np.intp)


class MagnetismFeaturizer(TransformerMixin, BaseEstimator):
    """Composition statistics plus magnetic-sublattice features, from an atomic-fraction matrix.

    Output columns, in order:

    * the columns of ``CompositionFeaturizer(stats=stats, fraction_elements=fraction_elements)``:
      element-property statistics, stoichiometry norms, group fractions, 4f averages, then ``x_<El>``;
    * ``x_3d`` (Fe + Co + Ni + Mn) and ``share_3d_<El>`` (each of them as a share of ``x_3d``);
    * ``x_tsite`` (all atoms that are not R, actinide, interstitial H/B/C/N or anion), ``x_interstitial``,
      ``x_anion``, ``share_tsite_3d`` (``x_3d / x_tsite``);
    * ``log_tsite_per_re``, ``log_3d_per_re``: ln of T (or 3d) atoms per R atom (about +20 without R);
    * ``dist_<phase>``: ``|log_tsite_per_re - ln(r)|`` for each stoichiometry of :data:`PHASES`;
    * ``de_gennes_x_3d`` (fraction-weighted R3+ de Gennes factor times ``x_3d``), ``sqrt_de_gennes``,
      ``spin_4f`` (fraction-weighted R3+ spin S) and ``spin_4f_x_3d``;
    * ``tsite_n_valence``, ``tsite_n_d``: mean valence and d electrons of the non-R transition metals
      (Slater-Pauling band filling), and ``x_tm_non_re``, their total fraction;
    * ``re_x_3d``, ``fe_x_co``, ``fe_x_ni`` (products of fractions) and ``has_oxygen`` (0/1);
    * ``share_re_<R>``: each rare earth as a share of all rare earths (0 without R);
    * ``share_tsite_<El>``: each element of :data:`TSITE_ELEMENTS` as a share of their total;
    * ``per_re_<El>``: atoms of each interstitial and of each :data:`TSITE_ELEMENTS` element per R atom
      (divided by ``x_R + 1e-9``: very large when the compound has no rare earth).

    Rows with no element (parse errors: all-zero rows) give NaN in every column.

    Parameters
    ----------
    stats : tuple of str
        Statistics of the element properties (see ``CompositionFeaturizer``); the means alone by
        default: min, max, range and deviation added nothing to the Curie model in grouped CV.
    fraction_elements : tuple of str, "all" or None
        Elements whose atomic fraction ``x_<El>`` is a column (see ``CompositionFeaturizer``).

    Attributes
    ----------
    composition_ : CompositionFeaturizer
        The fitted composition part; its ``element_table_`` is also the source of the 4f and
        valence values used here, so a saved featurizer never changes with the shipped table.
    n_features_in_ : int
        ``len(ELEMENTS)``.
    """

    def __init__(self, stats: Sequence[str] = ("mean",), fraction_elements: Sequence[str] | str | None = "all"):
        self.stats = stats
        self.fraction_elements = fraction_elements

    def fit(self, X=None, y=None):
        """Fit the composition part (loads the element table); ``X`` is only checked.

        Returns
        -------
        self
        """
        from regenome.features.composition import CompositionFeaturizer

        fe = self.fraction_elements
        fe = fe if fe is None or isinstance(fe, str) else tuple(fe)
        self.composition_ = CompositionFeaturizer(stats=tuple(self.stats), fraction_elements=fe).fit(X)
        table = self.composition_.element_table_
        col = {name: i for i, name in enumerate(self.composition_.element_properties_)}
        value = {name: np.nan_to_num(table[:, col[name]]) for name in
                 ("re3_de_gennes", "re3_S", "n_valence", "n_valence_d", "is_transition_metal", "is_actinide")}
        tm = value["is_transition_metal"].copy()
        tm[_idx(RARE_EARTHS)] = 0.0
        # per-element weights summed over each row: actinides, de Gennes, 4f spin, and the non-R transition
        # metals' count, valence and d electrons
        self.element_weights_ = np.column_stack([value["is_actinide"], value["re3_de_gennes"], value["re3_S"],
                                                 tm, tm * value["n_valence"], tm * value["n_valence_d"]])
        self.n_features_in_ = len(ELEMENTS)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (numpy array of str)."""
        check_is_fitted(self, "composition_")
        out = list(self.composition_.get_feature_names_out())
        out += ["x_3d"] + [f"share_3d_{e}" for e in MAGNETIC_3D]
        out += ["x_tsite", "x_interstitial", "x_anion", "share_tsite_3d", "log_tsite_per_re", "log_3d_per_re"]
        out += [f"dist_{name}" for name, _ in PHASES]
        out += ["de_gennes_x_3d", "sqrt_de_gennes", "spin_4f", "spin_4f_x_3d", "tsite_n_valence", "tsite_n_d",
                "x_tm_non_re", "re_x_3d", "fe_x_co", "fe_x_ni", "has_oxygen"]
        out += [f"share_re_{e}" for e in RARE_EARTHS]
        out += [f"share_tsite_{e}" for e in TSITE_ELEMENTS]
        out += [f"per_re_{e}" for e in INTERSTITIALS + TSITE_ELEMENTS]
        return np.asarray(out, dtype=object)

    def transform(self, X) -> np.ndarray:
        """Features of each row of an atomic-fraction matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, len(ELEMENTS))
            Non-negative amounts per element (rows are normalized).

        Returns
        -------
        numpy.ndarray of float32, shape (n_samples, n_features_out), C-contiguous
        """
        from regenome.features.composition import _features

        check_is_fitted(self, "composition_")
        comp = self.composition_
        X = comp._check_X(X)
        p = comp._resolved()
        table, col = comp.element_table_, {name: i for i, name in enumerate(comp.element_properties_)}
        props = table[:, [col[c] for c in p["properties"]]]
        groups = table[:, [col[c] for c in p["groups"]]]
        re_props = table[:, [col[c] for c in p["re_properties"]]]
        is_re = table[:, col["is_rare_earth"]] > 0
        frac_idx = np.array([ELEMENT_INDEX[e] for e in p["fraction_elements"]], dtype=np.intp)
        n_comp = len(comp.get_feature_names_out())
        out = np.empty((X.shape[0], len(self.get_feature_names_out())), dtype=np.float32)
        for start in range(0, X.shape[0], _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, X.shape[0])
            _features(X[start:stop], props, p["stats"], p["norms"], groups, re_props, is_re, frac_idx,
                      out[start:stop, :n_comp])
            self._magnetism(X[start:stop], out[start:stop, n_comp:])
        return out

    def _magnetism(self, X: np.ndarray, out: np.ndarray) -> None:
        """Write the sublattice features of one chunk of rows into ``out``."""
        n_re, n_ts, n_int, n_an = len(RARE_EARTHS), len(TSITE_ELEMENTS), len(INTERSTITIALS), len(ANIONS)
        gather = np.concatenate([_idx(RARE_EARTHS), _idx(TSITE_ELEMENTS), _idx(INTERSTITIALS), _idx(ANIONS)])
        with np.errstate(invalid="ignore", divide="ignore"):
            total = X.sum(axis=1)
            inv = 1.0 / total
            G = X[:, gather] * inv[:, None]
            S = (X @ self.element_weights_) * inv[:, None]
            re_x = G[:, :n_re]
            tsite = G[:, n_re:n_re + n_ts]
            inter = G[:, n_re + n_ts:n_re + n_ts + n_int]
            t3 = tsite[:, :len(MAGNETIC_3D)]  # TSITE_ELEMENTS starts with MAGNETIC_3D
            x_re = re_x.sum(axis=1)
            x_3d = t3.sum(axis=1)
            x_inter = inter.sum(axis=1)
            x_anion = G[:, n_re + n_ts + n_int:].sum(axis=1)
            x_act, de_gennes, spin, x_tm, tm_valence, tm_d = S.T
            x_tsite = np.clip(1.0 - x_re - x_inter - x_anion - x_act, 0.0, None)
            log_t_re = np.log((x_tsite + _EPS) / (x_re + _EPS))
            per_re = 1.0 / (x_re + _EPS)
            blocks = (
                x_3d[:, None], t3 / (x_3d[:, None] + _EPS),
                np.column_stack([x_tsite, x_inter, x_anion, x_3d / (x_tsite + _EPS), log_t_re,
                                 np.log((x_3d + _EPS) * per_re)]),
                np.abs(log_t_re[:, None] - _LOG_PHASES[None, :]),
                np.column_stack([de_gennes * x_3d, np.sqrt(de_gennes), spin, spin * x_3d,
                                 tm_valence / (x_tm + _EPS), tm_d / (x_tm + _EPS), x_tm, x_re * x_3d,
                                 t3[:, 1] * t3[:, 0], t3[:, 2] * t3[:, 0], X[:, ELEMENT_INDEX["O"]] > 0]),
                re_x / (x_re[:, None] + _EPS),
                tsite / (tsite.sum(axis=1, keepdims=True) + _EPS),
                inter * per_re[:, None], tsite * per_re[:, None],
            )
            c = 0
            for block in blocks:
                out[:, c:c + block.shape[1]] = block
                c += block.shape[1]
        out[~(total > 0)] = np.nan

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
