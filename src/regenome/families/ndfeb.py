"""The Nd-Fe-B family: substituted (R)2(Fe,Co)14B candidates.

Candidates are points of a composition grid over the rare-earth sublattice (fractions
summing to one) times Co levels on the Fe sublattice times process routes. They stay
arrays from generation to ranking; crystal structures are built only for the best
candidates (the funnel), by decorating the Nd2Fe14B prototype.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from regenome.families import stable_id
from regenome.predictors.ndfeb import MAX_CO_FRACTION, PROPERTIES, RE_ELEMENTS, ROUTES, TM_ELEMENTS
from regenome.spec import BatchSpec, StrictModel, _FieldError, _short

MIN_STEP = 0.005
EXTRA_PROPERTIES = ("raw_material_cost_usd_kg", "critical_element_wt_frac", "ce_la_fraction", "critical_cut")


def _bounds(value, key: str) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise _FieldError((key,), "must be [min, max] with two numbers between 0 and 1; "
                                  f"got {_short(value)}")
    try:
        lo, hi = float(value[0]), float(value[1])
    except OverflowError:  # TOML integers beyond the float range
        lo, hi = -1.0, -1.0  # outside [0, 1]: the range check below reports it
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise _FieldError((key,), f"bounds must be finite numbers; got {_short(value)}")
    if not 0.0 <= lo <= hi <= 1.0:
        raise _FieldError((key,), f"bounds must satisfy 0 <= min <= max <= 1; got {_short(value)}")
    return lo, hi


def _grid_level(fraction: float, step: float, *, up: bool) -> int:
    """The grid level (multiple of ``step``) at or above (``up``) or at or below a bound."""
    units = round(1.0 / step)
    return math.ceil(fraction * units - 1e-9) if up else math.floor(fraction * units + 1e-9)


def _step(value, key: str = "step") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FieldError((key,), f"must be a number such as 0.05; got {_short(value)}")
    if isinstance(value, int) and not 0 <= value <= 1:  # also integers beyond the float range
        raise _FieldError((key,), f"must be between {MIN_STEP} and 1 (e.g. 0.05); "
                                  f"got {_short(value)}")
    if not math.isfinite(value):
        raise _FieldError((key,), f"must be a finite number such as 0.05; got {_short(value)}")
    if not MIN_STEP <= value <= 1.0:
        raise _FieldError((key,), f"must be between {MIN_STEP} and 1 (e.g. 0.05); "
                                  f"got {_short(value)}")
    units = 1.0 / value
    if abs(units - round(units)) > 1e-6:
        raise _FieldError((key,), "1/step must be a whole number (e.g. 0.1, 0.05, 0.02, 0.01); "
                                  f"got {_short(value)}")
    return float(value)


class Sublattice(StrictModel):
    """Fractions of one sublattice: element = [min, max] plus ``step``."""

    step: float
    bounds: dict[str, tuple[float, float]]

    #: elements this table accepts (set by each subclass)
    elements: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """The table as written in TOML (one ``element = [min, max]`` key per element, and ``step``)."""
        pair = {"type": "array", "prefixItems": [{"type": "number", "minimum": 0, "maximum": 1}] * 2,
                "minItems": 2, "maxItems": 2}
        return {"type": "object", "title": cls.__name__, "description": " ".join((cls.__doc__ or "").split()),
                "properties": {**{e: {**pair, "description": f"[min, max] fraction of {e}"} for e in cls.elements},
                               "step": {"type": "number", "minimum": MIN_STEP, "maximum": 1,
                                        "description": "grid spacing; 1/step must be a whole number"}},
                "required": ["step"], "additionalProperties": False}

    @classmethod
    def _split(cls, data, allowed: tuple[str, ...], what: str):
        if not isinstance(data, dict):
            raise _FieldError((), f"must be a table of {what} = [min, max] and step")
        if "step" not in data:
            raise _FieldError(("step",), "required key is missing (e.g. step = 0.05)")
        bounds = {}
        for key, value in data.items():
            if key == "step":
                continue
            if key not in allowed:
                raise _FieldError((key,), f"unknown {what} {key!r}; valid: {', '.join(allowed)}, step")
            bounds[key] = _bounds(value, key)
        step = _step(data["step"])
        for key, (lo, hi) in bounds.items():
            if _grid_level(lo, step, up=True) > _grid_level(hi, step, up=False):
                raise _FieldError((key,), f"no multiple of step {step:g} lies in [{lo:g}, {hi:g}]; "
                                          "widen the bounds or use a finer step")
        return {"step": step, "bounds": bounds}

    def units(self) -> int:
        """Number of grid steps in a fraction of one."""
        return round(1.0 / self.step)


class RareEarthSublattice(Sublattice):
    """``[composition.rare_earth]``: fractions of the rare-earth sublattice; they sum to 1."""

    elements = RE_ELEMENTS

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data):
        out = cls._split(data, RE_ELEMENTS, "rare earth")
        if not out["bounds"]:
            raise _FieldError((), "name at least one rare earth, e.g. Nd = [0.5, 1.0]")
        lo = sum(b[0] for b in out["bounds"].values())
        hi = sum(b[1] for b in out["bounds"].values())
        if lo > 1.0 + 1e-9 or hi < 1.0 - 1e-9:
            raise _FieldError((), f"bounds cannot sum to one (sum of minima {lo:g}, sum of maxima {hi:g}); "
                                  "widen them so that sum(min) <= 1 <= sum(max)")
        step = out["step"]
        lo = sum(_grid_level(b[0], step, up=True) for b in out["bounds"].values()) * step
        hi = sum(_grid_level(b[1], step, up=False) for b in out["bounds"].values()) * step
        if lo > 1.0 + 1e-9 or hi < 1.0 - 1e-9:
            raise _FieldError((), f"on the step-{step:g} grid the bounds cannot sum to one (sum "
                                  f"of minima {lo:g}, sum of maxima {hi:g}); widen them or use a "
                                  "finer step")
        return out


class TransitionMetalSublattice(Sublattice):
    """``[composition.transition_metal]``: fractions of the 14 Fe sites; Fe takes the rest."""

    elements = TM_ELEMENTS

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data):
        out = cls._split(data, TM_ELEMENTS, "substituent of Fe")
        for key, (lo, hi) in out["bounds"].items():
            if hi > MAX_CO_FRACTION:
                raise _FieldError((key,), f"max {hi:g} is outside the calibrated domain; use at most {MAX_CO_FRACTION}")
        return out


def _no_tm() -> TransitionMetalSublattice:
    return TransitionMetalSublattice.model_validate({"step": 0.05})


class Composition(StrictModel):
    """``[composition]``."""

    rare_earth: RareEarthSublattice
    transition_metal: TransitionMetalSublattice = Field(default_factory=_no_tm)


class Process(StrictModel):
    """``[process]``: routes to evaluate and the operating temperature."""

    route: list[Literal["sintered", "hot_deformed", "melt_spun", "bonded"]] = Field(
        default_factory=lambda: ["sintered"], min_length=1)
    temperature_K: float = Field(293.0, ge=200.0, le=600.0,
                                 description="Operating temperature in K at which properties are reported.")

    @field_validator("route")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("routes must not repeat")
        return v


class Constraints(StrictModel):
    """``[constraints]``: hard filters applied before prediction (fractions of the RE sublattice)."""

    min_ce_la_fraction: float = Field(0.0, ge=0.0, le=1.0, description="Minimum Ce+La share of the rare earth.")
    max_ce_la_fraction: float = Field(1.0, ge=0.0, le=1.0, description="Maximum Ce+La share of the rare earth.")
    min_critical_cut: float = Field(-1.0, ge=-1.0, le=1.0,
                                    description="Minimum relative cut of Nd+Dy+Tb against Nd2Fe14B "
                                                "with the same rare-earth content: 1 - (x_Nd + x_Dy + x_Tb).")
    max_heavy_re_fraction: float = Field(1.0, ge=0.0, le=1.0, description="Maximum Dy+Tb share of the rare earth.")


class StructureOptions(StrictModel):
    """``[structures]``: how candidate structures are built."""

    max_supercell: int = Field(10, ge=1, le=10, description="Largest supercell (in Nd2Fe14B cells) to hit fractions.")


class NdFeBBatch(BatchSpec):
    """A complete Nd-Fe-B batch file."""

    composition: Composition
    process: Process = Field(default_factory=Process)
    constraints: Constraints = Field(default_factory=Constraints)
    structures: StructureOptions = Field(default_factory=StructureOptions)

    known_properties = PROPERTIES + EXTRA_PROPERTIES

    @model_validator(mode="after")
    def _feasible(self) -> NdFeBBatch:
        """Refuse, before any work, batches that no candidate can pass or that generate too many."""
        _check_constraints_meetable(self)
        total, limit = NdFeBFamily().grid_size(self), self.funnel.max_candidates
        if total > limit:
            raise _FieldError(("funnel", "max_candidates"),
                              f"the batch would generate {total} candidates, more than {limit}; "
                              "use a coarser composition step, sampling = \"sobol\", "
                              "or raise max_candidates (or pass --max-candidates)")
        return self


def _check_constraints_meetable(spec: NdFeBBatch) -> None:
    """Raise if no point of the rare-earth grid meets ``[constraints]`` (exact, no enumeration).

    The constraints act on four disjoint groups of rare-earth levels (Ce+La, Nd, Dy+Tb, Pr+Gd).
    Each group takes every integer level between the sums of its members' bounds, so the grid
    holds a passing point exactly when the allowed group ranges can add up to the sublattice.
    """
    c = spec.constraints
    re_spec = spec.composition.rare_earth
    units = re_spec.units()
    lo, hi = _levels(re_spec, RE_ELEMENTS)
    level = dict(zip(RE_ELEMENTS, zip(lo.tolist(), hi.tolist())))

    def group(*elements: str) -> tuple[int, int]:
        return sum(level[e][0] for e in elements), sum(level[e][1] for e in elements)

    ce_la, nd, heavy, other = group("Ce", "La"), group("Nd"), group("Dy", "Tb"), group("Pr", "Gd")
    ce_la_min = math.ceil((c.min_ce_la_fraction - 1e-9) * units)
    ce_la_max = math.floor((c.max_ce_la_fraction + 1e-9) * units)
    heavy_max = math.floor((c.max_heavy_re_fraction + 1e-9) * units)
    critical_max = math.floor((1.0 - c.min_critical_cut + 1e-9) * units)
    critical_min = nd[0] + heavy[0]
    bounds = "with the [composition.rare_earth] bounds"

    def fail(key: str, message: str) -> None:
        raise _FieldError(("constraints", key) if key else ("constraints",), message)

    if c.min_ce_la_fraction > c.max_ce_la_fraction:
        fail("min_ce_la_fraction", f"{c.min_ce_la_fraction:g} is larger than "
                                   f"max_ce_la_fraction ({c.max_ce_la_fraction:g}); lower it")
    if ce_la_min > ce_la_max:
        fail("max_ce_la_fraction", f"no multiple of step {re_spec.step:g} lies between "
                                   f"min_ce_la_fraction and max_ce_la_fraction; widen them")
    never = "no candidate can meet it:"
    if ce_la_min > ce_la[1]:
        fail("min_ce_la_fraction", f"{never} Ce+La reach at most {ce_la[1] / units:g} {bounds}; "
                                   "lower it or raise the Ce/La maxima")
    if ce_la_max < ce_la[0]:
        fail("max_ce_la_fraction", f"{never} Ce+La are at least {ce_la[0] / units:g} {bounds}; "
                                   "raise it or lower the Ce/La minima")
    if heavy_max < heavy[0]:
        fail("max_heavy_re_fraction", f"{never} Dy+Tb are at least {heavy[0] / units:g} {bounds}; "
                                      "raise it or lower the Dy/Tb minima")
    if critical_min > critical_max:
        fail("min_critical_cut", f"{never} Nd+Dy+Tb are at least {critical_min / units:g} "
                                 f"{bounds}, so the cut is at most {1 - critical_min / units:g}; "
                                 "lower it or the Nd/Dy/Tb minima")
    critical = (critical_min, min(nd[1] + min(heavy[1], heavy_max), critical_max))
    ce_la = (max(ce_la[0], ce_la_min), min(ce_la[1], ce_la_max))
    if not ce_la[0] + critical[0] + other[0] <= units <= ce_la[1] + critical[1] + other[1]:
        fail("", f"no candidate can meet all constraints together {bounds} (the fractions must "
                 "sum to one); relax a constraint or widen the bounds")


# -- grid ---------------------------------------------------------------------------------------

def _levels(spec: Sublattice, elements: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Integer lower/upper grid levels per element (elements absent from the spec are fixed at 0)."""
    lo = np.zeros(len(elements), dtype=np.int64)
    hi = np.zeros(len(elements), dtype=np.int64)
    for i, e in enumerate(elements):
        if e in spec.bounds:
            b_lo, b_hi = spec.bounds[e]
            lo[i], hi[i] = _grid_level(b_lo, spec.step, up=True), _grid_level(b_hi, spec.step, up=False)
    return lo, hi


