"""The Nd-Fe-B physics model: end members, trends, ceilings, temperature, routes."""

from __future__ import annotations

import numpy as np
import pytest

from regenome.predictors.formula_io import parse_ndfeb_formula
from regenome.predictors.ndfeb import RE_ELEMENTS, ROUTES, NdFeBModel
from regenome.units import MU0

MODEL = NdFeBModel()
# Herbst (Rev. Mod. Phys. 63, 819, 1991) room-temperature values: Js (T), mu0HA (T), Tc (K)
MEASURED = {"Nd": (1.60, 7.3, 585), "Ce": (1.17, 2.6, 424), "La": (1.38, 2.0, 530),
            "Pr": (1.57, 7.5, 565), "Dy": (0.71, 15.0, 598)}


def _x(**fractions):
    return np.array([[fractions.get(e, 0.0) for e in RE_ELEMENTS]])


def _predict(x, co=0.0, route="sintered", temperature=293.0):
    x = np.atleast_2d(x)
    return MODEL.predict(x, np.full(len(x), co), np.full(len(x), ROUTES.index(route)), temperature)


@pytest.mark.parametrize("element", sorted(MEASURED))
def test_end_members_within_tolerance(element):
    js, ha, tc = MEASURED[element]
    p = _predict(_x(**{element: 1.0}))
    assert abs(p["Js_T"][0] - js) / js <= 0.06
    assert abs(p["mu0HA_T"][0] - ha) / ha <= 0.15
    assert abs(p["Tc_K"][0] - tc) / tc <= 0.03


def test_properties_fall_as_ce_replaces_nd():
    ce = np.linspace(0, 1, 11)
    x = np.zeros((11, len(RE_ELEMENTS)))
    x[:, 0], x[:, 2] = 1 - ce, ce
    p = _predict(x)
    for name in ("Js_T", "Tc_K", "mu0HA_T", "Br_T", "BHmax_kJ_m3"):
        assert np.all(np.diff(p[name]) < 0), name
    hcj = p["Hcj_kA_m"]
    assert np.all(np.diff(hcj[hcj > 1]) < 0) and hcj[-1] < hcj[0]


def test_sintered_nd2fe14b_lands_in_commercial_range():
    p = _predict(_x(Nd=1.0))
    assert 1.2 <= p["Br_T"][0] <= 1.5
    assert 250 <= p["BHmax_kJ_m3"][0] <= 460


def test_dy_raises_hcj_and_heat_lowers_br_and_hcj():
    base, dy = _predict(_x(Nd=1.0)), _predict(_x(Nd=0.95, Dy=0.05))
    assert dy["Hcj_kA_m"][0] > base["Hcj_kA_m"][0]
    hot = _predict(_x(Nd=1.0), temperature=423.0)
    assert hot["Br_T"][0] < base["Br_T"][0] and hot["Hcj_kA_m"][0] < base["Hcj_kA_m"][0]


def test_temperature_coefficients_are_realistic():
    a, b = _predict(_x(Nd=1.0), temperature=293.0), _predict(_x(Nd=1.0), temperature=393.0)
    br_coeff = (b["Br_T"][0] / a["Br_T"][0] - 1) / 100
    hcj_coeff = (b["Hcj_kA_m"][0] / a["Hcj_kA_m"][0] - 1) / 100
    assert -0.0014 < br_coeff < -0.0008
    assert -0.0075 < hcj_coeff < -0.0035


def test_co_raises_tc():
    assert _predict(_x(Nd=1.0), co=0.1)["Tc_K"][0] > _predict(_x(Nd=1.0))["Tc_K"][0] + 50


def test_energy_product_below_ceiling_every_draw():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(len(RE_ELEMENTS)), size=200)
    for route in range(len(ROUTES)):
        s = MODEL.sample(x, rng.uniform(0, 0.3, 200), np.full(200, route), rng.uniform(200, 500, 200))
        ceiling = s["Br_T"] ** 2 / (4 * MU0) / 1e3
        assert np.all(s["BHmax_kJ_m3"] <= ceiling + 1e-9)
        assert np.all(s["Hcj_kA_m"] >= 0) and np.all(s["Br_T"] >= 0)


