"""The nightly run: discover files, skip calls already stored, process on N workers, one writer."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.audio import discover, file_sha256
from pipeline.call import (
    CallFailure,
    CallProcessor,
    CallResult,
    call_id_for,
    call_id_for_unreadable,
    process_safely,
)
from pipeline.config import Settings
from pipeline.judge import judge_call
from pipeline.memory import MemoryPlan, plan_memory
from pipeline.metadata import FileNamePattern
from pipeline.models import ModelError, Models, resolve_whisper
from pipeline.rubric import load_rubric
from pipeline.store.store import Store


def redacted_audio_dir_for(db_path: str | Path, settings: Settings) -> Path:
    directory = settings.redacted_audio.directory
    return Path(directory) if directory else Path(db_path).with_name(Path(db_path).name + ".redacted")


@dataclass
class BatchSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0


@dataclass
class PlannedCall:
    path: Path
    sha256: str | None
    call_id: str
    error: str | None = None


def plan(paths: Iterable[str], stored: dict[str, str], redacted: set[str] = frozenset()) -> tuple[list[PlannedCall], int]:
    """Files to process (hash read once here), and how many were skipped as already done."""
    planned: list[PlannedCall] = []
    seen: set[str] = set()
    skipped = 0
    for path in discover(list(paths)):
        try:
            if not path.exists():
                raise OSError("file not found")
            sha256 = file_sha256(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            planned.append(PlannedCall(path, None, call_id_for_unreadable(path), f"{path}: cannot read file: {reason}"))
            continue
        call_id = call_id_for(sha256)
        # a redacted copy (beside the originals, or replacing one) is output, not a new call
        if stored.get(call_id) == "done" or call_id in seen or sha256 in redacted:
            skipped += 1
            continue
        seen.add(call_id)
        planned.append(PlannedCall(path, sha256, call_id))
    return planned, skipped


_worker_processor: CallProcessor | None = None


def _init_worker(
    settings: Settings, redacted_dir: Path, untrusted: frozenset[str] = frozenset(), memory: MemoryPlan | None = None
) -> None:
    global _worker_processor  # one processor (and one set of loaded models) per worker process
    _worker_processor = CallProcessor(settings, redacted_audio_dir=redacted_dir, untrusted=untrusted, memory_plan=memory)


def _work(path: Path, sha256: str) -> CallResult | CallFailure:
    assert _worker_processor is not None
    return process_safely(_worker_processor, path, sha256)


def run_batch(
    paths: Iterable[str],
    db_path: str | Path,
    settings: Settings,
    on_progress: Callable[[CallResult | CallFailure, BatchSummary], None] | None = None,
    on_plan: Callable[[list[PlannedCall], int], None] | None = None,
    processor: CallProcessor | None = None,
    on_note: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Process every new recording under ``paths`` into ``db_path``; the main process is the only writer.

    Without a ``processor``, ASR batches and workers are planned within ``settings.max_memory_gb``
    per worker first (``on_note`` hears what the plan changed); ValueError when a worker cannot fit
    at all. A given ``processor`` brings its own settings and memory plan.
    """
    started = time.perf_counter()
    summary = BatchSummary()
    memory = None
    if processor is None:
        memory = memory_plan_for(settings)
        settings = settings_within(memory, settings)
        for note in memory.notes:
            if on_note:
                on_note(note)
    # The database is opened only to plan and to write each finished call, so the review app can
    # read and save grades in between (DuckDB allows one writing process at a time).
    local = processor or (CallProcessor(settings, memory_plan=memory) if settings.workers <= 1 else None)
    rubric = local.rubric if local else load_rubric(settings.rubric, settings.rubric_variables)
    with Store(db_path) as store:
        store.register_rubric(rubric, str(settings.rubric), Path(settings.rubric).read_text())
        untrusted = store.untrusted_criteria(rubric.id, rubric.version)
        stored, redacted = store.call_statuses(), store.redacted_hashes()
    # hashing every file takes a while: do it with the database closed, so the review app can use it
    planned, summary.skipped = plan(paths, stored, redacted)
    if settings.metadata.name_pattern:
        # who the call belongs to, from its file name, where no sidecar said so
        pattern = FileNamePattern(settings.metadata.name_pattern)
        named = [found for found in (pattern.match(call.path.name) for call in planned) if found]
        with Store(db_path) as store:
            store.import_metadata(named, source=f"file-name pattern {pattern.text}", fill_only=True)
    if on_plan:
        on_plan(planned, summary.skipped)

    def record_result(result: CallResult | CallFailure) -> None:
        with Store(db_path) as store:
            store.write_call(result)
        if isinstance(result, CallResult):
            summary.done += 1
            summary.audio_s += result.duration_s
        else:
            summary.failed += 1
            summary.failures.append((result.source_path, result.error))
        summary.wall_s = time.perf_counter() - started
        if on_progress:
            on_progress(result, summary)

    for call in planned:
        if call.error:
            record_result(CallFailure(call.call_id, str(call.path), None, call.error))
    todo = [call for call in planned if not call.error]
    if local is not None or len(todo) <= 1:
        local = local or CallProcessor(settings, memory_plan=memory)
        local.untrusted = untrusted
        if local.redacted_audio_dir is None:
            local.redacted_audio_dir = redacted_audio_dir_for(db_path, settings)
        for call in todo:
            record_result(process_safely(local, call.path, call.sha256))
    else:
        _run_pool(todo, settings, redacted_audio_dir_for(db_path, settings), record_result, untrusted, memory)
    summary.wall_s = time.perf_counter() - started
    return summary