def count_bounded(lo: np.ndarray, hi: np.ndarray, total: int) -> int:
    """Number of integer vectors v with lo <= v <= hi and sum(v) == total (dynamic programming)."""
    ways = np.zeros(total + 1, dtype=object)
    ways[0] = 1
    for a, b in zip(lo, hi):
        new = np.zeros(total + 1, dtype=object)
        for level in range(int(a), int(b) + 1):
            if level > total:
                break
            new[level:] += ways[: total + 1 - level]
        ways = new
    return int(ways[total])


def enumerate_bounded(lo: np.ndarray, hi: np.ndarray, total: int) -> np.ndarray:
    """All integer vectors with lo <= v <= hi summing to ``total``, in lexicographic order."""
    k = len(lo)
    rows = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    for i in range(k - 1):
        rest_lo, rest_hi = lo[i + 1:].sum(), hi[i + 1:].sum()
        levels = np.arange(lo[i], hi[i] + 1)
        new_sums = sums[:, None] + levels[None, :]
        ok = (new_sums + rest_lo <= total) & (new_sums + rest_hi >= total)
        r, c = np.nonzero(ok)
        rows = np.concatenate([rows[r], levels[c][:, None]], axis=1)
        sums = new_sums[r, c]
    last = total - sums
    keep = (last >= lo[-1]) & (last <= hi[-1])
    return np.concatenate([rows[keep], last[keep][:, None]], axis=1)


