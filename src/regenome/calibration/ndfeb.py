"""Calibrate the Nd-Fe-B physics model on the reference data.

Reads the third-party tables under ``REGENOME_DATA/magnets`` and writes the small
tables regenome ships (``data/ndfeb/end_members.csv``, ``data/ndfeb/parameters.json``)
and the residual report ``docs/models/ndfeb-calibration.md``. Run it with
``regenome calibrate ndfeb --data PATH``; every number in the report comes from here.

Rules (see docs/models/ndfeb.md for the reasoning):

* end members: the Herbst (Rev. Mod. Phys. 63, 819, 1991) row of each R2Fe14B compound;
  one-sigma = robust spread (1.4826 x median absolute deviation) of all medium-trust
  sources, with a relative floor; exchange stiffness A from the rows that report one
  (Bhandari et al.'s experimental table), one-sigma 10 %;
* Co: per source, ratios (Js, mu0HA) and shifts (Tc) against the same source's Co-free
  compound, fitted by a quadratic through the origin in the Co share y <= 0.5, on the
  light-RE (Nd, Pr) series only: the heavy-RE (Dy, Tb) series show the opposite trend of
  mu0HA with Co, and screened compositions are Nd/Pr-rich;
* bowing: binary (Nd,R) rows of mixed_RE_intrinsic.csv (medium trust), normalised by the
  same source's Nd2Fe14B value when the source reports one, least squares for b in
  P = sum x_i P_i - b x_Nd x_R (at least two rows, else b = 0);
* temperature: Kuz'min shape s and the anisotropy exponent n chosen so the sintered
  Nd2Fe14B reference reproduces the usual reversible coefficients of sintered grades
  (Br about -0.11 %/K, Hcj about -0.55 %/K between 293 and 393 K);
* sintered route: remanence factor, squareness and alpha from the N and N..M grades of
  commercial_grades_datasheet.csv, Neff from the grain-size relation of Bance et al. (2014)
  at 5 um; film library: least-squares alpha, Neff of Hc = alpha*Hc_grain - Neff*Ms, used
  for the nanocrystalline routes. Hc_grain is the ideal 50 nm grain from the trained
  ``single-grain`` surrogate, so train it before calibrating.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from regenome.predictors.ndfeb import (
    RE_ELEMENTS,
    ROUTES,
    NdFeBModel,
    MODEL_VERSION,
    NdFeBParameters,
    single_grain_coercivity,
)
from regenome.units import MU0, ROOM_TEMPERATURE_K

HERBST = "J.F. Herbst, Rev. Mod. Phys. 63, 819"
BR_COEFF_PER_K = (-0.0011, 0.0001)  # reversible coefficient of Br, sintered grades (mean, sigma)
HCJ_COEFF_PER_K = (-0.0055, 0.0005)  # reversible coefficient of Hcj, sintered grades
COEFF_T_HIGH = 393.0
FLOORS = {"Js_T": 0.02, "mu0HA_T": 0.05, "Tc_K": 0.01, "A_pJ_m": 0.10}  # relative one-sigma floors
CO_FIT_RARE_EARTHS = ("Nd", "Pr")
INTRINSIC = ("Js_T", "mu0HA_T", "Tc_K", "A_pJ_m")
BANCE_NEFF = ((55.0, 0.2), (8300.0, 1.22))  # grain size nm -> Neff, Bance et al. 2014


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bance_neff(grain_size_nm: float) -> float:
    """Neff interpolated log-linearly in grain size between Bance et al.'s 55 nm and 8.3 um values."""
    (d0, n0), (d1, n1) = BANCE_NEFF
    t = math.log(grain_size_nm / d0) / math.log(d1 / d0)
    return n0 + t * (n1 - n0)


