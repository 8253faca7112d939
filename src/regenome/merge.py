"""Combine the slices of a job array (``screen --chunks I/N``) into one ranked run.

Each slice folder holds the predictions of a contiguous range of the batch's chunks. ``merge``
checks that the slices come from the same batch file, are complete and cover every chunk once,
copies their candidate tables in chunk order into a new folder, then ranks, builds structures and
writes the report exactly as a single ``screen`` does: the same ``ranked.csv``, byte for byte.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from regenome.errors import RegenomeError
from regenome.pipeline import (Progress, ScreenResult, _claimed, _Marker, _mark_stopped, _now, _provenance,
                               finish_run, read_run_marker)

#: Candidate rows copied per read/append.
COPY_ROWS = 250_000


def _slice_state(folder: Path) -> dict:
    state = read_run_marker(folder)
    if not state:
        raise RegenomeError(f"{folder}: no run.json; pass the --out folders of `regenome screen --chunks I/N` runs")
    if "chunk_range" not in state:
        raise RegenomeError(f"{folder}: not a slice of a job array (it was run without --chunks I/N)")
    if state.get("status") != "complete":
        raise RegenomeError(f"{folder}: slice {'/'.join(map(str, state.get('part', '?')))} is "
                            f"{state.get('status', 'unfinished')}; finish it with the same command plus --resume")
    return state


def check_slices(folders: list[Path]) -> list[tuple[Path, dict]]:
    """The slices in chunk order, after checking they are one batch, complete, and cover every chunk once."""
    slices = sorted(((Path(f), _slice_state(Path(f))) for f in folders), key=lambda fs: fs[1]["chunk_range"][0])
    first = slices[0][1]
    for folder, state in slices[1:]:
        if state["batch_sha256"] != first["batch_sha256"]:
            raise RegenomeError(f"{folder}: ran another batch file than {slices[0][0]}; merge slices of one batch")
        if state["chunk_size"] != first["chunk_size"]:
            raise RegenomeError(f"{folder}: chunk_size {state['chunk_size']} differs from {first['chunk_size']}")
    expected = 0
    for folder, state in slices:
        start, stop = state["chunk_range"]
        if start != expected:
            what = "overlaps the previous slice" if start < expected else f"leaves chunks {expected}..{start - 1} out"
            raise RegenomeError(f"{folder}: chunks {start}..{stop - 1} {what}; pass every slice once")
        expected = stop
    if expected != first["chunks_in_batch"]:
        raise RegenomeError(f"{slices[-1][0]}: the slices end at chunk {expected - 1} of "
                            f"{first['chunks_in_batch']}; pass every slice")
    return slices


def merge(folders: list[str | Path], out_dir: str | Path, progress: Progress | None = None) -> ScreenResult:
    """Merge slice folders into ``out_dir`` and finish the run (rank, structures, report)."""
    from regenome.families import get_family
    from regenome.spec import parse_batch, spec_sha256
    from regenome.structures.store import StructureSet

    if not folders:
        raise RegenomeError("merge: pass the --out folders of the slices")
    slices = check_slices([Path(f) for f in folders])
    with StructureSet.open(slices[0][0] / "structures.h5") as store:
        attrs = store.attrs
    text = attrs["batch_toml"]
    sha = spec_sha256(text)
    if sha != slices[0][1]["batch_sha256"]:
        raise RegenomeError(f"{slices[0][0]}/structures.h5: its batch text does not match run.json")
    try:
        batch_file = Path(json.loads((slices[0][0] / "provenance.json").read_text()).get("batch_file") or ".")
    except (OSError, ValueError):
        batch_file = Path(".")
    spec = parse_batch(text, f"{slices[0][0]}/structures.h5 (batch_toml)",
                       max_candidates=2**62,  # the slices were allowed to run; do not re-check the size
                       base_dir=str(batch_file.parent) if batch_file.is_file() else None)  # relative host files
    family = get_family(spec.batch.family)
    out = Path(out_dir)
    progress = progress or (lambda stage, done, total: None)
    with _claimed(out, sha, resume=False):
        try:
            return _merge(slices, spec, text, sha, family, out, progress)
        except BaseException as exc:
            _mark_stopped(out, exc)
            raise


def _merge(slices, spec, text, sha, family, out: Path, progress: Progress) -> ScreenResult:
    from regenome.structures.store import StructureSet

    started = _now()
    timings: dict[str, float] = {}
    mark = _Marker(out, stage="merge", batch_sha256=sha, started=started, chunk_size=spec.execution.chunk_size,
                   merged_from=[str(f) for f, _ in slices])
    h5_path = out / "structures.h5"
    total = sum(int(state["candidates_total"]) for _, state in slices)
    t0 = time.perf_counter()
    attrs = {"batch_name": spec.batch.name, "batch_sha256": sha, "family": family.name, "batch_toml": text}
    done = 0
    progress("merge", 0, total)
    with StructureSet.create(h5_path, attrs=attrs, overwrite=True) as target:
        for folder, _ in slices:
            with StructureSet.open(folder / "structures.h5") as source:
                n = source.n_candidates
                for start in range(0, n, COPY_ROWS):
                    target.append_candidates(source.read_candidates(rows=slice(start, min(start + COPY_ROWS, n))))
                    target.flush()
                    done += min(COPY_ROWS, n - start)
                    progress("merge", done, total)
    timings["merge_s"] = time.perf_counter() - t0
    n_pass = family.passing_count(spec)
    if done != n_pass:
        raise RegenomeError(f"{out}: the slices hold {done} candidates, the batch has {n_pass}; rerun the slices")
    execution = {"merged_slices": [str(f) for f, _ in slices], "chunk_size": spec.execution.chunk_size}
    provenance = _provenance(spec, sha, family, "", started, execution)
    return finish_run(spec, text, out, family, h5_path, provenance, timings, mark, progress,
                      {"generated": int(family.grid_size(spec)), "passing_constraints": n_pass})
