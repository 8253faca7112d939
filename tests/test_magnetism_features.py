"""Magnetic-sublattice features, the trimmed-mean forest of the Curie model, and the fast paths it uses."""

from __future__ import annotations

import csv
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regenome.features.composition import CompositionFeaturizer
from regenome.features.elements import ELEMENT_INDEX, ELEMENTS
from regenome.features.formula import _parse_plain, parse_formula, parse_formulas
from regenome.features.magnetism import PHASES, MagnetismFeaturizer


def featurize(formulas):
    F, errors = parse_formulas(formulas)
    fz = MagnetismFeaturizer().fit(F)
    names = {name: i for i, name in enumerate(fz.get_feature_names_out())}
    return fz.transform(F), names, errors


# ------------------------------------------------------------------------- MagnetismFeaturizer
def test_output_shape_names_and_composition_part():
    formulas = ["Nd2Fe14B", "SmCo5", "Fe3O4", "Gd", "(Nd0.7Ce0.3)2(Fe0.9Co0.1)14B", "La0.7Sr0.3MnO3"]
    X, names, _ = featurize(formulas)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert X.shape == (len(formulas), len(names))
    F, _ = parse_formulas(formulas)
    comp = CompositionFeaturizer(stats=("mean",), fraction_elements="all").fit(F).transform(F)
    np.testing.assert_array_equal(X[:, :comp.shape[1]], comp)
    assert np.isfinite(X).all()


def test_sublattice_physics_of_known_phases():
    X, c, _ = featurize(["Nd2Fe14B", "SmCo5", "Fe3O4", "Gd"])
    nd2fe14b, smco5, fe3o4, gd = X
    assert nd2fe14b[c["x_3d"]] == pytest.approx(14 / 17)
    assert nd2fe14b[c["log_tsite_per_re"]] == pytest.approx(math.log(7), abs=1e-6)
    assert nd2fe14b[c["dist_2:14:1"]] == pytest.approx(0, abs=1e-6)
    assert nd2fe14b[c["per_re_B"]] == pytest.approx(0.5)
    assert nd2fe14b[c["per_re_Fe"]] == pytest.approx(7)
    assert nd2fe14b[c["share_re_Nd"]] == 1 and nd2fe14b[c["share_3d_Fe"]] == pytest.approx(1)
    assert nd2fe14b[c["tsite_n_valence"]] == pytest.approx(8)
    assert smco5[c["dist_1:5"]] == pytest.approx(0, abs=1e-6) and smco5[c["share_3d_Co"]] == pytest.approx(1)
    # de Gennes factor (g - 1)^2 J (J + 1) of Sm3+ (5/2, g = 2/7) diluted by the Sm fraction
    assert smco5[c["sqrt_de_gennes"]] ** 2 == pytest.approx((2 / 7 - 1) ** 2 * 2.5 * 3.5 / 6, rel=1e-5)
    assert fe3o4[c["has_oxygen"]] == 1 and fe3o4[c["x_anion"]] == pytest.approx(4 / 7)
    assert fe3o4[c["log_tsite_per_re"]] > 15  # no rare earth
    assert gd[c["x_3d"]] == 0 and gd[c["x_tsite"]] == 0 and gd[c["log_tsite_per_re"]] < -15
    assert len([n for n in c if n.startswith("dist_")]) == len(PHASES)


def test_scaling_invariant_and_bad_rows_nan():
    F, _ = parse_formulas(["Fe2O3", "Fe4O6"])
    F = np.vstack([F, F[0] * 7.5, np.zeros(len(ELEMENTS))])
    fz = MagnetismFeaturizer().fit(F)
    X = fz.transform(F)
    np.testing.assert_allclose(X[1], X[0], rtol=1e-6)
    np.testing.assert_allclose(X[2], X[0], rtol=1e-6)
    assert np.isnan(X[3]).all()


def test_checks_input_and_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MagnetismFeaturizer().transform(np.zeros((1, len(ELEMENTS))))
    fz = MagnetismFeaturizer().fit()
    with pytest.raises(ValueError, match="atomic-fraction matrix"):
        fz.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="non-negative"):
        fz.transform(-np.ones((1, len(ELEMENTS))))


def test_chunks_do_not_change_features():
    rng = np.random.default_rng(0)
    F = rng.random((9000, len(ELEMENTS))) * (rng.random((9000, len(ELEMENTS))) < 0.04)
    F[F.sum(axis=1) == 0, ELEMENT_INDEX["Fe"]] = 1.0
    fz = MagnetismFeaturizer().fit(F)
    whole = fz.transform(F)
    np.testing.assert_array_equal(np.vstack([fz.transform(F[:123]), fz.transform(F[123:])]), whole)