def _sobol_points(lo: np.ndarray, hi: np.ndarray, total: int, n: int, seed: int) -> np.ndarray:
    """Seeded quasi-random grid points inside the bounds (unique, sorted)."""
    from scipy.stats import qmc

    k = len(lo)
    free = [i for i in range(k) if hi[i] > lo[i]]
    sampler = qmc.Sobol(d=max(len(free), 1), scramble=True, seed=seed)
    found = np.zeros((0, k), dtype=np.int64)
    for _ in range(20):
        u = sampler.random_base2(max(int(math.ceil(math.log2(max(4 * n, 1024)))), 10))
        x = np.tile(lo.astype(float), (len(u), 1))
        x[:, free] = lo[free] + u * (hi[free] - lo[free] + 1) - 0.5
        # project onto the simplex sum == total, then round with the largest-remainder rule
        x = x * (total / np.maximum(x.sum(axis=1, keepdims=True), 1e-12))
        base = np.floor(x).astype(np.int64)
        short = total - base.sum(axis=1)
        order = np.argsort(-(x - base), axis=1, kind="stable")
        bump = np.arange(k)[None, :] < short[:, None]
        np.put_along_axis(base, order, np.take_along_axis(base, order, axis=1) + bump, axis=1)
        inside = np.all((base >= lo) & (base <= hi), axis=1) & (base.sum(axis=1) == total)
        found = np.unique(np.concatenate([found, base[inside]]), axis=0)
        if len(found) >= n:
            break
    rng = np.random.default_rng(seed)
    if len(found) > n:
        found = found[np.sort(rng.choice(len(found), n, replace=False))]
    return found


