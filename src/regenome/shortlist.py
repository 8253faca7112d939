"""Pick the few candidates of a finished run worth making: good, likely, and not alike.

A lab makes five to twelve candidates per round. :func:`select` picks them from ``ranked.csv`` in
two steps, "filter, then spread":

* **utility** = ``performance_weight`` x ``score`` (the run's objective score, 0-1, min-max
  normalised over the whole batch) + ``probability_weight`` x ``p_meets_targets`` (the chance of
  meeting every target under the models' uncertainty: an expected-success term that prefers a
  likely candidate to a slightly better-looking but uncertain one);
* **filter**: the pool is the ``pool_factor`` x n candidates of highest utility (within the budget:
  candidates above ``max_cost_usd_kg`` raw-material cost are left out first);
* **spread**: the first pick is the best utility; each next pick maximises its distance to the
  nearest pick so far (divided by the largest distance in the pool) plus 0.25 x its utility
  (normalised over the pool), so the picks cover the good region instead of crowding around the
  best row. Candidates closer than ``min_distance`` (default 0.005: under half a percent of the atoms
  differ) to a pick are never taken; a pool crowded with such near-duplicates is doubled until it
  yields n picks. The distance is half
  the L1 distance between atomic fractions of the formulas (0 = same composition, 1 = no element in
  common) plus 0.5 for a different process route or activator.

Every pick carries why it was picked. :func:`synthesis_sheet` turns a formula into the nominal
composition in at.% and wt.% and the mass of each element to weigh for a batch (100 g by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

STRATEGIES = ("balanced", "performance", "probability", "diverse")

#: (performance_weight, probability_weight, pool_factor) per strategy
WEIGHTS = {"balanced": (0.5, 0.5, 4), "performance": (1.0, 0.0, 2), "probability": (0.0, 1.0, 4),
           "diverse": (0.5, 0.5, 10)}
#: weight of the (pool-normalised) utility against the (pool-normalised) distance when spreading
UTILITY_IN_SPREAD = 0.25
CATEGORY_COLUMNS = ("process", "activator")


@dataclass(frozen=True)
class ShortlistOptions:
    """How to pick: number of candidates, strategy, budget and the near-duplicate distance."""

    n: int = 12
    strategy: str = "balanced"
    max_cost_usd_kg: float | None = None
    min_distance: float = 0.005


def composition_distance(ranked: pd.DataFrame) -> np.ndarray:
    """Pairwise distance (n, n): half the L1 distance of atomic fractions, +0.5 per differing category.

    Categories are the ``process`` (Nd-Fe-B) or ``activator`` (phosphor) columns when present.
    """
    from regenome.features.formula import parse_formulas

    fractions, _ = parse_formulas(ranked["formula"].astype(str).tolist())
    used = fractions[:, fractions.any(axis=0)]
    dist = 0.5 * np.abs(used[:, None, :] - used[None, :, :]).sum(axis=2)
    for column in CATEGORY_COLUMNS:
        if column in ranked:
            values = ranked[column].astype(str).to_numpy()
            dist += 0.5 * (values[:, None] != values[None, :])
    return dist


def select(ranked: pd.DataFrame, options: ShortlistOptions = ShortlistOptions()) -> pd.DataFrame:
    """The shortlist: ``ranked`` rows in pick order, plus ``pick``, ``utility``, ``nearest_pick``,
    ``distance_to_nearest_pick`` and ``why``.

    Raises ``ValueError`` for an unknown strategy or when no candidate is left after the budget.
    """
    if options.strategy not in WEIGHTS:
        raise ValueError(f"unknown strategy {options.strategy!r}; valid: {', '.join(STRATEGIES)}")
    pool = ranked.reset_index(drop=True)
    if options.max_cost_usd_kg is not None:
        pool = pool[pool["raw_material_cost_usd_kg"] <= options.max_cost_usd_kg].reset_index(drop=True)
    if pool.empty:
        raise ValueError("no candidate is left within the raw-material budget; raise --budget")
    w_perf, w_prob, pool_factor = WEIGHTS[options.strategy]
    score = pool["score"].to_numpy(float) if "score" in pool else np.zeros(len(pool))
    prob = pool["p_meets_targets"].to_numpy(float)
    utility = w_perf * np.nan_to_num(score) + w_prob * np.nan_to_num(prob)
    ranking = np.argsort(-utility, kind="stable")
    size = max(options.n * pool_factor, options.n)
    while True:  # a pool crowded with near-duplicates is doubled until it yields n picks
        sub = pool.iloc[ranking[:size]].reset_index(drop=True)
        records = _spread(sub, utility[ranking[:size]], options)
        if len(records) >= options.n or size >= len(pool):
            break
        size *= 2
    pool = sub
    rows = pool.iloc[[r[0] for r in records]].copy()
    rows.insert(0, "pick", np.arange(1, len(rows) + 1))
    rows["utility"] = np.round([r[1] for r in records], 6)
    ids = pool["candidate_id"].astype(str).to_numpy()
    rows["nearest_pick"] = [ids[r[2]] if r[2] >= 0 else "" for r in records]
    rows["distance_to_nearest_pick"] = np.round([r[3] if np.isfinite(r[3]) else np.nan for r in records], 4)
    rows["why"] = [_why(pool.iloc[r[0]], r, ids, i == 0, len(pool)) for i, r in enumerate(records)]
    return rows.reset_index(drop=True)


def _spread(pool: pd.DataFrame, utility: np.ndarray, options: ShortlistOptions) -> list[tuple]:
    """Greedy picks from a pool in utility order: (row, utility, nearest pick, distance) per pick."""
    dist = composition_distance(pool)
    scale = max(float(dist.max()), 1e-12)
    u_norm = (utility - utility.min()) / max(float(np.ptp(utility)), 1e-12)
    nearest = np.full(len(pool), np.inf)
    nearest_id = np.full(len(pool), -1)
    records: list[tuple] = []
    available = np.ones(len(pool), dtype=bool)
    while len(records) < options.n and available.any():
        if not records:
            value = np.where(available, utility, -np.inf)
        else:
            value = np.where(available, nearest / scale + UTILITY_IN_SPREAD * u_norm, -np.inf)
        best = int(np.argmax(value))  # ties: the better-ranked row (ranked.csv order)
        records.append((best, float(utility[best]), int(nearest_id[best]), float(nearest[best])))
        available[best] = False
        closer = dist[best] < nearest
        nearest_id[closer], nearest[closer] = best, dist[best][closer]
        available &= dist[best] >= options.min_distance
    return records


def _why(row: pd.Series, record: tuple, ids: np.ndarray, first: bool, pool_size: int) -> str:
    _, utility, near, distance = record
    parts = [f"rank {int(row['rank'])} of the run", f"P(meets targets) {float(row['p_meets_targets']):.2f}"]
    if "score" in row and pd.notna(row["score"]):
        parts.append(f"objective score {float(row['score']):.2f}")
    if first:
        parts.append("highest utility")
    else:
        parts.append(f"among the {pool_size} of highest utility, composition distance {distance:.2f} to the "
                     f"nearest pick ({ids[near]})")
    if bool(row.get("meets_targets", False)):
        parts.append("meets every target on the means")
    return "; ".join(parts)


def synthesis_sheet(formula: str, batch_mass_g: float = 100.0) -> pd.DataFrame:
    """Element, at.%, wt.% and grams to weigh for ``batch_mass_g`` of the nominal composition."""
    from regenome.costs import atomic_mass
    from regenome.features.elements import ELEMENTS
    from regenome.features.formula import parse_formulas

    fractions, errors = parse_formulas([formula])
    if errors[0]:
        raise ValueError(f"{formula!r}: {errors[0]}")
    present = np.flatnonzero(fractions[0])
    elements = [ELEMENTS[i] for i in present]
    at = fractions[0, present]
    weight = at * np.array([atomic_mass(e) for e in elements])
    wt = weight / weight.sum()
    return pd.DataFrame({"element": elements, "at_percent": np.round(100 * at, 3),
                         "wt_percent": np.round(100 * wt, 3), "grams": np.round(batch_mass_g * wt, 3)})


def shortlist_run(run_dir, out_csv, options: ShortlistOptions = ShortlistOptions(),
                  batch_mass_g: float = 100.0) -> tuple[pd.DataFrame, Path]:
    """Shortlist a finished run: write ``out_csv`` and a synthesis page beside it (``.html``).

    Structures come from the run's ``structures.h5`` or, for picks outside its top candidates,
    are built now from the run's batch (not stored). Returns (picks, page path).
    """
    import json

    from regenome.errors import RegenomeError
    from regenome.families import get_family
    from regenome.pipeline import read_run_marker
    from regenome.shortlist_page import write
    from regenome.spec import parse_batch
    from regenome.structures.convert import structure_text
    from regenome.structures.store import StructureRecord, StructureSet
    from regenome.tableio import write_csv_atomic

    run = Path(run_dir)
    if read_run_marker(run).get("status") != "complete" or not (run / "ranked.csv").is_file():
        raise RegenomeError(f"{run}: not a complete run (no ranked.csv); run `regenome screen` to the end, "
                            "or `regenome inspect` it")
    ranked = pd.read_csv(run / "ranked.csv")
    try:
        picks = select(ranked, options)
    except ValueError as exc:
        raise RegenomeError(f"{run}/ranked.csv: {exc}") from None
    with StructureSet.open(run / "structures.h5", "r") as store:
        text = store.attrs["batch_toml"]
        stored = set(store.structure_ids())
        records = {cid: store.read_structure(cid) for cid in picks["candidate_id"].astype(str) if cid in stored}
    provenance = json.loads((run / "provenance.json").read_text())
    batch_file = Path(provenance.get("batch_file") or ".")
    spec = parse_batch(text, f"{run}/structures.h5 (batch_toml)", max_candidates=2**62,
                       base_dir=str(batch_file.parent) if batch_file.is_file() else None)
    family = get_family(spec.batch.family)
    cifs = {cid: structure_text(record, "cif") for cid, record in records.items()}
    for row in picks.to_dict("records"):
        cid = str(row["candidate_id"])
        if cid not in cifs:
            built = family.build_structure(row, spec)
            if built is not None:
                record = StructureRecord(cid, str(row["formula"]), json.loads(built["recipe_json"]), built["lattice"],
                                         built["numbers"], built["frac_coords"], list(built["site_labels"]))
                cifs[cid] = structure_text(record, "cif")
    sheets = {str(r["candidate_id"]): synthesis_sheet(str(r["formula"]), batch_mass_g) for r in picks.to_dict("records")}
    write_csv_atomic(picks, Path(out_csv))
    content = family.report_content() if hasattr(family, "report_content") else None
    if content is None:
        from regenome.report import NDFEB_CONTENT as content
    budget = f", raw-material cost <= {options.max_cost_usd_kg:g} USD/kg" if options.max_cost_usd_kg else ""
    page = write(Path(out_csv).with_suffix(".html"), picks, run_name=spec.batch.name, content=content, sheets=sheets,
                 cifs=cifs, batch_mass_g=batch_mass_g,
                 options_text=f"the '{options.strategy}' strategy (utility = performance and probability of "
                              f"meeting the targets, spread over composition space){budget}")
    return picks, page
