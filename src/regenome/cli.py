"""Command-line interface: a thin typer app over the public API.

Errors regenome raises on purpose are printed as one line on stderr with exit code 2
(``--debug`` shows the traceback). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="regenome: high-throughput screening of rare-earth functional materials.")
_state = {"debug": False}


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"regenome: error: {message}", err=True)
    raise typer.Exit(code)


def _run(func):
    """Call ``func`` and turn regenome's own errors into one-line messages."""
    from regenome.errors import RegenomeError

    try:
        return func()
    except RegenomeError as exc:
        if _state["debug"]:
            raise
        _fail(str(exc))
    except BrokenPipeError:  # `regenome inspect DIR | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    except OSError as exc:  # permission denied, disk full, a path that is a folder, ...
        if _state["debug"]:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}; check the path, its permissions and free disk space")
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        _fail("interrupted; a screen run continues with the same command plus --resume", code=130)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")) -> None:
    _state["debug"] = debug


@app.command()
def validate(
    batch: Path = typer.Argument(..., help="Batch file (TOML)."),
    max_candidates: Optional[int] = typer.Option(None, "--max-candidates", min=1,
                                                 help="Allow batches up to this size (replaces [funnel] max_candidates)."),
) -> None:
    """Check a batch file and print how many candidates it would generate."""
    def go():
        from regenome.families import get_family
        from regenome.spec import load_batch

        spec = load_batch(batch, max_candidates=max_candidates)
        family = get_family(spec.batch.family)
        total = family.grid_size(spec)
        passing = family.passing_count(spec)  # > 0: the batch model refuses unmeetable constraints
        typer.echo(f"{batch}: valid {spec.batch.family} batch '{spec.batch.name}': {total} candidates generated, "
                   f"{passing} pass the constraints")
    _run(go)


@app.command()
def screen(
    batch: Path = typer.Argument(..., help="Batch file (TOML)."),
    out: Path = typer.Option(..., "--out", help="Output folder (created)."),
    n_jobs: Optional[int] = typer.Option(None, "--n-jobs", help="Workers (default: [execution] n_jobs)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="loky, threading, dask or ray."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler or Ray address to join."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in the same folder."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output (same as --progress none)."),
    progress_mode: str = typer.Option("auto", "--progress", help="auto (a bar on a terminal, else log lines), "
                                                                  "bar, log (a line per stage at most every 30 s) "
                                                                  "or none."),
    max_candidates: Optional[int] = typer.Option(None, "--max-candidates", min=1,
                                                 help="Allow batches up to this size (replaces [funnel] max_candidates)."),
    log_file: Optional[Path] = typer.Option(None, "--log-file",
                                            help="Append JSON log lines (progress, stage timings) to this file."),
    chunks: Optional[str] = typer.Option(None, "--chunks", metavar="I/N",
                                         help="Run only slice I of N of the batch (a job-array task); "
                                              "`regenome merge` ranks the slices together."),
) -> None:
    """Run a screening batch and write ranked.csv, structures.h5, provenance.json and report.html."""
    def go():
        from regenome.pipeline import screen as run_screen
        from regenome.spec import parse_batch, read_batch_text

        if backend is not None and backend not in ("loky", "threading", "dask", "ray"):
            _fail(f"--backend: unknown backend {backend!r}; valid: loky, threading, dask, ray")
        if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
            _fail(f"--n-jobs: must be a positive number of workers or -1; got {n_jobs}")
        part = _parse_part(chunks)
        mode = _progress_mode(progress_mode, quiet)
        text = read_batch_text(batch)  # read once: the spec and the hashed text are the same bytes
        spec = parse_batch(text, str(batch), max_candidates=max_candidates)
        _interrupt_on_sigterm()  # a batch scheduler's time limit stops the run like Ctrl-C: marked, unlocked
        reporter = _progress(mode, log_file)
        with reporter as progress:
            reporter.event("start", batch=str(batch), out=str(out), resume=resume, chunks=chunks)
            result = run_screen(spec, text, out, batch_path=str(batch), n_jobs=n_jobs, backend=backend,
                                scheduler=scheduler, resume=resume, progress=progress, part=part)
            reporter.event("complete", counts=result.counts, timings_s=result.timings)
        reporter.timing_table(result.timings)
        _summary(result)
    _run(go)


