"""Vectorized composition features (Magpie-like statistics plus rare-earth magnetism physics).

Input is the atomic-fraction matrix of :func:`regenome.features.formula.parse_formulas`;
everything is computed with numpy over the non-zero entries of that matrix (no per-row Python).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS, load_element_table

__all__ = [
    "CompositionFeaturizer",
    "DEFAULT_PROPERTIES",
    "DEFAULT_RE_PROPERTIES",
    "DEFAULT_GROUPS",
    "DEFAULT_FRACTION_ELEMENTS",
    "STATS",
]

#: Element-table columns summarized by ``stats`` unless ``properties`` says otherwise.
DEFAULT_PROPERTIES: tuple[str, ...] = (
    "Z", "row", "group", "mendeleev_number", "electronegativity_pauling", "atomic_mass_u",
    "atomic_radius_A", "vdw_radius_A", "melting_point_K", "molar_volume_cm3_mol",
    "first_ionization_eV", "electron_affinity_eV",
    "n_valence_s", "n_valence_p", "n_valence_d", "n_valence_f", "n_valence",
    "n_unfilled_s", "n_unfilled_p", "n_unfilled_d", "n_unfilled_f", "n_unfilled",
    "free_atom_S",
)
#: 4f-shell (R3+ Hund's rule) columns averaged over the rare-earth atoms and over all atoms.
DEFAULT_RE_PROPERTIES: tuple[str, ...] = (
    "re3_n4f", "re3_S", "re3_L", "re3_J", "re3_de_gennes", "re3_spin_projection", "re3_gJ",
    "re3_mu_eff",
)
#: Indicator columns turned into group fractions (``frac_<name without is_>``).
DEFAULT_GROUPS: tuple[str, ...] = (
    "is_rare_earth", "is_light_re", "is_heavy_re", "is_3d_magnetic", "is_transition_metal",
    "is_metal", "is_metalloid", "is_nonmetal", "is_alkali", "is_alkaline_earth", "is_actinide",
    "is_halogen", "is_heavy_chalcogen", "is_heavy_pnictogen",
)
#: Elements whose raw atomic fraction is a feature by default.
DEFAULT_FRACTION_ELEMENTS: tuple[str, ...] = ("Fe", "Co", "Ni", "Mn", "Gd", "O", "N")
#: Valid entries of ``stats``.
STATS: tuple[str, ...] = ("mean", "min", "max", "range", "dev")

_CHUNK_ROWS = 8192


def _param_error(name: str, must: str, got: object) -> ValueError:
    return ValueError(f"The '{name}' parameter of CompositionFeaturizer must be {must}; got {got!r}.")


class CompositionFeaturizer(TransformerMixin, BaseEstimator):
    """Composition features from an atomic-fraction matrix.

    Features, in output order:

    * ``<stat>_<property>`` for each property and stat: fraction-weighted ``mean``; ``min`` and
      ``max`` over the elements present; ``range`` = max - min; ``dev`` = fraction-weighted mean
      absolute deviation from the mean. Elements whose value is unknown (NaN) are left out.
    * ``n_elements`` (p = 0) and ``L<p>_norm`` = (sum x_i^p)^(1/p) of the fractions, per ``norms``.
    * ``frac_<group>``: total fraction of the elements flagged by each indicator column.
    * ``re_avg_<property>``: average of each 4f property over the rare-earth atoms only
      (0 when the row has no rare earth); ``per_atom_<property>``: the same summed over all
      atoms (fraction-weighted; e.g. the de Gennes factor diluted by the RE content).
    * ``x_<El>``: raw atomic fractions of ``fraction_elements``.

    Rows with no element (parse errors: all-zero rows) give NaN in every feature.

    Parameters
    ----------
    properties : tuple of str or None
        Element-table columns for the statistics; None means :data:`DEFAULT_PROPERTIES`.
    stats : tuple of str
        Subset of :data:`STATS`.
    norms : tuple of int
        Powers p of the stoichiometry norms; 0 gives the number of elements.
    groups : tuple of str or None
        Indicator columns (0/1) of the element table; None means :data:`DEFAULT_GROUPS`.
    re_properties : tuple of str or None
        4f columns averaged over the rare earths; None means :data:`DEFAULT_RE_PROPERTIES`.
    fraction_elements : tuple of str, "all" or None
        Elements whose raw fraction is appended; "all" appends the full vector; None or ()
        appends nothing.

    Attributes
    ----------
    element_table_ : numpy.ndarray of float64, shape (len(ELEMENTS), n_table_columns)
        The element table read at fit time; transform only uses this copy, so a saved
        featurizer never changes its features when the shipped table changes.
    element_properties_ : tuple of str
        Column names of ``element_table_``.
    n_features_in_ : int
        ``len(ELEMENTS)``.
    feature_names_in_ : numpy.ndarray of str
        The element symbols (column order of the input).
    """

    def __init__(
        self,
        properties: Sequence[str] | None = None,
        stats: Sequence[str] = ("mean", "min", "max", "range", "dev"),
        norms: Sequence[int] = (0, 2, 3, 5, 7, 10),
        groups: Sequence[str] | None = None,
        re_properties: Sequence[str] | None = None,
        fraction_elements: Sequence[str] | str | None = DEFAULT_FRACTION_ELEMENTS,
    ):
        self.properties = properties
        self.stats = stats
        self.norms = norms
        self.groups = groups
        self.re_properties = re_properties
        self.fraction_elements = fraction_elements

    # ----------------------------------------------------------------- parameters
    def _resolved(self) -> dict[str, tuple]:
        """Validated parameters with defaults filled in, checked against the fitted table."""
        columns = set(self.element_properties_)

        def names(param: str, value, default) -> tuple[str, ...]:
            value = default if value is None else tuple(value)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise _param_error(param, "a tuple of element-table column names or None", value)
            unknown = [v for v in value if v not in columns]
            if unknown:
                raise _param_error(param, "names of element-table columns", unknown)
            return value

        stats = tuple(self.stats)
        if isinstance(self.stats, str) or any(s not in STATS for s in stats):
            raise _param_error("stats", f"a tuple with entries among {STATS}", self.stats)
        norms = tuple(self.norms)
        if any(not isinstance(p, (int, np.integer)) or isinstance(p, bool) or p < 0 for p in norms):
            raise _param_error("norms", "a tuple of non-negative integers", self.norms)
        fe = self.fraction_elements
        if fe is None:
            fe = ()
        elif isinstance(fe, str):
            if fe != "all":
                raise _param_error("fraction_elements", "a tuple of element symbols, 'all' or None", fe)
            fe = ELEMENTS
        fe = tuple(fe)
        unknown = [e for e in fe if e not in ELEMENT_INDEX]
        if unknown:
            raise _param_error("fraction_elements", "element symbols of ELEMENTS", unknown)
        groups = names("groups", self.groups, DEFAULT_GROUPS)
        table = self.element_table_
        idx = [self.element_properties_.index(g) for g in groups]
        if not np.isin(table[:, idx], (0.0, 1.0)).all():
            raise _param_error("groups", "names of 0/1 indicator columns", groups)
        return {
            "properties": names("properties", self.properties, DEFAULT_PROPERTIES),
            "stats": stats,
            "norms": norms,
            "groups": groups,
            "re_properties": names("re_properties", self.re_properties, DEFAULT_RE_PROPERTIES),
            "fraction_elements": fe,
        }

    # ----------------------------------------------------------------- sklearn API
    def fit(self, X=None, y=None):
        """Load the element table into ``element_table_`` and validate the parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, len(ELEMENTS)) or None
            Atomic fractions; only its shape is checked.
        y : ignored

        Returns
        -------
        self
        """
        if X is not None:
            self._check_X(X)
        values, names = load_element_table()
        self.element_table_ = values
        self.element_properties_ = tuple(names)
        self.n_features_in_ = len(ELEMENTS)
        self.feature_names_in_ = np.asarray(ELEMENTS, dtype=object)
        self._resolved()  # fail at fit time, not at transform time
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (numpy array of str)."""
        check_is_fitted(self, "element_table_")
        p = self._resolved()
        out = [f"{s}_{prop}" for s in p["stats"] for prop in p["properties"]]
        out += ["n_elements" if q == 0 else f"L{q}_norm" for q in p["norms"]]
        out += [f"frac_{g.removeprefix('is_')}" for g in p["groups"]]
        out += [f"re_avg_{prop}" for prop in p["re_properties"]]
        out += [f"per_atom_{prop}" for prop in p["re_properties"]]
        out += [f"x_{el}" for el in p["fraction_elements"]]
        return np.asarray(out, dtype=object)

    def transform(self, X) -> np.ndarray:
        """Features of each row of an atomic-fraction matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, len(ELEMENTS))
            Non-negative amounts per element (rows are normalized, so formula scaling does
            not matter); all-zero rows give NaN features.

        Returns
        -------
        numpy.ndarray of float32, shape (n_samples, n_features_out)
        """
        check_is_fitted(self, "element_table_")
        X = self._check_X(X)
        p = self._resolved()
        names = self.element_properties_
        table = self.element_table_
        col = {name: i for i, name in enumerate(names)}
        props = table[:, [col[c] for c in p["properties"]]]
        groups = table[:, [col[c] for c in p["groups"]]]
        re_props = table[:, [col[c] for c in p["re_properties"]]]
        is_re = table[:, col["is_rare_earth"]] > 0
        frac_idx = np.array([ELEMENT_INDEX[e] for e in p["fraction_elements"]], dtype=np.intp)
        n_out = (props.shape[1] * len(p["stats"]) + len(p["norms"]) + groups.shape[1]
                 + 2 * re_props.shape[1] + len(frac_idx))
        out = np.empty((X.shape[0], n_out), dtype=np.float32)
        for start in range(0, X.shape[0], _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, X.shape[0])
            _features(X[start:stop], props, p["stats"], p["norms"], groups, re_props, is_re,
                      frac_idx, out[start:stop])
        return out

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(ELEMENTS):
            raise ValueError(f"X must be an atomic-fraction matrix of shape (n, {len(ELEMENTS)}) "
                             f"(columns = regenome.features.elements.ELEMENTS); got shape {X.shape}.")
        if not np.isfinite(X).all() or (X < 0).any():
            raise ValueError("X must hold finite, non-negative amounts.")
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _features(X, props, stats, norms, groups, re_props, is_re, frac_idx, out) -> None:
    """Write the features of one chunk of rows into ``out`` (see :class:`CompositionFeaturizer`).

    Sums over the elements of a row are sparse (CSR) matrix products; min/max gather the
    entries of all rows with the same number of elements into a dense block (a loop over the
    distinct element counts, not over rows).
    """
    n, n_el = X.shape
    total = X.sum(axis=1)
    rows, cols = np.nonzero(X > 0)  # row-major: the entries of one row are contiguous
    w = X[rows, cols] / total[rows]
    counts = np.bincount(rows, minlength=n)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    present = counts > 0
    W = csr_matrix((w, cols, indptr), shape=(n, n_el))
    col = 0

    def put(block: np.ndarray) -> None:
        nonlocal col
        out[:, col:col + block.shape[1]] = block
        col += block.shape[1]

    with np.errstate(invalid="ignore", divide="ignore"):
        if props.shape[1] and stats:
            known = ~np.isnan(props)
            Vz = np.where(known, props, 0.0)
            wsum = W @ known.astype(np.float64)
            mean = (W @ Vz) / wsum
            vmin, vmax, dev = _row_stats(props, Vz, known, np.nan_to_num(mean), w, cols, counts, indptr,
                                         need_dev="dev" in stats)
            by_stat = {"mean": mean, "min": vmin, "max": vmax, "range": vmax - vmin,
                       "dev": None if dev is None else dev / wsum}
            for stat in stats:
                put(by_stat[stat])
        for q in norms:
            if q == 0:
                put(counts[:, None])
            else:
                put(np.bincount(rows, weights=w**q, minlength=n)[:, None] ** (1.0 / q))
        if groups.shape[1]:
            put(W @ groups)
        if re_props.shape[1]:
            known = ~np.isnan(re_props)
            Wre = csr_matrix((w * is_re[cols], cols, indptr), shape=(n, n_el))
            num = Wre @ np.where(known, re_props, 0.0)
            den = Wre @ known.astype(np.float64)
            put(np.where(den > 0, num / den, 0.0))
            put(num)
        if frac_idx.size:  # divided straight into ``out`` (no temporary copies of the wide block)
            np.divide(X if frac_idx.size == n_el and (frac_idx == np.arange(n_el)).all() else X[:, frac_idx],
                      total[:, None], out=out[:, col:col + frac_idx.size], casting="same_kind")
    out[~present] = np.nan