def end_members(rows: list[dict]) -> dict:
    """Herbst values and the spread of medium-trust sources for each R2Fe14B end member."""
    out = {}
    for r in RE_ELEMENTS:
        mine = [x for x in rows if x["compound"] == f"{r}2Fe14B" and _float(x["Co_per_fu"]) == 0]
        medium = [x for x in mine if x["trust"].startswith("medium")]
        herbst = [x for x in mine if x["source"].startswith(HERBST)]
        if not herbst:
            raise ValueError(f"no Herbst row for {r}2Fe14B in intrinsic_R2Fe14B.csv")
        entry = {"n_sources": len(medium), "source": herbst[0]["source"]}
        for prop in ("Js_T", "mu0HA_T", "Tc_K"):
            mean = _float(herbst[0][prop])
            values = np.array([_float(x[prop]) for x in medium])
            values = values[np.isfinite(values)]
            spread = 1.4826 * float(np.median(np.abs(values - np.median(values)))) if values.size >= 3 else 0.0
            entry[prop] = (mean, max(spread, FLOORS[prop] * mean))
            entry[prop + "_range"] = (float(values.min()), float(values.max())) if values.size else (mean, mean)
        exchange = np.array([_float(x["A_pJ_m"]) for x in mine])
        exchange = exchange[np.isfinite(exchange)]
        if not exchange.size:
            raise ValueError(f"no exchange stiffness A_pJ_m for {r}2Fe14B in intrinsic_R2Fe14B.csv")
        a_mean = float(np.median(exchange))
        entry["A_pJ_m"] = (a_mean, max(float(exchange.std()), FLOORS["A_pJ_m"] * a_mean))
        entry["A_pJ_m_range"] = (float(exchange.min()), float(exchange.max()))
        for prop in ("a_A", "c_A", "density_g_cm3_xray_calc"):
            entry[prop] = _float(herbst[0][prop])
        out[r] = entry
    return out


def cobalt_effect(rows: list[dict]) -> tuple[dict, list[dict]]:
    """Quadratic Co coefficients from same-source ratios; returns (coefficients, points used)."""
    points = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for x in rows:
        if x["R"] not in CO_FIT_RARE_EARTHS or not x["trust"].startswith("medium") or x["source"].startswith(HERBST):
            continue  # Herbst's Co-free row and Co series come from different papers
        groups.setdefault((x["R"], x["source"]), []).append(x)
    for (r, source), members in groups.items():
        base = [m for m in members if _float(m["Co_per_fu"]) == 0]
        if not base:
            continue
        b = base[0]
        for m in members:
            y = _float(m["Co_per_fu"]) / 14.0
            if not 0 < y <= 0.5:
                continue
            points.append({
                "compound": m["compound"], "source": source.split(":")[0], "y": y,
                "Js_ratio": _float(m["Js_T"]) / _float(b["Js_T"]),
                "mu0HA_ratio": _float(m["mu0HA_T"]) / _float(b["mu0HA_T"]),
                "Tc_shift_K": _float(m["Tc_K"]) - _float(b["Tc_K"]),
            })
    coeffs = {}
    for key, offset in (("Js_ratio", 1.0), ("mu0HA_ratio", 1.0), ("Tc_shift_K", 0.0)):
        pts = [(p["y"], p[key] - offset) for p in points if math.isfinite(p[key])]
        y = np.array([p[0] for p in pts])
        v = np.array([p[1] for p in pts])
        design = np.stack([y, y**2], axis=1)
        coeffs[key] = [float(c) for c in np.linalg.lstsq(design, v, rcond=None)[0]]
    return coeffs, points


def lattice_co_slope(rows: list[dict]) -> dict:
    """Change of a, c (Angstrom) from R2Fe14B to R2Co14B, averaged over sources reporting both."""
    by_source: dict[tuple[str, str], dict[float, dict]] = {}
    for x in rows:
        if x["trust"].startswith("medium") and x["R"] in CO_FIT_RARE_EARTHS:
            by_source.setdefault((x["R"], x["source"]), {})[_float(x["Co_per_fu"])] = x
    da, dc = [], []
    for series in by_source.values():
        if 0.0 in series and 14.0 in series:
            da.append(_float(series[14.0]["a_A"]) - _float(series[0.0]["a_A"]))
            dc.append(_float(series[14.0]["c_A"]) - _float(series[0.0]["c_A"]))
    return {"co_slope_a_A": round(float(np.nanmean(da)), 4), "co_slope_c_A": round(float(np.nanmean(dc)), 4),
            "n_series": len(da)}


