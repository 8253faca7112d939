"""The phosphor family: activator-doped inorganic hosts for LEDs and displays.

A candidate is (host, activator, concentration). Hosts come from the curated library
(:mod:`regenome.structures.hosts`) or from the user's structure files; the activator goes on
the cation site chosen by charge and ionic-radius mismatch (:mod:`regenome.structures.placement`),
and the concentration is the fraction of that site's atoms it replaces (for a host known only
by its composition: of all atoms of the replaced element). Host-level properties (band gap,
Debye temperature), which do not depend on the dopant, are predicted once per host when the
candidate grid is built; emission and thermal quenching are predicted per candidate in the
workers. Every prediction is a mean with a one-sigma width from the trained surrogates.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from regenome.families import stable_id
from regenome.spec import BatchSpec, StrictModel, _FieldError, _short

#: Properties the surrogates predict (each with ``_std``).
PROPERTIES = ("emission_nm", "T50_K", "debye_K", "band_gap_eV")
#: Exact columns that targets and objectives may also use.
EXTRA_PROPERTIES = ("raw_material_cost_usd_kg", "export_controlled_wt_frac", "concentration")
#: Trained models this family calls.
MODELS = ("emission", "thermal-quenching", "band-gap", "debye-temperature", "centroid-shift")
#: Draws per candidate for target probabilities (Gaussian quantiles, exact mean and sigma).
N_DRAWS = 64
MAX_STEPS = 100


# -- batch file --------------------------------------------------------------------------------

class HostSelection(StrictModel):
    """``[hosts]``: library hosts by name and user hosts from structure files."""

    include: list[str] = Field(default_factory=list,
                               description="Library hosts by reduced formula, e.g. \"Y3Al5O12\" "
                                           "(`regenome hosts` lists them).")
    files: list[str] = Field(default_factory=list,
                             description="Host structures (CIF, POSCAR or .extxyz), relative to the batch "
                                         "file or absolute.")

    @field_validator("include")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from regenome.structures.hosts import host_names

        valid = host_names()
        for i, name in enumerate(names):
            if name not in valid:
                close = [v for v in valid if v.lower() == str(name).lower()]
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise _FieldError((i,), f"unknown library host {_short(name)}; {hint}valid: {', '.join(valid)}; "
                                        "or give its structure file in hosts.files")
        if len(set(names)) != len(names):
            raise _FieldError((), "a host is listed twice; list each once")
        return names

    @field_validator("files")
    @classmethod
    def _readable(cls, files: list[str], info: ValidationInfo) -> list[str]:
        from regenome.errors import RegenomeError
        from regenome.structures.hosts import host_from_file

        base = Path((info.context or {}).get("batch_dir") or os.getcwd())
        resolved = []
        for i, name in enumerate(files):
            path = Path(name) if Path(name).is_absolute() else base / name
            if not path.is_file():
                raise _FieldError((i,), f"file not found: {path}; paths are relative to the batch file's folder")
            try:
                host_from_file(path)
            except RegenomeError as exc:
                raise _FieldError((i,), str(exc)) from None
            resolved.append(str(path.resolve()))
        if len(set(resolved)) != len(resolved):
            raise _FieldError((), "a file is listed twice; list each once")
        return resolved

    @model_validator(mode="after")
    def _some(self) -> HostSelection:
        if not self.include and not self.files:
            raise _FieldError(("include",), "name at least one host, e.g. include = [\"Y3Al5O12\"], "
                                            "or a structure file in files")
        return self


class Activators(StrictModel):
    """``[activators]``: activator = [min, max] fraction of the substituted site, and
    ``steps`` (concentrations per activator, default 3) or ``step`` (spacing)."""

    ranges: dict[str, tuple[float, float]]
    steps: int | None = None
    step: float | None = None

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """The table as written in TOML (activator keys next to steps/step), not the parsed fields."""
        from regenome.structures.placement import ACTIVATORS

        pair = {"type": "array", "prefixItems": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1}] * 2,
                "minItems": 2, "maxItems": 2}
        return {"type": "object", "title": "Activators", "description": " ".join(cls.__doc__.split()),
                "properties": {**{a: {**pair, "description": f"[min, max] fraction of the site for {a}"}
                                  for a in ACTIVATORS},
                               "steps": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS, "default": 3},
                               "step": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}},
                "additionalProperties": False}

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data):
        from regenome.structures.placement import ACTIVATORS, activator_ion

        if not isinstance(data, dict):
            raise _FieldError((), "must be a table such as \"Ce3+\" = [0.01, 0.06] with steps = 3")
        steps, step = data.get("steps"), data.get("step")
        ranges = {}
        for key, value in data.items():
            if key in ("steps", "step"):
                continue
            try:
                activator_ion(key)
            except ValueError:
                raise _FieldError((key,), f"unknown activator; valid: {', '.join(ACTIVATORS)}, steps, step") from None
            ranges[key] = _fraction_range(value, key)
        if not ranges:
            raise _FieldError((), "name at least one activator, e.g. \"Ce3+\" = [0.01, 0.06]")
        if steps is not None and step is not None:
            raise _FieldError(("step",), "give steps (a count) or step (a spacing), not both")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS):
            raise _FieldError(("steps",), f"must be a whole number from 1 to {MAX_STEPS}; got {_short(steps)}")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, (int, float)) or not (
                    math.isfinite(step) and 0 < step <= 1):
                raise _FieldError(("step",), f"must be a number in (0, 1], e.g. 0.01; got {_short(step)}")
            for key, (lo, hi) in ranges.items():
                if (hi - lo) / step > MAX_STEPS:
                    raise _FieldError(("step",), f"gives more than {MAX_STEPS} concentrations for {key}; "
                                                 "use a larger step")
        return {"ranges": ranges, "steps": steps, "step": float(step) if step is not None else None}

    def levels(self, activator: str) -> np.ndarray:
        """Concentrations of one activator (fractions of the substituted site), ascending."""
        lo, hi = self.ranges[activator]
        if hi - lo < 1e-12:
            return np.array([lo])
        if self.step is not None:
            n = int(math.floor((hi - lo) / self.step + 1e-9))
            values = lo + self.step * np.arange(n + 1)
        else:
            values = np.linspace(lo, hi, self.steps or 3)
        return np.unique(np.round(values, 6))


def _fraction_range(value, key: str) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise _FieldError((key,), f"must be [min, max], fractions of the substituted site such as [0.01, 0.06]; "
                                  f"got {_short(value)}")
    try:
        lo, hi = float(value[0]), float(value[1])
    except OverflowError:
        lo = hi = -1.0
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi <= 1):
        raise _FieldError((key,), f"bounds must satisfy 0 < min <= max <= 1 (fractions of the site); "
                                  f"got {_short(value)}")
    return lo, hi


class PhosphorConstraints(StrictModel):
    """``[constraints]``: hard filters applied before the per-candidate predictions."""

    max_element_wt_frac: dict[str, float] = Field(
        default_factory=dict, description="Maximum mass fraction of an element in the doped compound, "
                                          "e.g. { Lu = 0.0, Tb = 0.02 }.")
    max_export_controlled_wt_frac: float = Field(
        1.0, ge=0.0, le=1.0, description="Maximum mass fraction of rare earths under China's 2025 export "
                                         "controls (Tb, Dy, Gd, Sm, Y, Lu, Eu).")
    min_band_gap_eV: float = Field(0.0, ge=0.0, le=20.0,
                                   description="Minimum predicted band gap of the host (mean), eV.")
    structure_known: bool = Field(False, description="Keep only hosts with a crystal structure "
                                                     "(library structures and user files).")

    @field_validator("max_element_wt_frac")
    @classmethod
    def _elements(cls, values: dict[str, float]) -> dict[str, float]:
        from regenome.features.elements import ELEMENTS

        for key, v in values.items():
            if key not in ELEMENTS:
                raise _FieldError((key,), "not an element symbol (e.g. Lu, Tb)")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0 <= v <= 1):
                raise _FieldError((key,), f"must be a mass fraction between 0 and 1; got {_short(v)}")
        return {k: float(v) for k, v in values.items()}


class PhosphorStructures(StrictModel):
    """``[structures]``: how doped supercells are built."""

    max_sites: int = Field(400, ge=20, le=5000, description="Largest supercell, in atoms.")


def _codopants_schema(schema: dict) -> None:
    """JSON Schema of ``[codopants]``: activator keys, compensator values (lists read when the schema is built)."""
    from regenome.structures.placement import ACTIVATORS, COMPENSATORS

    schema["propertyNames"] = {"enum": list(ACTIVATORS)}
    schema["additionalProperties"] = {"type": "string", "enum": list(COMPENSATORS)}


class PhosphorBatch(BatchSpec):
    """A complete phosphor batch file."""

    hosts: HostSelection
    activators: Activators
    codopants: dict[str, str] = Field(
        default_factory=dict, json_schema_extra=_codopants_schema,
        description="Charge-compensating co-dopant per activator, e.g. { \"Ce3+\" = \"Na+\" }: wherever the "
                    "activator's charge differs from the site's, the compensator goes on a cation site where it "
                    "carries the opposite charge difference, in the amount that keeps the compound neutral; built "
                    "into the formula, cost, constraints, recipe and doped cell. Compensators are closed-shell, "
                    "non-emitting ions; the surrogates see the activator only.")
    constraints: PhosphorConstraints = Field(default_factory=PhosphorConstraints)
    structures: PhosphorStructures = Field(default_factory=PhosphorStructures)

    known_properties = PROPERTIES + EXTRA_PROPERTIES

    @field_validator("codopants", mode="before")
    @classmethod
    def _compensators(cls, values):
        from regenome.structures.placement import COMPENSATORS, compensator_ion

        if not isinstance(values, dict):
            raise _FieldError((), "must be a table of activator = compensator, e.g. \"Ce3+\" = \"Na+\"")
        for key, ion in values.items():
            try:
                compensator_ion(ion)
            except ValueError:
                raise _FieldError((key,), f"unknown charge compensator {_short(ion)}; valid: "
                                          f"{', '.join(COMPENSATORS)}") from None
        return values

    @model_validator(mode="after")
    def _codoped_activators(self) -> PhosphorBatch:
        for key in self.codopants:
            if key not in self.activators.ranges:
                raise _FieldError(("codopants", key), "is not an activator of this batch; list it under "
                                                      "[activators] or remove it here")
        return self

    @model_validator(mode="after")
    def _size(self) -> PhosphorBatch:
        n_hosts = len(self.hosts.include) + len(self.hosts.files)
        total = n_hosts * sum(len(self.activators.levels(a)) for a in self.activators.ranges)
        if total > self.funnel.max_candidates:
            raise _FieldError(("funnel", "max_candidates"),
                              f"the batch would generate {total} candidates, more than "
                              f"{self.funnel.max_candidates}; use fewer concentration steps or hosts, "
                              "or raise max_candidates")
        return self


# -- the candidate grid ------------------------------------------------------------------------

@dataclass
class HostActivator:
    """One (host, activator) pair that passed the checks: its site and host-level predictions."""

    key: str  # host identity: library name, or formula@file
    host: object  # regenome.structures.hosts.Host
    source: str  # "library" or the structure file
    file_sha256: str
    activator: str
    choice: object  # regenome.structures.placement.SiteChoice
    site_per_formula: float  # atoms of the substituted site per formula unit
    host_props: dict[str, float] = field(default_factory=dict)  # band gap, Debye: mean and _std
    compensator: object = None  # regenome.structures.placement.CompensatorChoice, or None
    compensator_site_per_formula: float = 0.0  # atoms of the compensator's site per formula unit


@dataclass
class Grid:
    """All candidates of a batch as (pair index, concentration) plus why pairs were dropped."""

    pairs: list[HostActivator]
    pair_index: np.ndarray
    concentration: np.ndarray
    n_generated: int
    dropped: dict[str, str]  # "host / activator" -> reason


_GRIDS: dict[str, Grid] = {}


def _hosts(spec: PhosphorBatch) -> list[tuple[str, object, str, str]]:
    """(key, Host, source, file sha256) for every host of the batch, library first."""
    from regenome.structures.hosts import host_from_file, load_host

    out = [(name, load_host(name), "library", "") for name in spec.hosts.include]
    for path in spec.hosts.files:
        host = host_from_file(path)
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        out.append((f"{host.formula}@{Path(path).name}", host, str(path), sha))
    return out


def _site_per_formula(host, choice) -> float:
    """Atoms of the substituted site per formula unit (all atoms of the element if no structure);
    ``choice`` is a SiteChoice or CompensatorChoice."""
    if host.structure is None or choice.multiplicity is None:
        return dict(reduced_amounts(host.formula))[choice.replaced]
    factor = host.structure.composition.get_reduced_composition_and_factor()[1]
    return choice.multiplicity / factor


def build_grid(spec: PhosphorBatch) -> Grid:
    """Every candidate that passes the constraints (host-level predictions made here, once)."""
    from regenome.errors import RegenomeError
    from regenome.structures.placement import choose_compensator, choose_site

    pairs: list[HostActivator] = []
    dropped: dict[str, str] = {}
    n_generated = 0
    hosts = _hosts(spec)
    host_props = _host_properties([h.formula for _, h, _, _ in hosts])
    c = spec.constraints
    for (key, host, source, sha), props in zip(hosts, host_props):
        for activator in spec.activators.ranges:
            n_generated += len(spec.activators.levels(activator))
            label = f"{key} / {activator}"
            if props.get("error"):
                dropped[label] = props["error"]
                continue
            if c.structure_known and host.structure is None:
                dropped[label] = "host has no crystal structure ([constraints] structure_known)"
                continue
            if props["band_gap_eV"] < c.min_band_gap_eV:
                dropped[label] = f"host band gap {props['band_gap_eV']:.2f} eV < min_band_gap_eV"
                continue
            try:
                choice = choose_site(host, activator)
            except (ValueError, RegenomeError) as exc:
                dropped[label] = f"no site for the activator: {exc}"
                continue
            compensator = None
            if activator in spec.codopants:
                try:
                    compensator = choose_compensator(host, choice, spec.codopants[activator])
                except (ValueError, RegenomeError) as exc:
                    dropped[label] = f"co-dopant: {exc}"
                    continue
            pairs.append(HostActivator(key, host, source, sha, activator, choice, _site_per_formula(host, choice),
                                       props, compensator, 0.0 if compensator is None
                                       else _site_per_formula(host, compensator)))
    pair_index, conc = [], []
    for i, pair in enumerate(pairs):
        levels = spec.activators.levels(pair.activator)
        pair_index.extend([i] * len(levels))
        conc.extend(levels.tolist())
    pair_index = np.asarray(pair_index, dtype=np.int64)
    conc = np.asarray(conc, dtype=float)
    grid = Grid(pairs, pair_index, conc, n_generated, dropped)
    if len(conc):
        keep = _constraint_mask(grid, spec)
        grid.pair_index, grid.concentration = pair_index[keep], conc[keep]
    _check_models_accept(grid)
    return grid


def _host_properties(formulas: list[str]) -> list[dict]:
    """Band gap and Debye temperature (mean and one-sigma) of each host formula."""
    import pandas as pd

    from regenome.surrogates.predict import predict_chunk

    frame = pd.DataFrame({"formula": formulas})
    out = [dict() for _ in formulas]
    for name, column in (("band-gap", "band_gap_eV"), ("debye-temperature", "debye_K")):
        mean, std, errors = predict_chunk(name, frame)
        for i, (m, s, e) in enumerate(zip(mean[:, 0], std[:, 0], errors)):
            out[i][column], out[i][column + "_std"] = float(m), float(s)
            if e and not out[i].get("error"):
                out[i]["error"] = f"{name}: {e}"
    return out


def _check_models_accept(grid: Grid) -> None:
    """Drop (host, activator) pairs the per-candidate models cannot predict (e.g. an unseen element)."""
    import pandas as pd

    from regenome.modelstore import load_model
    from regenome.surrogates import get_spec

    if not grid.pairs:
        return
    frame = pd.DataFrame({"host": [p.host.formula for p in grid.pairs],
                          "activator": [p.activator for p in grid.pairs],
                          "concentration": [0.01] * len(grid.pairs)})
    bad: dict[int, str] = {}
    for name in ("emission", "thermal-quenching"):
        estimator, _ = load_model(name)
        _, errors = get_spec(name).prepare_inputs(estimator, frame)
        for i, e in enumerate(errors):
            if e and i not in bad:
                bad[i] = f"{name}: {e}"
    for i, reason in bad.items():
        pair = grid.pairs[i]
        grid.dropped[f"{pair.key} / {pair.activator}"] = reason
    if bad:
        keep = ~np.isin(grid.pair_index, list(bad))
        grid.pair_index, grid.concentration = grid.pair_index[keep], grid.concentration[keep]


def _constraint_mask(grid: Grid, spec: PhosphorBatch) -> np.ndarray:
    c = spec.constraints
    amounts, elements = doped_amounts(grid, grid.pair_index, grid.concentration)
    keep = _compensator_fits(grid)
    if c.max_element_wt_frac:
        from regenome.costs import mass_fractions

        wt = mass_fractions(amounts, elements)
        for el, limit in c.max_element_wt_frac.items():
            if el in elements:
                keep &= wt[:, elements.index(el)] <= limit + 1e-12
    if c.max_export_controlled_wt_frac < 1.0:
        from regenome.costs import export_controlled_mass_fraction

        keep &= export_controlled_mass_fraction(amounts, elements) <= c.max_export_controlled_wt_frac + 1e-12
    return keep


def _compensator_fits(grid: Grid) -> np.ndarray:
    """Per candidate: the compensator's site has room for it (and for the activator, if they share the site).

    Pairs that lose concentrations get a note in ``grid.dropped``.
    """
    keep = np.ones(len(grid.concentration), dtype=bool)
    for i, pair in enumerate(grid.pairs):
        comp = pair.compensator
        if comp is None:
            continue
        rows = grid.pair_index == i
        conc = grid.concentration[rows]
        need = conc * pair.site_per_formula * comp.per_activator / pair.compensator_site_per_formula
        if comp.site == pair.choice.site:
            need = need + conc
        fits = need <= 1.0 + 1e-9
        keep[rows] = fits
        if not fits.all():
            grid.dropped[f"{pair.key} / {pair.activator}"] = (
                f"concentrations from {conc[~fits].min():g} dropped: too few {comp.site} sites left for the "
                f"{comp.ion} compensator")
    return keep


@lru_cache(maxsize=256)
def reduced_amounts(formula: str) -> tuple[tuple[str, float], ...]:
    """(element symbol, atoms per reduced formula unit) of a host formula, in its written order."""
    from pymatgen.core import Composition

    reduced = Composition(formula).get_reduced_composition_and_factor()[0]
    return tuple((el.symbol, float(amount)) for el, amount in reduced.items())


def doped_amounts(grid: Grid, pair_index: np.ndarray, conc: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Atoms per formula unit of the doped compounds (n, e) and the element order.

    The activator takes ``conc * site_per_formula`` atoms of its site per formula unit; a
    compensator takes ``per_activator`` times as many of its own site.
    """
    subs = [_substitutions(pair) for pair in grid.pairs]
    elements: list[str] = []
    for pair, pair_subs in zip(grid.pairs, subs):
        for el in [el for el, _ in reduced_amounts(pair.host.formula)] + [el for el, _, _ in pair_subs]:
            if el not in elements:
                elements.append(el)
    n = len(grid.pairs)
    base = np.zeros((n, len(elements)))
    dopant_col, replaced_col = np.zeros((n, 2), dtype=np.int64), np.zeros((n, 2), dtype=np.int64)
    per_activator = np.zeros((n, 2))  # 0 where a pair has no compensator
    site = np.zeros(n)
    for i, pair in enumerate(grid.pairs):
        for el, amount in reduced_amounts(pair.host.formula):
            base[i, elements.index(el)] = amount
        site[i] = pair.site_per_formula
        for k, (el, replaced, per) in enumerate(subs[i]):
            dopant_col[i, k], replaced_col[i, k], per_activator[i, k] = elements.index(el), elements.index(replaced), per
    amounts = base[pair_index].copy()
    moved = conc * site[pair_index]
    rows = np.arange(len(pair_index))
    for k in range(2):
        delta = moved * per_activator[pair_index, k]
        np.add.at(amounts, (rows, replaced_col[pair_index, k]), -delta)
        np.add.at(amounts, (rows, dopant_col[pair_index, k]), delta)
    return amounts, tuple(elements)