def _row_stats(props, Vz, known, mean, w, cols, counts, indptr, need_dev=True):
    """Per-row min and max of ``props`` over the row's elements, ignoring NaN (NaN if none), and the
    unnormalized deviation sum_j w_j |v_j - mean| over the known values (None unless ``need_dev``).

    Rows are taken in blocks of equal element count k; each block is reduced over its k element
    columns in place (no (rows, k, properties) temporaries).
    """
    n, m = counts.size, props.shape[1]
    lo_table = np.where(known, props, np.inf)
    hi_table = np.where(known, props, -np.inf)
    vmin = np.full((n, m), np.nan)
    vmax = np.full((n, m), np.nan)
    dev = np.full((n, m), np.nan) if need_dev else None
    for k in np.unique(counts[counts > 0]):
        r = np.flatnonzero(counts == k)
        start = indptr[r]
        lo = hi = acc = None
        mu = mean[r] if need_dev else None
        for j in range(k):
            e = cols[start + j]
            if lo is None:
                lo, hi = lo_table[e], hi_table[e]
            else:
                np.minimum(lo, lo_table[e], out=lo)
                np.maximum(hi, hi_table[e], out=hi)
            if need_dev:
                d = Vz[e]
                d -= mu
                np.abs(d, out=d)
                d *= known[e]
                d *= w[start + j][:, None]
                if acc is None:
                    acc = d
                else:
                    acc += d
        vmin[r] = lo
        vmax[r] = hi
        if need_dev:
            dev[r] = acc
    vmin[np.isinf(vmin)] = np.nan
    vmax[np.isinf(vmax)] = np.nan
    return vmin, vmax, dev