def _linear_mix(x: np.ndarray, em: dict) -> dict:
    js = np.array([em[r]["Js_T"][0] for r in RE_ELEMENTS])
    ha = np.array([em[r]["mu0HA_T"][0] for r in RE_ELEMENTS])
    tc = np.array([em[r]["Tc_K"][0] for r in RE_ELEMENTS])
    js_mix = x @ js
    k1_mix = x @ (ha * js / (2 * MU0))
    return {"Js_T": js_mix, "mu0HA_T": 2 * MU0 * k1_mix / js_mix, "Tc_K": x @ tc}


def _fractions(row: dict) -> np.ndarray:
    return np.array([_float(row.get(f"{r}_frac_RE", "0")) or 0.0 for r in RE_ELEMENTS])


def bowing(mixed: list[dict], intrinsic: list[dict], em: dict) -> tuple[dict, list[dict]]:
    """Fit Nd-R bowing on binary mixed series; returns (bowing table, fit points)."""
    nd_by_source = {x["source"]: x for x in intrinsic if x["compound"] == "Nd2Fe14B"}
    points = []
    for row in mixed:
        if not row["trust"].startswith("medium") or _float(row["Co_per_fu"]) not in (0.0,):
            continue
        x = _fractions(row)
        partners = [r for r, v in zip(RE_ELEMENTS, x) if v > 0 and r != "Nd"]
        if x[0] <= 0 or len(partners) != 1:
            continue
        lin = _linear_mix(x, em)
        ref = nd_by_source.get(row["source"])
        for prop in ("Js_T", "mu0HA_T", "Tc_K"):
            measured = _float(row[prop])
            if not math.isfinite(measured):
                continue
            scale = 1.0
            if ref is not None and math.isfinite(_float(ref[prop])):
                scale = em["Nd"][prop][0] / _float(ref[prop])
            points.append({"partner": partners[0], "prop": prop, "xx": float(x[0] * x[RE_ELEMENTS.index(partners[0])]),
                           "excess": float(lin[prop] - measured * scale), "normalised": ref is not None})
    table: dict[str, dict[str, float]] = {"Js_T": {}, "mu0HA_T": {}, "Tc_K": {}}
    for prop in table:
        for partner in RE_ELEMENTS[1:]:
            pts = [p for p in points if p["prop"] == prop and p["partner"] == partner]
            if len(pts) >= 2:
                xx = np.array([p["xx"] for p in pts])
                ex = np.array([p["excess"] for p in pts])
                table[prop][partner] = float(xx @ ex / (xx @ xx))
    return table, points


def central_parameters(params: NdFeBParameters) -> NdFeBParameters:
    """The same parameters with every one-sigma set to zero (one draw = the central values)."""
    def zero(node):
        if isinstance(node, dict):
            return {k: zero(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)) and len(node) == 2 and all(isinstance(v, (int, float)) for v in node):
            return (float(node[0]), 0.0)
        return node
    return NdFeBParameters(end_members=zero(params.end_members), bowing=params.bowing, cobalt=params.cobalt,
                           temperature=zero(params.temperature), routes=zero(params.routes))


def _solve(f, lo: float, hi: float, tol: float = 1e-6) -> float:
    """Bisection for f(x) = 0 on [lo, hi] (f must change sign)."""
    flo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        fmid = f(mid)
        if abs(hi - lo) < tol:
            break
        if (fmid < 0) == (flo < 0):
            lo, flo = mid, fmid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _grades(rows: list[dict]) -> dict:
    """Sintered N and M grades (no H/SH suffix: Dy-lean) -> Br, Hcj, squareness."""
    plain = [g for g in rows if g["composition_as_written"].split()[-1].rstrip("M").lstrip("N").isdigit()]
    br = np.array([_float(g["Br_T"]) for g in plain])
    hcj = np.array([_float(g["Hcj_kA_m"]) for g in plain])
    bh = np.array([_float(g["BHmax_kJ_m3"]) for g in plain]) * 1e3
    square = bh / (br**2 / (4 * MU0))
    return {"names": [g["composition_as_written"] for g in plain], "Br_T": br, "Hcj_kA_m": hcj, "squareness": square}