def _substitutions(pair: HostActivator) -> list[tuple[str, str, float]]:
    """(dopant element, element it replaces, dopant atoms per activator atom): the activator, then the
    compensator if the pair has one."""
    from regenome.structures.placement import activator_ion, compensator_ion

    subs = [(activator_ion(pair.activator)[0], pair.choice.replaced, 1.0)]
    if pair.compensator is not None:
        comp = pair.compensator
        subs.append((compensator_ion(comp.ion)[0], comp.replaced, comp.per_activator))
    return subs


def format_formula(amounts: np.ndarray, elements: tuple[str, ...], order: list[str] | None = None) -> str:
    """Doped formula such as ``Y2.91Ce0.09Al5O12``: elements in ``order`` (default: ``elements``)."""
    parts = []
    amount = dict(zip(elements, amounts))
    for el in order or elements:
        a = amount[el]
        if a > 1e-9:
            parts.append(el if abs(a - 1) < 1e-9 else f"{el}{a:.4g}")
    return "".join(parts)


def formula_order(pair: HostActivator) -> list[str]:
    """The host's element order with the activator right after the element it replaces, and a
    compensator right after its own (after the activator when they share an element)."""
    order = [el for el, _ in reduced_amounts(pair.host.formula)]
    subs = _substitutions(pair)
    dopants = {el for el, _, _ in subs}
    for el, replaced, _ in subs:
        if el not in order:
            after = order.index(replaced) + 1
            while after < len(order) and order[after] in dopants:
                after += 1
            order.insert(after, el)
    return order


