"""The nightly run: discover files, skip calls already stored, hand the rest to an engine (threads
of this process, worker processes, or a Ray cluster), store every finished call through the run's
one writer, stop taking calls in time for a deadline, and log what happened."""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.audio import discover, file_sha256
from pipeline.call import (
    CallFailure,
    CallProcessor,
    call_id_for,
    call_id_for_unreadable,
)
from pipeline.categories import load_categories
from pipeline.config import Settings
from pipeline.engines import Engine, FinishedCall, Outcome, PlannedCall
from pipeline.judge import judge_call
from pipeline.memory import MemoryPlan, plan_memory
from pipeline.metadata import FileNamePattern
from pipeline.models import Models, resolve_whisper
from pipeline.operations import (
    EXIT_CALLS_FAILED,
    EXIT_OK,
    EXIT_STOPPED,
    CallTimeEstimator,
    RunLog,
    may_start,
)
from pipeline.rubric import load_rubric
from pipeline.signals import SignalStage
from pipeline.store.shards import finished_shards, remove_shards, save_shard
from pipeline.store.store import Store
from pipeline.transcribe import AsrOptions

__all__ = ["BatchSummary", "PlannedCall", "plan", "rescore_calls", "run_batch"]

# A call whose worker died this many times is failed, not retried again: it is most likely what
# kills the workers (too long for the memory, a decoder crash).
MAX_ATTEMPTS = 3


def redacted_audio_dir_for(db_path: str | Path, settings: Settings) -> Path:
    directory = settings.redacted_audio.directory
    return Path(directory) if directory else Path(db_path).with_name(Path(db_path).name + ".redacted")


def shard_dir_for(db_path: str | Path) -> Path:
    """Where a cluster run keeps finished calls' Parquet shards until the writer has stored them."""
    return Path(db_path).with_name(Path(db_path).name + ".shards")