# ------------------------------------------------------------------------- TrimmedForestRegressor
def test_trimmed_forest():
    from sklearn.ensemble import ExtraTreesRegressor

    from regenome.surrogates.curie_temperature import TrimmedForestRegressor

    rng = np.random.default_rng(1)
    X = rng.random((300, 4))
    y = X[:, 0] * 3 + rng.normal(0, 0.3, 300)
    forest = ExtraTreesRegressor(n_estimators=10, random_state=0)
    plain = TrimmedForestRegressor(forest, trim=0.0).fit(X, y)
    np.testing.assert_allclose(plain.predict(X[:50]), plain.forest_.predict(X[:50].astype(np.float32)))
    trimmed = TrimmedForestRegressor(forest, trim=0.2).fit(X, y)
    rows = X[:50].astype(np.float32)
    per_tree = np.sort(np.stack([t.predict(rows) for t in trimmed.estimators_], axis=1), axis=1)
    np.testing.assert_allclose(trimmed.predict(X[:50]), per_tree[:, 2:8].mean(axis=1))
    perm = rng.permutation(50)
    np.testing.assert_array_equal(trimmed.predict(X[:50][perm]), trimmed.predict(X[:50])[perm])
    with pytest.raises(ValueError, match="'trim' parameter"):
        TrimmedForestRegressor(forest, trim=0.5).fit(X, y)


# ------------------------------------------------------------------------- fast paths of the predict path
PLAIN = st.lists(st.tuples(st.sampled_from(["Fe", "Co", "Nd", "B", "O", "Sm", "Cu", "H", "X", "fe"]),
                           st.sampled_from(["", "1", "2", "0.5", ".25", "14", "1.", "0", "007", "1.2.3", "e"])),
                 min_size=0, max_size=5)


def _joined(parts) -> str:
    return "".join(a + b for a, b in parts)


GROUPED = st.builds(lambda a, o, b, c, n: f"{a}{o}{b}{c}{n}", PLAIN.map(_joined), st.sampled_from("([{"),
                    PLAIN.map(_joined), st.sampled_from(")]}"), st.sampled_from(["", "2", "0.5", "3."]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(PLAIN.map(_joined), GROUPED, st.text(alphabet="FeNdB()[]{}.0123 ·*", max_size=12)),
                max_size=10))
def test_array_parser_agrees_with_parse_formula(formulas):
    """The numpy fast path of parse_formulas accepts only what parse_formula accepts, with the same fractions."""
    fractions, ok = _parse_plain(formulas)
    got, errors = parse_formulas(formulas)
    for f, row, good, fast_row, error in zip(formulas, got, ok, fractions, errors):
        try:
            expected = parse_formula(f)
        except ValueError as exc:
            assert not good and error == str(exc) and not row.any()
            continue
        assert error == ""
        want = np.zeros(len(ELEMENTS))
        for el, x in expected.items():
            want[ELEMENT_INDEX[el]] = x
        np.testing.assert_allclose(row, want, rtol=1e-12, atol=1e-15)
        if good:
            np.testing.assert_allclose(fast_row, want, rtol=1e-12, atol=1e-15)


def test_array_parser_takes_plain_formulas_only():
    formulas = ["(Nd0.52Pr0.12Ce0.21La0.15)2.2(Fe0.9Co0.08Cu0.02)14B", "Ca(Fe(CN)6)2", "[Co(NH3)6]Cl3",
                "Fe2 O3", "CuSO4·5H2O", "Fe" * 101, "Fe1234567890123456", "(Fe]2", "Fe()2", "2Fe"]
    _, ok = _parse_plain(formulas)
    assert ok.tolist() == [True, True, True] + [False] * 7
    F, _ = parse_formulas(formulas[:1])
    assert F[0, ELEMENT_INDEX["Nd"]] == pytest.approx(2.2 * 0.52 / (2.2 + 14 + 1), rel=1e-12)


def test_plain_csv_writer_matches_pandas(tmp_path):
    from regenome.tableio import _has_cr, _write_plain_csv, write_csv_atomic

    frame = pd.DataFrame({"formula": ["Fe2O3", 'a,"b"', "x\ny", "", "é"],
                          "Tc_K": [1.0, np.nan, np.inf, -0.0, 1 / 3],
                          "Tc_K_std": [1e-300, 1e300, 123456789.0, 2.5, np.nan],
                          "error": ["", "bad, row", "", "", ""]})
    for df in (frame, frame.assign(error=["", "a\rb", "", "", ""]), frame.iloc[:0]):
        quoting = csv.QUOTE_ALL if _has_cr(df) else csv.QUOTE_MINIMAL
        df.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g", lineterminator="\n", quoting=quoting)
        assert _write_plain_csv(df, tmp_path / "plain.csv", "%.6g", quoting)
        assert (tmp_path / "plain.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
        write_csv_atomic(df, tmp_path / "atomic.csv")
        assert (tmp_path / "atomic.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert not _write_plain_csv(pd.DataFrame({"n": [1, 2]}), tmp_path / "x.csv", "%.6g", csv.QUOTE_MINIMAL)
    assert not _write_plain_csv(pd.DataFrame({"s": ["a", None]}), tmp_path / "x.csv", "%.6g", csv.QUOTE_MINIMAL)
