"""Activator placement in phosphor hosts: which cation site, and doped supercells.

Site rule (:func:`choose_site`), over the symmetry-distinct cation sites of the host:

1. Lanthanide activators never go on network-former sites (B, Si, Al, Ga, P, Ge) when any
   other cation site exists; Mn4+ (3d3, strong octahedral preference) only goes on six-coordinated
   sites when the host has any (:data:`PREFERRED_CN`).
2. Sites are ranked in size tiers of the Shannon-radius mismatch
   ``m = (r_act - r_host) / r_host`` at the site's coordination: ``|m| <= 0.30`` first, then
   ``|m| <= 0.50``, then the rest (used only when nothing fits better).
3. Within a tier: the smallest ``|charge mismatch|``, then the smallest ``|m|``, then the larger
   multiplicity (the majority site), then the label.

The size tiers come before the charge because a trivalent lanthanide replaces a large divalent
cation rather than a small trivalent one: Ce3+ in Ca3Sc2Si3O12 sits on the dodecahedral Ca site
(m = +0.02), not on octahedral Sc (m = +0.36), although Sc has the right charge.

Coordination: the anions within 1.25 x the shortest cation-anion distance of the site, each
distance first divided by the sum of the Shannon radii (CN 6) of the cation and that anion so that
a larger anion counts beside a smaller one (La in La2O2S: 4 O at 2.42 A + 3 S at 3.04 A, CN 7).
With one anion this is simply 1.25 x the shortest bond: the shortest bond sets the scale, and the
gap to the next shell is wider than that in the library hosts (Y(24c) in Y3Al5O12: 4 x 2.30 +
4 x 2.43 A, next O at 3.83 A; the closest call is La in LaPO4, ninth O at 1.13, tenth at 1.30 x the
shortest). The mean bond length is over those anions (Angstrom). Composition-only hosts have no bond lengths: their cation elements are ranked with a
coordination (the one their library record states from the structure type, else
:func:`default_cn`: 8 for the large cations, 4 for network formers, 6 otherwise) and
``coordination`` is ``None``.

Radii are Shannon ionic radii from pymatgen; when a CN is not tabulated for an ion the nearest
tabulated one is used (ties: the lower CN) and ``radius_note`` says which. Charge compensation
of aliovalent activators is stated in words, not built into the cell, unless a compensating co-dopant
is named (:func:`choose_compensator`, e.g. Na+ with Ce3+ on Ca2+): then it is built into both.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regenome.errors import InputDataError
from regenome.structures.hosts import Host

ACTIVATORS = ("Ce3+", "Eu2+", "Eu3+", "Tb3+", "Mn2+", "Mn4+", "Pr3+", "Sm3+", "Dy3+", "Yb2+")
#: Tetrahedral/triangular framework cations that never take a lanthanide activator (rule 1).
NETWORK_FORMERS = frozenset({"B", "Si", "Al", "Ga", "P", "Ge"})
#: Cations given CN 8 when the host is composition-only.
LARGE_CATIONS = frozenset({"Na", "K", "Rb", "Cs", "Ca", "Sr", "Ba", "Y", "La", "Gd", "Lu", "Eu"})
#: Activators confined to sites of one coordination when the host has any (Mn4+, 3d3: octahedral).
PREFERRED_CN = {"Mn4+": 6}
#: Upper bounds of the radius-mismatch tiers of rule 2.
MISMATCH_TIERS = (0.30, 0.50)
#: Anions within this factor of the shortest cation-anion distance count as coordinating.
COORDINATION_FACTOR = 1.25
_SHELL_SEARCH_A = 4.0
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X",
          11: "XI", 12: "XII", 14: "XIV"}
_FROM_ROMAN = {v: k for k, v in _ROMAN.items()}
_ION = re.compile(r"^\s*([A-Z][a-z]?)([1-7])\+\s*$")
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_CODOPANT_LARGE = {1: "Na+/Li+/K+", 3: "Y3+/La3+", 4: "Zr4+/Hf4+"}
_CODOPANT_SMALL = {1: "Li+", 2: "Mg2+/Zn2+", 3: "Al3+/Ga3+", 4: "Si4+/Ge4+", 5: "P5+"}

RULE = ("site: lanthanides never on network formers (B, Si, Al, Ga, P, Ge) when another cation site exists, "
        "Mn4+ only on CN 6 sites when there are any; "
        "then Shannon radius-mismatch tiers |m| <= 0.30, <= 0.50, rest; within a tier smallest |charge mismatch|, "
        "smallest |m|, larger multiplicity. CN = anions within 1.25 x the shortest cation-anion distance "
        "(distances scaled by the Shannon radius sums of each pair). "
        "Supercell: repetitions of the conventional cell (primitive if the conventional cell exceeds max_sites) "
        "with at most max_sites atoms whose realised fraction n_act/n_site, n_act = max(1, round(f n_site)), is "
        "closest to the request (smallest cell on ties); activators on randomly chosen sites of that label "
        "(numpy default_rng(seed)). Charge compensation is stated, not built, unless the batch names a "
        "compensator ([codopants]): then its ions go on random free atoms of the compensator's site, "
        "per_activator of them per activator (rounded).")


def activator_ion(text: str) -> tuple[str, int]:
    """Element and charge of an activator, ``"Ce3+"`` -> ``("Ce", 3)``.

    Raises
    ------
    ValueError
        If ``text`` is not one of :data:`ACTIVATORS`.
    """
    match = _ION.match(text) if isinstance(text, str) else None
    if match is None or f"{match.group(1)}{match.group(2)}+" not in ACTIVATORS:
        raise ValueError(f"The 'activator' parameter must be one of {', '.join(ACTIVATORS)}; got {text!r}")
    return match.group(1), int(match.group(2))


@dataclass(frozen=True)
class SiteChoice:
    """The site an activator takes in a host, with the numbers behind the choice.

    Lengths in Angstrom; ``radius_mismatch`` = (r_act - r_host) / r_host (dimensionless);
    ``charge_mismatch`` = activator charge - replaced charge (elementary charges).
    ``alternatives`` lists every cation site considered, the chosen one first (dicts with label,
    element, charge, radius_cn, radius_mismatch, charge_mismatch, tier, excluded).
    """

    host: str
    activator: str
    site: str
    replaced: str
    replaced_charge: int
    coordination: int | None
    mean_bond_length_A: float | None
    activator_radius_A: float
    host_radius_A: float
    radius_mismatch: float
    charge_mismatch: int
    compensation: str
    multiplicity: int | None
    radius_note: str = ""
    alternatives: tuple = field(default=(), compare=False)


class _IdentityCache:
    """Small LRU of results per host object (hosts hash by identity); holds the host so ids stay unique."""

    def __init__(self, maxsize: int = 256):
        self.maxsize, self._data = maxsize, OrderedDict()

    def get(self, host: Host, key: Any = None) -> Any:
        hit = self._data.get((id(host), key))
        if hit is None or hit[0] is not host:
            return None
        self._data.move_to_end((id(host), key))
        return hit[1]

    def put(self, host: Host, key: Any, value: Any) -> Any:
        self._data[(id(host), key)] = (host, value)
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value


_SITES = _IdentityCache()
_CHOICES = _IdentityCache()


def default_cn(element: str) -> int:
    """Coordination assumed for a cation of a composition-only host: 8 large, 4 network former, 6 other."""
    if element in LARGE_CATIONS:
        return 8
    return 4 if element in NETWORK_FORMERS else 6


def shannon_radius(element: str, charge: int, cn: int) -> tuple[float, int]:
    """Shannon ionic radius (Angstrom) of ``element`` with ``charge`` at ``cn`` and the CN actually used.

    The nearest tabulated CN is used when ``cn`` is absent (ties: the lower CN); high-spin radii
    are taken where pymatgen lists spin states.

    Raises
    ------
    ValueError
        If pymatgen has no Shannon radius for that ion.
    """
    from pymatgen.core import Element

    table = Element(element).data.get("Shannon radii", {}).get(str(charge))
    if not table:
        raise ValueError(f"no Shannon radius for {element}{charge:+d}")
    radii = {}
    for roman, spins in table.items():
        entry = spins.get("") or spins.get("High Spin") or next(iter(spins.values()))
        radii[_FROM_ROMAN[roman]] = float(entry["ionic_radius"])
    used = min(radii, key=lambda k: (abs(k - cn), k))
    return radii[used], used


def _stated_coordination(host: Host) -> dict[str, int]:
    """CN per element that the library states for a composition-only host (from its structure type)."""
    from regenome.structures.hosts import host_entry, host_names

    if host.name not in host_names():
        return {}
    return dict(host_entry(host.name).get("coordination", {}))


def cation_sites(host: Host) -> list[dict[str, Any]]:
    """Symmetry-distinct cation sites of ``host`` (one per label), cached per host object.

    Each dict holds ``label``, ``element``, ``charge``, ``coordination`` (int, or None for a
    composition-only host), ``mean_bond_length_A`` (Angstrom or None), ``multiplicity`` (sites of
    that label per conventional cell, or None) and ``radius_cn``, the CN used for the Shannon radii
    (the coordination; for a composition-only host the CN its library record states from the
    structure type, else :func:`default_cn`). For a composition-only
    host there is one entry per cation element, labelled by the element.
    """
    cached = _SITES.get(host)
    if cached is not None:
        return [dict(s) for s in cached]
    ox = host.oxidation_states
    sites: list[dict[str, Any]] = []
    if host.structure is None:
        stated = _stated_coordination(host)
        for el, q in ox.items():
            if q > 0:
                sites.append({"label": el, "element": el, "charge": int(q), "coordination": None,
                              "mean_bond_length_A": None, "multiplicity": None,
                              "radius_cn": int(stated.get(el, default_cn(el)))})
    else:
        structure = host.structure
        labels = structure.site_properties["label"]
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for i, lab in enumerate(labels):
            counts[lab] = counts.get(lab, 0) + 1
            first.setdefault(lab, i)
        anion_radius = {el: shannon_radius(el, q, 6)[0] for el, q in ox.items() if q < 0}
        for lab, i in first.items():
            el = structure[i].specie.symbol
            if ox[el] <= 0:
                continue
            r_cat = shannon_radius(el, ox[el], 6)[0]
            bonds: list[tuple[float, float]] = []  # (distance / (r_cat + r_anion), distance)
            radius = _SHELL_SEARCH_A
            while not bonds and radius <= 4 * _SHELL_SEARCH_A:
                bonds = sorted((nb.nn_distance / (r_cat + anion_radius[nb.specie.symbol]), nb.nn_distance)
                               for nb in structure.get_neighbors(structure[i], radius) if ox[nb.specie.symbol] < 0)
                radius *= 1.5
            if not bonds:
                raise InputDataError(f"host {host.name}: no anion within {4 * _SHELL_SEARCH_A:.0f} A of site {lab}")
            shell = [d for ratio, d in bonds if ratio <= COORDINATION_FACTOR * bonds[0][0]]
            sites.append({"label": lab, "element": el, "charge": int(ox[el]), "coordination": len(shell),
                          "mean_bond_length_A": round(float(np.mean(shell)), 4), "multiplicity": counts[lab],
                          "radius_cn": len(shell)})
    _SITES.put(host, None, sites)
    return [dict(s) for s in sites]


def compensation_text(activator: str, replaced: str, replaced_charge: int, host: Host | None = None) -> str:
    """How the charge difference of ``activator`` on a ``replaced`` site is usually compensated ("" if none).

    Excess charge: cation vacancies on the replaced sublattice, or a lower-valent co-dopant on a
    second site of that kind; deficit: anion vacancies (the host's main anion), or a higher-valent
    co-dopant. Stated only; :func:`dope_supercell` does not build it.
    """
    el, q = activator_ion(activator)
    dq = q - replaced_charge
    if dq == 0:
        return ""
    if dq > 0:  # n_vac * replaced_charge = n_act * dq
        species, per_vacancy, head = replaced, replaced_charge, f"excess +{dq}"
    else:  # n_vac * anion_charge = n_act * |dq|
        species, per_vacancy = _main_anion(host)
        head = f"deficit {dq}"
    g = math.gcd(abs(dq), per_vacancy)
    n_vac, n_act = abs(dq) // g, per_vacancy // g
    text = (f"{activator} on {_ion(replaced, replaced_charge)} ({head}): {_WORDS.get(n_vac, n_vac)} {species} "
            f"vacanc{'y' if n_vac == 1 else 'ies'} per {_WORDS.get(n_act, n_act)} {el}")
    table = _CODOPANT_LARGE if replaced in LARGE_CATIONS else _CODOPANT_SMALL
    partner = replaced_charge - dq
    if partner in table:
        text += f", or {table[partner]} co-doping on a second {replaced} site (one per {el})"
    return text + "; not built into the cell"


def _ion(element: str, charge: int) -> str:
    """``"Ca2+"``, ``"Na+"``, ``"O2-"``."""
    size = "" if abs(charge) == 1 else str(abs(charge))
    return f"{element}{size}{'+' if charge > 0 else '-'}"


def _main_anion(host: Host | None) -> tuple[str, int]:
    if host is None:
        return "O", 2
    anions = [(el, -q) for el, q in host.oxidation_states.items() if q < 0]
    if not anions:
        return "O", 2
    if host.structure is not None:
        comp = host.structure.composition
        return max(anions, key=lambda a: comp[a[0]])
    from pymatgen.core import Composition

    comp = Composition(host.name)
    return max(anions, key=lambda a: comp[a[0]])


def _score_sites(sites: list[dict[str, Any]], element: str, charge: int) -> list[dict[str, Any]]:
    """Each cation site with the Shannon radii of ``element``/``charge`` and of the host ion at the site's CN,
    their mismatch ``(r_ion - r_host) / r_host``, its tier (:data:`MISMATCH_TIERS`) and the charge mismatch."""
    out = []
    for s in sites:
        r_host, cn_host = shannon_radius(s["element"], s["charge"], s["radius_cn"])
        r_ion, cn_ion = shannon_radius(element, charge, s["radius_cn"])
        m = (r_ion - r_host) / r_host
        tier = next((k for k, bound in enumerate(MISMATCH_TIERS) if abs(m) <= bound), len(MISMATCH_TIERS))
        out.append({**s, "activator_radius_A": r_ion, "host_radius_A": r_host, "cn_act": cn_ion, "cn_host": cn_host,
                    "radius_mismatch": round(m, 4), "charge_mismatch": charge - s["charge"], "tier": tier})
    return out


def choose_site(host: Host, activator: str) -> SiteChoice:
    """The cation site ``activator`` takes in ``host`` by the rule of this module (cached per host)."""
    el_a, q_a = activator_ion(activator)
    key = f"{el_a}{q_a}+"
    cached = _CHOICES.get(host, key)
    if cached is not None:
        return cached
    from pymatgen.core import Element

    sites = cation_sites(host)
    if not sites:
        raise InputDataError(f"host {host.name}: no cation site to place {key} on")
    lanthanide = Element(el_a).is_lanthanoid
    has_other = any(s["element"] not in NETWORK_FORMERS for s in sites)
    preferred = PREFERRED_CN.get(key)
    has_preferred = any(s["radius_cn"] == preferred for s in sites)
    scored = []
    for s in _score_sites(sites, el_a, q_a):
        excluded = "network former" if (lanthanide and has_other and s["element"] in NETWORK_FORMERS) else ""
        if not excluded and preferred is not None and has_preferred and s["radius_cn"] != preferred:
            excluded = f"{key} needs CN {preferred}"
        scored.append({**s, "excluded": excluded})
    order = sorted(scored, key=lambda c: (bool(c["excluded"]), c["tier"], abs(c["charge_mismatch"]),
                                          round(abs(c["radius_mismatch"]), 6), -(c["multiplicity"] or 0), c["label"]))
    best = order[0]
    notes = []
    if host.structure is None:
        if best["element"] in _stated_coordination(host):
            notes.append(f"composition-only host: CN {best['radius_cn']} for {best['element']} from the structure "
                         "type stated in the library")
        else:
            notes.append(f"composition-only host: CN {best['radius_cn']} assumed for {best['element']} "
                         "(8 large cations, 4 network formers, 6 otherwise)")
    for ion, used in ((key, best["cn_act"]), (_ion(best["element"], best["charge"]), best["cn_host"])):
        if used != best["radius_cn"]:
            notes.append(f"{ion} has no Shannon radius at CN {best['radius_cn']}; CN {used} used (nearest tabulated)")
    if best["tier"] == len(MISMATCH_TIERS):
        notes.append(f"no site within {MISMATCH_TIERS[-1]:.0%} radius mismatch; best available taken")
    alternatives = tuple({k: c[k] for k in ("label", "element", "charge", "coordination", "radius_cn",
                                            "radius_mismatch", "charge_mismatch", "tier", "excluded")}
                         for c in order)
    choice = SiteChoice(
        host=host.name, activator=key, site=best["label"], replaced=best["element"],
        replaced_charge=best["charge"], coordination=best["coordination"],
        mean_bond_length_A=best["mean_bond_length_A"], activator_radius_A=best["activator_radius_A"],
        host_radius_A=best["host_radius_A"], radius_mismatch=best["radius_mismatch"],
        charge_mismatch=best["charge_mismatch"],
        compensation=compensation_text(key, best["element"], best["charge"], host),
        multiplicity=best["multiplicity"], radius_note="; ".join(notes), alternatives=alternatives)
    return _CHOICES.put(host, key, choice)


#: Charge compensators a batch may co-dope with (``[codopants]``): closed-shell, non-emitting ions, the
#: co-dopants the surrogates' training data keep as single-activator rows
#: (:data:`regenome.surrogates.phosphor_data.INERT_CODOPANTS`) plus Zr4+ and Hf4+ for Eu2+ on trivalent sites.
COMPENSATORS = ("Li+", "Na+", "K+", "Mg2+", "Zn2+", "Al3+", "Sc3+", "Y3+", "La3+", "Si4+", "Ge4+", "Zr4+", "Hf4+")
_CATION = re.compile(r"^\s*([A-Z][a-z]?)([1-7]?)\+\s*$")


def compensator_ion(text: str) -> tuple[str, int]:
    """Element and charge of a charge compensator, ``"Na+"`` -> ``("Na", 1)``, ``"Mg2+"`` -> ``("Mg", 2)``.

    Raises
    ------
    ValueError
        If ``text`` is not one of :data:`COMPENSATORS`.
    """
    match = _CATION.match(text) if isinstance(text, str) else None
    if match is None or _ion(match.group(1), int(match.group(2) or 1)) not in COMPENSATORS \
            or match.group(2) == "1":
        raise ValueError(f"The 'compensator' parameter must be one of {', '.join(COMPENSATORS)}; got {text!r}")
    return match.group(1), int(match.group(2) or 1)


@dataclass(frozen=True)
class CompensatorChoice:
    """Where a charge-compensating co-dopant goes and how many per activator.

    ``charge_mismatch`` = compensator charge - replaced charge, of the opposite sign to the
    activator's; ``per_activator`` = |activator mismatch| / |compensator mismatch| compensator
    atoms per activator atom, so the doped compound keeps the host's formal charge (zero).
    """

    ion: str
    site: str
    replaced: str
    replaced_charge: int
    charge_mismatch: int
    radius_mismatch: float
    per_activator: float
    multiplicity: int | None
    text: str


def choose_compensator(host: Host, choice: SiteChoice, ion: str) -> CompensatorChoice | None:
    """The site of compensator ``ion`` for the activator of ``choice``, or None if no compensation is needed.

    Candidate sites are the cation sites where the compensator's charge mismatch has the opposite
    sign to the activator's; they are ranked by radius-mismatch tier (:data:`MISMATCH_TIERS`), then
    the activator's own site first (the usual pair, e.g. Ce3+ + Na+ for two Ca2+), then the smallest
    |charge mismatch| and |radius mismatch|, the larger multiplicity and the label.

    Raises
    ------
    ValueError
        If ``ion`` is not a known compensator, or no site of the host takes it with the needed charge
        within the widest radius tier (50 %).
    """
    el, q = compensator_ion(ion)
    if choice.charge_mismatch == 0:
        return None
    sign = -np.sign(choice.charge_mismatch)
    sites = [s for s in _score_sites(cation_sites(host), el, q) if np.sign(s["charge_mismatch"]) == sign]
    if not sites:
        need = "lower" if sign < 0 else "higher"
        raise ValueError(f"{ion} cannot compensate {choice.activator} on {_ion(choice.replaced, choice.replaced_charge)} "
                         f"in {host.name}: no cation site where it carries a {need} charge than the ion it replaces")
    best = min(sites, key=lambda c: (c["tier"], c["label"] != choice.site, abs(c["charge_mismatch"]),
                                     round(abs(c["radius_mismatch"]), 6), -(c["multiplicity"] or 0), c["label"]))
    if best["tier"] == len(MISMATCH_TIERS):
        raise ValueError(f"{ion} cannot compensate {choice.activator} in {host.name}: no site where it carries the "
                         f"needed charge is within {MISMATCH_TIERS[-1]:.0%} of its Shannon radius (best: "
                         f"{best['label']}, {best['radius_mismatch']:+.0%})")
    per = abs(choice.charge_mismatch) / abs(best["charge_mismatch"])
    count = _WORDS.get(int(per), f"{per:g}") if per == int(per) else f"{per:g}"
    text = (f"{choice.activator} on {_ion(choice.replaced, choice.replaced_charge)} compensated by {count} {ion} on "
            f"{_ion(best['element'], best['charge'])} (site {best['label']}) per {activator_ion(choice.activator)[0]}"
            + ("; built into the formula and the cell" if host.structure is not None
               else "; built into the formula (composition-only host: no cell)"))
    return CompensatorChoice(ion=_ion(el, q), site=best["label"], replaced=best["element"],
                             replaced_charge=best["charge"], charge_mismatch=best["charge_mismatch"],
                             radius_mismatch=best["radius_mismatch"], per_activator=per,
                             multiplicity=best["multiplicity"], text=text)


def _supercell_shapes(lengths: np.ndarray, n_base: int, max_sites: int) -> dict[int, tuple[int, int, int]]:
    """Most compact diagonal repetition (n1, n2, n3) per number of cells with at most max_sites atoms."""
    max_cells = max(1, max_sites // n_base)
    best: dict[int, tuple[tuple, tuple[int, int, int]]] = {}
    for n1 in range(1, max_cells + 1):
        for n2 in range(1, max_cells // n1 + 1):
            for n3 in range(1, max_cells // (n1 * n2) + 1):
                shape = (n1, n2, n3)
                sides = lengths * np.array(shape)
                score = float(sides.max() / sides.min())
                n = n1 * n2 * n3
                key = (score, tuple(-x for x in shape))  # equally compact: repeat along a first
                if n not in best or key < best[n][0]:
                    best[n] = (key, shape)
    return {n: s for n, (_, s) in best.items()}


def dope_supercell(host: Host, choice: SiteChoice, fraction: float, seed: int, max_sites: int = 400,
                   compensator: CompensatorChoice | None = None) -> dict:
    """A seeded supercell of ``host`` with the activator of ``choice`` on a ``fraction`` of its site.

    ``fraction`` is the share of the ``choice.site`` atoms replaced, 0 < fraction <= 1. The
    supercell is the repetition of the conventional cell (the primitive cell when the conventional
    cell alone exceeds ``max_sites``) with at most ``max_sites`` atoms whose realised fraction
    ``n_act / n_site`` (``n_act = max(1, round(fraction * n_site))``) is closest to the request,
    the smallest such cell on ties. Activators replace randomly chosen atoms of that site
    (``numpy.random.default_rng(seed)``); the result is deterministic given ``seed``. With a
    ``compensator``, ``round(n_act * per_activator)`` of its ions then replace randomly chosen
    remaining atoms of its site (cells where they fit come first), and the recipe gives the cell's
    net formal charge (0 when the ratio is whole).

    Returns
    -------
    dict
        ``lattice`` (3, 3) Angstrom, ``numbers`` int16, ``frac_coords`` (n, 3), ``site_labels``
        (list of str, the host labels) and ``recipe`` (host, activator, site, supercell,
        counts, requested and realised fraction, compensation (built or only stated), seed, rule),
        the layout of :func:`regenome.structures.prototypes.decorate_nd2fe14b`.
    """
    from pymatgen.core import Element

    if host.structure is None:
        raise InputDataError(f"host {host.name} is composition-only (no published structure in the library); "
                             "give its structure file (host_from_file) to build doped cells")
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        fraction = math.nan
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"The 'fraction' parameter of dope_supercell must be in (0, 1]; got {fraction!r}")
    if not isinstance(max_sites, int) or max_sites < 1:
        raise ValueError(f"The 'max_sites' parameter of dope_supercell must be a positive int; got {max_sites!r}")
    labels_conv = host.structure.site_properties["label"]
    if choice.host != host.name or choice.site not in labels_conv:
        raise ValueError(f"The 'choice' parameter of dope_supercell must be a site of host {host.name}; "
                         f"got site {choice.site!r} of host {choice.host!r}")
    el_a, _ = activator_ion(choice.activator)

    base, cell = host.structure, "conventional"
    if len(base) > max_sites:
        primitive = host.structure.get_primitive_structure(use_site_props=True)
        if len(primitive) < len(base):
            base, cell = primitive, "primitive"
    labels = list(base.site_properties["label"])
    on_site = np.array([lab == choice.site for lab in labels])
    n_label = int(on_site.sum())
    shapes = _supercell_shapes(np.array(base.lattice.abc), len(base), max_sites)

    def realised(n_cells: int) -> tuple[float, int]:
        n_site = n_label * n_cells
        n_act = min(n_site, max(1, math.floor(fraction * n_site + 0.5)))
        return abs(n_act / n_site - fraction), n_act

    def room(n_cells: int) -> bool:  # the compensator ions fit on the free atoms of their site
        if compensator is None:
            return True
        n_act = realised(n_cells)[1]
        free = n_cells * labels.count(compensator.site) - (n_act if compensator.site == choice.site else 0)
        return _n_compensators(n_act, compensator) <= free

    n_cells = min(shapes, key=lambda n: (not room(n), round(realised(n)[0], 12), n))
    shape = shapes[n_cells]
    n_act = realised(n_cells)[1]

    shifts = np.array([(i, j, k) for i in range(shape[0]) for j in range(shape[1]) for k in range(shape[2])])
    frac = ((base.frac_coords[None, :, :] + shifts[:, None, :]) / np.array(shape)).reshape(-1, 3)
    numbers = np.tile(np.array([site.specie.Z for site in base], dtype=np.int16), n_cells)
    site_labels = labels * n_cells
    candidates = np.nonzero(np.tile(on_site, n_cells))[0]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(candidates, size=n_act, replace=False))
    numbers[chosen] = Element(el_a).Z
    built = _place_compensator(compensator, choice, numbers, site_labels, chosen, rng)
    lattice = np.array(base.lattice.matrix) * np.array(shape)[:, None]
    n_site = len(candidates)
    return {
        "lattice": lattice,
        "numbers": numbers,
        "frac_coords": frac,
        "site_labels": site_labels,
        "recipe": {
            "host": host.name,
            "host_source": host.source,
            "activator": choice.activator,
            "site": choice.site,
            "replaced": choice.replaced,
            "coordination": choice.coordination,
            "mean_bond_length_A": choice.mean_bond_length_A,
            "cell": cell,
            "supercell": [int(x) for x in shape],
            "n_sites": int(len(numbers)),
            "n_site_atoms": int(n_site),
            "n_activators": int(n_act),
            "requested_fraction": float(fraction),
            "realised_fraction": n_act / n_site,
            "charge_mismatch": int(choice.charge_mismatch),
            "compensation": compensator.text if compensator is not None else choice.compensation,
            "compensation_built": compensator is not None,
            **built,
            "seed": int(seed),
            "rule": RULE,
        },
    }


def _n_compensators(n_act: int, compensator: CompensatorChoice) -> int:
    """Compensator ions in a cell with ``n_act`` activators: ``n_act * per_activator``, rounded half up."""
    return int(math.floor(n_act * compensator.per_activator + 0.5))


def _place_compensator(compensator: CompensatorChoice | None, choice: SiteChoice, numbers: np.ndarray,
                       site_labels: list[str], activators: np.ndarray, rng: np.random.Generator) -> dict:
    """Put the compensator ions on random free atoms of their site (in place); their recipe entries."""
    n_act = len(activators)
    if compensator is None:
        return {"net_charge_e": int(n_act * choice.charge_mismatch)} if choice.charge_mismatch else {}
    from pymatgen.core import Element

    el, _ = compensator_ion(compensator.ion)
    n_comp = _n_compensators(n_act, compensator)
    free = np.setdiff1d(np.flatnonzero(np.array(site_labels) == compensator.site), activators)
    if n_comp > len(free):
        raise ValueError(f"{compensator.ion}: the cell has {len(free)} free {compensator.site} atoms for "
                         f"{n_comp} compensator ions; lower the activator fraction")
    placed = np.sort(rng.choice(free, size=n_comp, replace=False))
    numbers[placed] = Element(el).Z
    return {"compensator": compensator.ion, "compensator_site": compensator.site, "n_compensators": n_comp,
            "net_charge_e": int(n_act * choice.charge_mismatch + n_comp * compensator.charge_mismatch)}