def format_formula(re_frac: np.ndarray, co: float) -> str:
    """Canonical formula such as ``(Nd0.7Ce0.3)2(Fe0.95Co0.05)14B``."""
    parts = [f"{e}{v:.4g}" for e, v in zip(RE_ELEMENTS, re_frac) if v > 1e-9]
    re_part = parts[0][:2] + "2" if len(parts) == 1 else "(" + "".join(parts) + ")2"
    if co > 1e-9:
        tm = f"(Fe{1 - co:.4g}Co{co:.4g})14"
    else:
        tm = "Fe14"
    return f"{re_part}{tm}B"


def candidate_id(formula: str, route: str) -> str:
    """Stable id from formula and route (same candidate, same id, in any batch)."""
    return stable_id("ndfeb", f"{formula}|{route}")


#: Passing composition grids by batch (JSON of the spec), a few per process.
_GRIDS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


@lru_cache(maxsize=None)
def _model(cls):
    """One model instance per worker process (the physics alone, whatever correction a caller selected)."""
    return cls(correction=None)


# -- measurement correction (issue 7, docs/lab-loop.md) ------------------------------------------
@lru_cache(maxsize=4)
def _corrected_model(cls, folder: str, sha: str):
    """One corrected model per worker process and correction version (versions are immutable)."""
    from regenome.corrected_models import cached_layer

    return cls(correction=cached_layer(folder, sha))


