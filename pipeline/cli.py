"""The ``callqa`` command: thin wrappers that call the stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.models import ModelError


def load_settings(*args, **kwargs):
    """pydantic-settings and every stage's options load only for commands that need them."""
    from pipeline.config import load_settings as load

    return load(*args, **kwargs)

app = typer.Typer(help="Speech analytics and automatic QA for call-center recordings.", no_args_is_help=True)


@app.callback()
def _offline() -> None:
    """Speech analytics and automatic QA for call-center recordings."""
    from pipeline.models import keep_offline

    keep_offline()  # `callqa models pull` is the one command that goes online, and says so itself

models_app = typer.Typer(help="List, prepare and (on request) download models.", invoke_without_command=True)
app.add_typer(models_app, name="models")
console = Console(stderr=True, soft_wrap=True)  # file paths in errors stay whole for grep and logs

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")]


@app.command()
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs of recordings")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to write")] = Path("calls.duckdb"),
    model: Annotated[Optional[str], typer.Option(help="ASR model: manifest name, size name or local dir")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")] = None,
    compute_type: Annotated[Optional[str], typer.Option(help="int8, float16, ... (default: by device)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="ASR batch size; 0 = sequential")] = None,
    workers: Annotated[
        Optional[int], typer.Option(help="workers (processes here, or Ray actors); 0 = as the CPUs allow")
    ] = None,
    engine: Annotated[Optional[str], typer.Option(help="local (this machine) or ray (a Ray cluster)")] = None,
    address: Annotated[
        Optional[str], typer.Option(help="Ray cluster address (host:port); default: Ray on this machine")
    ] = None,
    deadline: Annotated[
        Optional[str],
        typer.Option(help="HH:MM (local time): start no call that would not be stored by then; exit code 3"),
    ] = None,
    max_hours: Annotated[Optional[float], typer.Option("--max-hours", help="as --deadline, hours from now")] = None,
    log: Annotated[
        Optional[Path], typer.Option("--log", help="append JSON lines: one per call with its stage times")
    ] = None,
    summary_file: Annotated[
        Optional[Path], typer.Option("--summary", help="run summary JSON for a cron job (default: DB.run.json)")
    ] = None,
    max_memory_gb: Annotated[
        Optional[float],
        typer.Option("--max-memory-gb", help="peak memory per worker (default 2): ASR batches and workers are planned within it"),
    ] = None,
    config: ConfigOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    metadata: Annotated[
        Optional[Path],
        typer.Option(
            "--metadata",
            help="CSV/JSON sidecar: call_file, agent_id, team, queue, started_at"
            " (default: a metadata.csv/.json in each folder given)",
        ),
    ] = None,
    name_pattern: Annotated[
        Optional[str], typer.Option("--name-pattern", help="who/when from file names, e.g. '{date}_{agent}_{callid}.wav'")
    ] = None,
    reprocess_deleted: Annotated[
        bool, typer.Option("--reprocess-deleted", help="process recordings of calls deleted with `callqa delete` again")
    ] = False,
) -> None:
    """Process every new call under PATHS into the database; calls already stored are skipped.

    Exit codes: 0 all done, 1 some calls (or metadata lines) failed, 2 nothing processed
    (configuration, rubric, model or engine problem), 3 stopped at the deadline with calls left.
    """
    from rich.markup import escape

    from pipeline.batch import BatchSummary, run_batch
    from pipeline.engines import EngineError
    from pipeline.operations import (
        EXIT_CALLS_FAILED,
        EXIT_CONFIGURATION,
        RunLog,
        run_deadline,
        write_summary,
    )

    summary_path = summary_file or db.with_name(db.name + ".run.json")

    def stop(label: str, exc: Exception) -> None:
        console.print(f"[red]{label}:[/red] {escape(str(exc))}")
        failed = BatchSummary().as_json() | {"status": "error", "exit_code": EXIT_CONFIGURATION, "error": str(exc)}
        write_summary(summary_path, failed)
        raise typer.Exit(EXIT_CONFIGURATION) from exc

    asr = {k: v for k, v in dict(model=model, device=device, compute_type=compute_type, batch_size=batch_size).items() if v is not None}
    engine_options = {k: v for k, v in dict(kind=engine, address=address).items() if v is not None}
    try:
        settings = load_settings(
            config, workers=workers, max_memory_gb=max_memory_gb, asr=asr or None, engine=engine_options or None,
            metadata={"name_pattern": name_pattern} if name_pattern else None,
        )  # fmt: skip
        until = run_deadline(deadline, max_hours, datetime.now())
    except ValueError as exc:
        stop("error", exc)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]calls"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(), console=console, disable=quiet,
    )  # fmt: skip
    task = progress.add_task("calls", total=None, stats="")

    def on_plan(planned, skipped):
        progress.update(task, total=len(planned))
        console.print(f"{len(planned)} call(s) to process, {skipped} already stored (skipped)")

    def on_progress(finished, summary):
        # stored calls only (a retried call counts once); the total drops by what the deadline leaves
        stats = (
            f"done {summary.done}  failed {summary.failed}  in flight {summary.in_flight}  "
            f"audio {summary.audio_s / 3600:.2f} h  RTF {summary.real_time_factor:.3f}"
        )
        progress.update(task, completed=summary.done + summary.failed, total=summary.planned - summary.not_started, stats=stats)
        if finished.status == "failed":
            progress.console.print(f"[red]failed[/red] {finished.error}")

    from pipeline.metadata import sidecars_in

    sidecars = [metadata] if metadata else sidecars_in(paths)
    bad_metadata_lines = sum(_import_metadata(sidecar, db) for sidecar in sidecars)
    run_log = RunLog(log)
    try:
        with progress:
            summary = run_batch(
                paths, db, settings, on_progress=on_progress, on_plan=on_plan, deadline=until, log=run_log,
                reprocess_deleted=reprocess_deleted,
                on_note=lambda note: console.print(f"[yellow]memory:[/yellow] {note}"),
            )  # fmt: skip
    except ModelError as exc:
        stop("model error", exc)
    except EngineError as exc:
        stop("engine error", exc)
    except ValueError as exc:  # a rubric with mistakes (RubricError) or a rubric version clash
        stop("error", exc)
    finally:
        run_log.close()
    console.print(
        f"[bold]summary[/bold]: {summary.done} done, {summary.failed} failed, {summary.skipped} skipped; "
        f"{summary.audio_s / 60:.1f} min of audio in {summary.wall_s:.1f} s (real-time factor {summary.real_time_factor:.3f}); "
        f"database {db}"
    )
    if summary.not_started:
        console.print(
            f"[yellow]stopped at the deadline[/yellow] ({summary.deadline:%Y-%m-%d %H:%M}): {summary.not_started} call(s) "
            "not started; the next run takes them"
        )
    outcome = summary.as_json()
    if bad_metadata_lines and outcome["exit_code"] == 0:
        outcome |= {"status": "complete with failures", "exit_code": EXIT_CALLS_FAILED}
    write_summary(summary_path, outcome | {"database": str(db), "bad_metadata_lines": bad_metadata_lines})
    if outcome["exit_code"]:
        raise typer.Exit(outcome["exit_code"])