def film_fit(rows: list[dict], ideal_grain=single_grain_coercivity) -> dict:
    """Least-squares alpha, Neff of Hc = alpha*Hc_grain - Neff*Ms on the (Nd,Ce) film library.

    Hc_grain is the ideal 50 nm grain of each spot's phase (Ms, A, K1 as listed in the file).
    """
    ms = np.array([_float(r["Ms"]) for r in rows])
    k1 = np.array([_float(r["K1"]) for r in rows]) * 1e6  # file stores MJ/m3
    exchange = np.array([_float(r["A"]) for r in rows]) * 1e-12  # file stores pJ/m
    hc = np.array([_float(r["Hc_measured"]) for r in rows])
    ok = np.isfinite(ms) & np.isfinite(k1) & np.isfinite(hc) & np.isfinite(exchange)
    hc_grain, _ = ideal_grain(ms[ok], exchange[ok], k1[ok])
    design = np.stack([hc_grain, -ms[ok]], axis=1)
    (alpha, neff), *_ = np.linalg.lstsq(design, hc[ok], rcond=None)
    resid = hc[ok] - design @ np.array([alpha, neff])
    cov = np.linalg.inv(design.T @ design) * resid.var(ddof=2)
    return {"alpha": float(alpha), "Neff": float(neff), "alpha_se": float(math.sqrt(cov[0, 0])),
            "Neff_se": float(math.sqrt(cov[1, 1])), "n": int(ok.sum()),
            "rmse_kA_m": float(np.sqrt((resid**2).mean()) / 1e3), "mean_Hc_kA_m": float(hc[ok].mean() / 1e3),
            "ce_fraction": [float(_float(r["main_phase_composition"])) for r, good in zip(rows, ok) if good],
            "Hc_measured_kA_m": (hc[ok] / 1e3).tolist(), "Hc_grain_kA_m": (hc_grain / 1e3).tolist(),
            "Ms_A_m": ms[ok].tolist()}