@dataclass
class BatchSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    planned: int = 0
    not_started: int = 0  # left for the next run by the deadline
    retried: int = 0  # calls handed to another worker after theirs died
    in_flight: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    engine: str = "local"
    workers: int = 1
    deadline: datetime | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    stage_s: Counter = field(default_factory=Counter)  # summed over the run's calls

    @property
    def real_time_factor(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0

    @property
    def exit_code(self) -> int:
        if self.not_started:
            return EXIT_STOPPED
        return EXIT_CALLS_FAILED if self.failed else EXIT_OK

    def as_json(self) -> dict:
        """The run summary a cron job reads (``callqa run --summary``)."""
        status = "stopped at deadline" if self.not_started else "complete with failures" if self.failed else "complete"
        return {
            "status": status,
            "exit_code": self.exit_code,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "not_started": self.not_started,
            "retried": self.retried,
            "audio_hours": round(self.audio_s / 3600, 4),
            "wall_s": round(self.wall_s, 1),
            "real_time_factor": round(self.real_time_factor, 4),
            "engine": self.engine,
            "workers": self.workers,
            "deadline": self.deadline.isoformat(timespec="minutes") if self.deadline else None,
            "stage_s": {stage: round(seconds, 1) for stage, seconds in self.stage_s.most_common()},
            "failures": [{"file": path, "error": error} for path, error in self.failures],
        }


def plan(
    paths: Iterable[str], stored: dict[str, str], redacted: set[str] = frozenset(), deleted: set[str] = frozenset()
) -> tuple[list[PlannedCall], int]:
    """Files to process (hash read once here), and how many were skipped as already done (or deleted on purpose)."""
    planned: list[PlannedCall] = []
    seen: set[str] = set()
    skipped = 0
    for path in discover(list(paths)):
        try:
            if not path.exists():
                raise OSError("file not found")
            sha256 = file_sha256(path)
            size_bytes = path.stat().st_size
        except OSError as exc:
            reason = exc.strerror or str(exc)
            planned.append(PlannedCall(path, None, call_id_for_unreadable(path), f"{path}: cannot read file: {reason}"))
            continue
        call_id = call_id_for(sha256)
        # a redacted copy (beside the originals, or replacing one) is output, not a new call
        if stored.get(call_id) == "done" or call_id in seen or sha256 in redacted or sha256 in deleted:
            skipped += 1
            continue
        seen.add(call_id)
        planned.append(PlannedCall(path, sha256, call_id, size_bytes=size_bytes))
    return planned, skipped


def run_batch(
    paths: Iterable[str],
    db_path: str | Path,
    settings: Settings,
    on_progress: Callable[[FinishedCall, BatchSummary], None] | None = None,
    on_plan: Callable[[list[PlannedCall], int], None] | None = None,
    processor: CallProcessor | None = None,
    deadline: datetime | None = None,
    log: RunLog | None = None,
    reprocess_deleted: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Process every new recording under ``paths`` into ``db_path``; the main process is the only writer.

    With a ``deadline`` no call is started that is not expected to be stored by then; the calls
    left are counted in ``not_started`` and the next run takes them. Without a ``processor``, a
    local run plans ASR batches and workers within ``settings.max_memory_gb`` per worker first
    (``on_note`` hears what the plan changed; ValueError when a worker cannot fit at all).
    """
    started = time.perf_counter()
    log = log or RunLog(None)
    summary = BatchSummary(engine=settings.engine.kind, deadline=deadline)
    memory = None
    if processor is None and settings.engine.kind != "ray":
        memory = memory_plan_for(settings)
        settings = settings_within(memory, settings)
        for note in memory.notes:
            log.event("memory_plan", note=note)
            if on_note:
                on_note(note)
    # The database is opened only to plan and to write finished calls, so the review app can
    # read and save grades in between (DuckDB allows one writing process at a time).
    rubric = processor.rubric if processor else load_rubric(settings.rubric, settings.rubric_variables)
    categories = load_categories(settings.categories)
    with Store(db_path) as store:  # the run's one open that brings the schema up to date
        store.register_rubric(rubric, str(settings.rubric), Path(settings.rubric).read_text())
        store.register_categories(categories, settings.categories)
        untrusted = store.untrusted_criteria(rubric.id, rubric.version)
        leftover = finished_shards(shard_dir_for(db_path))
        if leftover:  # calls a killed run finished but never stored
            store.load_shards(leftover)
            remove_shards(leftover)
            log.event("shards_recovered", calls=[shard.name for shard in leftover])
        stored, redacted = store.call_statuses(), store.redacted_hashes()
        deleted = set() if reprocess_deleted else store.deleted_hashes()
    # hashing every file takes a while: do it with the database closed, so the review app can use it
    planned, summary.skipped = plan(paths, stored, redacted, deleted)
    summary.planned = len(planned)
    if settings.metadata.name_pattern:
        # who the call belongs to, from its file name, where no sidecar said so
        pattern = FileNamePattern(settings.metadata.name_pattern)
        named = [found for found in (pattern.match(call.path.name) for call in planned) if found]
        with Store(db_path, apply_schema=False) as store:
            store.import_metadata(named, source=f"file-name pattern {pattern.text}", fill_only=True)
    if on_plan:
        on_plan(planned, summary.skipped)
    log.event("run_start", planned=len(planned), skipped=summary.skipped, engine=settings.engine.kind,
              deadline=deadline.isoformat() if deadline else None)  # fmt: skip

    writer = Writer(db_path, summary, started, on_progress, log)
    for call in planned:
        if call.error:
            writer.add(Outcome(call, "planner", result=CallFailure(call.call_id, str(call.path), None, call.error)))
    writer.flush()
    todo = [call for call in planned if not call.error]
    if len(todo) == 1:
        settings = alone_in_the_model(settings)
    if todo and may_start(deadline, datetime.now(), None):
        engine = make_engine(settings, processor, redacted_audio_dir_for(db_path, settings), untrusted, memory)
        summary.engine, summary.workers = engine.name, engine.workers
        try:
            schedule(engine, todo, writer, summary, deadline, log)
        finally:
            engine.close()
    else:
        summary.not_started = len(todo)
    try:
        shard_dir_for(db_path).rmdir()  # only when empty: every shard was stored
    except OSError:
        pass
    if summary.not_started:
        log.event("deadline", not_started=summary.not_started)
    summary.wall_s = time.perf_counter() - started
    log.event("run_end", **summary.as_json())
    return summary


def local_workers(settings: Settings) -> int:
    """The worker processes of a local run: as set, or as many as the CPUs allow."""
    return settings.workers or max(1, int((os.cpu_count() or 1) // settings.engine.cpus_per_worker))


def worker_asr(settings: Settings) -> AsrOptions:
    """The ASR options one worker runs with: several local worker processes share the cores
    instead of every worker's CTranslate2 taking all of them; a Ray actor takes the CPUs it reserves."""
    asr = settings.asr
    if asr.cpu_threads:
        return asr
    if settings.engine.kind == "ray":
        return asr.model_copy(update={"cpu_threads": max(1, int(settings.engine.cpus_per_worker))})
    workers = local_workers(settings)
    if workers > 1:
        return asr.model_copy(update={"cpu_threads": max(1, (os.cpu_count() or 1) // workers)})
    return asr


def alone_in_the_model(settings: Settings) -> Settings:
    """Settings for a run of one call: nothing would share the model with it, so unless the
    user set ``asr.parallel_batches`` it is decoded one batch at a time on all the worker's threads
    (a second parallel batch would leave them idle)."""
    if settings.asr.parallel_batches:
        return settings
    return settings.model_copy(update={"asr": settings.asr.model_copy(update={"parallel_batches": 1})})


def make_engine(
    settings: Settings,
    processor: CallProcessor | None,
    redacted_dir: Path,
    untrusted: frozenset[str],
    memory: MemoryPlan | None = None,
) -> Engine:
    """Threads of this process for one worker, worker processes for several, or a Ray cluster."""
    options = settings.engine
    if options.kind == "ray":
        from pipeline.engines.ray_cluster import RayEngine

        return RayEngine(settings, redacted_dir, untrusted, settings.workers)
    from pipeline.engines.local import ProcessEngine, ThreadEngine

    workers = local_workers(settings)
    if processor is not None or workers <= 1:
        processor = processor or CallProcessor(settings, memory_plan=memory)
        processor.untrusted = untrusted
        if processor.redacted_audio_dir is None:
            processor.redacted_audio_dir = redacted_dir
        return ThreadEngine(processor, options.calls_per_worker)
    worker_settings = settings.model_copy(update={"asr": worker_asr(settings)}, deep=True)
    return ProcessEngine(worker_settings, redacted_dir, untrusted, workers, memory)


def schedule(
    engine: Engine,
    todo: list[PlannedCall],
    writer: Writer,
    summary: BatchSummary,
    deadline: datetime | None,
    log: RunLog,
) -> None:
    """Keep every worker's lanes full, in file order, until the calls run out or the deadline
    says the next one would not be stored in time; calls lost with a dead worker go to another."""
    waiting = deque(todo)
    attempts: Counter = Counter()
    lost_on: dict[str, str] = {}
    submitted_at: dict[str, float] = {}
    estimate = CallTimeEstimator()
    stopped = False
    while waiting or engine.in_flight():
        while waiting and not stopped and engine.has_room():
            # the first call in order a worker can take (a lost call waits for another worker)
            call = next((c for c in waiting if engine.has_room(avoid=lost_on.get(c.call_id))), None)
            if call is None:
                break
            if not may_start(deadline, datetime.now(), estimate.expected_s(call.size_bytes)):
                stopped = True
                log.event("deadline_stop", next_call=str(call.path), in_flight=engine.in_flight())
                break
            waiting.remove(call)
            submitted_at[call.call_id] = time.monotonic()
            engine.submit(call, avoid=lost_on.get(call.call_id))
        if stopped and waiting:
            summary.not_started += len(waiting)
            waiting.clear()
        summary.in_flight = engine.in_flight()
        for outcome in engine.finished(timeout_s=0.5):
            call = outcome.call
            if outcome.lost:
                attempts[call.call_id] += 1
                if attempts[call.call_id] < MAX_ATTEMPTS and not stopped:
                    summary.retried += 1
                    lost_on[call.call_id] = outcome.worker
                    waiting.appendleft(call)
                    log.event("retry", call_id=call.call_id, file=str(call.path), reason=outcome.lost)
                elif stopped:
                    summary.not_started += 1
                else:
                    error = f"{call.path}: {outcome.lost} while processing it, {MAX_ATTEMPTS} times (too large for a worker's memory?)"
                    writer.add(Outcome(call, outcome.worker, result=CallFailure(call.call_id, str(call.path), call.sha256, error)))
                continue
            estimate.add(call.size_bytes, time.monotonic() - submitted_at[call.call_id])
            writer.add(outcome)
        summary.in_flight = engine.in_flight()
        writer.flush()


class Writer:
    """The run's one writer: stores the calls finished since the last flush in one transaction
    (a local run's results as they are, a cluster's Parquet shards once saved), then reports them."""

    def __init__(self, db_path: str | Path, summary: BatchSummary, started: float, on_progress, log: RunLog):
        self.db_path = db_path
        self.shard_dir = shard_dir_for(db_path)
        self.summary = summary
        self.started = started
        self.on_progress = on_progress
        self.log = log
        self._outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)

    def flush(self) -> None:
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        results = [outcome.result for outcome in outcomes if outcome.result is not None]
        # A shard is on disk before the database hears of it: a driver killed in between leaves
        # the shard for the next run to store.
        shards = [save_shard(self.shard_dir, o.call.call_id, o.shard) for o in outcomes if o.shard is not None]
        with Store(self.db_path, apply_schema=False) as store:
            if results:
                store.write_calls(results)
            if shards:
                store.load_shards(shards)
        remove_shards(shards)
        for outcome in outcomes:
            self._report(outcome.finished or FinishedCall.of(outcome.result), outcome.worker)

    def _report(self, finished: FinishedCall, worker: str) -> None:
        summary = self.summary
        if finished.status == "done":
            summary.done += 1
            summary.audio_s += finished.duration_s
            summary.stage_s.update(finished.stage_s)
        else:
            summary.failed += 1
            summary.failures.append((finished.source_path, finished.error))
        summary.wall_s = time.perf_counter() - self.started
        self.log.event(
            "call", call_id=finished.call_id, file=finished.source_path, status=finished.status,
            error=finished.error, duration_s=finished.duration_s, processing_s=finished.processing_s,
            stage_s=dict(finished.stage_s), worker=worker,
        )  # fmt: skip
        if self.on_progress:
            self.on_progress(finished, summary)


def memory_plan_for(settings: Settings) -> MemoryPlan:
    """The run's memory plan from its settings: budget, model, ASR batch and beam, workers.

    On CUDA the Whisper weights and the batches in flight live in GPU memory, not the worker's."""
    model_file = None
    if settings.asr.device != "cuda":
        model_file = Path(resolve_whisper(settings.asr.model, settings.models_dir)) / "model.bin"
    return plan_memory(
        settings.max_memory_gb,
        model_file,
        settings.asr.batch_size,
        settings.asr.beam_size,
        local_workers(settings),
        settings.diarization.mono_backend,
        settings.memory,
        encoder_batch=settings.asr.resolved_encoder_batch_size(),
        parallel_batches=worker_asr(settings).resolved_parallel_batches(),
    )


def settings_within(memory: MemoryPlan, settings: Settings) -> Settings:
    """``settings`` with the batch size and the number of workers the memory plan allows."""
    if memory.batch_size == settings.asr.batch_size and memory.workers == local_workers(settings):
        return settings
    asr = settings.asr.model_copy(update={"batch_size": memory.batch_size})
    return settings.model_copy(update={"asr": asr, "workers": memory.workers})


@dataclass
class RescoreSummary:
    rubric_id: str
    rubric_version: int
    calls: int = 0
    passed: int = 0
    queued: int = 0


def rescore_calls(db_path: str | Path, settings: Settings, call_ids: list[str] | None = None) -> RescoreSummary:
    """Score stored calls under ``settings.rubric`` from their stored turns and words (no audio, no ASR).

    Scores under other rubric versions stay; the pending queue entry follows the new version.
    Criteria calibration does not trust for this version (``criterion_trust``) cannot auto-fail
    a call, and send it to a human where they decide its pass/fail.
    """
    rubric = load_rubric(settings.rubric, settings.rubric_variables)
    categories = load_categories(settings.categories)
    models = Models(settings.models_dir, settings.asr)
    nlp = models.nlp()
    signal_stage = SignalStage(models.sentiment(), settings.customer, categories)
    summary = RescoreSummary(rubric.id, rubric.version)
    with Store(db_path) as store:
        store.register_rubric(rubric, str(settings.rubric), Path(settings.rubric).read_text())
        store.register_categories(categories, settings.categories)
        untrusted = store.untrusted_criteria(rubric.id, rubric.version)
        for call in list(store.calls_for_rescoring(call_ids)):
            judgement = judge_call(
                call.call_id, call.turns, call.words, call.duration_s, rubric, nlp,
                diarization_confidence=call.diarization_confidence, role_confidence=call.role_confidence,
                feature_options=settings.features, queue_policy=settings.queue, untrusted=untrusted,
                signal_stage=signal_stage,
            )  # fmt: skip
            store.write_judgement(call.call_id, judgement)
            summary.calls += 1
            summary.passed += int(judgement.score.passed)
            summary.queued += int(judgement.queue is not None)
    return summary