def _open_store(db: Path):
    from pipeline.store.store import Store

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database (run `callqa run ... --db {db}` first)")
        raise typer.Exit(2)
    return Store(db, read_only=True)


@app.command()
def queue(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    status: Annotated[str, typer.Option(help="pending, in_review or done")] = "pending",
    limit: Annotated[int, typer.Option(help="rows to show")] = 50,
    category: Annotated[Optional[str], typer.Option("--category", help="only calls with this call reason id")] = None,
) -> None:
    """The calls waiting for a supervisor, most urgent first, with why and where to listen."""
    with _open_store(db) as store:
        rows = store.queue_rows(status, limit, category)
    table = Table(title=f"Review queue ({status}, first {limit})")
    for column in ("prio", "call", "score", "auto-fail", "reasons", "listen at", "file"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["priority"]), row["call_id"], "-" if row["score"] is None else f"{row['score']:.0f}",
            "yes" if row["auto_fail"] else "", row["reasons"], row["listen_at"] or "", Path(row["source_path"]).name,
        )  # fmt: skip
    Console(width=max(Console().width, 160)).print(table)


@app.command()
def show(
    call_id: Annotated[str, typer.Argument(help="call id (or its first characters)")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
) -> None:
    """One call: transcript with speakers and times, features, each criterion with evidence, queue reasons."""
    with _open_store(db) as store:
        report = store.call_report(call_id)
        trust: dict = {}  # what calibration decided for each criterion
        if report is not None and report["score"]:
            trust = store.calibration.trust_decisions(report["score"]["rubric_id"], report["score"]["rubric_version"])
    if report is None:
        console.print(f"[red]error:[/red] no single call matches {call_id!r} in {db}")
        raise typer.Exit(2)
    out = Console(width=max(Console().width, 140))
    call = report["call"]
    out.rule(f"call {call['call_id']}  {call['source_path']}")
    out.print(
        f"status {call['status']}  duration {call['duration_s'] or 0:.1f} s  channels {call['channels']}  "
        f"diarizer {call['diarizer']}  diarization confidence {call['diarization_confidence']}  "
        f"role confidence {call['role_confidence']}  ASR {call['asr_model']}"
    )
    if call["error"]:
        out.print(f"[red]error:[/red] {call['error']}")
    transcript = Table(title="Transcript", show_lines=False)
    for column in ("start", "end", "speaker", "text"):
        transcript.add_column(column, overflow="fold")
    for turn in report["turns"]:
        transcript.add_row(f"{turn['start_s']:.1f}", f"{turn['end_s']:.1f}", turn["speaker"], turn["text"])
    out.print(transcript)
    if report["features"]:
        features = Table(title="Features")
        features.add_column("feature")
        features.add_column("value", justify="right")
        for name, value in report["features"].items():
            features.add_row(name, f"{value:.2f}" if isinstance(value, float) else str(value))
        out.print(features)
    if report["events"] or report["redactions"]:
        events = Table(title="Events")
        for column in ("kind", "start", "end", "who", "detail"):
            events.add_column(column)
        for event in report["events"]:
            events.add_row(event["kind"], f"{event['start_s']:.1f}", f"{event['end_s']:.1f}", event["speaker"] or "", event["detail"] or "")
        for span in report["redactions"]:
            events.add_row(f"redacted {span['kind']}", f"{span['start_s']:.1f}", f"{span['end_s']:.1f}", "", "")
        out.print(events)
    score = report["score"]
    if score:
        out.print(
            f"[bold]score {score['score']:.1f}[/bold] ({score['rubric_id']} v{score['rubric_version']}), "
            f"{'PASSED' if score['passed'] else 'FAILED'}{', AUTO-FAIL' if score['auto_fail'] else ''}, "
            f"confidence {score['confidence']:.2f}"
        )
        from pipeline.calibration.render import gating_cell

        criteria = Table(title="Criteria")
        for column in ("criterion", "status", "points", "evidence", "at", "gating"):
            criteria.add_column(column, overflow="fold")
        for c in report["criteria"]:
            at = "" if c["evidence_start_s"] is None else f"{c['evidence_start_s']:.1f}-{c['evidence_end_s']:.1f} s"
            status = c["status"] + (" (auto-fail)" if c["auto_fail"] else "") + (" — needs human" if c.get("trusted") is False else "")
            criteria.add_row(c["criterion_id"], status, f"{c['points']:.0f}/{c['max_points']:.0f}", c["evidence_text"] or "",
                             at, gating_cell(c, trust, score["rubric_version"]))  # fmt: skip
        out.print(criteria)
    customer = report["customer"]
    if customer:
        verdict = "UNHAPPY" if customer["unhappy"] else "not unhappy"
        out.print(
            f"[bold]customer[/bold]: {verdict}; sentiment {customer['start_sentiment']:+.2f} at the start, "
            f"{customer['end_sentiment']:+.2f} at the end; {customer['frustrated_turns']} frustrated turn(s), "
            f"{customer['escalations']} escalation(s); {customer['unagreed_wait_s']:.0f} s of waits not agreed to"
        )
        for line in filter(None, [customer["escalation"], customer["unhappy_reasons"]]):
            out.print(f"  {line}")
    for reason in report["categories"]:
        at = "" if reason["start_s"] is None else f" at {reason['start_s']:.1f} s"
        out.print(f"[bold]call reason[/bold] {reason['name']}{at}: {reason['evidence_text']}")
    for entry in report["queue"]:
        out.print(f"[bold]queued[/bold] (priority {entry['priority']}, {entry['status']}): {entry['reasons']}")
    if not report["queue"]:
        out.print("not queued for review")


@app.command()
def rescore(
    rubric: Annotated[Path, typer.Option("--rubric", help="YAML rubric (a new id/version keeps old scores)")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    call_ids: Annotated[Optional[list[str]], typer.Argument(help="calls to rescore (default: all done calls)")] = None,
    config: ConfigOption = None,
    categories: Annotated[
        Optional[Path], typer.Option("--categories", help="YAML call reasons to apply (default: the configured file)")
    ] = None,
) -> None:
    """Score stored calls under another rubric version from their transcripts (no re-transcription);
    customer signals and call reasons are recomputed too."""
    from pipeline.batch import rescore_calls

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    try:
        settings = load_settings(config, rubric=rubric, categories=categories)
        summary = rescore_calls(db, settings, call_ids)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"rescored {summary.calls} call(s) under {summary.rubric_id} v{summary.rubric_version}: "
        f"{summary.passed} passed, {summary.queued} queued for review"
    )


export_app = typer.Typer(help="Export stored results in standard formats.")
app.add_typer(export_app, name="export")


@export_app.command("rttm")
def export_rttm(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="folder for one <call_id>.rttm per call")] = Path("rttm"),
    call_ids: Annotated[Optional[list[str]], typer.Argument(help="calls to export (default: all done calls)")] = None,
) -> None:
    """Write each call's speaker turns as RTTM (for pyannote.metrics, dscore and other scorers)."""
    from pipeline.store.store import Store

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str, str]] = []
    with Store(db) as store:
        for call_id in call_ids or store.done_call_ids():
            turns = store.turns_of(call_id)
            if not turns:
                console.print(f"[yellow]skipped[/yellow] {call_id}: no turns stored")
                continue
            lines = [
                f"SPEAKER {call_id} 1 {t.start_s:.3f} {t.end_s - t.start_s:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
                for t in turns
            ]
            path = out / f"{call_id}.rttm"
            path.write_text("\n".join(lines) + "\n")
            written.append((call_id, "rttm", str(path.resolve())))
        # remembered, so that deleting a call deletes its exports and pci-scan reads them
        store.record_exports(written)
    console.print(f"wrote RTTM files to {out}")