def calibrate(data_dir: Path) -> dict:
    """Run the whole calibration; returns parameters plus the material for the report."""
    magnets = Path(data_dir) / "magnets"
    files = {name: magnets / name for name in (
        "intrinsic_R2Fe14B.csv", "mixed_RE_intrinsic.csv",
        "commercial_grades_datasheet.csv", "NdCe_film_library_coercivity.csv")}
    intrinsic = _read(files["intrinsic_R2Fe14B.csv"])
    mixed = _read(files["mixed_RE_intrinsic.csv"])
    em = end_members(intrinsic)
    co, co_points = cobalt_effect(intrinsic)
    bow, bow_points = bowing(mixed, intrinsic, em)
    grades = _grades(_read(files["commercial_grades_datasheet.csv"]))
    film = film_fit(_read(files["NdCe_film_library_coercivity.csv"]))

    js_nd = em["Nd"]["Js_T"][0]
    k_br = grades["Br_T"] / js_nd
    q = np.clip(grades["squareness"], 0, 1)
    neff_sint = bance_neff(5000.0)
    neff_hd = bance_neff(300.0)
    hcj_target = float(np.median(grades["Hcj_kA_m"]))
    routes = {
        "sintered": {"remanence_factor": (float(np.median(k_br)), float(k_br.std(ddof=1))),
                     "squareness": (float(np.median(q)), float(q.std(ddof=1))),
                     "Neff": (neff_sint, 0.15), "alpha": (0.4, 0.0)},
    }
    routes["hot_deformed"] = {"remanence_factor": (0.95 * routes["sintered"]["remanence_factor"][0], 0.06),
                              "squareness": routes["sintered"]["squareness"],
                              "Neff": (neff_hd, 0.15), "alpha": (film["alpha"], 0.05)}
    routes["melt_spun"] = {"remanence_factor": (0.6, 0.07), "squareness": (0.8, 0.1),
                           "Neff": (film["Neff"], 0.1), "alpha": (film["alpha"], 0.05)}
    routes["bonded"] = {"remanence_factor": (0.8 * 0.6, 0.06), "squareness": (0.8, 0.1),
                        "Neff": (film["Neff"], 0.1), "alpha": (film["alpha"], 0.05)}
    temperature = {"kuzmin_s": (0.5, 0.0), "kuzmin_p": 2.5, "anisotropy_exponent": (2.0, 0.0)}

    def model_with(**over) -> NdFeBModel:
        t = dict(temperature, **{k: v for k, v in over.items() if k in temperature})
        r = json.loads(json.dumps(routes))
        if "alpha" in over:
            r["sintered"]["alpha"] = over["alpha"]
        params = NdFeBParameters(end_members={k: {p: v[p] for p in INTRINSIC} for k, v in em.items()},
                                 bowing=bow, cobalt=co, temperature=t, routes=r)
        return NdFeBModel(central_parameters(params), n_draws=1)

    nd = np.zeros((1, len(RE_ELEMENTS)))
    nd[0, 0] = 1.0

    def mean_of(model, prop, temp):
        return float(model.sample(nd, 0.0, 0, temp)[prop][0, 0])

    def s_for(coeff):
        return _solve(lambda s: mean_of(model_with(kuzmin_s=(s, 0.0)), "Br_T", COEFF_T_HIGH)
                      / mean_of(model_with(kuzmin_s=(s, 0.0)), "Br_T", ROOM_TEMPERATURE_K)
                      - (1 + coeff * (COEFF_T_HIGH - ROOM_TEMPERATURE_K)), 0.0, 1.0)

    s_mid = s_for(BR_COEFF_PER_K[0])
    s_sig = abs(s_for(BR_COEFF_PER_K[0] + BR_COEFF_PER_K[1]) - s_for(BR_COEFF_PER_K[0] - BR_COEFF_PER_K[1])) / 2
    temperature["kuzmin_s"] = (s_mid, s_sig)

    def alpha_for(target_ka_m):
        return _solve(lambda a: mean_of(model_with(alpha=(a, 0.0)), "Hcj_kA_m", ROOM_TEMPERATURE_K) - target_ka_m,
                      0.0, 2.0)

    alpha = alpha_for(hcj_target)
    hcj_sig = float(grades["Hcj_kA_m"].std(ddof=1))
    alpha_sig = abs(alpha_for(hcj_target + hcj_sig) - alpha_for(hcj_target - hcj_sig)) / 2
    routes["sintered"]["alpha"] = (alpha, alpha_sig)

    def n_for(coeff):
        def f(n):
            m = model_with(anisotropy_exponent=(n, 0.0), alpha=(alpha, 0.0))
            return (mean_of(m, "Hcj_kA_m", COEFF_T_HIGH) / mean_of(m, "Hcj_kA_m", ROOM_TEMPERATURE_K)
                    - (1 + coeff * (COEFF_T_HIGH - ROOM_TEMPERATURE_K)))
        return _solve(f, 0.0, 20.0)

    n_mid = n_for(HCJ_COEFF_PER_K[0])
    n_sig = abs(n_for(HCJ_COEFF_PER_K[0] + HCJ_COEFF_PER_K[1]) - n_for(HCJ_COEFF_PER_K[0] - HCJ_COEFF_PER_K[1])) / 2
    temperature["anisotropy_exponent"] = (n_mid, n_sig)

    parameters = {
        "model": "ndfeb-physics",
        "version": MODEL_VERSION,
        "end_members": {k: {p: list(v[p]) for p in INTRINSIC} for k, v in em.items()},
        "bowing": bow,
        "cobalt": co,
        "lattice": lattice_co_slope(intrinsic),
        "temperature": {k: (list(v) if isinstance(v, tuple) else v) for k, v in temperature.items()},
        "routes": {r: {k: list(v) for k, v in routes[r].items()} for r in ROUTES},
        "calibrated_on": {name: _sha256(path) for name, path in files.items()},
    }
    result = {"parameters": parameters, "end_members": em, "cobalt_points": co_points,
              "bowing_points": bow_points, "grades": grades, "film": film, "hcj_target": hcj_target,
              "mixed_rows": mixed}
    result["film_trend"] = film_trend(result)
    result["trends"] = substitution_trends(parameters)
    return result


def residual_rows(mixed: list[dict], parameters: dict) -> list[dict]:
    """Measured vs modelled intrinsic properties for every mixed-series row."""
    model = NdFeBModel(NdFeBParameters.from_json(json.dumps(parameters)))
    out = []
    for row in mixed:
        x = _fractions(row)
        if x.sum() <= 0:
            continue
        x = x / x.sum()
        y = (_float(row["Co_per_fu"]) if math.isfinite(_float(row["Co_per_fu"])) else 0.0) / 14.0
        pred = model.predict(x[None, :], y, 0, ROOM_TEMPERATURE_K)
        entry = {"compound": row["compound"], "trust": row["trust"].split(":")[0], "Co_y": y}
        for prop in ("Js_T", "mu0HA_T", "Tc_K"):
            meas = _float(row[prop])
            entry[prop] = (meas, float(pred[prop][0]))
        out.append(entry)
    return out