def candidate_id(host_key: str, activator: str, concentration: float, codopant: str = "") -> str:
    """Stable id from host, activator, concentration and the compensating co-dopant (if any)."""
    text = f"{host_key}|{activator}|{concentration:.6f}" + (f"|{codopant}" if codopant else "")
    return stable_id("phos", text)


def _gaussian_draws(mean: np.ndarray, std: np.ndarray, salt: int) -> np.ndarray:
    """(n, N_DRAWS) values with exactly the given mean and one-sigma: standard-normal quantiles,
    rescaled to unit variance and permuted per property (``salt``) so properties vary independently."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(N_DRAWS) + 0.5) / N_DRAWS)
    z = z / z.std()
    z = np.random.default_rng(1000 + salt).permutation(z)
    return np.asarray(mean, float)[:, None] + np.asarray(std, float)[:, None] * z[None, :]


# -- family ------------------------------------------------------------------------------------

class PhosphorFamily:
    """Ce3+/Eu2+/Eu3+/Tb3+-activated hosts from the library or the user's structure files."""

    name = "phosphor"
    spec_model = PhosphorBatch

    def grid(self, spec: PhosphorBatch) -> Grid:
        """The batch's candidate grid, built once per batch and process."""
        key = spec.model_dump_json()
        if key not in _GRIDS:
            if len(_GRIDS) >= 4:
                _GRIDS.pop(next(iter(_GRIDS)))
            _GRIDS[key] = build_grid(spec)
        return _GRIDS[key]

    def grid_size(self, spec: PhosphorBatch) -> int:
        """Candidates before constraints: hosts x activators x concentrations."""
        n_hosts = len(spec.hosts.include) + len(spec.hosts.files)
        return n_hosts * sum(len(spec.activators.levels(a)) for a in spec.activators.ranges)

    def passing_count(self, spec: PhosphorBatch) -> int:
        return int(len(self.grid(spec).concentration))

    def funnel_notes(self, spec: PhosphorBatch) -> dict[str, str]:
        """Why (host, activator) pairs were left out (for provenance and the report)."""
        return dict(self.grid(spec).dropped)

    def generate_chunk(self, spec: PhosphorBatch, index: int, chunk_size: int | None = None) -> dict[str, np.ndarray]:
        chunk_size = chunk_size or spec.execution.chunk_size
        grid = self.grid(spec)
        rows = np.arange(index * chunk_size, min((index + 1) * chunk_size, len(grid.concentration)))
        return self.candidate_table(grid, grid.pair_index[rows], grid.concentration[rows])

    def generate(self, spec: PhosphorBatch, chunk_size: int | None = None,
                 start_chunk: int = 0) -> Iterator[dict[str, np.ndarray]]:
        chunk_size = chunk_size or spec.execution.chunk_size
        n = -(-self.passing_count(spec) // chunk_size)
        for index in range(start_chunk, n):
            yield self.generate_chunk(spec, index, chunk_size)

    def candidate_table(self, grid: Grid, pair_index: np.ndarray, conc: np.ndarray) -> dict[str, np.ndarray]:
        """Columns describing candidates: ids, formulas, host, activator, site, host-level predictions, cost."""
        from regenome.costs import cation_cost, export_controlled_mass_fraction

        pairs = [grid.pairs[i] for i in pair_index]
        amounts, elements = doped_amounts(grid, pair_index, conc)
        orders = {i: formula_order(grid.pairs[i]) for i in set(pair_index.tolist())}

        def column(values, dtype=object):
            return np.array(list(values), dtype=dtype)

        table = {
            "candidate_id": column(candidate_id(p.key, p.activator, c, _codopant(p)) for p, c in zip(pairs, conc)),
            "formula": column(format_formula(a, elements, orders[i]) for a, i in zip(amounts, pair_index)),
            "host": column(p.host.formula for p in pairs),
            "host_source": column(p.source for p in pairs),
            "category": column(p.host.category for p in pairs),
            "activator": column(p.activator for p in pairs),
            "concentration": np.round(conc, 6),
            "site": column(p.choice.site for p in pairs),
            "replaced": column(p.choice.replaced for p in pairs),
            "coordination": column((np.nan if p.choice.coordination is None else p.choice.coordination)
                                   for p in pairs),
            "mean_bond_length_A": column((np.nan if p.choice.mean_bond_length_A is None
                                          else p.choice.mean_bond_length_A) for p in pairs),
            "codopant": column(_codopant(p) for p in pairs),
            "codopant_site": column("" if p.compensator is None else p.compensator.site for p in pairs),
            "charge_compensation": column((p.compensator.text if p.compensator is not None
                                           else p.choice.compensation) or "none needed" for p in pairs),
        }
        table["coordination"] = table["coordination"].astype(float)
        table["mean_bond_length_A"] = np.round(table["mean_bond_length_A"].astype(float), 4)
        for name in ("band_gap_eV", "debye_K"):
            table[name] = column((p.host_props[name] for p in pairs), float)
            table[name + "_std"] = column((p.host_props[name + "_std"] for p in pairs), float)
        table["raw_material_cost_usd_kg"] = cation_cost(amounts, elements)
        table["export_controlled_wt_frac"] = export_controlled_mass_fraction(amounts, elements)
        return table

    # prediction
    def predict(self, table: dict[str, np.ndarray], spec: PhosphorBatch) -> dict[str, np.ndarray]:
        """Per-draw predictions (n, N_DRAWS): emission and T50 per candidate, host-level gap and Debye.

        Also adds the column ``emission_structure_shift_nm`` to ``table``: the structure-aware
        refinement included in ``emission_nm`` (0 where the site is unknown).
        """
        import pandas as pd

        from regenome.surrogates.predict import predict_chunk

        frame = pd.DataFrame({"host": table["host"], "activator": table["activator"],
                              "concentration": table["concentration"]})
        out = {}
        em, em_std, errors = predict_chunk("emission", frame)
        em, em_std, table["emission_structure_shift_nm"] = _refine_emission(em[:, 0], em_std[:, 0], table)
        tq, tq_std, errors_tq = predict_chunk("thermal-quenching", frame)
        bad = [e or f for e, f in zip(errors, errors_tq) if e or f]
        if bad:  # the grid checked every (host, activator) pair; this would be a bug
            raise RuntimeError(f"phosphor: a model refused a candidate the grid accepted: {bad[0]}")
        em, em_std = _measured(("emission", "emission_nm"), table, em, em_std)
        tq, tq_std = _measured(("thermal-quenching", "T50_K"), table, tq[:, 0], tq_std[:, 0])
        out["emission_nm"] = _gaussian_draws(em, em_std, 0)
        out["T50_K"] = _gaussian_draws(tq, tq_std, 1)
        out["debye_K"] = _gaussian_draws(table["debye_K"], table["debye_K_std"], 2)
        out["band_gap_eV"] = _gaussian_draws(table["band_gap_eV"], table["band_gap_eV_std"], 3)
        return out

    def report_content(self):
        """Shortlist, plots and cards of this family in the report."""
        from regenome.families.phosphor_report import CONTENT

        return CONTENT

    def model_provenance(self) -> dict:
        """Name, version and model-file sha256 of the surrogates this family uses."""
        from regenome.modelstore import model_folder, read_card

        from regenome.corrected_models import active_layer

        out = {}
        for name in MODELS:
            card = read_card(model_folder(name))
            out[name] = {"version": card.version, "files": dict(card.files)}
            version, _ = active_layer(name)
            if version is not None:  # a measurement correction on top (docs/lab-loop.md)
                out[name]["measurement_correction"] = version
        return out

    # recipes and structures
    def _pair(self, row: dict, spec: PhosphorBatch) -> HostActivator:
        for pair in self.grid(spec).pairs:
            if pair.host.formula == row["host"] and pair.source == row["host_source"] \
                    and pair.activator == row["activator"]:
                return pair
        raise KeyError(f"no host {row['host']} with {row['activator']} in this batch")

    def recipe(self, row: dict, spec: PhosphorBatch) -> dict:
        """The serializable recipe of one candidate: host, activator, site choice and spec fragment."""
        pair = self._pair(row, spec)
        choice = pair.choice
        return {
            "family": self.name,
            "host": pair.host.formula,
            "host_source": pair.source if pair.source == "library" else {"file": pair.source,
                                                                         "sha256": pair.file_sha256},
            "host_structure_source": pair.host.source,
            "activator": pair.activator,
            "concentration": float(row["concentration"]),
            "concentration_basis": ("fraction of the atoms of site " + choice.site if pair.host.structure is not None
                                    else "fraction of all " + choice.replaced + " atoms (host without structure)"),
            "site_choice": _choice_dict(choice),
            "codopant": None if pair.compensator is None else _choice_dict(pair.compensator),
            "spec_fragment": {"batch": spec.batch.name, "seed": spec.batch.seed,
                              "activators": spec.activators.model_dump(), "codopants": dict(spec.codopants),
                              "constraints": spec.constraints.model_dump()},
        }

    def build_structure(self, row: dict, spec: PhosphorBatch) -> dict | None:
        """Seeded doped supercell of one candidate, or None for a host known only by composition."""
        from regenome.structures.placement import dope_supercell

        pair = self._pair(row, spec)
        if pair.host.structure is None:
            return None
        seed = int.from_bytes(hashlib.blake2b(f"{spec.batch.seed}|{row['candidate_id']}".encode(),
                                              digest_size=4).digest(), "little")
        built = dope_supercell(pair.host, pair.choice, float(row["concentration"]), seed=seed,
                               max_sites=spec.structures.max_sites, compensator=pair.compensator)
        recipe = self.recipe(row, spec)
        recipe["structure"] = built["recipe"]
        built["recipe_json"] = json.dumps(recipe, sort_keys=True, default=str)
        return built


def _codopant(pair: HostActivator) -> str:
    """The pair's compensating co-dopant ion, or "" if none is built."""
    return "" if pair.compensator is None else pair.compensator.ion


def _choice_dict(choice) -> dict:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(choice), default=str))