@app.command("pci-scan")
def pci_scan(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to check")] = Path("calls.duckdb"),
    export: Annotated[
        Optional[list[Path]], typer.Option("--export", help="also scan these exported files or folders (repeat)")
    ] = None,
    listen: Annotated[bool, typer.Option("--listen/--no-listen", help="transcribe the redacted audio again")] = True,
    model: Annotated[Optional[str], typer.Option(help="ASR model for listening (default: the run's default)")] = None,
    config: ConfigOption = None,
) -> None:
    """Check a database before it is shared: card data in any text column or export, digits audible
    in the redacted audio. One line per finding (never the value); exit code 1 when anything is found."""
    from pipeline.pci_scan import make_listener, scan_database

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    listener = None
    if listen:
        from pipeline.models import Models

        try:
            settings = load_settings(config, asr={"model": model} if model else None)
            listener = make_listener(settings, Models(settings.models_dir, settings.asr, settings.diarization))
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    try:
        report = scan_database(db, listener, export or [])
    except ModelError as exc:
        console.print(f"[red]model error:[/red] {exc}")
        raise typer.Exit(2) from exc
    out = Console(soft_wrap=True)
    for finding in report.findings:
        out.print(finding.line(), markup=False, highlight=False)
    for note in report.notes or []:
        console.print(f"[yellow]note[/yellow] {note}")
    calls = len({f.call_id for f in report.findings if f.call_id})
    listened = (
        f"{report.calls_listened} call(s) listened to over {report.windows_listened} payment window(s)"
        if listen
        else "no listening (--no-listen)"
    )
    console.print(
        f"[bold]pci-scan[/bold]: {len(report.findings)} finding(s) in {calls} call(s); {report.text_values} text value(s)"
        f" in {report.columns} column(s), {report.export_files} export file(s), {listened}; database {db}"
    )
    if report.findings:
        raise typer.Exit(1)


def _redacted_dir(db: Path, config: Optional[Path]) -> Path:
    from pipeline.batch import redacted_audio_dir_for

    return redacted_audio_dir_for(db, load_settings(config))


