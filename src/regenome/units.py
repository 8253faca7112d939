"""Physical constants and unit conversions used across regenome (SI unless named)."""

from __future__ import annotations

import math

MU0 = 4e-7 * math.pi  # vacuum permeability, T m / A
KA_M_PER_KOE = 79.577471545947  # 1 kOe = 1e6/(4 pi) A/m = 79.577 kA/m
KJ_M3_PER_MGOE = 7.957747154594767  # 1 MGOe = 7.9577 kJ/m3
ROOM_TEMPERATURE_K = 293.0  # reference temperature of the room-temperature tables


def ka_m_to_koe(h_ka_m):
    """Convert a field from kA/m to kOe."""
    return h_ka_m / KA_M_PER_KOE


def kj_m3_to_mgoe(bh_kj_m3):
    """Convert an energy product from kJ/m3 to MGOe."""
    return bh_kj_m3 / KJ_M3_PER_MGOE