def _active_model():
    """The physics model with the newest measurement correction of ``REGENOME_HOME``, if there is one."""
    from regenome.corrected_models import CORRECTION_FILE, resolve_version
    from regenome.predictors.ndfeb import NdFeBModel

    info = resolve_version("ndfeb")
    if info is None:
        return _model(NdFeBModel)
    return _corrected_model(NdFeBModel, str(info.folder), info.card["files"][CORRECTION_FILE])


# -- family -------------------------------------------------------------------------------------

class NdFeBFamily:
    """Ce/La/Pr/Dy/Tb-substituted Nd2Fe14B with Co on the Fe sites."""

    name = "ndfeb"
    spec_model = NdFeBBatch
    element_columns = tuple(f"{e}_fraction" for e in RE_ELEMENTS) + ("Co_fraction",)

    # counting and generation
    def composition_grid(self, spec: NdFeBBatch) -> tuple[np.ndarray, np.ndarray]:
        """(RE fractions (m, 7), Co levels (c,)) before constraints."""
        re_spec = spec.composition.rare_earth
        lo, hi = _levels(re_spec, RE_ELEMENTS)
        units = re_spec.units()
        if spec.funnel.sampling == "sobol":
            grid = _sobol_points(lo, hi, units, spec.funnel.n_samples, spec.batch.seed)
        else:
            grid = enumerate_bounded(lo, hi, units)
        tm = spec.composition.transition_metal
        tlo, thi = _levels(tm, TM_ELEMENTS)
        co_levels = np.arange(tlo[0], thi[0] + 1) / tm.units()
        return grid / units, co_levels

    def grid_size(self, spec: NdFeBBatch) -> int:
        """Candidates before constraints (compositions x Co levels x routes), without enumerating."""
        re_spec = spec.composition.rare_earth
        lo, hi = _levels(re_spec, RE_ELEMENTS)
        n_re = min(count_bounded(lo, hi, re_spec.units()), spec.funnel.n_samples) \
            if spec.funnel.sampling == "sobol" else count_bounded(lo, hi, re_spec.units())
        tm = spec.composition.transition_metal
        tlo, thi = _levels(tm, TM_ELEMENTS)
        return n_re * int(thi[0] - tlo[0] + 1) * len(spec.process.route)

    def constraint_mask(self, re_frac: np.ndarray, spec: NdFeBBatch) -> np.ndarray:
        """Rows that satisfy the hard constraints."""
        c = spec.constraints
        x = dict(zip(RE_ELEMENTS, re_frac.T))
        ce_la = x["Ce"] + x["La"]
        cut = 1.0 - (x["Nd"] + x["Dy"] + x["Tb"])
        heavy = x["Dy"] + x["Tb"]
        eps = 1e-9
        return ((ce_la >= c.min_ce_la_fraction - eps) & (ce_la <= c.max_ce_la_fraction + eps)
                & (cut >= c.min_critical_cut - eps) & (heavy <= c.max_heavy_re_fraction + eps))

    def passing_count(self, spec: NdFeBBatch) -> int:
        """Candidates that pass the constraints, counted without building their rows."""
        re_grid, co_levels = self._passing_grid(spec)
        return len(re_grid) * len(co_levels) * len(spec.process.route)

    def _passing_grid(self, spec: NdFeBBatch) -> tuple[np.ndarray, np.ndarray]:
        """(RE fractions passing the constraints, Co levels), computed once per batch and process."""
        key = spec.model_dump_json()
        if key not in _GRIDS:
            re_grid, co_levels = self.composition_grid(spec)
            if len(_GRIDS) >= 4:
                _GRIDS.pop(next(iter(_GRIDS)))
            _GRIDS[key] = (re_grid[self.constraint_mask(re_grid, spec)], co_levels)
        return _GRIDS[key]

    def generate_chunk(self, spec: NdFeBBatch, index: int, chunk_size: int | None = None) -> dict[str, np.ndarray]:
        """Chunk ``index`` of the candidates that pass the constraints, as column arrays.

        Workers build their own chunks from the index, so the parent sends a number, not rows.
        """
        chunk_size = chunk_size or spec.execution.chunk_size
        re_grid, co_levels = self._passing_grid(spec)
        routes = spec.process.route
        n_co, n_rt = len(co_levels), len(routes)
        total = len(re_grid) * n_co * n_rt
        idx = np.arange(index * chunk_size, min((index + 1) * chunk_size, total))
        i_re, rem = np.divmod(idx, n_co * n_rt)
        i_co, i_rt = np.divmod(rem, n_rt)
        return self.candidate_table(re_grid[i_re], co_levels[i_co], np.asarray(routes)[i_rt])

    def generate(self, spec: NdFeBBatch, chunk_size: int | None = None,
                 start_chunk: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Yield chunks of candidates that pass the constraints, as column arrays, lazily.

        Only the composition grid (seven fractions per composition) is held; each chunk's rows
        are built when it is asked for. ``start_chunk`` skips chunks without building them.
        """
        chunk_size = chunk_size or spec.execution.chunk_size
        n = -(-self.passing_count(spec) // chunk_size)
        for index in range(start_chunk, n):
            yield self.generate_chunk(spec, index, chunk_size)

    def candidate_table(self, re_frac: np.ndarray, co: np.ndarray, route: np.ndarray) -> dict[str, np.ndarray]:
        """Columns describing candidates (ids, formulas, fractions, derived shares, cost)."""
        from regenome.costs import critical_mass_fraction, raw_material_cost

        formulas = np.array([format_formula(r, c) for r, c in zip(re_frac, co)], dtype=object)
        table = {
            "candidate_id": np.array([candidate_id(f, r) for f, r in zip(formulas, route)], dtype=object),
            "formula": formulas,
            "process": np.asarray(route, dtype=object),
        }
        x = dict(zip(RE_ELEMENTS, re_frac.T))
        for e in RE_ELEMENTS:
            table[f"{e}_fraction"] = np.round(x[e], 6)
        table["Co_fraction"] = np.round(co, 6)
        table["ce_la_fraction"] = np.round(x["Ce"] + x["La"], 6)
        table["critical_cut"] = np.round(1.0 - (x["Nd"] + x["Dy"] + x["Tb"]), 6)
        amounts, elements = self.atom_amounts(re_frac, co)
        table["raw_material_cost_usd_kg"] = raw_material_cost(amounts, elements)
        table["critical_element_wt_frac"] = critical_mass_fraction(amounts, elements)
        return table

    @staticmethod
    def atom_amounts(re_frac: np.ndarray, co: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        """Atoms per formula unit R2(Fe,Co)14B as an array (n, 10) and its element order."""
        co = np.asarray(co, dtype=float)
        amounts = np.concatenate([2.0 * re_frac, (14.0 * (1 - co))[:, None], (14.0 * co)[:, None],
                                  np.ones((len(co), 1))], axis=1)
        return amounts, RE_ELEMENTS + ("Fe", "Co", "B")

    # prediction
    def predict(self, table: dict[str, np.ndarray], spec: NdFeBBatch) -> dict[str, np.ndarray]:
        """Per-draw predictions (n, K) for a candidate table at the batch's operating temperature.

        The newest measurement correction in ``REGENOME_HOME`` is applied when there is one
        (``regenome train ndfeb --include-measurements``; :meth:`model_provenance` names it).
        """
        re_frac = np.stack([table[f"{e}_fraction"] for e in RE_ELEMENTS], axis=1)
        route_index = np.array([ROUTES.index(str(r)) for r in table["process"]], dtype=np.intp)
        return _active_model().sample(re_frac, table["Co_fraction"], route_index, spec.process.temperature_K)

    def model_provenance(self) -> dict:
        """Name, version and parameter-file sha256 of the models this family uses."""
        from regenome.datafiles import table_path
        from regenome.corrected_models import CORRECTION_FILE, resolve_version
        from regenome.predictors.ndfeb import NdFeBModel

        params = table_path("ndfeb", "parameters.json")
        record = {"version": NdFeBModel.version,
                  "parameters_sha256": hashlib.sha256(params.read_bytes()).hexdigest()}
        info = resolve_version("ndfeb")  # the measurement correction predict() applies (docs/lab-loop.md)
        if info is not None:
            record.update(version=info.version, physics_version=NdFeBModel.version,
                          measurement_correction={"version": info.version, "folder": str(info.folder),
                                                  "correction_sha256": info.card["files"][CORRECTION_FILE],
                                                  "measurement_files": info.card.get("measurement_files", [])})
        return {NdFeBModel.name: record}

    # recipes and structures
    def recipe(self, row: dict, spec: NdFeBBatch) -> dict:
        """The serializable recipe of one candidate: spec fragment plus the substitution."""
        rare_earth = {e: float(row[f"{e}_fraction"]) for e in RE_ELEMENTS if row[f"{e}_fraction"] > 0}
        co = float(row["Co_fraction"])
        return {
            "family": self.name,
            "prototype": "Nd2Fe14B (P4_2/mnm, Herbst et al. 1984)",
            "substitution": {"rare_earth": rare_earth, "transition_metal": {"Fe": round(1 - co, 6), "Co": co}},
            "process": str(row["process"]),
            "temperature_K": spec.process.temperature_K,
            "spec_fragment": {
                "batch": spec.batch.name,
                "seed": spec.batch.seed,
                "composition": spec.composition.model_dump(),
                "constraints": spec.constraints.model_dump(),
                "sampling": spec.funnel.sampling,
            },
        }

    def build_structure(self, row: dict, spec: NdFeBBatch) -> dict:
        """Decorated supercell of one candidate (arrays ready for the structure store)."""
        from regenome.structures.prototypes import decorate_nd2fe14b

        re_frac = {e: float(row[f"{e}_fraction"]) for e in RE_ELEMENTS}
        seed = int.from_bytes(hashlib.blake2b(f"{spec.batch.seed}|{row['candidate_id']}".encode(),
                                              digest_size=4).digest(), "little")
        built = decorate_nd2fe14b(re_frac, float(row["Co_fraction"]), seed=seed,
                                  max_supercell=spec.structures.max_supercell)
        recipe = self.recipe(row, spec)
        recipe["structure"] = built["recipe"]
        built["recipe_json"] = json.dumps(recipe, sort_keys=True)
        return built
