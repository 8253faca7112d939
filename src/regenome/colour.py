"""Colour of an emission band: CIE 1931 chromaticity (x, y) and an sRGB swatch colour.

The CIE 1931 2-degree colour-matching functions are the multi-lobe Gaussian fit of Wyman,
Sloan and Shirley, J. Comput. Graph. Tech. 2(2), 1 (2013) (within about 1 % of the tabulated
functions). A predicted emission maximum is turned into a spectrum by a Gaussian band in photon
energy with a width typical of the activator (:data:`BAND_FWHM_EV`); the colour is therefore an
illustration of the predicted peak, not a measured chromaticity.
"""

from __future__ import annotations

import numpy as np

from regenome.phosphor_physics import HC_EV_NM

#: Full width at half maximum (eV) assumed per activator: broad 5d-4f bands for Ce3+ and Eu2+
#: (e.g. about 0.45 eV / 110 nm for YAG:Ce, about 0.30 eV / 90 nm for red nitrides), narrow
#: 4f-4f lines for the others.
BAND_FWHM_EV = {"Ce3+": 0.45, "Eu2+": 0.30}
LINE_FWHM_EV = 0.02

_WAVELENGTHS = np.arange(360.0, 831.0, 1.0)

# (amplitude, mean nm, sigma below the mean, sigma above the mean): Wyman et al. 2013, eq. (2)
_LOBES = {
    "x": ((1.056, 599.8, 37.9, 31.0), (0.362, 442.0, 16.0, 26.7), (-0.065, 501.1, 20.4, 26.2)),
    "y": ((0.821, 568.8, 46.9, 40.5), (0.286, 530.9, 16.3, 31.1)),
    "z": ((1.217, 437.0, 11.8, 36.0), (0.681, 459.0, 26.0, 13.8)),
}

# XYZ -> linear sRGB (IEC 61966-2-1, D65)
_XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def colour_matching(wavelength_nm: np.ndarray) -> np.ndarray:
    """CIE 1931 x-bar, y-bar, z-bar at the given wavelengths (nm), shape (n, 3)."""
    lam = np.asarray(wavelength_nm, dtype=float)
    out = np.zeros((lam.size, 3))
    for j, key in enumerate("xyz"):
        for amp, mu, s_lo, s_hi in _LOBES[key]:
            sigma = np.where(lam < mu, s_lo, s_hi)
            out[:, j] += amp * np.exp(-0.5 * ((lam - mu) / sigma) ** 2)
    return out


def emission_xy(peak_nm: float, activator: str) -> tuple[float, float]:
    """CIE 1931 (x, y) of a Gaussian emission band (in energy) peaking at ``peak_nm``."""
    fwhm = BAND_FWHM_EV.get(activator, LINE_FWHM_EV)
    energy = HC_EV_NM / _WAVELENGTHS
    sigma = fwhm / 2.3548
    spectrum = np.exp(-0.5 * ((energy - HC_EV_NM / float(peak_nm)) / sigma) ** 2)
    spectrum *= energy**2  # per unit wavelength: |dE/dlambda| = E^2 / hc
    xyz = spectrum @ colour_matching(_WAVELENGTHS)
    total = xyz.sum()
    return float(xyz[0] / total), float(xyz[1] / total)


def xy_to_srgb(x: float, y: float) -> tuple[float, float, float]:
    """A displayable sRGB colour (0-1) of chromaticity (x, y) at full brightness, gamut-clipped."""
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    rgb = _XYZ_TO_SRGB @ xyz
    rgb = np.clip(rgb, 0.0, None)
    rgb = rgb / max(rgb.max(), 1e-12)
    encoded = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return tuple(float(v) for v in np.clip(encoded, 0.0, 1.0))


def spectral_locus() -> np.ndarray:
    """(x, y) of monochromatic light from 380 to 700 nm, shape (n, 2), for chromaticity plots."""
    cmf = colour_matching(np.arange(380.0, 701.0, 2.0))
    return cmf[:, :2] / cmf.sum(axis=1, keepdims=True)