def _run_pool(
    todo: list[PlannedCall],
    settings: Settings,
    redacted_dir: Path,
    record_result: Callable[[CallResult | CallFailure], None],
    untrusted: frozenset[str] = frozenset(),
    memory: MemoryPlan | None = None,
) -> None:
    worker_settings = settings.model_copy(deep=True)
    if worker_settings.asr.cpu_threads == 0:
        # Share the cores instead of every worker's CTranslate2 grabbing all of them.
        worker_settings.asr.cpu_threads = max(1, (os.cpu_count() or 1) // settings.workers)
    context = multiprocessing.get_context("spawn")  # fork after OpenMP/ONNX threads start can deadlock
    initargs = (worker_settings, redacted_dir, untrusted, memory)
    with ProcessPoolExecutor(settings.workers, mp_context=context, initializer=_init_worker, initargs=initargs) as pool:
        pending: dict[Future, PlannedCall] = {}
        queue = list(reversed(todo))
        while queue or pending:
            while queue and len(pending) < settings.workers * 2:
                call = queue.pop()
                pending[pool.submit(_work, call.path, call.sha256)] = call
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                call = pending.pop(future)
                try:
                    result = future.result()
                except ModelError:
                    raise
                except Exception as exc:  # a worker that died (e.g. killed for memory)
                    error = f"{call.path}: worker process failed: {type(exc).__name__}: {exc}"
                    result = CallFailure(call.call_id, str(call.path), call.sha256, error)
                record_result(result)


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
        settings.workers,
        settings.diarization.mono_backend,
        settings.memory,
    )


def settings_within(memory: MemoryPlan, settings: Settings) -> Settings:
    """``settings`` with the batch size and the number of workers the memory plan allows."""
    if memory.batch_size == settings.asr.batch_size and memory.workers == settings.workers:
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
    nlp = Models(settings.models_dir, settings.asr).nlp()
    summary = RescoreSummary(rubric.id, rubric.version)
    with Store(db_path) as store:
        store.register_rubric(rubric, str(settings.rubric), Path(settings.rubric).read_text())
        untrusted = store.untrusted_criteria(rubric.id, rubric.version)
        for call in list(store.calls_for_rescoring(call_ids)):
            judgement = judge_call(
                call.call_id, call.turns, call.words, call.duration_s, rubric, nlp,
                diarization_confidence=call.diarization_confidence, role_confidence=call.role_confidence,
                feature_options=settings.features, queue_policy=settings.queue, untrusted=untrusted,
            )  # fmt: skip
            store.write_judgement(call.call_id, judgement)
            summary.calls += 1
            summary.passed += int(judgement.score.passed)
            summary.queued += int(judgement.queue is not None)
    return summary