@app.command()
def merge(
    slices: list[Path] = typer.Argument(..., help="The --out folders of `screen --chunks I/N` runs, all N."),
    out: Path = typer.Option(..., "--out", help="Output folder of the merged run (created)."),
    progress_mode: str = typer.Option("auto", "--progress", help="auto, bar, log or none."),
) -> None:
    """Rank the slices of a job array together: the same ranked.csv as one screen of the whole batch."""
    def go():
        from regenome.merge import merge as run_merge

        reporter = _progress(_progress_mode(progress_mode, False), None)
        with reporter as progress:
            result = run_merge(slices, out, progress=progress)
        reporter.timing_table(result.timings)
        _summary(result)
    _run(go)


def _parse_part(chunks: str | None) -> tuple[int, int] | None:
    if chunks is None:
        return None
    try:
        i, n = (int(v) for v in chunks.split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        _fail(f"--chunks: must be I/N with 1 <= I <= N, e.g. 3/16 for the third of 16 slices; got {chunks!r}")
    return i, n


def _progress_mode(mode: str, quiet: bool) -> str:
    if mode not in ("auto", "bar", "log", "none"):
        _fail(f"--progress: unknown mode {mode!r}; valid: auto, bar, log, none")
    if quiet:
        return "none"
    if mode == "auto":
        return "bar" if sys.stderr.isatty() else "log"
    return mode


def _summary(result) -> None:
    c = result.counts
    if result.ranked_csv is None:  # a slice: predictions only
        typer.echo(f"{c['predicted']} candidates predicted in this slice; rank all slices with `regenome merge`")
        typer.echo(f"slice: {result.out_dir}")
        return
    typer.echo(f"{c['generated']} generated, {c['passing_constraints']} pass the constraints, "
               f"{c['meeting_targets']} meet the targets, {c['with_structures']} structures stored")
    typer.echo(f"report: {result.report_html}")
    typer.echo(f"ranked: {result.ranked_csv}")


class _Sigterm:
    """Whether a SIGTERM has arrived (set by the handler of :func:`_interrupt_on_sigterm`)."""

    received = False


def _interrupt_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt, and every later progress event raises it again: Python drops
    an exception raised while it runs a weakref callback or a ``__del__``, which would let the run go on."""
    import signal

    def handler(signum, frame):
        _Sigterm.received = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


class _progress:
    """Progress of a run on stderr, and JSON log lines.

    ``mode``: ``bar`` (rich bars per stage with rate and ETA, for terminals), ``log`` (one plain
    line per stage at most every :data:`LOG_EVERY_S` seconds and when it ends: for batch-job
    logs) or ``none``. ``log_file`` gets one JSON object per progress event in every mode.
    """

    def __init__(self, mode: str, log_file: Path | None = None):
        self.mode = mode
        self.log_file = log_file
        self.bar = None
        self.tasks: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.done_at_start: dict[str, int] = {}
        self.last_line: dict[str, float] = {}
        self.log = None

    def __enter__(self):
        import time

        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.log = self.log_file.open("a", encoding="utf-8", buffering=1)
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task):
                    return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")

            self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), Rate(),
                                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                console=Console(stderr=True), transient=False)
            self.bar.__enter__()

        def update(stage: str, done: int, total: int) -> None:
            if _Sigterm.received:  # the handler's own KeyboardInterrupt may have been swallowed
                raise KeyboardInterrupt
            now = time.perf_counter()
            first = stage not in self.started
            if first:  # a stage's first call (done = work already done, e.g. on resume) starts its clock
                self.started[stage], self.done_at_start[stage] = now, done
                self.last_line[stage] = now
            elapsed = now - self.started[stage]
            rate = (done - self.done_at_start[stage]) / elapsed if elapsed > 0 else None
            if self.bar is not None:
                if first:
                    self.tasks[stage] = self.bar.add_task(stage, total=total)
                self.bar.update(self.tasks[stage], completed=done, total=total)
            elif self.mode == "log" and not first and (done >= total or now - self.last_line[stage] >= LOG_EVERY_S):
                self.last_line[stage] = now
                eta = (total - done) / rate if rate else None
                typer.echo(f"regenome: {stage}: {done:,}/{total:,} ({100 * done / max(total, 1):.0f} %), "
                           f"{'' if rate is None else f'{rate:,.0f}/s, '}elapsed {elapsed:,.0f} s"
                           + (f", eta {eta:,.0f} s" if eta is not None and done < total else ""), err=True)
            if self.log is not None:
                self.event("progress", stage=stage, done=done, total=total, elapsed_s=round(elapsed, 3),
                           rate_per_s=None if rate is None else round(rate, 1))
        return update

    def event(self, kind: str, **fields) -> None:
        """Write one JSON log line (no-op without a log file)."""
        import json
        from datetime import datetime, timezone

        if self.log is not None:
            record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": kind, **fields}
            self.log.write(json.dumps(record) + "\n")

    def timing_table(self, timings: dict[str, float]) -> None:
        """The stage timings as a small table on stderr (not with --progress none)."""
        if self.mode == "none":
            return
        total = sum(timings.values())
        lines = ["regenome: stage timings"] + [f"  {k.removesuffix('_s'):<12}{v:>10.1f} s" for k, v in timings.items()]
        typer.echo("\n".join(lines + [f"  {'total':<12}{total:>10.1f} s"]), err=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        if self.log is not None:
            if exc[0] is not None:
                self.event("stopped", error=f"{exc[0].__name__}: {exc[1]}".splitlines()[0][:500])
            self.log.close()
        return False


#: Seconds between two progress lines of one stage with --progress log.
LOG_EVERY_S = 30.0


@app.command()
def predict(
    model: str = typer.Argument(..., help="Model name (see `regenome models list`)."),
    csv_in: Path = typer.Argument(..., metavar="IN.csv", help="Input CSV with the model's input columns."),
    out: Path = typer.Option(..., "--out", help="Output CSV."),
    n_jobs: Optional[int] = typer.Option(None, "--n-jobs", help="Worker processes for trained models (default 1)."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir",
                                             help="Folder of a model you trained (card.json + model file)."),
    trust: bool = typer.Option(False, "--trust", help="Allow a joblib/pickle model file (only one you trained "
                                                      "yourself: loading it can run code)."),
    model_version: Optional[str] = typer.Option(None, "--model-version",  # issue 7: measurement corrections
                                                help="Model version (default: the newest; the base version, e.g. "
                                                     "2.0 for ndfeb, is the model without measurement corrections)."),
) -> None:
    """Predict properties for the rows of a CSV file (adds <output>, <output>_std and error columns)."""
    def go():
        # issue 7: predict_versioned applies the newest (or --model-version) measurement correction
        from regenome.corrected_models import predict_versioned

        if model == "ndfeb" and (model_dir is not None or trust):
            _fail("--model-dir/--trust: the ndfeb physics model has no model file; drop these options")
        if model != "ndfeb" and n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
            _fail(f"--n-jobs: must be a positive number of workers or -1; got {n_jobs}")
        summary = predict_versioned(model, csv_in, out, model_version=model_version, n_jobs=n_jobs,
                                    model_dir=model_dir, trust=trust)
        typer.echo(summary.message, err=True)
        if summary.n_ok == 0 and summary.n_rows > 0:
            raise typer.Exit(1)
    _run(go)


@app.command()
def inspect(path: Path = typer.Argument(..., help="structures.h5 or a run folder.")) -> None:
    """Describe a run folder (status, stage, chunks done) and its structure set (schema, counts, columns)."""
    def go():
        from regenome.structures.store import describe

        if path.is_dir():
            from regenome.pipeline import describe_run

            run = describe_run(path)
            for key, value in run.items():
                typer.echo(f"run.{key}: {', '.join(value) if isinstance(value, list) else value}")
            if "structures_h5" in run:
                return
            target = path / "structures.h5"
        else:
            target = path
        info = describe(target)
        for key in ("path", "schema_version", "n_candidates", "n_structures", "n_sites", "n_distinct_formulas",
                    "file_size_bytes"):
            typer.echo(f"{key}: {info.get(key)}")
        typer.echo("candidate_columns: " + ", ".join(info.get("candidate_columns", [])))
        typer.echo("structure ids: " + ", ".join(info.get("first_ids", [])))
    _run(go)


@app.command()
def export(
    path: Path = typer.Argument(..., help="structures.h5"),
    ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated candidate ids (default: all)."),
    fmt: str = typer.Option("cif", "--format", help="cif, extxyz or poscar."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
) -> None:
    """Write stored structures as CIF, extended XYZ or POSCAR files."""
    def go():
        from regenome.structures.convert import export as export_structures

        if fmt not in ("cif", "extxyz", "poscar"):
            _fail(f"--format: unknown format {fmt!r}; valid: cif, extxyz, poscar")
        id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
        written = export_structures(path, id_list, fmt, out)
        typer.echo(f"wrote {len(written)} {fmt} files to {out}")
    _run(go)


@app.command()
def schema(family: str = typer.Argument("ndfeb", help="Family whose batch-file schema to print.")) -> None:
    """Print the JSON Schema of a family's batch file."""
    def go():
        import json

        from regenome.families import get_family

        typer.echo(json.dumps(get_family(family).spec_model.model_json_schema(), indent=1))
    _run(go)


@app.command()
def calibrate(
    model: str = typer.Argument(..., help="Model to calibrate: ndfeb."),
    data: Optional[Path] = typer.Option(None, "--data", help="Reference data folder (default: $REGENOME_DATA)."),
    project: Path = typer.Option(Path("."), "--project", help="Project checkout to write data/ and docs/ into."),
) -> None:
    """Re-derive a model's shipped tables from the reference data (developers)."""
    def go():
        from regenome.calibration.ndfeb import calibrate as run, write_outputs
        from regenome.datafiles import reference_data_dir

        if model != "ndfeb":
            _fail(f"unknown model {model!r}; valid: ndfeb")
        for p in write_outputs(run(reference_data_dir(data)), project):
            typer.echo(f"wrote {p}")
    _run(go)


models_app = typer.Typer(no_args_is_help=True, help="List trained models and show their cards.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """One line per model: name, version, outputs, the headline cross-validated metrics and the
    model's accuracy targets, each marked met or not met."""
    def go():
        from regenome.errors import ModelFileError
        from regenome.modelstore import load_model
        from regenome.surrogates import get_spec, surrogate_names
        from regenome.surrogates.base import check_targets

        typer.echo("ndfeb  physics model (calibrated parameters in data/ndfeb); outputs Br_T, Hcj_kA_m, "
                   "BHmax_kJ_m3, Tc_K and more")
        for name in surrogate_names():
            try:
                _, card = load_model(name)
            except ModelFileError as exc:
                typer.echo(f"{name}  not available: {exc}")
                continue
            headline = ", ".join(f"{key} MAE {m['MAE']:.4g}, R2 {m['R2']:.4f}, coverage {m['coverage_1sigma']:.2f}"
                                 for key, m in card.metrics.items() if key.startswith("all/"))
            targets = "; ".join(map(str, check_targets(get_spec(name).targets, card.metrics)))
            parts = [name, f"v{card.version}", ", ".join(f"{k} [{u}]" for k, u in card.outputs.items()), headline,
                     f"| {targets}" if targets else ""]
            typer.echo("  ".join(p for p in parts if p))
    _run(go)


@models_app.command("show")
def models_show(name: str = typer.Argument(..., help="Model name.")) -> None:
    """Print a model's card (JSON) after checking its file hashes."""
    def go():
        from regenome.modelstore import card_as_json, load_model
        from regenome.surrogates import get_spec

        if name == "ndfeb":
            from regenome.predictors.ndfeb import NdFeBModel

            import json
            typer.echo(json.dumps(NdFeBModel().card(), indent=2, default=str))
            return
        get_spec(name)
        _, card = load_model(name)
        typer.echo(card_as_json(card))
    _run(go)


@app.command()
def shortlist(
    run_dir: Path = typer.Argument(..., help="A finished run folder (regenome screen --out DIR)."),
    n: int = typer.Option(12, "--n", min=1, max=1000, help="Candidates to pick."),
    out: Path = typer.Option(..., "--out", help="Shortlist CSV to write; the synthesis page goes beside it (.html)."),
    strategy: str = typer.Option("balanced", "--strategy",
                                 help="balanced, performance, probability or diverse (weights of the objective "
                                      "score, the probability of meeting the targets and the spread)."),
    budget: Optional[float] = typer.Option(None, "--budget", min=0.0,
                                           help="Leave out candidates above this raw-material cost (USD/kg)."),
    batch_mass: float = typer.Option(100.0, "--batch-mass", min=0.001, help="Grams per candidate on the weigh-in sheet."),
) -> None:
    """Pick N candidates worth making: good, likely to meet the targets, and spread over composition space."""
    def go():
        from regenome.shortlist import STRATEGIES, ShortlistOptions, shortlist_run

        if strategy not in STRATEGIES:
            _fail(f"--strategy: unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
        picks, page = shortlist_run(run_dir, out, ShortlistOptions(n=n, strategy=strategy, max_cost_usd_kg=budget),
                                    batch_mass_g=batch_mass)
        typer.echo(f"picked {len(picks)} candidates; wrote {out} and {page}")
    _run(go)


hosts_app = typer.Typer(no_args_is_help=True, help="The phosphor host library: list hosts, show one, write its CIF.")
app.add_typer(hosts_app, name="hosts")


@hosts_app.command("list")
def hosts_list() -> None:
    """One line per library host: name, category, space group or 'composition only', source."""
    def go():
        from regenome.structures.hosts import library_table

        for row in library_table():
            where = "composition only" if row["composition_only"] else f"SG {row['space_group']}, {row['n_sites']} sites"
            typer.echo(f"{row['name']:<16} {row['category']:<11} {where:<24} {row['source']}")
    _run(go)


@hosts_app.command("show")
def hosts_show(
    name: str = typer.Argument(..., help="Library host (reduced formula, e.g. Y3Al5O12) or a structure file."),
    activator: Optional[str] = typer.Option(None, "--activator", help="Also show the site chosen for it, "
                                                                      "e.g. Ce3+."),
    codopant: Optional[str] = typer.Option(None, "--codopant", help="Also show where this charge compensator "
                                                                    "goes for the activator, e.g. Na+."),
    cif: Optional[Path] = typer.Option(None, "--cif", help="Write the host's conventional cell to this CIF file."),
) -> None:
    """Cation sites of a host (label, element, charge, coordination, mean bond length) and its CIF."""
    def go():
        from regenome.structures.hosts import host_from_file, load_host
        from regenome.structures.placement import cation_sites, choose_compensator, choose_site

        if codopant and not activator:
            _fail("--codopant needs --activator (the ion it compensates), e.g. --activator Ce3+ --codopant Na+")

        try:
            host = host_from_file(name) if Path(name).is_file() else load_host(name)
        except KeyError as exc:
            _fail(str(exc.args[0]) if exc.args else str(exc))
        typer.echo(f"{host.formula} ({host.category}); source: {host.source}")
        if host.structure is None:
            typer.echo(f"composition only: {host.note}")
        for site in cation_sites(host):
            cn = "-" if site["coordination"] is None else site["coordination"]
            bond = "-" if site["mean_bond_length_A"] is None else f"{site['mean_bond_length_A']:.3f} A"
            typer.echo(f"  {site['label']:<10} {site['element']}{site['charge']:+d}  CN {cn}  <d> {bond}")
        if activator:
            choice = choose_site(host, activator)
            typer.echo(f"{activator} -> {choice.site} (replaces {choice.replaced}{choice.replaced_charge:+d}, "
                       f"radius mismatch {100 * choice.radius_mismatch:+.1f} %)"
                       + (f"; {choice.compensation}" if choice.compensation else ""))
            if codopant:
                try:
                    comp = choose_compensator(host, choice, codopant)
                except ValueError as exc:
                    _fail(f"--codopant: {exc}")
                typer.echo(comp.text if comp is not None else
                           f"{codopant}: not needed ({activator} has the charge of the ion it replaces)")
        if cif is not None:
            if host.structure is None:
                _fail(f"{name}: no crystal structure to write (composition-only host); drop --cif")
            from pymatgen.io.cif import CifWriter

            CifWriter(host.structure).write_file(str(cif))
            typer.echo(f"wrote {cif}")
    _run(go)


# -- issue 7: lab measurements ------------------------------------------------------------------
@app.command()
def ingest(
    csv_in: Path = typer.Argument(..., metavar="MEASURED.csv", help="Table of measured properties."),
    family: str = typer.Option(..., "--family", help="ndfeb (formula, process, Br_T, Hcj_kA_m, BHmax_kJ_m3, "
                                                     "optional temperature_K, source) or phosphor (host, "
                                                     "activator, concentration, emission_nm, optional T50_K, "
                                                     "source)."),
    source: Optional[str] = typer.Option(None, "--source", help="Where the measurements come from (lab, notebook, "
                                                                "paper); used for rows without a source."),
) -> None:
    """Check measured values and add them, with their provenance, to the local store (REGENOME_HOME)."""
    def go():
        from regenome.measurements import ingest_file

        typer.echo(ingest_file(csv_in, family, source=source).message)
    _run(go)
# -- end issue 7 -----------------------------------------------------------------------------------


@app.command()
def train(
    model: str = typer.Argument(..., help="Model to train (see `regenome models list`)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Reference data folder (default: $REGENOME_DATA)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write <model>/card.json and model.skops into "
                                                           "(required unless --include-measurements)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (training is deterministic given it)."),
    quick: bool = typer.Option(False, "--quick", help="Small subset and few iterations (tests, smoke runs)."),
    docs: Optional[Path] = typer.Option(None, "--docs", help="Also write the model page and plots here."),
    no_cv: bool = typer.Option(False, "--no-cv", help="Skip the cross-validation (no metrics on the card)."),
    fmt: str = typer.Option("skops", "--format", help="skops (loads safely anywhere) or joblib (faster to load; "
                                                      "needs `predict --trust`)."),
    include_measurements: bool = typer.Option(False, "--include-measurements",
                                              help="Fit a new model version (a measurement correction on top of "
                                                   "the model) to the stored measurements: ndfeb, emission, "
                                                   "thermal-quenching."),
) -> None:
    """Cross-validate and train a surrogate on the reference data, writing a skops file and its card
    (with --include-measurements: fit a new version of MODEL to the measurements stored by `regenome ingest`)."""
    def go():
        from regenome.datafiles import reference_data_dir
        from regenome.surrogates import get_spec
        from regenome.surrogates.training import train_surrogate

        # -- issue 7: measurement corrections, written as a new version into REGENOME_HOME --
        if include_measurements:
            from regenome.corrected_models import train_with_measurements

            unused = [name for name, value in (("--data", data), ("--out", out), ("--docs", docs)) if value is not None]
            if unused:
                _fail(f"{', '.join(unused)}: not used with --include-measurements (the new version is written to "
                      "REGENOME_HOME/models/); drop them")
            typer.echo(train_with_measurements(model).message)
            return
        if model == "ndfeb":
            _fail("ndfeb is a physics model: re-derive its parameters with `regenome calibrate ndfeb`, or fit a "
                  "correction to your measurements with `regenome train ndfeb --include-measurements`")
        if out is None:
            _fail("--out: missing; give the folder to write <model>/card.json and the model file into")
        # -- end issue 7 --
        get_spec(model)
        if fmt not in ("skops", "joblib"):
            _fail(f"--format: unknown format {fmt!r}; valid: skops, joblib")
        result = train_surrogate(model, reference_data_dir(data), out, seed=seed, quick=quick,
                                 cross_validation=not no_cv, fmt=fmt)
        for key, m in result.card.metrics.items():
            typer.echo(f"{key}: n {m['n']:.0f}  MAE {m['MAE']:.4g}  R2 {m['R2']:.4f}  "
                       f"median rel. err {m['median_relative_error']:.3f}  coverage {m['coverage_1sigma']:.2f}")
        if docs is not None:
            from regenome.surrogates.modelpage import write_model_page

            for path in write_model_page(result, docs):
                typer.echo(f"wrote {path}")
        typer.echo(f"wrote {result.folder}")
    _run(go)


@app.command("env")
def env(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of name: version lines.")) -> None:
    """Print Python, the exact versions of the packages that touch numbers, BLAS/OpenMP and model hashes."""
    def go():
        from regenome.environment import environment, format_environment

        info = environment()
        if json_out:
            import json

            typer.echo(json.dumps(info, indent=2))
        else:
            typer.echo("\n".join(format_environment(info)))
    _run(go)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