def test_uncertainty_is_reported_and_reproducible():
    a, b = _predict(_x(Nd=0.7, Ce=0.3)), NdFeBModel().predict(_x(Nd=0.7, Ce=0.3), [0.0], [0], 293.0)
    assert a["Hcj_kA_m_std"][0] > 0 and a["Br_T_std"][0] > 0
    assert a["Hcj_kA_m"][0] == b["Hcj_kA_m"][0]


@pytest.mark.parametrize("formula,ce,co", [("(Nd0.7Ce0.3)2Fe14B", 0.3, 0.0),
                                           ("(Nd0.6Ce0.3La0.1)2(Fe0.95Co0.05)14B", 0.3, 0.05),
                                           ("Nd10.5Ce4.5Fe79B6", 0.3, 0.0)])
def test_formula_parsing(formula, ce, co):
    x, y = parse_ndfeb_formula(formula)
    assert x[RE_ELEMENTS.index("Ce")] == pytest.approx(ce) and y == pytest.approx(co)


@pytest.mark.parametrize("formula", ["Xx2Fe14B", "Nd2Cu14B", "Fe", "((Nd", "NdFe2", ""])
def test_bad_formulas_are_rejected(formula):
    with pytest.raises(ValueError):
        parse_ndfeb_formula(formula)


def test_shipped_parameters_reproduce_from_reference_data(reference_data, tmp_path):
    """`regenome calibrate ndfeb` on the reference data gives exactly the shipped parameters."""
    import json

    from regenome.calibration.ndfeb import calibrate, write_outputs
    from regenome.datafiles import table_path

    write_outputs(calibrate(reference_data), tmp_path)
    fresh = json.loads((tmp_path / "data" / "ndfeb" / "parameters.json").read_text())
    assert fresh == json.loads(table_path("ndfeb", "parameters.json").read_text())
    shipped_doc = (table_path("ndfeb", "parameters.json").parents[2] / "docs" / "models" / "ndfeb-calibration.md")
    if shipped_doc.exists():
        assert (tmp_path / "docs" / "models" / "ndfeb-calibration.md").read_text() == shipped_doc.read_text()


def test_ideal_grain_is_below_the_anisotropy_field_and_above_hcj():
    """Hc of the ideal 50 nm grain (single-grain surrogate) lies between the real Hcj and HA."""
    from regenome.units import MU0

    x = np.array([_x(Nd=1.0)[0], _x(Nd=0.5, Ce=0.5)[0], _x(Nd=0.7, La=0.3)[0], _x(Nd=0.9, Dy=0.1)[0]])
    for temp in (293.0, 393.0):
        pred = MODEL.predict(x, np.zeros(4), np.zeros(4, int), temp)
        ha_ka_m = pred["mu0HA_T"] / MU0 / 1e3
        assert np.all(pred["Hc_grain_kA_m"] < ha_ka_m)
        assert np.all(pred["Hcj_kA_m"] < pred["Hc_grain_kA_m"])
        assert np.all(pred["Hc_grain_kA_m_std"] > 0)


def test_film_route_reproduces_the_measured_ce_trend(reference_data):
    """On the (Nd,Ce) film library, the fitted film-route model follows the measured Hc decline with Ce."""
    from regenome.calibration.ndfeb import _read, film_fit, film_trend

    film = film_fit(_read(reference_data / "magnets" / "NdCe_film_library_coercivity.csv"))
    slopes = film_trend({"film": film})[-1]
    assert slopes["slope_measured"] < 0 and slopes["slope_model"] < 0
    assert abs(slopes["slope_model"] / slopes["slope_measured"] - 1) < 0.25
    assert 0.2 < film["alpha"] < 1.0


def test_intrinsic_trends_agree_with_the_composition_surrogates():
    """Tc and Js of (Nd,Ce) and (Nd,La) 2:14:1 phases: physics model and trained surrogates within 3 sigma."""
    import json

    from regenome.calibration.ndfeb import substitution_trends
    from regenome.datafiles import table_path

    rows = substitution_trends(json.loads(table_path("ndfeb", "parameters.json").read_text()))
    assert len(rows) == 10
    for r in rows:
        for prop in ("Tc_K", "Js_T"):
            sigma = np.hypot(r[prop + "_std"], r[f"surrogate_{prop}_std"])
            assert abs(r[prop] - r[f"surrogate_{prop}"]) <= 3 * sigma, (r["formula"], prop)
