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
    console.print(
        f"[bold]summary[/bold]: {summary.done} done, {summary.failed} failed, {summary.skipped} skipped; "
        f"{summary.audio_s / 60:.1f} min of audio in {summary.wall_s:.1f} s (real-time factor {summary.real_time_factor:.3f}); "
        f"database {db}"
    )
    if summary.failed:
        raise typer.Exit(1)


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
