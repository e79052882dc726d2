"""The ``callqa`` command: thin wrappers that call the stages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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
    workers: Annotated[Optional[int], typer.Option(help="worker processes on this machine")] = None,
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
) -> None:
    """Process every new call under PATHS into the database; calls already stored are skipped."""
    from pipeline.batch import run_batch

    asr = {k: v for k, v in dict(model=model, device=device, compute_type=compute_type, batch_size=batch_size).items() if v is not None}
    try:
        settings = load_settings(
            config, workers=workers, max_memory_gb=max_memory_gb, asr=asr or None,
            metadata={"name_pattern": name_pattern} if name_pattern else None,
        )  # fmt: skip
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

    from pipeline.metadata import sidecars_in

    sidecars = [metadata] if metadata else sidecars_in(paths)
    bad_metadata_lines = sum(_import_metadata(sidecar, db) for sidecar in sidecars)
    try:
        with progress:
            summary = run_batch(
                paths, db, settings, on_progress=on_progress, on_plan=on_plan,
                on_note=lambda note: console.print(f"[yellow]memory:[/yellow] {note}"),
            )  # fmt: skip
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
    if summary.failed or bad_metadata_lines:
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
    role: Annotated[str, typer.Option("--role", help="supervisor, qa_lead or admin")],
    team: Annotated[Optional[list[str]], typer.Option("--team", help="a team this supervisor reviews (repeat for more)")] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file")] = Path("calls.duckdb"),
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
            review_db.add_user(name, hash_password(password), role, teams, by=f"cli:{_os_user()}")
    except ReviewConflict as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
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


if __name__ == "__main__":
    app()
