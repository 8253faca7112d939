"""Rebuild ``data/elements/element_properties.csv`` from pymatgen's element data and Hund's rules.

Usage::

    python scripts/make_element_table.py            # writes data/elements/element_properties.csv
    python scripts/make_element_table.py --check    # exit 1 if the committed file differs

The output is deterministic for a given pymatgen version (recorded in the CSV header comment).
Columns and their sources are listed in ``data/README.md``. Empty cells mean "unknown" or
"undefined" and are read as NaN by :func:`regenome.features.elements.load_element_table`.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
import warnings
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "elements" / "element_properties.csv"
MAX_Z = 103  # H .. Lr; must match regenome.features.elements.ELEMENTS

NOBLE_CORES = {"He": 2, "Ne": 10, "Ar": 18, "Kr": 36, "Xe": 54, "Rn": 86}
CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}
LANTHANIDES = ("La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu")
RARE_EARTHS = ("Sc", "Y") + LANTHANIDES
LIGHT_RE = LANTHANIDES[:7]  # La..Eu (less than half-filled 4f shell in R3+)
HEAVY_RE = ("Y",) + LANTHANIDES[7:]  # Gd..Lu plus Y (USGS/geochemical convention); Sc in neither
MAGNETIC_3D = ("Mn", "Fe", "Co", "Ni")
HEAVY_CHALCOGENS = ("S", "Se", "Te", "Po")  # O is a group of its own
HEAVY_PNICTOGENS = ("P", "As", "Sb", "Bi")  # N is a group of its own

COLUMNS = (
    # from pymatgen's periodic_table.json (via pymatgen.core.Element)
    "Z", "row", "group", "mendeleev_number", "electronegativity_pauling", "atomic_mass_u",
    "atomic_radius_A", "atomic_radius_calc_A", "metallic_radius_A", "vdw_radius_A",
    "melting_point_K", "boiling_point_K", "molar_volume_cm3_mol", "density_kg_m3",
    "first_ionization_eV", "electron_affinity_eV",
    # derived from pymatgen's neutral-atom electron configuration
    "n_valence_s", "n_valence_p", "n_valence_d", "n_valence_f", "n_valence",
    "n_unfilled_s", "n_unfilled_p", "n_unfilled_d", "n_unfilled_f", "n_unfilled",
    # derived from pymatgen's free-atom ground term symbol
    "free_atom_S",
    # indicators (pymatgen classification or the lists above)
    "is_metal", "is_metalloid", "is_nonmetal", "is_alkali", "is_alkaline_earth",
    "is_transition_metal", "is_lanthanide", "is_actinide", "is_rare_earth", "is_light_re",
    "is_heavy_re", "is_3d_magnetic", "is_halogen", "is_heavy_chalcogen", "is_heavy_pnictogen",
    # Hund's rules for the 4f^n shell of the R3+ ion (La..Lu); 0 for elements without one
    "re3_n4f", "re3_S", "re3_L", "re3_J", "re3_g", "re3_de_gennes", "re3_spin_projection",
    "re3_gJ", "re3_mu_eff",
)


def hund_4f(n: int) -> dict[str, float]:
    """Hund's-rule ground multiplet of a 4f^n shell.

    Returns S, L, J, the Lande factor g (NaN when J = 0: undefined), the de Gennes factor
    (g-1)^2 J(J+1), the spin projection (g-1) J, the saturation moment g J and the effective
    moment g sqrt(J(J+1)) (both in Bohr magnetons; 0 when J = 0).
    """
    if not 0 <= n <= 14:
        raise ValueError(f"a 4f shell holds 0..14 electrons; got {n}")
    ml = [3, 2, 1, 0, -1, -2, -3]
    up = min(n, 7)
    down = n - up
    s = Fraction(up - down, 2)
    lz = sum(ml[:up]) + sum(ml[:down])
    l_ = abs(lz)
    j = abs(l_ - s) if n < 7 else l_ + s  # less than half filled: J = |L-S|; else L+S
    if j == 0:
        g = math.nan
        dg = proj = gj = mu = 0.0
    else:
        gf = 1 + (j * (j + 1) + s * (s + 1) - l_ * (l_ + 1)) / (2 * j * (j + 1))
        g = float(gf)
        dg = float((gf - 1) ** 2 * j * (j + 1))
        proj = float((gf - 1) * j)
        gj = float(gf * j)
        mu = float(gf) * math.sqrt(float(j * (j + 1)))
    return {"re3_n4f": n, "re3_S": float(s), "re3_L": float(l_), "re3_J": float(j), "re3_g": g,
            "re3_de_gennes": dg, "re3_spin_projection": proj, "re3_gJ": gj, "re3_mu_eff": mu}


def valence_counts(config: str) -> dict[str, int]:
    """Electrons outside the noble-gas core per l (Magpie's N*Valence convention)."""
    counts = dict.fromkeys("spdf", 0)
    for part in config.split("."):
        if part.startswith("["):
            core = part.strip("[]")
            if core not in NOBLE_CORES:
                raise ValueError(f"core [{core}] is not a noble gas in {config!r}")
            continue
        m = re.fullmatch(r"(\d)([spdf])(\d+)", part)
        if m is None:
            raise ValueError(f"cannot read orbital {part!r} in {config!r}")
        counts[m.group(2)] += int(m.group(3))
    return counts


def free_atom_spin(term: str | None) -> float:
    """Total spin S of a term symbol such as ``5D4`` or ``6H°5/2`` (multiplicity 2S+1)."""
    if not term:
        return math.nan
    m = re.match(r"(\d+)[A-Z]", term)
    return (int(m.group(1)) - 1) / 2 if m else math.nan


def _num(value) -> float:
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def element_row(z: int) -> dict[str, float | str]:
    from pymatgen.core import Element

    el = Element.from_Z(z)
    sym = el.symbol
    data = el.data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for the noble gases' missing X
        x = _num(el.X)
    conf = data["Electronic structure"]
    conf = conf["0"] if isinstance(conf, dict) else conf
    val = valence_counts(conf)
    unfilled = {l: (CAPACITY[l] - n if n > 0 else 0) for l, n in val.items()}
    is_metalloid = bool(el.is_metalloid)
    is_metal = bool(el.is_metal)
    row: dict[str, float | str] = {
        "symbol": sym,
        "Z": z,
        "row": el.row,
        "group": el.group,
        "mendeleev_number": _num(data.get("Mendeleev no")),
        "electronegativity_pauling": x,
        "atomic_mass_u": float(el.atomic_mass),
        "atomic_radius_A": _num(data.get("Atomic radius")),
        "atomic_radius_calc_A": _num(data.get("Atomic radius calculated")),
        "metallic_radius_A": _num(data.get("Metallic radius")),
        "vdw_radius_A": _num(data.get("Van der waals radius")),
        "melting_point_K": _num(data.get("Melting point")),
        "boiling_point_K": _num(data.get("Boiling point")),
        "molar_volume_cm3_mol": _num(data.get("Molar volume")),
        "density_kg_m3": _num(data.get("Density of solid")),
        "first_ionization_eV": _num((data.get("Ionization energies") or [None])[0]),
        "electron_affinity_eV": _num(data.get("Electron affinity")),
        "n_valence_s": val["s"], "n_valence_p": val["p"], "n_valence_d": val["d"],
        "n_valence_f": val["f"], "n_valence": sum(val.values()),
        "n_unfilled_s": unfilled["s"], "n_unfilled_p": unfilled["p"],
        "n_unfilled_d": unfilled["d"], "n_unfilled_f": unfilled["f"],
        "n_unfilled": sum(unfilled.values()),
        "free_atom_S": free_atom_spin(data.get("Ground level")),
        "is_metal": int(is_metal),
        "is_metalloid": int(is_metalloid),
        "is_nonmetal": int(not (is_metal or is_metalloid)),
        "is_alkali": int(el.is_alkali),
        "is_alkaline_earth": int(el.is_alkaline),
        "is_transition_metal": int(el.is_transition_metal),
        "is_lanthanide": int(sym in LANTHANIDES),
        "is_actinide": int(bool(el.is_actinoid)),
        "is_rare_earth": int(sym in RARE_EARTHS),
        "is_light_re": int(sym in LIGHT_RE),
        "is_heavy_re": int(sym in HEAVY_RE),
        "is_3d_magnetic": int(sym in MAGNETIC_3D),
        "is_halogen": int(bool(el.is_halogen)),
        "is_heavy_chalcogen": int(sym in HEAVY_CHALCOGENS),
        "is_heavy_pnictogen": int(sym in HEAVY_PNICTOGENS),
    }
    n4f = LANTHANIDES.index(sym) if sym in LANTHANIDES else 0
    row.update(hund_4f(n4f))
    return row


def render() -> str:
    pmg = version("pymatgen-core") if _has_dist("pymatgen-core") else version("pymatgen")
    buf = io.StringIO()
    buf.write(f"# regenome element properties; generated by scripts/make_element_table.py "
              f"from pymatgen-core {pmg} (periodic_table.json.gz) and Hund's rules; see data/README.md\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("symbol",) + COLUMNS)
    for z in range(1, MAX_Z + 1):
        row = element_row(z)
        writer.writerow([row["symbol"]] + [_fmt(row[c]) for c in COLUMNS])
    return buf.getvalue()


def _has_dist(name: str) -> bool:
    try:
        version(name)
    except Exception:  # importlib.metadata.PackageNotFoundError
        return False
    return True


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    v = float(value)
    if math.isnan(v):
        return ""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(round(v, 10))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with the existing file")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = args.out.is_file() and args.out.read_text() == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({MAX_Z} elements, {len(COLUMNS)} properties)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
