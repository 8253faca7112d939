"""Dorenbos relations for the 5d levels of Ce3+/Eu2+ and the structure-aware emission refinement.

The energy of the lowest 4f-5d level of a lanthanide in a host sits below its free-ion value by the
*redshift* D, the sum of the 5d **centroid shift** eps_c (the 5d barycentre lowered by the
polarization of the anions around the site) and a part of the crystal-field splitting. Dorenbos'
relation for the centroid shift of Ce3+ (Dorenbos, Phys. Rev. B 62, 15640 (2000); J. Lumin. 91,
155 (2000)) is

    eps_c = 1.79e13 * sum_i alpha_sp_i / (R_i - 0.6 * dR)^6      [eV; alpha_sp in 1e-30 m^3, R in pm]

over the N anions i at distance R_i, where dR = R_M - R_Ce (ionic radius of the host cation the
activator replaces minus that of Ce3+ at the same coordination) corrects for the lattice relaxing
around the larger or smaller dopant. The spectroscopic polarizability alpha_sp of an anion grows
with the covalency of its bonds, that is as the average electronegativity of the cations decreases.

The redshift of Eu2+ follows that of Ce3+ in the same host: D(Eu2+) = 0.64 D(Ce3+) - 0.233 eV
(Dorenbos, J. Phys.: Condens. Matter 15, 4797 (2003); the Eu2+ data are compiled in Dorenbos,
J. Lumin. 104, 239 (2003)). For a *change* of the centroid shift at fixed crystal field the constant
drops out: the lowest 5d level of Ce3+ moves by -d(eps_c) and that of Eu2+ by -0.64 d(eps_c), and
at first order the emission (same Stokes shift) moves with it. 4f-4f lines (Eu3+, Tb3+, ...) are
shielded by the 5s5p shells and do not follow the centroid shift.

Everything here is a vectorized function over numpy arrays, with units in the docstrings.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS

__all__ = [
    "HC_EV_NM", "DORENBOS_EPS_C_EV", "EMISSION_RESPONSE", "ANION_CHARGE", "ANION_POLARIZABILITY_A3",
    "ANION_RADIUS_A", "CE3_RADIUS_A", "CATION_CHARGE", "ANIONS", "ev_to_nm", "nm_to_ev", "emission_response",
    "ce3_radius", "host_descriptors", "HostDescriptors", "effective_bond_length", "dorenbos_centroid_shift",
    "refine_emission_nm", "refined_emission_std_nm", "structure_refinement", "Refinement",
]

#: Planck constant times the speed of light in eV nm (exact in the 2019 SI: h c / e).
HC_EV_NM = 1239.841984
#: Prefactor of Dorenbos' centroid-shift relation: eV pm^6 per 1e-30 m^3 of spectroscopic polarizability.
DORENBOS_EPS_C_EV = 1.79e13

#: d(emission energy) / d(Ce3+ centroid shift) per activator, at fixed crystal field and Stokes shift.
#: Ce3+: 1 (its lowest 5d level moves with the centroid). Eu2+, Yb2+: 0.64, the slope of
#: D(Ln2+) = 0.64 D(Ce3+) - 0.233 eV (Dorenbos, J. Phys.: Condens. Matter 15, 4797 (2003); the
#: redshift of all divalent lanthanides is the same function of the host). 4f-4f line emitters: 0.
#: Activators not listed (Mn4+, Mn2+, Cr3+: 3d-3d; Bi3+: 6s6p) have no such relation.
EMISSION_RESPONSE: dict[str, float] = {
    "Ce3+": 1.0, "Eu2+": 0.64, "Yb2+": 0.64,
    "Eu3+": 0.0, "Tb3+": 0.0, "Sm3+": 0.0, "Dy3+": 0.0, "Tm3+": 0.0, "Er3+": 0.0, "Ho3+": 0.0,
    "Pr3+": 0.0, "Nd3+": 0.0, "Yb3+": 0.0,
}

#: Anions the descriptors know, and their charge (elementary charges, magnitude).
ANION_CHARGE: dict[str, int] = {"F": 1, "Cl": 1, "Br": 1, "I": 1, "O": 2, "S": 2, "Se": 2, "N": 3}
ANIONS: tuple[str, ...] = tuple(ANION_CHARGE)
#: Polarizability per anion (1e-30 m^3 = angstrom^3) as used by Zhuo, Hariyani, You, Dorenbos, Brgoch,
#: J. Appl. Phys. 128, 013104 (2020): the 'Avg. anion polarizability' column of their data set
#: (BrgochGroup/CentroidShiftPredictor) is the anion-count-weighted mean of these values (checked row by
#: row in tests/test_centroid_shift.py).
ANION_POLARIZABILITY_A3: dict[str, float] = {"F": 0.634, "O": 0.793, "N": 1.1, "Cl": 2.2, "S": 2.9, "Br": 3.1,
                                             "Se": 3.8, "I": 5.0}
#: Shannon ionic radii of the anions (angstrom; coordination VI, N3- IV): Shannon, Acta Cryst. A32, 751 (1976).
ANION_RADIUS_A: dict[str, float] = {"F": 1.33, "O": 1.40, "N": 1.46, "Cl": 1.81, "S": 1.84, "Br": 1.96,
                                    "Se": 1.98, "I": 2.20}
#: Shannon ionic radius of Ce3+ (angstrom) per coordination number: Shannon, Acta Cryst. A32, 751 (1976).
#: The DeltaR column of the Zhuo et al. 2020 data set is R_M minus these values (CN 11 interpolated: 1.295).
CE3_RADIUS_A: dict[int, float] = {6: 1.01, 7: 1.07, 8: 1.143, 9: 1.196, 10: 1.25, 12: 1.34}
#: Usual oxidation state of each element as a cation in an ionic host; S, Se, Te as cations (sulfates,
#: selenates) are +6 and are taken as cations only when that balances the charges better (see
#: :func:`host_descriptors`).
CATION_CHARGE: dict[str, int] = {
    "H": 1, "Li": 1, "Na": 1, "K": 1, "Rb": 1, "Cs": 1, "Cu": 1, "Ag": 1, "Tl": 1,
    "Be": 2, "Mg": 2, "Ca": 2, "Sr": 2, "Ba": 2, "Mn": 2, "Co": 2, "Ni": 2, "Zn": 2, "Cd": 2, "Hg": 2, "Pb": 2,
    "Sn": 4, "B": 3, "Al": 3, "Ga": 3, "In": 3, "Sc": 3, "Y": 3, "La": 3, "Ce": 3, "Pr": 3, "Nd": 3, "Sm": 3,
    "Eu": 3, "Gd": 3, "Tb": 3, "Dy": 3, "Ho": 3, "Er": 3, "Tm": 3, "Yb": 3, "Lu": 3, "Bi": 3, "Cr": 3, "Fe": 3,
    "C": 4, "Si": 4, "Ge": 4, "Ti": 4, "Zr": 4, "Hf": 4, "Th": 4, "U": 4,
    "P": 5, "As": 5, "V": 5, "Nb": 5, "Ta": 5, "Sb": 5,
    "S": 6, "Se": 6, "Te": 6, "Mo": 6, "W": 6,
}
_OXO_CATIONS = ("S", "Se")  # anions that become cations when oxygen balances the charges better


def _column(table: dict[str, float], fill: float = 0.0) -> np.ndarray:
    out = np.full(len(ELEMENTS), fill)
    for symbol, value in table.items():
        out[ELEMENT_INDEX[symbol]] = value
    return out


_ANION_Q = _column(ANION_CHARGE)
_ANION_ALPHA = _column(ANION_POLARIZABILITY_A3)
_ANION_R = _column(ANION_RADIUS_A)
_CATION_Z = _column(CATION_CHARGE, np.nan)
_IS_ANION = _ANION_Q > 0
_IS_OXO = np.isin(np.array(ELEMENTS), _OXO_CATIONS)
_ANION_COLUMNS = np.array([ELEMENT_INDEX[a] for a in ANIONS])


def ev_to_nm(energy_eV):
    """Photon wavelength (nm) of a photon energy ``energy_eV`` (eV): ``HC_EV_NM / E``."""
    return HC_EV_NM / np.asarray(energy_eV, dtype=float)


def nm_to_ev(wavelength_nm):
    """Photon energy (eV) of a vacuum wavelength ``wavelength_nm`` (nm): ``HC_EV_NM / lambda``."""
    return HC_EV_NM / np.asarray(wavelength_nm, dtype=float)


def emission_response(activator) -> np.ndarray:
    """d(emission energy)/d(Ce3+ centroid shift) per activator (dimensionless; :data:`EMISSION_RESPONSE`).

    ``activator``: a name like ``"Ce3+"`` or an array of names. Raises ValueError for an activator
    without a centroid-shift relation (3d or 6s6p emitters) or an unknown name.
    """
    names = np.asarray(activator, dtype=object)
    flat = names.reshape(-1)
    distinct, inverse = np.unique(flat.astype(str), return_inverse=True)
    unknown = [a for a in distinct if a not in EMISSION_RESPONSE]
    if unknown:
        raise ValueError(f"The 'activator' parameter of emission_response must be one of "
                         f"{', '.join(EMISSION_RESPONSE)}; got {', '.join(map(repr, unknown))} (3d and 6s6p "
                         "emitters such as Mn4+, Cr3+, Bi3+ have no centroid-shift relation)")
    values = np.array([EMISSION_RESPONSE[a] for a in distinct])[inverse]
    return values.reshape(names.shape)


def ce3_radius(coordination) -> np.ndarray:
    """Shannon ionic radius of Ce3+ (angstrom) at coordination number ``coordination``.

    Linear in the coordination between the tabulated values (:data:`CE3_RADIUS_A`, CN 6-12) and
    extrapolated with the end slopes outside them.
    """
    cn = np.asarray(coordination, dtype=float)
    keys = np.array(sorted(CE3_RADIUS_A), dtype=float)
    radii = np.array([CE3_RADIUS_A[int(k)] for k in keys])
    out = np.interp(cn, keys, radii)
    low_slope = (radii[1] - radii[0]) / (keys[1] - keys[0])
    high_slope = (radii[-1] - radii[-2]) / (keys[-1] - keys[-2])
    out = np.where(cn < keys[0], radii[0] + (cn - keys[0]) * low_slope, out)
    return np.where(cn > keys[-1], radii[-1] + (cn - keys[-1]) * high_slope, out)


class HostDescriptors(NamedTuple):
    """Composition descriptors of host formulas (one entry per row; NaN where ``error`` is set).

    Attributes
    ----------
    cation_electronegativity : numpy.ndarray
        Charge-weighted mean Pauling electronegativity of the cations, sum(n z chi) / sum(n z) (Dorenbos'
        chi_av; dimensionless).
    anion_polarizability : numpy.ndarray
        Anion-count-weighted mean of :data:`ANION_POLARIZABILITY_A3` (1e-30 m^3).
    anion_radius : numpy.ndarray
        Anion-count-weighted mean Shannon radius of the anions (angstrom).
    condensation : numpy.ndarray
        Number of anions per cation (dimensionless).
    anion_fractions : numpy.ndarray, shape (n, len(ANIONS))
        Share of each anion of :data:`ANIONS` among the anions.
    error : list of str
        Why a row has no descriptors ("" when it has).
    """

    cation_electronegativity: np.ndarray
    anion_polarizability: np.ndarray
    anion_radius: np.ndarray
    condensation: np.ndarray
    anion_fractions: np.ndarray
    error: list


def host_descriptors(fractions: np.ndarray, electronegativity: np.ndarray) -> HostDescriptors:
    """Dorenbos-type descriptors of ionic hosts from their atomic fractions.

    Anions are F, Cl, Br, I, O, S, Se, N (charges -1, -2, -3); every other element is a cation with
    its usual oxidation state (:data:`CATION_CHARGE`). S and Se in a formula with O are taken as +6
    cations (sulfates, selenates) when that balances the charges better than taking them as anions
    (so BaSO4 is a sulfate and La2O2S an oxysulfide).

    Parameters
    ----------
    fractions : numpy.ndarray, shape (n, len(ELEMENTS))
        Atomic fractions (any positive scale per row), columns in :data:`ELEMENTS` order.
    electronegativity : numpy.ndarray, shape (len(ELEMENTS),)
        Pauling electronegativity per element (the element table's column).
    """
    x = np.asarray(fractions, dtype=float)
    z = np.nan_to_num(_CATION_Z)

    def split(anion_mask):
        anions = np.where(anion_mask, x, 0.0)
        cations = x - anions
        return anions, cations, np.abs((cations * z).sum(axis=1) - (anions * _ANION_Q).sum(axis=1))

    anions, cations, imbalance = split(np.broadcast_to(_IS_ANION, x.shape))
    has_oxygen = x[:, ELEMENT_INDEX["O"]] > 0
    alt_anions, alt_cations, alt_imbalance = split(_IS_ANION & ~(_IS_OXO[None, :] & has_oxygen[:, None]))
    use_alt = alt_imbalance < imbalance
    anions = np.where(use_alt[:, None], alt_anions, anions)
    cations = np.where(use_alt[:, None], alt_cations, cations)
    n_anion = anions.sum(axis=1)
    n_cation = cations.sum(axis=1)
    weight = cations * z
    with np.errstate(invalid="ignore", divide="ignore"):
        chi = (weight * np.nan_to_num(electronegativity)).sum(axis=1) / weight.sum(axis=1)
        alpha = (anions * _ANION_ALPHA).sum(axis=1) / n_anion
        radius = (anions * _ANION_R).sum(axis=1) / n_anion
        condensation = n_anion / n_cation
        shares = anions[:, _ANION_COLUMNS] / n_anion[:, None]
    no_charge = (cations > 0) & np.isnan(_CATION_Z)[None, :]
    no_en = (weight > 0) & np.isnan(electronegativity)[None, :]
    symbols = np.array(ELEMENTS)
    errors = [""] * len(x)
    for i in np.flatnonzero(~(n_anion > 0) | ~(n_cation > 0) | no_charge.any(axis=1) | no_en.any(axis=1)):
        if not n_anion[i] > 0:
            errors[i] = f"no anion among {', '.join(ANIONS)}: not an ionic host the centroid-shift model covers"
        elif not n_cation[i] > 0:
            errors[i] = "no cation in the formula"
        elif no_charge[i].any():
            errors[i] = "no usual oxidation state tabulated for " + ", ".join(symbols[no_charge[i]])
        else:
            errors[i] = "no Pauling electronegativity for " + ", ".join(symbols[no_en[i]])
    bad = np.array([bool(e) for e in errors], dtype=bool)
    for array in (chi, alpha, radius, condensation):
        array[bad] = np.nan
    shares[bad] = np.nan
    return HostDescriptors(chi, alpha, radius, condensation, shares, errors)


def effective_bond_length(bond_length_A, coordination, anion_radius_A) -> np.ndarray:
    """Dorenbos' relaxed activator-anion distance R_eff = R - 0.6 dR (angstrom).

    dR = R_M - R_Ce3+(CN) is estimated from the site itself: the radius of the replaced cation is the
    mean bond length minus the anion radius, R_M ~ R - r_anion (on the Zhuo et al. 2020 set this
    reproduces their tabulated R_M with a mean absolute error of 0.08 angstrom).

    Parameters
    ----------
    bond_length_A : array_like
        Mean host cation-anion distance at the site the activator takes (angstrom).
    coordination : array_like
        Number of anions around that site.
    anion_radius_A : array_like
        Mean Shannon radius of the anions (angstrom), e.g. ``host_descriptors(...).anion_radius``.
    """
    r = np.asarray(bond_length_A, dtype=float)
    delta = (r - np.asarray(anion_radius_A, dtype=float)) - ce3_radius(coordination)
    return r - 0.6 * delta


def dorenbos_centroid_shift(alpha_sp_A3, coordination, r_eff_A) -> np.ndarray:
    """Ce3+ centroid shift (eV) from Dorenbos' relation with N equal distances.

    eps_c = 1.79e13 * N * alpha_sp / (R_eff [pm])^6, the sum over anions approximated by N times the
    term of the mean distance. ``alpha_sp_A3``: spectroscopic polarizability of the anions
    (1e-30 m^3); ``coordination``: N; ``r_eff_A``: relaxed distance (angstrom, see
    :func:`effective_bond_length`). Example: N = 8, alpha_sp = 2 A^3, R_eff = 2.45 A gives 1.32 eV.
    """
    r_pm = 100.0 * np.asarray(r_eff_A, dtype=float)
    n = np.asarray(coordination, dtype=float)
    return DORENBOS_EPS_C_EV * n * np.asarray(alpha_sp_A3, dtype=float) / r_pm**6


def refine_emission_nm(emission_nm, activator, delta_centroid_eV):
    """Emission wavelength (nm) after the Ce3+ centroid shift of the host changes by ``delta_centroid_eV``.

    E' = E - k * d(eps_c) with k = :func:`emission_response` (1 for Ce3+, 0.64 for Eu2+, 0 for 4f-4f
    lines): a larger centroid shift lowers the 5d level and red-shifts the emission. Arrays
    broadcast; ``activator`` may be one name or an array of names.

    Parameters
    ----------
    emission_nm : array_like
        Emission maximum before the refinement (nm).
    activator : str or array_like of str
        ``"Ce3+"``, ``"Eu2+"``, ``"Eu3+"``, ``"Tb3+"``... (keys of :data:`EMISSION_RESPONSE`).
    delta_centroid_eV : array_like
        Change of the Ce3+ 5d centroid shift (eV), e.g. structure-aware minus composition-only prediction.
    """
    energy = nm_to_ev(emission_nm) - emission_response(activator) * np.asarray(delta_centroid_eV, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(energy > 0, ev_to_nm(np.where(energy > 0, energy, 1.0)), np.nan)


def refined_emission_std_nm(emission_nm, emission_std_nm, refined_nm, activator, composition_std_eV,
                            structure_std_eV):
    """One-sigma of a refined emission (nm), when the site structure explains part of the error.

    A composition-based emission model's error holds the site-to-site scatter of the centroid shift,
    of variance ~ (k s_a)^2 (k: :func:`emission_response`, s_a: one-sigma of the composition-only
    centroid-shift prediction, eV); after the refinement that part is (k s_b)^2 (s_b: one-sigma of
    the structure-aware prediction). In energy units::

        var' = max(var - k^2 (s_a^2 - s_b^2),  var * min(1, s_b^2 / s_a^2))

    (the second term keeps a model whose error is already small from losing more than the share the
    structure explains). Widths convert between nm and eV with d(lambda) = lambda^2 / hc dE.
    """
    lam = np.asarray(emission_nm, dtype=float)
    var = (np.asarray(emission_std_nm, dtype=float) * HC_EV_NM / lam**2) ** 2
    k2 = emission_response(activator) ** 2
    sa2 = np.asarray(composition_std_eV, dtype=float) ** 2
    sb2 = np.asarray(structure_std_eV, dtype=float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sa2 > 0, np.minimum(1.0, sb2 / sa2), 1.0)
    new_var = np.maximum(var - k2 * (sa2 - sb2), var * np.where(k2 > 0, ratio, 1.0))
    lam_new = np.asarray(refined_nm, dtype=float)
    return np.sqrt(new_var) * lam_new**2 / HC_EV_NM


class Refinement(NamedTuple):
    """Result of :func:`structure_refinement`, one entry per candidate.

    Attributes
    ----------
    emission_nm, emission_std_nm : numpy.ndarray
        Refined emission maximum and its one-sigma (nm); the inputs unchanged where not refined.
    delta_nm : numpy.ndarray
        ``emission_nm`` minus the input emission (nm; 0 where not refined; > 0 is a red shift).
    delta_centroid_eV : numpy.ndarray
        Structure-aware minus composition-only Ce3+ centroid shift (eV; NaN where not predicted).
    message : list of str
        Why a row was not refined ("" when it was, or when its 4f-4f lines need no refinement).
    """

    emission_nm: np.ndarray
    emission_std_nm: np.ndarray
    delta_nm: np.ndarray
    delta_centroid_eV: np.ndarray
    message: list


def structure_refinement(host_formula, activator, coordination, bond_length_A, emission_nm, emission_std_nm,
                         model) -> Refinement:
    """Refine composition-based emission predictions of candidates whose activator site is known.

    The ``centroid-shift`` model predicts the Ce3+ centroid shift of each host twice, from the
    formula alone and from the formula plus the site's coordination number and mean bond length;
    the difference moves the emission by :func:`refine_emission_nm` and narrows (or widens) its
    one-sigma by :func:`refined_emission_std_nm`.

    Parameters
    ----------
    host_formula : array_like of str
        Host formulas (undoped).
    activator : str or array_like of str
        Activator per row (``"Ce3+"``, ``"Eu2+"``, ...; 4f-4f emitters pass through unchanged).
    coordination, bond_length_A : array_like of float
        Anions around the substituted site and their mean distance to it (angstrom); NaN where the
        structure is unknown (the row is left unrefined).
    emission_nm, emission_std_nm : array_like of float
        Composition-based emission maximum and one-sigma (nm).
    model : CentroidShiftRegressor
        The fitted ``centroid-shift`` model, e.g. ``regenome.modelstore.load_model("centroid-shift")[0]``.

    Returns
    -------
    Refinement
        Refined emission and one-sigma, the shift applied and a message per row left unrefined
        (no structure given, inputs outside the model's training domain, activator without a
        centroid-shift relation).
    """
    import pandas as pd

    from regenome.surrogates.centroid_shift import prepare_inputs

    formulas = np.asarray(host_formula, dtype=object).reshape(-1)
    n = len(formulas)
    acts = np.broadcast_to(np.asarray(activator, dtype=object), (n,))
    lam = np.broadcast_to(np.asarray(emission_nm, dtype=float), (n,)).copy()
    lam_std = np.broadcast_to(np.asarray(emission_std_nm, dtype=float), (n,)).copy()
    cn = np.broadcast_to(np.asarray(coordination, dtype=float), (n,))
    bond = np.broadcast_to(np.asarray(bond_length_A, dtype=float), (n,))
    messages = [""] * n
    known = np.isin(acts.astype(str), list(EMISSION_RESPONSE))
    response = np.zeros(n)
    response[known] = emission_response(acts[known].astype(str))
    has_site = np.isfinite(cn) & np.isfinite(bond)
    needed = known & (response > 0) & has_site
    for i in np.flatnonzero(~known):
        messages[i] = f"no centroid-shift relation for activator {acts[i]!r}; estimate kept"
    for i in np.flatnonzero(known & (response > 0) & ~has_site):
        messages[i] = "no site structure (coordination, bond_length_A) given; composition-only estimate kept"
    delta = np.full(n, np.nan)
    out_lam, out_std = lam.copy(), lam_std.copy()
    if needed.any():
        idx = np.flatnonzero(needed)
        frame = pd.DataFrame({"formula": formulas[idx], "coordination": cn[idx], "bond_length_A": bond[idx]})
        X, errors = prepare_inputs(model, frame)
        ok = np.array([not e for e in errors], dtype=bool)
        for j in np.flatnonzero(~ok):
            messages[idx[j]] = errors[j] + "; composition-only estimate kept"
        if ok.any():
            rows = idx[ok]
            comp_mean, comp_std, struct_mean, struct_std = model.predict_paths(X[ok])
            delta[rows] = struct_mean - comp_mean
            out_lam[rows] = refine_emission_nm(lam[rows], acts[rows].astype(str), delta[rows])
            out_std[rows] = refined_emission_std_nm(lam[rows], lam_std[rows], out_lam[rows],
                                                    acts[rows].astype(str), comp_std, struct_std)
    return Refinement(out_lam, out_std, out_lam - lam, delta, messages)
