"""Run a screening batch: generate -> predict (parallel, chunked) -> rank -> structures -> report.

The orchestrator only calls the stages; each stage is a function of its inputs. Results go
to one output folder:

* ``structures.h5``  candidate table (every candidate that passed the constraints, with
  predictions) and structures of the top candidates (schema in docs/hdf5-format.md);
* ``ranked.csv``     every candidate that passes the constraints, best first;
* ``provenance.json`` versions, hashes, counts, timings; ``report.html``.

``run.json`` marks the run as running or complete; ``ranked.csv`` and ``report.html`` are
written (atomically) only when the run completes. ``resume=True`` continues a run whose
candidate table holds whole chunks from an earlier, interrupted run of the same batch file.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from regenome import __version__
from regenome.errors import RegenomeError
from regenome.runlock import LOCK_FILE, folder_lock
from regenome.spec import BatchSpec, spec_sha256

RUN_MARKER = "run.json"
RESULT_FILES = ("ranked.csv", "report.html", "provenance.json")
Progress = Callable[[str, int, int], None]


@dataclass
class ScreenResult:
    """Where a finished screen put its outputs, and what it counted (no ranking for a slice)."""

    out_dir: Path
    ranked_csv: Path | None
    structures_h5: Path
    report_html: Path | None
    provenance_json: Path
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def evaluate_chunk(task: tuple) -> dict[str, np.ndarray]:
    """Predict one chunk: means, one-sigma, target checks (runs in a worker).

    ``task`` is (spec, chunk index), and the worker builds the chunk's rows itself, or (spec,
    candidate table). Text columns come back as fixed-width arrays, which pickle as one buffer.
    """
    from regenome.families import get_family
    from regenome.predictors import summarize
    from regenome.ranking import meets_targets, probability_meets_targets

    from joblib import parallel_config

    spec, table = task
    family = get_family(spec.batch.family)
    if not isinstance(table, dict):
        table = family.generate_chunk(spec, int(table))
    # Nested joblib calls (scikit-learn's kNN) must stay in this worker: under the dask backend
    # n_jobs=1 is ignored and they would go back to the cluster (3x slower per chunk, measured).
    # "sequential" is no distribution backend; the user's choice still decides where chunks run.
    with parallel_config(backend="sequential"):
        draws = family.predict(table, spec)
    out = dict(table)
    out.update(summarize(draws))
    n = len(table["candidate_id"])
    fixed = {k: v for k, v in table.items() if k in spec.targets and k not in draws}
    values = {**{k: out[k] for k in draws}, **fixed}
    out["meets_targets"] = meets_targets(values, spec.targets, n)
    n_draws = next(iter(draws.values())).shape[1]
    out["p_meets_targets"] = np.round(probability_meets_targets(
        {k: v for k, v in draws.items() if k in spec.targets}, fixed, spec.targets, n, n_draws), 6)
    return {k: v.astype(str) if v.dtype == object else v for k, v in out.items()}


def _check_out_dir(out_dir: Path, sha: str, resume: bool) -> None:
    marker = out_dir / RUN_MARKER
    if not marker.exists():
        if out_dir.exists() and any(p.name != LOCK_FILE for p in out_dir.iterdir()):
            raise RegenomeError(f"{out_dir}: output folder is not empty and holds no regenome run; "
                                "choose a new --out folder")
        return
    state = read_run_marker(out_dir)
    if state.get("batch_sha256") != sha:
        raise RegenomeError(f"{out_dir}: holds a run of a different batch file; choose a new --out folder")
    if not resume:
        status = "a complete" if state.get("status") == "complete" else "an unfinished"
        raise RegenomeError(f"{out_dir}: holds {status} run of this batch; "
                            "pass --resume to continue it or choose a new --out folder")


def read_run_marker(out_dir: Path) -> dict:
    """The content of ``run.json`` ({} when absent or unreadable)."""
    try:
        return json.loads((Path(out_dir) / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _claimed(out: Path, sha: str, resume: bool):
    """Create ``out`` if needed, hold its lock, and check what it holds (a refused new folder is removed)."""
    if out.exists() and not out.is_dir():
        raise RegenomeError(f"{out}: exists and is not a folder; choose a new --out folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    checked = False
    try:
        with folder_lock(out):
            _check_out_dir(out, sha, resume)
            checked = True
            yield
    finally:
        if created and not checked:
            with contextlib.suppress(OSError):
                out.rmdir()


def screen(spec: BatchSpec, batch_text: str, out_dir: str | Path, *, batch_path: str = "",
           n_jobs: int | None = None, backend: str | None = None, scheduler: str | None = None,
           resume: bool = False, progress: Progress | None = None,
           stop_after_chunks: int | None = None, part: tuple[int, int] | None = None) -> ScreenResult:
    """Run a whole screening batch into ``out_dir`` (see the module docstring).

    ``part = (I, N)`` runs only slice I of N of the batch's chunks (a job-array task): it stores
    its predictions and stops; :func:`regenome.merge.merge` ranks the slices together.
    ``stop_after_chunks`` ends the run early (status 'interrupted') after that many chunks;
    it exists so tests can interrupt a run deterministically.
    """
    out = Path(out_dir)
    sha = spec_sha256(batch_text)
    with _claimed(out, sha, resume):
        try:
            return _screen(spec, batch_text, out, sha, batch_path=batch_path, n_jobs=n_jobs, backend=backend,
                           scheduler=scheduler, resume=resume, progress=progress,
                           stop_after_chunks=stop_after_chunks, part=part)
        except BaseException as exc:
            _mark_stopped(out, exc)
            raise


def _mark_stopped(out: Path, exc: BaseException) -> None:
    """Record in ``run.json`` that a run stopped early, and why."""
    state = read_run_marker(out)
    if state.get("status") != "running":
        return
    state["status"] = "failed" if isinstance(exc, Exception) else "interrupted"
    state["error"] = (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:500]
    _atomic_write_text(out / RUN_MARKER, json.dumps(state, indent=1))


def describe_run(out_dir: str | Path) -> dict:
    """What a run folder holds, for ``regenome inspect``: status, stage, chunks done, results present.

    A run marked 'running' whose process is gone (killed, node lost) is reported as interrupted.
    """
    from regenome.errors import StructureSetError
    from regenome.runlock import lock_is_stale, read_lock
    from regenome.structures.store import StructureSet

    out = Path(out_dir)
    state = read_run_marker(out)
    info: dict = {"status": state.get("status", "no run"), "stage": state.get("stage"),
                  "chunks_total": state.get("chunks_total"), "candidates_total": state.get("candidates_total")}
    holder = read_lock(out)
    if info["status"] == "running" and (holder is None or (holder and lock_is_stale(holder))):
        info["status"] = f"interrupted (process {state.get('pid')} on {state.get('host')} is gone)"
    elif info["status"] == "running":
        info["status"] = f"running (pid {holder.get('pid')} on {holder.get('host')})"
    if state.get("error"):
        info["error"] = state["error"]
    h5 = out / "structures.h5"
    try:
        with StructureSet.open(h5, "r") as store:
            rows, info["structures_stored"] = store.n_candidates, len(store)
        info["candidates_done"] = rows
        if rows and rows == info["candidates_total"]:
            info["chunks_done"] = info["chunks_total"]
        elif state.get("chunk_size"):
            info["chunks_done"] = rows // int(state["chunk_size"])
    except StructureSetError as exc:
        info["structures_h5"] = f"unreadable ({exc}); --resume starts the predictions over"
    info["results"] = [name for name in RESULT_FILES if (out / name).exists()]
    return info


class _Marker:
    """``run.json``: written at every stage so that ``inspect`` and ``--resume`` know where a run is."""

    def __init__(self, out: Path, **state):
        self.path = out / RUN_MARKER
        self.state = {"status": "running", "pid": os.getpid(), "host": platform.node(), **state}
        self()

    def __call__(self, **changes) -> None:
        self.state.update(changes)
        _atomic_write_text(self.path, json.dumps(self.state, indent=1))


def chunk_range(part: tuple[int, int], n_chunks: int) -> tuple[int, int]:
    """Chunks [first, last) of slice ``part`` = (I, N), 1 <= I <= N: N contiguous, near-equal slices."""
    i, n = part
    return (i - 1) * n_chunks // n, i * n_chunks // n


def _screen(spec: BatchSpec, batch_text: str, out: Path, sha: str, *, batch_path: str, n_jobs: int | None,
            backend: str | None, scheduler: str | None, resume: bool, progress: Progress | None,
            stop_after_chunks: int | None, part: tuple[int, int] | None) -> ScreenResult:
    from regenome.families import get_family
    from regenome.parallel import execution_context, map_chunks
    from regenome.structures.store import StructureSet

    family = get_family(spec.batch.family)
    n_jobs = n_jobs or spec.execution.n_jobs
    backend = backend or spec.execution.backend
    progress = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    started = _now()
    chunk_size = spec.execution.chunk_size
    mark = _Marker(out, stage="generate", batch_sha256=sha, started=started, chunk_size=chunk_size)
    for name in RESULT_FILES:  # results of an earlier, unfinished attempt are not results
        (out / name).unlink(missing_ok=True)

    h5_path = out / "structures.h5"
    t0 = time.perf_counter()
    generated = family.grid_size(spec)
    n_pass = family.passing_count(spec)
    n_chunks = -(-n_pass // chunk_size)
    first, last = (0, n_chunks) if part is None else chunk_range(part, n_chunks)
    n_mine = max(min(last * chunk_size, n_pass) - first * chunk_size, 0)
    timings["count_s"] = time.perf_counter() - t0

    slice_attrs = {} if part is None else {"chunk_range": f"{first},{last}", "chunks_total": str(n_chunks)}
    done_rows = 0
    if resume and h5_path.exists():
        done_rows = _resumable_rows(h5_path, sha, chunk_size, slice_attrs.get("chunk_range"))
    if done_rows == 0:
        attrs = {"batch_name": spec.batch.name, "batch_sha256": sha, "family": family.name, "batch_toml": batch_text,
                 **slice_attrs}
        StructureSet.create(h5_path, attrs=attrs, overwrite=True).close()
    skip = done_rows // chunk_size
    mark(stage="predict", chunks_total=last - first, candidates_total=n_mine,
         **({} if part is None else {"part": list(part), "chunk_range": [first, last], "chunks_in_batch": n_chunks}))

    # Generation is lazy and joblib pulls tasks only a few ahead of the workers, so memory holds a
    # few chunks whatever the batch size; the parent is the one writer of structures.h5.
    t0 = time.perf_counter()
    progress("predict", min(skip * chunk_size, n_mine), n_mine)
    with StructureSet.open(h5_path, mode="a") as store, execution_context(backend, n_jobs, scheduler):
        tasks = ((spec, index) for index in range(first + skip, last))  # workers build their own chunks
        for i, result in enumerate(map_chunks(evaluate_chunk, tasks, n_jobs=n_jobs), start=skip + 1):
            store.append_candidates(result)
            store.flush()
            progress("predict", min(i * chunk_size, n_mine), n_mine)  # in candidates: rate is candidates/s
            if stop_after_chunks is not None and i >= stop_after_chunks and i < last - first:
                mark(status="interrupted")
                raise RegenomeError(f"{out}: run interrupted after {i} of {last - first} chunks (resume with --resume)")
    timings["predict_s"] = time.perf_counter() - t0

    execution = {"backend": backend, "n_jobs": n_jobs, "chunk_size": chunk_size, "resumed_from_chunk": skip}
    base = _provenance(spec, sha, family, batch_path, started, execution)
    if hasattr(family, "funnel_notes"):
        base["left_out"] = family.funnel_notes(spec)
    if part is not None:  # a slice of a job array: `regenome merge` ranks the slices together
        base["execution"].update(part=f"{part[0]}/{part[1]}", chunk_range=[first, last], chunks_in_batch=n_chunks)
        base["counts"] = {"generated": int(generated), "passing_constraints": n_pass, "predicted": n_mine}
        return _finish_slice(out, h5_path, base, timings, mark)
    return finish_run(spec, batch_text, out, family, h5_path, base, timings, mark, progress,
                      {"generated": int(generated), "passing_constraints": n_pass})


def _provenance(spec: BatchSpec, sha: str, family, batch_path: str, started: str, execution: dict) -> dict:
    from regenome.environment import environment

    return {
        "regenome_version": __version__,
        "batch_file": str(Path(batch_path).resolve()) if batch_path else "",
        "batch_sha256": sha,
        "batch_name": spec.batch.name,
        "seed": spec.batch.seed,
        "models": family.model_provenance(),
        "packages": (env := environment())["packages"],
        "environment": env,  # BLAS/OpenMP libraries and the sha256 of every model file
        "execution": execution,
        "machine": {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "started": started,
    }


def _finish_slice(out: Path, h5_path: Path, provenance: dict, timings: dict, mark: _Marker) -> ScreenResult:
    """A job-array slice ends after its predictions: provenance and the marker, no ranking."""
    provenance["finished"] = _now()
    provenance["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    prov_path = out / "provenance.json"
    _atomic_write_text(prov_path, json.dumps(provenance, indent=1, sort_keys=True))
    mark(status="complete", stage="done", finished=provenance["finished"])
    return ScreenResult(out, None, h5_path, None, prov_path, provenance["counts"], provenance["timings_s"])


def finish_run(spec: BatchSpec, batch_text: str, out: Path, family, h5_path: Path, provenance: dict,
               timings: dict, mark: _Marker, progress: Progress, counts: dict) -> ScreenResult:
    """Rank the stored candidates, build the top structures, write the report and results; mark complete."""
    from regenome.streamrank import rank_store

    mark(stage="rank")
    t0 = time.perf_counter()
    table = rank_store(h5_path, spec.ranking.parsed(), spec.ranking.keep)
    ranked = table.frame
    timings["rank_s"] = time.perf_counter() - t0

    mark(stage="structures")
    t0 = time.perf_counter()
    top = ranked.head(spec.funnel.structures_for_top)
    top_structures = write_structures(h5_path, family, spec, top, progress)
    timings["structures_s"] = time.perf_counter() - t0

    counts = {**counts, "predicted": table.n_candidates, "in_ranked_csv": int(len(ranked)),
              "on_pareto_front": table.n_on_front, "with_structures": len(top_structures),
              "meeting_targets": table.n_meeting_targets}
    provenance["counts"] = counts

    mark(stage="report")
    t0 = time.perf_counter()
    ranked_csv = out / "ranked.csv"
    ranked_text = ranked.to_csv(index=False, float_format="%.6g")
    timings["write_s"] = time.perf_counter() - t0
    provenance["finished"] = _now()
    provenance["timings_s"] = {k: round(v, 3) for k, v in timings.items()}

    from regenome.report import write_report
    from regenome.structures.store import StructureSet

    report = write_report(out / "report.html", batch_name=spec.batch.name, batch_text=batch_text, counts=counts,
                          ranked=ranked, top_structures=top_structures, provenance=provenance,
                          targets={k: v.model_dump(exclude_none=True) for k, v in spec.targets.items()},
                          objectives=list(spec.ranking.objectives), timings=provenance["timings_s"],
                          n_show=spec.ranking.top,
                          content=family.report_content() if hasattr(family, "report_content") else None)
    with StructureSet.open(h5_path, mode="a") as store:
        store.set_attrs({"provenance_json": json.dumps(provenance, sort_keys=True)})
    prov_path = out / "provenance.json"
    _atomic_write_text(prov_path, json.dumps(provenance, indent=1, sort_keys=True))
    _atomic_write_text(ranked_csv, ranked_text)  # last: ranked.csv present <=> run complete (but for run.json)
    mark(status="complete", stage="done", finished=provenance["finished"])
    return ScreenResult(out, ranked_csv, h5_path, report, prov_path, counts, provenance["timings_s"])


def _resumable_rows(h5_path: Path, sha: str, chunk_size: int, chunks: str | None = None) -> int:
    """Rows of whole chunks already in an interrupted run's candidate table (0 = start over)."""
    from regenome.errors import StructureSetError
    from regenome.structures.store import StructureSet

    try:
        with StructureSet.open(h5_path, mode="r") as store:
            if store.attrs.get("batch_sha256") != sha or store.attrs.get("chunk_range") != chunks:
                return 0
            n = store.n_candidates
    except StructureSetError:
        return 0
    if n % chunk_size:
        return 0
    return n