def _print_deleted(result, dry_run: bool = False) -> int:
    for path in result.missing_files:
        console.print(f"[yellow]already gone[/yellow] {path}")
    for path, why in result.failed_files:
        console.print(f"[red]could not delete[/red] {path}: {why}")
    console.print(
        f"deleted {len(result.call_ids)} call(s): {result.rows} row(s), {len(result.files)} file(s)"
        + (f"; {len(result.failed_files)} file(s) could not be deleted" if result.failed_files else "")
    )
    return 1 if result.failed_files else 0


@app.command()
def delete(
    call_ids: Annotated[list[str], typer.Argument(help="calls to delete (ids as `callqa queue` shows them)")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    original: Annotated[bool, typer.Option("--original", help="delete the original recording too")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete calls everywhere: every table, the redacted audio, exported files (and with --original the
    recording). The audit log keeps who, when, why and the call id; the next run does not process the file
    again unless given --reprocess-deleted."""
    from pipeline.store.deletion import DeletionError, delete_calls

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    try:
        result = delete_calls(db, call_ids, f"cli:{_os_user()}", reason, _redacted_dir(db, config), original)
    except (DeletionError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    raise typer.Exit(_print_deleted(result))


def _age(text: str) -> timedelta:
    import re

    match = re.fullmatch(r"(\d+)\s*([dwy])", text.strip().lower())
    if not match:
        raise typer.BadParameter(f"{text!r}: give an age as days, weeks or years, e.g. 365d, 52w, 7y")
    days = int(match.group(1)) * {"d": 1, "w": 7, "y": 365}[match.group(2)]
    return timedelta(days=days)


@app.command()
def retention(
    older_than: Annotated[str, typer.Option("--older-than", help="age of calls to delete, e.g. 365d, 52w, 7y")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    original: Annotated[bool, typer.Option("--original", help="delete the original recordings too")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list the calls, delete nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete every call older than the given age (by when it took place, else when it was processed), as
    `callqa delete` does; for a nightly cron job."""
    from pipeline.store.deletion import calls_older_than, delete_calls
    from pipeline.store.store import Store

    age = _age(older_than)
    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    cutoff = datetime.now(UTC).replace(tzinfo=None) - age
    with Store(db, read_only=True) as store:
        call_ids = calls_older_than(store, cutoff)
    if dry_run or not call_ids:
        for call_id in call_ids:
            console.print(call_id)
        console.print(f"{len(call_ids)} call(s) older than {older_than}" + (" (dry run, nothing deleted)" if dry_run else ""))
        return
    result = delete_calls(
        db, call_ids, f"cli:{_os_user()}", f"retention: older than {older_than}", _redacted_dir(db, config), original
    )
    raise typer.Exit(_print_deleted(result))


@app.command("eval")
def evaluate(
    reference_dir: Annotated[Path, typer.Argument(help="folder of references: <stem>.rttm, optional .stm/.txt/.json words, .uem")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file with the processed calls")] = Path("calls.duckdb"),
    collar_s: Annotated[float, typer.Option("--collar", help="seconds forgiven each side of a reference boundary")] = 0.25,
    role: Annotated[Optional[list[str]], typer.Option("--role", help="LABEL=agent|customer for reference labels with other names")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """How accurate the stored calls are against your own labelled calls: DER, JER, missed speech, WER."""
    import json as json_module

    from pipeline.evaluation import evaluate_call, load_references, reference_key, summarise

    extra_roles: dict[str, str] = {}
    for item in role or []:
        label, _, value = item.partition("=")
        if not label or value not in ("agent", "customer"):
            console.print(f"[red]error:[/red] --role {item!r}: give LABEL=agent or LABEL=customer")
            raise typer.Exit(2)
        extra_roles[label] = value
    try:
        references = load_references(reference_dir)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with _open_store(db) as store:
        calls = store.calls_for_evaluation()
    evaluations = []
    for call in calls:
        reference = references.get(reference_key(call.source_path))
        if reference is None:
            continue
        reference.role_of_label.update(extra_roles)
        evaluations.append(
            evaluate_call(
                reference, call.turns, call.words, call.duration_s, call_id=call.call_id,
                source=Path(call.source_path).name, events=call.events, collar_s=collar_s,
            )
        )  # fmt: skip
    if not evaluations:
        console.print(
            f"[red]error:[/red] no stored call in {db} matches a reference in {reference_dir} "
            "(a reference <stem>.rttm matches a recording whose file name starts with <stem>.)"
        )
        raise typer.Exit(1)
    summary = summarise(evaluations)
    if as_json:
        print(json_module.dumps({"calls": [e.as_dict() for e in evaluations], "overall": summary.__dict__}, indent=2))
        return
    _print_evaluation(evaluations, summary, collar_s)


def _print_evaluation(evaluations, summary, collar_s: float) -> None:
    def pct(value) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    table = Table(title=f"Accuracy against the references (collar {collar_s:g} s each side, overlap scored; % unless s)")
    columns = ("call", "file", "ref speech s", "DER role", "DER opt", "JER", "missed", "false al.",
               "agent missed", "cust. missed", "WER agent", "WER cust.", "WER all", "dead air over speech")  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold", justify="left" if column in ("call", "file") else "right")
    for e in evaluations:
        scored = e.reference_speech_s or 0.0
        table.add_row(
            e.call_id, e.source, f"{scored:.1f}", pct(e.role_der), pct(e.der), pct(e.jer),
            pct(e.missed_s / scored if scored else None), pct(e.false_alarm_s / scored if scored else None),
            pct(e.missed_by_role.get("agent")), pct(e.missed_by_role.get("customer")),
            pct(e.wer_by_role.get("agent")), pct(e.wer_by_role.get("customer")), pct(e.wer_by_role.get("all")),
            f"{e.dead_air_over_speech}/{e.dead_air_events}",
        )  # fmt: skip
    table.add_row(
        "overall", f"{summary.calls} call(s)", "", pct(summary.role_der), pct(summary.der), "", "", "",
        pct(summary.missed_by_role.get("agent")), pct(summary.missed_by_role.get("customer")),
        pct(summary.wer_by_role.get("agent")), pct(summary.wer_by_role.get("customer")),
        pct(summary.wer_by_role.get("all")), str(summary.dead_air_over_speech), end_section=True,
    )  # fmt: skip
    out = Console(width=max(Console().width, 180))
    out.print(table)
    out.print(
        "DER role: agent/customer labels compared as they are (a swapped call scores as wrong); "
        "DER opt: best speaker mapping. Overall rates are pooled over the calls' scored speech; "
        f"mean role DER {pct(summary.mean_role_der)} %, worst {pct(summary.worst_role_der)} %."
    )


@models_app.callback()
def models_list(ctx: typer.Context, config: ConfigOption = None) -> None:
    """List each model, where it comes from, and whether it is present (hashes checked)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.models import model_statuses

    settings = load_settings(config)
    table = Table(title="Models")
    for column in ("name", "kind", "source", "present", "path / problem"):
        table.add_column(column, overflow="fold")
    for status in model_statuses(settings.models_dir):
        table.add_row(
            status.name, status.kind, status.source,
            "[green]yes[/green]" if status.present else "[red]no[/red]", status.path or status.problem,
        )  # fmt: skip
    Console().print(table)


@models_app.command("prepare")
def models_prepare(config: ConfigOption = None) -> None:
    """Assemble and verify the bundled models (done automatically on first use too)."""
    from pipeline.models import load_manifest, prepare_model

    settings = load_settings(config)
    failed = False
    for name, entry in load_manifest().items():
        if "hub_id" in entry:
            continue
        try:
            path = prepare_model(name, entry, settings.models_dir)
            console.print(f"[green]ok[/green] {name}: {path}")
        except ModelError as exc:
            failed = True
            console.print(f"[red]missing[/red] {name}: {exc}")
    if failed:
        raise typer.Exit(1)


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="faster-whisper size name (e.g. small.en) or a manifest hub model")],
    token: Annotated[Optional[str], typer.Option(envvar="HF_TOKEN", help="Hugging Face token for gated models")] = None,
    config: ConfigOption = None,
) -> None:
    """Download a model from the Hugging Face hub: the only command that goes online."""
    import os

    from pipeline.models import FASTER_WHISPER_SIZES, load_manifest

    settings = load_settings(config)
    os.environ["HF_HUB_OFFLINE"] = "0"
    manifest = load_manifest()
    try:
        if name in FASTER_WHISPER_SIZES:
            from faster_whisper.utils import download_model

            path = download_model(name)
        elif name in manifest and "hub_id" in manifest[name]:
            from huggingface_hub import snapshot_download

            target = settings.models_dir / manifest[name]["local_dir"]
            path = snapshot_download(manifest[name]["hub_id"], local_dir=target, token=token)
        else:
            console.print(f"[red]error:[/red] {name!r} is not a downloadable model name")
            raise typer.Exit(2)
    except typer.Exit:
        raise
    except Exception as exc:
        console.print(f"[red]download failed:[/red] {name}: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]downloaded[/green] {name} to {path}")


def _import_metadata(path: Path, db: Path) -> int:
    """Read a metadata sidecar into the database, printing each bad line; returns how many were bad."""
    from pipeline.metadata import MetadataError, read_metadata
    from pipeline.store.store import Store

    try:
        parsed = read_metadata(path)
    except MetadataError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for bad in parsed.bad_lines:
        console.print(f"[yellow]skipped[/yellow] {path}:{bad.line}: {bad.reason}")
    with Store(db) as store:
        updated = store.import_metadata(parsed.rows, source=str(path), audit_by=f"cli:{_os_user()}")
    console.print(
        f"metadata: {len(parsed.rows)} line(s) read from {path}, {len(parsed.bad_lines)} bad; {updated} stored call(s) updated"
    )
    return len(parsed.bad_lines)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


metadata_app = typer.Typer(help="Who each call belongs to: agent, team, queue, start time.")
app.add_typer(metadata_app, name="metadata")


@metadata_app.command("import")
def metadata_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON: call_file, agent_id, team, queue, started_at")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
) -> None:
    """Set or correct the agent, team, queue and start time of calls (stored or still to come), by file name."""
    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database (run `callqa run ... --db {db}` first)")
        raise typer.Exit(2)
    if _import_metadata(file, db):
        raise typer.Exit(1)


users_app = typer.Typer(help="Accounts for the review app.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, . _ @ -)")],
    role: Annotated[str, typer.Option("--role", help="supervisor, qa_lead, admin or agent")],
    team: Annotated[Optional[list[str]], typer.Option("--team", help="a team this supervisor reviews (repeat for more)")] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    agent_id: Annotated[
        Optional[str], typer.Option("--agent-id", help="for --role agent: their agent id in the call metadata (default: NAME)")
    ] = None,
) -> None:
    """Create an account; the password comes from CALLQA_PASSWORD or a prompt, never from a flag."""
    import os
    import re

    from pipeline.review.auth import PASSWORD_ENV, check_password_rules, hash_password
    from pipeline.store.review_store import ROLES, ReviewConflict, ReviewStore

    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", name):
        console.print(f"[red]error:[/red] user name {name!r}: use 1-64 letters, digits and . _ @ -")
        raise typer.Exit(2)
    if role not in ROLES:
        console.print(f"[red]error:[/red] --role must be one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    teams = [t.strip() for t in team or [] if t.strip()]
    if role == "supervisor" and not teams:
        console.print("[red]error:[/red] a supervisor needs at least one --team (they see only their teams' calls)")
        raise typer.Exit(2)
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    try:
        check_password_rules(password)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    store = ReviewStore(str(db))
    store.ensure_schema()
    try:
        with store.open() as review_db:
            review_db.add_user(
                name, hash_password(password), role, teams, by=f"cli:{_os_user()}", agent_id=agent_id if role == "agent" else None
            )
    except ReviewConflict as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if role == "agent":
        console.print(f"added agent {name} (sees the reviewed calls of agent id {agent_id or name})")
        return
    console.print(f"added {role} {name}" + (f" (teams: {', '.join(teams)})" if teams else " (all teams)"))


@users_app.command("list")
def users_list(db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb")) -> None:
    """The review app's accounts."""
    from pipeline.store.review_store import ReviewStore

    store = ReviewStore(str(db))
    store.ensure_schema()
    with store.open() as review_db:
        users = review_db.users()
    table = Table(title="Users")
    for column in ("user", "role", "teams", "state"):
        table.add_column(column)
    for user in users:
        table.add_row(user.username, user.role, ", ".join(user.teams), "disabled" if user.disabled else "active")
    Console().print(table)


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="user name")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
) -> None:
    """Disable an account (its sessions end at once)."""
    from pipeline.store.review_store import NotFound, ReviewStore

    store = ReviewStore(str(db))
    store.ensure_schema()
    try:
        with store.open() as review_db:
            review_db.set_disabled(name, True, by=f"cli:{_os_user()}")
    except NotFound as exc:
        console.print(f"[red]error:[/red] no user {name!r}")
        raise typer.Exit(1) from exc
    console.print(f"disabled {name}")


@app.command()
def serve(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    host: Annotated[str, typer.Option(help="address to listen on (default: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    secure_cookies: Annotated[bool, typer.Option(help="mark cookies Secure (when served over HTTPS)")] = False,
) -> None:
    """Start the supervisor review app (queue, call pages with redacted audio, grading)."""
    from pipeline.review import app as review_app
    from pipeline.review.auth import load_or_create_secret

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database (run `callqa run ... --db {db}` first)")
        raise typer.Exit(2)
    options = review_app.AppOptions(db_path=str(db), secret_key=load_or_create_secret(db), cookie_secure=secure_cookies)
    console.print(f"review app on http://{host}:{port}/ (database {db}); add accounts with `callqa users add`")
    review_app.serve(options, host=host, port=port)


grades_app = typer.Typer(help="Human grades made in other tools.")
app.add_typer(grades_app, name="grades")


@grades_app.command("import")
def grades_import(
    file: Annotated[Path, typer.Argument(help="CSV: call_id or file, reviewer, criterion, result [, score, graded_at, comment]")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
) -> None:
    """Import human grades; each bad line is reported with its line number and the good ones kept.
    Importing the same file again adds nothing twice. Exit code 1 when a line was bad."""
    from pipeline.calibration.grades_import import GradesFileError, import_grades
    from pipeline.calibration.render import print_import
    from pipeline.store.store import Store

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    try:
        with Store(db) as store:
            result = import_grades(store.calibration, file)
    except GradesFileError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    print_import(result, console)
    if result.bad:
        raise typer.Exit(1)


calibrate_app = typer.Typer(
    help="How far the auto-scorer agrees with human grades, and which criteria may grade alone.",
    invoke_without_command=True,
)
app.add_typer(calibrate_app, name="calibrate")
SinceOption = Annotated[
    Optional[datetime],
    typer.Option("--since", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="only grades submitted on or after DATE"),
]


@calibrate_app.callback()
def calibrate(
    ctx: typer.Context,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    rubric_version: Annotated[Optional[int], typer.Option(help="rubric version (default: the newest scored)")] = None,
    rubric_id: Annotated[Optional[str], typer.Option(help="rubric id (default: the one most calls are scored under)")] = None,
    since: SinceOption = None,
    min_kappa: Annotated[float, typer.Option(help="trusted when κ's lower 95 % bound reaches this")] = 0.6,
    min_calls: Annotated[int, typer.Option(help="fewer graded calls than this: not trusted")] = 50,
    min_failed: Annotated[int, typer.Option(help="fewer graded calls a human failed than this: not trusted")] = 10,
    target: Annotated[float, typer.Option(help="share of human-failed calls the queue should catch")] = 0.95,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples per interval")] = 1000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    write: Annotated[bool, typer.Option("--write/--no-write", help="store the trust decisions")] = True,
) -> None:
    """Per criterion: κ and AC1 with intervals against human grades and the human-vs-human ceiling;
    the overall score's bias, ICC and α; each reviewer's bias; what the queue catches. Marks the
    criteria whose κ is too low (or unknown) as not trusted for the rubric version."""
    if ctx.invoked_subcommand is not None:
        return
    import time

    from pipeline.calibration.render import print_report
    from pipeline.calibration.report import ReportOptions, TrustPolicy
    from pipeline.calibration.report import calibrate as run_calibration
    from pipeline.store.store import Store

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    started = time.perf_counter()
    options = ReportOptions(
        trust=TrustPolicy(min_kappa_low=min_kappa, min_calls=min_calls, min_failed=min_failed), n_resamples=resamples, seed=seed,
        target_catch=target,
    )  # fmt: skip
    with Store(db, read_only=not write) as store:
        report = run_calibration(store.calibration, rubric_id, rubric_version, since, options, write_trust=write)
    if report is None:
        console.print(f"[red]error:[/red] no calls scored under that rubric in {db}")
        raise typer.Exit(2)
    print_report(report, Console(width=max(Console().width, 160)))
    untrusted = ", ".join(report.untrusted) or "none"
    rubric, took = f"{report.rubric_id} v{report.rubric_version}", f"{time.perf_counter() - started:.2f} s"
    if report.trust_stored:
        console.print(f"trust decisions for {rubric} stored ({took}); not trusted: {untrusted}. `callqa rescore` applies them.")
    else:
        why = "--no-write" if not write else "no human grades yet"
        console.print(f"trust decisions for {rubric} not stored ({why}; {took}); they would not trust: {untrusted}")


@calibrate_app.command("tune")
def calibrate_tune(
    out: Annotated[Path, typer.Option("--out", help="the new rubric file (version + 1) to write")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    rubric_version: Annotated[Optional[int], typer.Option(help="rubric version to tune (default: newest)")] = None,
    rubric_id: Annotated[Optional[str], typer.Option(help="rubric id (default: the one most calls use)")] = None,
    since: SinceOption = None,
    target: Annotated[float, typer.Option(help="share of human-failed calls the queue must catch")] = 0.95,
    force: Annotated[bool, typer.Option("--force", help="overwrite --out if it exists")] = False,
    config: ConfigOption = None,
) -> None:
    """Sweep each phrase criterion's min_similarity for κ and set the pass mark that lets the queue
    catch the target share of human-failed calls with the fewest reviews; write a new rubric version."""
    from pipeline.calibration.render import print_tuning
    from pipeline.calibration.tuning import margins_from_transcripts, tune
    from pipeline.rubric import RubricError, load_rubric, parse_rubric
    from pipeline.store.store import Store

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    if out.exists() and not force:
        console.print(f"[red]error:[/red] {out} exists; a tuned rubric is a new file (or pass --force)")
        raise typer.Exit(2)
    settings = load_settings(config)
    with Store(db, read_only=True) as store:
        picked = store.calibration.pick_rubric(rubric_id, rubric_version)
        source = store.calibration.rubric_source(*picked) if picked else None
        if source is None:
            console.print(f"[red]error:[/red] no stored rubric with scored calls matches in {db}")
            raise typer.Exit(2)
        if source["source_path"] and out.resolve() == Path(source["source_path"]).resolve():
            console.print(f"[red]error:[/red] {out} is the rubric being tuned; write the new version to a new file")
            raise typer.Exit(2)
        if store.calibration.rubric_source(picked[0], picked[1] + 1) is not None:
            console.print(f"[red]error:[/red] {picked[0]} v{picked[1] + 1} already exists in {db}; tune from it instead")
            raise typer.Exit(2)
        try:
            rubric = parse_rubric(source["source_text"], source["source_path"] or "<stored>", settings.rubric_variables)
        except RubricError:
            rubric = None  # not a rubric the scorer can run (e.g. synthetic): tune the pass mark only
        margins_for = margins_from_transcripts(store, rubric, settings) if rubric is not None else None
        result = tune(store.calibration, margins_for, picked[0], picked[1], since, target)
    out.write_text(result.rubric_text)
    try:
        load_rubric(out, settings.rubric_variables)
    except RubricError as exc:
        console.print(f"[red]error:[/red] the tuned rubric does not validate: {exc}")
        raise typer.Exit(1) from exc
    print_tuning(result, Console(width=max(Console().width, 140)))
    console.print(
        f"wrote {out}: {result.rubric_id} v{result.to_version}. Apply it with `callqa rescore --rubric {out} --db {db}`"
    )


report_app = typer.Typer(help="Production reports and agent scorecards.")
app.add_typer(report_app, name="report")


def _report_range(reports, date_from: datetime | None, date_to: datetime | None):
    """Whole days: the given ones, else the first and last call day stored."""
    first, last = reports.call_date_range() if date_from is None or date_to is None else (None, None)
    start = date_from.date() if date_from else first
    end = date_to.date() if date_to else last
    if start is None or end is None:
        console.print("[red]error:[/red] no calls stored: nothing to report")
        raise typer.Exit(2)
    if end < start:
        console.print(f"[red]error:[/red] --to {end} is before --from {start}")
        raise typer.Exit(2)
    return start, end


def _user_scope(reports, username: str | None):
    """The team scope of a review-app user (``--as-user``), as SQL on ``calls c``."""
    if username is None:
        return "TRUE", []
    scope = reports.user_scope(username)
    if scope is None:
        console.print(f"[red]error:[/red] no active user {username!r}")
        raise typer.Exit(2)
    return scope


AsUserOption = Annotated[Optional[str], typer.Option("--as-user", help="apply this review-app user's team scope")]


@report_app.command("production")
def report_production(
    by: Annotated[str, typer.Option("--by", help="day or week (weeks start on Monday)")] = "day",
    group: Annotated[str, typer.Option("--group", help="team, agent, queue or reason (call reason)")] = "team",
    date_from: Annotated[Optional[datetime], typer.Option("--from", formats=["%Y-%m-%d"], help="first day (default: first call)")] = None,
    date_to: Annotated[Optional[datetime], typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included (default: last call)")] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    out: Annotated[Optional[Path], typer.Option("--out", help="write .csv, .parquet or .html (self-contained, with charts)")] = None,
    as_user: AsUserOption = None,
    limit: Annotated[int, typer.Option(help="rows to print (every row goes to --out)")] = 200,
) -> None:
    """Calls, audio hours, handle and hold time, share queued, reviews done, mean scores and the
    unhappy-customer share per day or week and per team, agent, queue or call reason."""
    from pipeline.store.reports_sql import GROUPS, PERIODS, PRODUCTION_COLUMNS

    if by not in PERIODS or group not in GROUPS:
        console.print(f"[red]error:[/red] --by is one of {', '.join(PERIODS)}; --group one of {', '.join(GROUPS)}")
        raise typer.Exit(2)
    suffix = out.suffix.lower().lstrip(".") if out else ""
    if out and suffix not in ("csv", "parquet", "html"):
        console.print(f"[red]error:[/red] {out}: --out must end in .csv, .parquet or .html")
        raise typer.Exit(2)
    with _open_store(db) as store:
        reports = store.reports
        start, end = _report_range(reports, date_from, date_to)
        scope, params = _user_scope(reports, as_user)
        rows = reports.production(by, group, start, end, scope, params)
        if suffix in ("csv", "parquet"):
            reports.export_production(rows, str(out), suffix)
    title = f"Production by {by} and {group}, {start} to {end}"
    if suffix == "html":
        from pipeline.reports import render_production_html

        subtitle = f"{sum(r['calls'] for r in rows)} calls in {db.name}" + (f", scope of {as_user}" if as_user else "")
        out.write_text(render_production_html(rows, title, subtitle, PRODUCTION_COLUMNS), encoding="utf-8")
    if out:
        console.print(f"wrote {len(rows)} rows to {out}")
        return
    from pipeline.reports import format_value, plain_table

    # plain aligned text: a rich Table takes longer to lay out than the query over a million calls
    print(title)
    print(plain_table(PRODUCTION_COLUMNS, [[format_value(row[c], c) for c in PRODUCTION_COLUMNS] for row in rows[:limit]],
                      left=("period", "group")))  # fmt: skip
    if len(rows) > limit:
        console.print(f"{len(rows) - limit} more rows not printed: --limit {len(rows)}, or --out FILE for all")


@report_app.command("agent")
def report_agent(
    agent: Annotated[str, typer.Argument(help="agent id (as in the call metadata)")],
    date_from: Annotated[Optional[datetime], typer.Option("--from", formats=["%Y-%m-%d"], help="first day (default: first call)")] = None,
    date_to: Annotated[Optional[datetime], typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included (default: last call)")] = None,
    as_of: Annotated[Optional[datetime], typer.Option("--as-of", formats=["%Y-%m-%d"], help="today, for coaching follow-ups")] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
    as_user: AsUserOption = None,
) -> None:
    """An agent's scorecard beside their team: calls, scores, handle time, talk ratio, hold, dead air,
    interruptions, unhappy customers, pass rate per criterion, the weekly trend and coaching progress."""
    from datetime import date as date_type

    from pipeline.reports import build_scorecard, format_value

    with _open_store(db) as store:
        reports = store.reports
        start, end = _report_range(reports, date_from, date_to)
        scope, params = _user_scope(reports, as_user)
        card = build_scorecard(reports, agent, start, end, as_of.date() if as_of else date_type.today(), scope, params)
    if card is None:
        console.print(f"[red]error:[/red] agent {agent!r} has no calls" + (f" in {as_user}'s teams" if as_user else ""))
        raise typer.Exit(2)
    out = Console(width=max(Console().width, 140))
    out.rule(f"agent {agent} · team {card['team_name'] or '–'} · {start} to {end}")
    table = Table(title="Figures")
    for column in ("figure", agent, "team", f"team median ({card['agents_in_team']} agents)"):
        table.add_column(column, justify="right")
    rows = [("Calls handled", "calls"), ("Reviewed calls", "reviewed"), ("Dead air total (s)", "dead_air_total_s"),
            ("Hold total (s)", "hold_sum_s")] + [(m.label + (f" ({m.unit})" if m.unit else ""), m.id) for m in card["metrics"].values()]  # fmt: skip
    for label, key in rows:
        column = "unhappy_share" if key == "unhappy" else key
        table.add_row(label, *(format_value(card[side][key], column) for side in ("agent", "team", "team_median")))
    out.print(table)
    criteria = Table(title="Pass rate per criterion (N/A left out)")
    for column in ("criterion", agent, "calls", "team", "team calls"):
        criteria.add_column(column, justify="right")
    for c in card["criteria"]:
        criteria.add_row(c["criterion_id"], format_value(c["agent_rate"], "rate_share"), str(c["agent_applied"]),
                         format_value(c["team_rate"], "rate_share"), str(c["team_applied"]))  # fmt: skip
    out.print(criteria)
    weeks = Table(title="Weekly trend (agent / team median of agents)")
    for column in ("week", "calls", "auto score", "handle time (s)", "hold (s)", "interruptions", "unhappy"):
        weeks.add_column(column, justify="right")
    def pair(week: dict, key: str, column: str = "") -> str:
        return f"{format_value(week[key], column)} / {format_value(week['team_' + key], column)}"

    for w in card["weeks"]:
        weeks.add_row(str(w["week"]), str(w["calls"]), pair(w, "auto_score"), pair(w, "handle_time_s"),
                      pair(w, "hold_total_s"), pair(w, "agent_interruptions"), pair(w, "unhappy", "unhappy_share"))  # fmt: skip
    out.print(weeks)
    for session in card["coaching"]:
        state = f"closed ({session['outcome']})" if session["closed_at"] else ("due" if session["due"] else "open")
        out.print(
            f"[bold]coaching[/bold] {session['held_on']} by {session['coach']}: {session['commitment']} "
            f"(follow-up {session['follow_up_on']}, {state})"
        )
        for p in session["progress"]:
            out.print(
                f"  {p['label']}: {format_value(p['before'])} ({p['calls_before']} calls) -> "
                f"{format_value(p['after'])} ({p['calls_after']} calls): {p['moved']}"
            )


if __name__ == "__main__":
    app()