def _measured(model_column: tuple[str, str], table: dict, mean: np.ndarray, std: np.ndarray):
    """Mean and one-sigma with the newest measurement correction of the model applied, if any
    (``regenome train MODEL --include-measurements``; docs/lab-loop.md)."""
    from regenome.corrected_models import active_layer, correct_surrogate

    model, column = model_column
    version, layer = active_layer(model)
    if layer is None:
        return mean, std
    return correct_surrogate(model, layer, table["host"], table["activator"], table["concentration"], mean, std,
                             column)


def _refine_emission(mean: np.ndarray, std: np.ndarray, table: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Structure-aware shift of Ce3+/Eu2+ emission where the activator site is known.

    The ``centroid-shift`` model's structure path (coordination and mean bond length of the
    site) minus its composition path moves the 5d level (:func:`regenome.phosphor_physics.
    structure_refinement`); rows without a site, outside the model's domain or with 4f-4f
    activators keep the composition-based value. Returns (mean, std, shift applied), all in nm.
    """
    from regenome.modelstore import load_model
    from regenome.phosphor_physics import structure_refinement

    if not np.isfinite(table["coordination"]).any():
        return mean, std, np.zeros(len(mean))
    model, _ = load_model("centroid-shift")
    refined = structure_refinement(table["host"], table["activator"], table["coordination"],
                                   table["mean_bond_length_A"], mean, std, model)
    return (np.asarray(refined.emission_nm, float), np.asarray(refined.emission_std_nm, float),
            np.nan_to_num(np.asarray(refined.delta_nm, float)))