TREND_X = (0.0, 0.25, 0.5, 0.75, 1.0)


def substitution_trends(parameters: dict, partners=("Ce", "La")) -> list[dict]:
    """Intrinsic Tc and Js of (Nd1-xRx)2Fe14B: this model vs the composition surrogates.

    The ``curie-temperature`` and ``saturation-magnetization`` surrogates are trained on all
    compounds, 2:14:1 phases included; agreement within their one-sigma is the check that the
    physics model is consistent with them.
    """
    from regenome.surrogates.predict import predict_frame

    import pandas as pd

    model = NdFeBModel(NdFeBParameters.from_json(json.dumps(parameters)))
    rows = []
    for partner in partners:
        for x in TREND_X:
            frac = np.zeros(len(RE_ELEMENTS))
            frac[0], frac[RE_ELEMENTS.index(partner)] = 1 - x, x
            pred = model.predict(frac[None, :], 0.0, 0, ROOM_TEMPERATURE_K)
            formula = f"(Nd{1 - x:.2f}{partner}{x:.2f})2Fe14B"
            rows.append({"partner": partner, "x": x, "formula": formula,
                         "Tc_K": float(pred["Tc_K"][0]), "Tc_K_std": float(pred["Tc_K_std"][0]),
                         "Js_T": float(pred["Js_T"][0]), "Js_T_std": float(pred["Js_T_std"][0])})
    frame = pd.DataFrame({"formula": [r["formula"] for r in rows]})
    tc = predict_frame("curie-temperature", frame)
    ms = predict_frame("saturation-magnetization", frame)
    for i, row in enumerate(rows):
        row["surrogate_Tc_K"], row["surrogate_Tc_K_std"] = float(tc["Tc_K"][i]), float(tc["Tc_K_std"][i])
        row["surrogate_Js_T"] = float(ms["Ms_A_m"][i]) * MU0
        row["surrogate_Js_T_std"] = float(ms["Ms_A_m_std"][i]) * MU0
    return rows


def film_trend(result: dict, bins=(0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)) -> list[dict]:
    """Measured film coercivity vs Ce share, beside the film-route model (alpha*Hc_grain - Neff*Ms)."""
    film = result["film"]
    x = np.array(film["ce_fraction"])
    measured = np.array(film["Hc_measured_kA_m"])
    model = film["alpha"] * np.array(film["Hc_grain_kA_m"]) - film["Neff"] * np.array(film["Ms_A_m"]) / 1e3
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (x >= lo) & (x < hi) if hi < 1.0 else (x >= lo) & (x <= hi)
        if sel.sum():
            out.append({"x_lo": lo, "x_hi": hi, "n": int(sel.sum()), "measured": float(measured[sel].mean()),
                        "model": float(model[sel].mean()), "grain": float(np.mean(np.array(film["Hc_grain_kA_m"])[sel]))})
    slope_meas = float(np.polyfit(x, measured, 1)[0])
    slope_model = float(np.polyfit(x, model, 1)[0])
    out.append({"slope_measured": slope_meas, "slope_model": slope_model})
    return out


def write_outputs(result: dict, project_dir: Path) -> list[Path]:
    """Write data/ndfeb/parameters.json, data/ndfeb/end_members.csv and the residual report."""
    written = []
    data = project_dir / "data" / "ndfeb"
    data.mkdir(parents=True, exist_ok=True)
    params_path = data / "parameters.json"
    params_path.write_text(json.dumps(result["parameters"], indent=1, sort_keys=True) + "\n")
    written.append(params_path)

    em_path = data / "end_members.csv"
    with em_path.open("w", newline="") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(["R", "Js_T", "Js_T_std", "mu0HA_T", "mu0HA_T_std", "Tc_K", "Tc_K_std", "A_pJ_m", "A_pJ_m_std",
                    "a_A", "c_A", "density_g_cm3", "n_sources_for_std", "source"])
        for r, e in result["end_members"].items():
            w.writerow([r, e["Js_T"][0], round(e["Js_T"][1], 4), e["mu0HA_T"][0], round(e["mu0HA_T"][1], 3),
                        e["Tc_K"][0], round(e["Tc_K"][1], 1), round(e["A_pJ_m"][0], 3), round(e["A_pJ_m"][1], 3),
                        e["a_A"], e["c_A"], e["density_g_cm3_xray_calc"],
                        e["n_sources"], e["source"] + "; std: robust spread of medium-trust sources in the MaMMoS "
                        "literature_values compilation (shared data intrinsic_R2Fe14B.csv); A: Bhandari et al. "
                        "experimental table as stored in MaMMoS ML-models"])
    written.append(em_path)

    doc = project_dir / "docs" / "models" / "ndfeb-calibration.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render_report(result))
    written.append(doc)
    return written