def write_structures(h5_path: Path, family, spec: BatchSpec, top, progress: Progress) -> dict[str, dict]:
    """Build, store and summarise the structures of the top candidates."""
    from regenome.structures.convert import structure_text
    from regenome.structures.store import StructureSet

    summaries: dict[str, dict] = {}
    rows = top.to_dict("records")
    progress("structures", 0, len(rows))
    with StructureSet.open(h5_path, mode="a") as store:
        existing = set(store.structure_ids())
        for i, row in enumerate(rows, start=1):
            if row["candidate_id"] not in existing:
                built = family.build_structure(row, spec)
                if built is None:  # e.g. a phosphor host known only by its composition
                    progress("structures", i, len(rows))
                    continue
                existing.add(row["candidate_id"])
                store.append_structures([row["candidate_id"]], [row["formula"]], [built["recipe_json"]],
                                        built["lattice"][None], [built["numbers"]], [built["frac_coords"]],
                                        [built["site_labels"]])
                store.flush()  # each structure is durable: a killed run resumes after it
            progress("structures", i, len(rows))
        for row in rows:
            if row["candidate_id"] not in existing:
                continue
            record = store.read_structure(row["candidate_id"])
            summaries[row["candidate_id"]] = {
                "cif": structure_text(record, "cif"),
                "n_sites": int(record.n_sites),
                "lattice_abc_A": [float(v) for v in np.linalg.norm(record.lattice, axis=1)],
                "site_occupancy": site_occupancy(record.site_labels, record.numbers),
                "recipe": record.recipe,
            }
    return summaries


def site_occupancy(labels, numbers) -> dict[str, dict[str, int]]:
    """Species counts per site label, for the labels that hold more than one species (all if none)."""
    from collections import Counter

    from pymatgen.core.periodic_table import Element

    counts: dict[str, Counter] = {}
    for label, z in zip(labels, numbers):
        counts.setdefault(label, Counter())[Element.from_Z(int(z)).symbol] += 1
    mixed = {k: dict(v) for k, v in counts.items() if len(v) > 1}
    return mixed or {k: dict(v) for k, v in counts.items()}
