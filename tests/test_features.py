"""Tests of regenome.features: formula parsing, the element table and the composition featurizer."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from regenome.features import ELEMENTS, load_element_table, parse_formula, parse_formulas
from regenome.features.composition import CompositionFeaturizer
from regenome.features.elements import ELEMENT_INDEX, RARE_EARTHS


def as_dict(row: np.ndarray) -> dict[str, float]:
    return {ELEMENTS[i]: float(row[i]) for i in np.flatnonzero(row)}


def features(formulas, **params) -> tuple[np.ndarray, dict[str, int]]:
    F, errors = parse_formulas(formulas)
    assert errors == [""] * len(formulas)
    fz = CompositionFeaturizer(**params).fit(F)
    names = {name: i for i, name in enumerate(fz.get_feature_names_out())}
    return fz.transform(F), names


# ------------------------------------------------------------------------- parsing
def test_parse_mixed_rare_earth_2_14_1():
    F, errors = parse_formulas(["(Nd0.7Ce0.3)2Fe14B"])
    assert errors == [""]
    assert F.shape == (1, len(ELEMENTS)) and F.dtype == np.float64
    expected = {"Nd": 1.4 / 17, "Ce": 0.6 / 17, "Fe": 14 / 17, "B": 1 / 17}
    got = as_dict(F[0])
    assert got.keys() == expected.keys()
    for el, x in expected.items():
        assert got[el] == pytest.approx(x, rel=1e-12)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("Ca(Fe(CN)6)2", {"Ca": 1, "Fe": 2, "C": 12, "N": 12}),
        ("[Co(NH3)6]Cl3", {"Co": 1, "N": 6, "H": 18, "Cl": 3}),
        ("Nd10.5Ce4.5Fe79B6", {"Nd": 10.5, "Ce": 4.5, "Fe": 79, "B": 6}),
        ("Fe.5Co.5", {"Fe": 1, "Co": 1}),
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("Fe2 O3", {"Fe": 2, "O": 3}),
        ("FeFe", {"Fe": 1}),
        ("Sm(Co0.7Fe0.2Cu0.1)7.5", {"Sm": 1, "Co": 5.25, "Fe": 1.5, "Cu": 0.75}),
    ],
)
def test_parse_groups_decimals_hydrates(formula, expected):
    total = sum(expected.values())
    got = parse_formula(formula)
    assert got == pytest.approx({el: v / total for el, v in expected.items()}, rel=1e-12)


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("A1Q1073Mn39.5Al3Ni48Sn9.5W1", "unknown element 'A'"),
        ("MeFe2", "unknown element 'Me'"),
        ("", "empty formula"),
        ("   ", "empty formula"),
        ("Fe0", "total amount is not positive"),
        ("Fe2O3(", "unclosed '('"),
        ("Fe2)O3", "unbalanced ')'"),
        ("(Fe]2", "unbalanced ']'"),
        ("Fe-2", "unexpected character '-'"),
        ("2Fe", "unexpected number '2'"),
        ("fe2o3", "unexpected character 'f'"),
        ("Fe()2", "empty brackets"),
        ("Fe" * 101, "longer than 200 characters"),
    ],
)
def test_parse_errors(formula, reason):
    F, errors = parse_formulas(["Fe2O3", formula])
    assert errors == ["", reason]
    assert F[1].sum() == 0 and F[0].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="."):
        parse_formula(formula)


def test_parse_non_strings_and_repeats():
    F, errors = parse_formulas(["Fe2O3", None, float("nan"), "nan", "Fe2O3"])
    assert errors[0] == errors[4] == ""
    assert errors[1] == "not a string (NoneType)" and errors[2] == "not a string (float)"
    assert errors[3] == "unexpected character 'n'"
    np.testing.assert_array_equal(F[0], F[4])
    empty, no_errors = parse_formulas([])
    assert empty.shape == (0, len(ELEMENTS)) and no_errors == []


_symbols = st.sampled_from(["H", "B", "O", "Fe", "Co", "Nd", "Ce", "Sm", "Cu"])
_amounts = st.integers(min_value=1, max_value=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_symbols, _amounts), min_size=1, max_size=5), st.integers(1, 9))
def test_parse_property_scaling_and_grouping(parts, k):
    """Written out, scaled by k, or wrapped in (...)k: the fractions are the same."""
    plain = "".join(f"{el}{n}" for el, n in parts)
    scaled = "".join(f"{el}{n * k}" for el, n in parts)
    grouped = f"({plain}){k}"
    F, errors = parse_formulas([plain, scaled, grouped])
    assert errors == ["", "", ""]
    np.testing.assert_allclose(F[1], F[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F[2], F[0], rtol=1e-12, atol=1e-15)
    assert F[0].sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------- element table
def test_element_table_physics():
    values, names = load_element_table()
    assert values.shape == (len(ELEMENTS), len(names)) and ELEMENTS[0] == "H"
    col = {n: i for i, n in enumerate(names)}

    def v(el, name):
        return values[ELEMENT_INDEX[el], col[name]]

    assert v("Fe", "Z") == 26 and v("Nd", "Z") == 60
    # Hund's rules: Nd3+ 4f3 -> 4I9/2, g = 8/11; Gd3+ 4f7 -> 8S7/2; Dy3+ 4f9 -> 6H15/2
    assert (v("Nd", "re3_n4f"), v("Nd", "re3_S"), v("Nd", "re3_L"), v("Nd", "re3_J")) == (3, 1.5, 6, 4.5)
    assert v("Nd", "re3_g") == pytest.approx(8 / 11)
    assert v("Gd", "re3_de_gennes") == pytest.approx(15.75)
    assert v("Dy", "re3_de_gennes") == pytest.approx((4 / 3 - 1) ** 2 * 7.5 * 8.5)
    assert v("Nd", "re3_spin_projection") < 0 < v("Tb", "re3_spin_projection")
    assert np.isnan(v("Eu", "re3_g")) and v("Eu", "re3_de_gennes") == 0  # J = 0
    assert v("Fe", "is_3d_magnetic") == 1 and v("Cu", "is_3d_magnetic") == 0
    assert v("Nd", "is_light_re") == 1 and v("Dy", "is_heavy_re") == 1
    assert sum(v(el, "is_rare_earth") for el in ELEMENTS) == len(RARE_EARTHS) == 17
    assert (v("Fe", "n_valence_d"), v("Fe", "n_valence_s"), v("O", "n_unfilled_p")) == (6, 2, 2)
    assert np.isnan(v("He", "electronegativity_pauling"))


# ------------------------------------------------------------------------- featurizer
def test_hand_computed_fe2o3():
    X, col = features(["Fe2O3"])
    x = X[0]
    assert x.dtype == np.float32
    assert x[col["mean_Z"]] == pytest.approx(0.4 * 26 + 0.6 * 8)
    assert x[col["min_Z"]] == 8 and x[col["max_Z"]] == 26 and x[col["range_Z"]] == 18
    assert x[col["dev_Z"]] == pytest.approx(0.4 * abs(26 - 15.2) + 0.6 * abs(8 - 15.2))
    assert x[col["n_elements"]] == 2
    assert x[col["L2_norm"]] == pytest.approx(np.sqrt(0.4**2 + 0.6**2))
    assert x[col["L10_norm"]] == pytest.approx((0.4**10 + 0.6**10) ** 0.1)
    assert x[col["x_Fe"]] == pytest.approx(0.4) and x[col["frac_3d_magnetic"]] == pytest.approx(0.4)
    assert x[col["frac_rare_earth"]] == 0 and x[col["re_avg_re3_de_gennes"]] == 0


def test_rare_earth_physics_features():
    X, col = features(["(Nd0.5Dy0.5)2Fe14B", "Gd"])
    dg_nd, dg_dy = 1.8409090909, (1 / 3) ** 2 * 7.5 * 8.5
    assert X[0, col["re_avg_re3_de_gennes"]] == pytest.approx((dg_nd + dg_dy) / 2, rel=1e-6)
    assert X[0, col["per_atom_re3_de_gennes"]] == pytest.approx((dg_nd + dg_dy) / 17, rel=1e-6)
    assert X[0, col["frac_light_re"]] == pytest.approx(1 / 17) == X[0, col["frac_heavy_re"]]
    assert X[1, col["re_avg_re3_de_gennes"]] == pytest.approx(15.75)


def test_scaling_invariance_and_error_rows():
    F, errors = parse_formulas(["Fe2O3", "Fe4O6", "Xx2"])
    assert errors[2] == "unknown element 'Xx'"
    fz = CompositionFeaturizer(fraction_elements="all").fit(F)
    X = fz.transform(F)
    np.testing.assert_array_equal(X[0], X[1])
    np.testing.assert_array_equal(fz.transform(F[:1] * 7.5), X[:1])  # unnormalized amounts
    assert np.isnan(X[2]).all()
    assert not np.isnan(X[0]).any()
    assert X.shape[1] == len(fz.get_feature_names_out())


def test_unknown_property_values_are_skipped():
    X, col = features(["HeFe"])  # He has no Pauling electronegativity
    assert X[0, col["mean_electronegativity_pauling"]] == pytest.approx(1.83)
    assert X[0, col["dev_electronegativity_pauling"]] == 0


def test_params_and_errors():
    F, _ = parse_formulas(["SmCo5"])
    with pytest.raises(NotFittedError):
        CompositionFeaturizer().transform(F)
    with pytest.raises(ValueError, match="'stats' parameter of CompositionFeaturizer"):
        CompositionFeaturizer(stats=("mean", "median")).fit(F)
    with pytest.raises(ValueError, match="'properties' parameter"):
        CompositionFeaturizer(properties=("Z", "bogus")).fit(F)
    with pytest.raises(ValueError, match="'fraction_elements' parameter"):
        CompositionFeaturizer(fraction_elements=("Fe", "Qq")).fit(F)
    fz = CompositionFeaturizer().fit(F)
    with pytest.raises(ValueError, match="shape"):
        fz.transform(F[:, :10])
    with pytest.raises(ValueError, match="non-negative"):
        fz.transform(-F)
    small = CompositionFeaturizer(properties=("Z",), stats=("mean",), norms=(), groups=(),
                                  re_properties=(), fraction_elements=None).fit(F)
    assert list(small.get_feature_names_out()) == ["mean_Z"]
    assert small.transform(F)[0, 0] == pytest.approx((62 + 5 * 27) / 6)


def test_clone_pickle_and_fitted_table():
    F, _ = parse_formulas(["SmCo5", "Nd2Fe14B", "Fe2O3"])
    fz = CompositionFeaturizer(stats=("mean", "max"), fraction_elements=("Fe",))
    fresh = clone(fz)
    assert fresh.get_params() == fz.get_params() and not hasattr(fresh, "element_table_")
    fz.fit(F)
    again = pickle.loads(pickle.dumps(fz))
    np.testing.assert_array_equal(again.transform(F), fz.transform(F))
    # transform uses the table stored at fit time, not the file
    fz.element_table_ = fz.element_table_.copy()
    fz.element_table_[:, fz.element_properties_.index("Z")] += 1.0
    assert fz.transform(F)[0, 0] == pytest.approx(again.transform(F)[0, 0] + 1.0)


def test_skops_round_trip(tmp_path):
    sio = pytest.importorskip("skops.io")
    F, _ = parse_formulas(["(Nd0.7Ce0.3)2Fe14B", "Fe2O3", "Gd5Si2Ge2"])
    fz = CompositionFeaturizer(fraction_elements="all").fit(F)
    path = tmp_path / "featurizer.skops"
    sio.dump(fz, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == ["regenome.features.composition.CompositionFeaturizer"]
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.transform(F), fz.transform(F))
    assert loaded.get_params() == fz.get_params()
    np.testing.assert_array_equal(loaded.get_feature_names_out(), fz.get_feature_names_out())


def test_vectorized_batch_matches_rows():
    formulas = ["Fe2O3", "SmCo5", "(Nd0.7Ce0.3)2Fe14B", "Gd", "LaFe11.5Si1.5H1.5", "Xx"]
    F, _ = parse_formulas(formulas * 3)
    fz = CompositionFeaturizer().fit(F)
    batch = fz.transform(F)
    singles = np.vstack([fz.transform(F[i:i + 1]) for i in range(len(F))])
    np.testing.assert_array_equal(batch, singles)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, len(ELEMENTS) - 1), st.floats(0.01, 10.0)), min_size=0, max_size=9),
                min_size=1, max_size=30))
def test_statistics_match_a_per_row_loop(rows):
    """mean/min/max/range/dev equal a plain per-row loop over the known values (NaN-valued elements skipped)."""
    F = np.zeros((len(rows), len(ELEMENTS)))
    for i, entries in enumerate(rows):
        for e, x in entries:
            F[i, e] += x
    fz = CompositionFeaturizer(fraction_elements=None).fit(F)
    X = fz.transform(F)
    names = list(fz.get_feature_names_out())
    table, props = load_element_table()
    for i in range(len(F)):
        present = np.flatnonzero(F[i])
        if present.size == 0:
            assert np.isnan(X[i]).all()
            continue
        for prop in ("Z", "electronegativity_pauling", "electron_affinity_eV", "melting_point_K"):
            v = table[present, props.index(prop)]
            x = F[i, present] / F[i].sum()
            ok = ~np.isnan(v)
            got = {s: X[i, names.index(f"{s}_{prop}")] for s in ("mean", "min", "max", "range", "dev")}
            if not ok.any():
                assert all(np.isnan(g) for g in got.values())
                continue
            mean = (x[ok] * v[ok]).sum() / x[ok].sum()
            expected = {"mean": mean, "min": v[ok].min(), "max": v[ok].max(), "range": v[ok].max() - v[ok].min(),
                        "dev": (x[ok] * np.abs(v[ok] - mean)).sum() / x[ok].sum()}
            for s, value in expected.items():
                assert got[s] == pytest.approx(value, rel=1e-5, abs=1e-4), (prop, s, as_dict(F[i]))