def _pct(meas: float, pred: float) -> str:
    if not (math.isfinite(meas) and meas):
        return ""
    return f"{100 * (pred - meas) / meas:+.1f}%"


def render_report(result: dict) -> str:
    """Markdown report of the calibration: fitted numbers and residuals."""
    p = result["parameters"]
    lines = ["# Nd-Fe-B model calibration (generated)", "",
             "Generated by `regenome calibrate ndfeb --data PATH`; do not edit by hand.", "",
             "## End members (room temperature)", "",
             "| R | Js (T) | mu0HA (T) | Tc (K) | A (pJ/m) | sources for the spread |", "|---|---|---|---|---|---|"]
    for r, e in result["end_members"].items():
        lines.append(f"| {r} | {e['Js_T'][0]:.3f} ± {e['Js_T'][1]:.3f} | {e['mu0HA_T'][0]:.2f} ± {e['mu0HA_T'][1]:.2f}"
                     f" | {e['Tc_K'][0]:.0f} ± {e['Tc_K'][1]:.0f} | {e['A_pJ_m'][0]:.2f} ± {e['A_pJ_m'][1]:.2f} | "
                     f"{e['n_sources']} |")
    co = p["cobalt"]
    lines += ["", "## Co on the Fe sublattice (y = Co share of the 14 Fe sites)", "",
              f"Js ratio = 1 {co['Js_ratio'][0]:+.3f} y {co['Js_ratio'][1]:+.3f} y²; "
              f"mu0HA ratio = 1 {co['mu0HA_ratio'][0]:+.3f} y {co['mu0HA_ratio'][1]:+.3f} y²; "
              f"Tc shift = {co['Tc_shift_K'][0]:+.0f} y {co['Tc_shift_K'][1]:+.0f} y² K "
              f"(fitted on {len(result['cobalt_points'])} same-source points, y <= 0.5).", "",
              "## Rare-earth mixing (bowing b in P = Σ x_i P_i − b x_Nd x_R)", "",
              "| property | partner | b | fit points |", "|---|---|---|---|"]
    for prop, table in p["bowing"].items():
        for partner, b in table.items():
            n = sum(1 for q in result["bowing_points"] if q["prop"] == prop and q["partner"] == partner)
            lines.append(f"| {prop} | {partner} | {b:+.3f} | {n} |")
    lines += ["", "Pairs not listed have b = 0 (fewer than two medium-trust binary rows).", "",
              "## Residuals on the measured mixed series (model − measured)", "",
              "| compound | trust | Js meas → model | mu0HA meas → model | Tc meas → model |", "|---|---|---|---|---|"]
    for row in residual_rows(result["mixed_rows"], p):
        cells = []
        for prop, fmt in (("Js_T", "{:.3f}"), ("mu0HA_T", "{:.2f}"), ("Tc_K", "{:.0f}")):
            meas, pred = row[prop]
            cells.append("" if not math.isfinite(meas) else f"{fmt.format(meas)} → {fmt.format(pred)} ({_pct(meas, pred)})")
        lines.append(f"| {row['compound']} | {row['trust']} | " + " | ".join(cells) + " |")
    t = p["temperature"]
    g = result["grades"]
    film = result["film"]
    lines += ["", "## Temperature dependence", "",
              f"Kuz'min shape s = {t['kuzmin_s'][0]:.3f} ± {t['kuzmin_s'][1]:.3f} (p = {t['kuzmin_p']}), "
              f"anisotropy exponent n = {t['anisotropy_exponent'][0]:.2f} ± {t['anisotropy_exponent'][1]:.2f} "
              f"(mu0HA(T) ∝ m(T)^n), chosen so sintered Nd2Fe14B has Br coefficient "
              f"{100 * BR_COEFF_PER_K[0]:.2f} ± {100 * BR_COEFF_PER_K[1]:.2f} %/K and Hcj coefficient "
              f"{100 * HCJ_COEFF_PER_K[0]:.2f} ± {100 * HCJ_COEFF_PER_K[1]:.2f} %/K between 293 and 393 K.", "",
              "## Process routes", "",
              f"Sintered, from {len(g['names'])} Dy-lean commercial grades ({', '.join(g['names'])}): "
              f"Br/Js(Nd2Fe14B) median {np.median(g['Br_T'] / result['end_members']['Nd']['Js_T'][0]):.3f}, "
              f"squareness (BH)max/(Br²/4mu0) median {np.median(np.clip(g['squareness'], 0, 1)):.3f}, "
              f"alpha fitted to the median grade Hcj {result['hcj_target']:.0f} kA/m with Neff = "
              f"{p['routes']['sintered']['Neff'][0]:.2f}.", "",
              f"(Nd,Ce) film library: Hc = alpha·Hc_grain − Neff·Ms least squares over {film['n']} measured spots: "
              f"alpha = {film['alpha']:.3f} ± {film['alpha_se']:.3f}, Neff = {film['Neff']:.3f} ± {film['Neff_se']:.3f}, "
              f"RMSE {film['rmse_kA_m']:.0f} kA/m (mean Hc {film['mean_Hc_kA_m']:.0f} kA/m).", "",
              "| route | Br/Js | squareness | alpha | Neff |", "|---|---|---|---|---|"]
    for r in ROUTES:
        q = p["routes"][r]
        lines.append(f"| {r} | {q['remanence_factor'][0]:.3f} ± {q['remanence_factor'][1]:.3f} | "
                     f"{q['squareness'][0]:.3f} ± {q['squareness'][1]:.3f} | {q['alpha'][0]:.3f} ± {q['alpha'][1]:.3f} | "
                     f"{q['Neff'][0]:.2f} ± {q['Neff'][1]:.2f} |")
    lines += ["", "## Ce and La trends", "",
              "### Film library: measured coercivity against the film-route model", "",
              "Mean over the spots in each Ce-share bin (kA/m); the ideal grain is the `single-grain` "
              "surrogate on each spot's Ms, A and K1.", "",
              "| Ce share of RE | spots | measured Hc | model alpha·Hc_grain − Neff·Ms | ideal grain Hc_grain |",
              "|---|---|---|---|---|"]
    trend = result["film_trend"]
    for b in trend[:-1]:
        lines.append(f"| {b['x_lo']:.1f}-{b['x_hi']:.1f} | {b['n']} | {b['measured']:.0f} | {b['model']:.0f} | "
                     f"{b['grain']:.0f} |")
    lines += ["", f"Linear slope dHc/dx_Ce: measured {trend[-1]['slope_measured']:.0f} kA/m, "
              f"model {trend[-1]['slope_model']:.0f} kA/m per unit Ce share.", "",
              "### Intrinsic properties of (Nd1-xRx)2Fe14B: this model against the composition surrogates", "",
              "The `curie-temperature` and `saturation-magnetization` surrogates are trained on all compounds; "
              "Js = mu0·Ms. Measured mixed-series rows are in the residual table above.", "",
              "| formula | Tc model (K) | Tc surrogate (K) | Js model (T) | Js surrogate (T) |", "|---|---|---|---|---|"]
    for r in result["trends"]:
        lines.append(f"| {r['formula']} | {r['Tc_K']:.0f} ± {r['Tc_K_std']:.0f} | {r['surrogate_Tc_K']:.0f} ± "
                     f"{r['surrogate_Tc_K_std']:.0f} | {r['Js_T']:.3f} ± {r['Js_T_std']:.3f} | "
                     f"{r['surrogate_Js_T']:.3f} ± {r['surrogate_Js_T_std']:.3f} |")
    lines.append("")
    return "\n".join(lines)
