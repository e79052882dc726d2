"""The nightly run: discover files, skip calls already stored, process on N workers, one writer."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.audio import (
    AudioError,
    blank_spans,
    discover,
    file_sha256,
    is_dual_mono,
    load_audio,
    peak_dbfs,
    write_audio,
)
from pipeline.config import Settings
from pipeline.diarize.embedded import EmbeddedDiarizer, EmbeddedOptions
from pipeline.diarize.roles import apply_roles, assign_roles
from pipeline.diarize.stereo import ChannelMapDiarizer, UnassignedMonoDiarizer
from pipeline.features import extract_features
from pipeline.metadata import FileNamePattern
from pipeline.models import ModelError, Models
from pipeline.queue import CallConfidence, review_decision
from pipeline.rubric import load_rubric
from pipeline.scoring import score_call
from pipeline.redact import audio_spans, redact_words
from pipeline.store.calibration_sql import untrusted_criteria
from pipeline.store.store import CallRecord, Store
from pipeline.transcribe import (
    attach_words,
    custom_vocabulary,
    speaker_by_overlap,
    transcribe_regions,
)
from pipeline.types import Turn, Word
from pipeline.vad import detect_speech, settle_speech

# Below this the file holds digital silence or dither, not a conversation.
SILENT_PEAK_DBFS = -60.0


def call_id_for(sha256: str) -> str:
    return sha256[:16]


def call_id_for_unreadable(path: Path) -> str:
    return "path-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:11]


class CallProcessor:
    """Configured once per process (models loaded once), then called on each recording."""

    def __init__(self, settings: Settings, models: Models | None = None, redacted_audio_dir: Path | None = None):
        self.settings = settings
        self.redacted_audio_dir = redacted_audio_dir
        self.models = models or Models(settings)
        # the rubric is read once, up front: a broken rubric stops the run before any call is touched
        self.rubric = load_rubric(settings.rubric, settings.rubric_variables)
        self.vocabulary = custom_vocabulary(settings.asr, self.rubric.variables)
        self.stereo_diarizer = ChannelMapDiarizer(settings.channel_map)
        self._mono_diarizer = None
        self.warnings: list[str] = []
        # criteria calibration does not trust for this rubric version (set by run_batch)
        self.untrusted: frozenset[str] = frozenset()

    @property
    def mono_diarizer(self):
        """Built on first use, once: the configured backend, or the embedded one when it is missing."""
        if self._mono_diarizer is None:
            options = self.settings.diarization
            if options.mono_backend == "pyannote":
                try:
                    from pipeline.diarize.pyannote_backend import load_pyannote_diarizer

                    self._mono_diarizer = load_pyannote_diarizer(
                        options.pyannote_model,
                        self.settings.models_dir,
                        num_speakers=options.num_speakers,
                        min_speakers=options.min_speakers,
                        max_speakers=options.max_speakers,
                        device=self.settings.asr.device,
                    )
                except ModelError as exc:
                    self.warnings.append(f"{exc} -- using the embedded diarizer instead")
            if options.mono_backend == "none":
                self._mono_diarizer = UnassignedMonoDiarizer()
            if self._mono_diarizer is None:
                embedded_options = EmbeddedOptions(
                    num_speakers=options.num_speakers, min_speakers=options.min_speakers, max_speakers=options.max_speakers
                )
                self._mono_diarizer = EmbeddedDiarizer(self.models.speaker_encoder(), embedded_options)
        return self._mono_diarizer

    def _write_redacted_audio(self, path: Path, audio, record: CallRecord) -> None:
        options = self.settings.redacted_audio
        spans = audio_spans(record.redactions, self.settings.redaction.margin_s, audio.duration_s)
        blanked = blank_spans(audio.samples, audio.sample_rate, spans, options.mode)
        if options.replace_original:
            target = path.with_suffix(".flac")
        else:
            target = self.redacted_audio_dir / f"{record.call_id}.flac"
        write_audio(target, blanked, audio.sample_rate)
        if options.replace_original and target != path:
            path.unlink()
        record.redacted_audio_path = str(target)
        record.redacted_sha256 = file_sha256(target)

    def score(self, record: CallRecord, turns: list[Turn], words: list[Word], duration_s: float) -> None:
        """Features, the rubric score and the queue decision for one call (pure stages)."""
        record.features, record.events = extract_features(turns, words, duration_s, self.settings.features)
        record.score = score_call(
            record.features, record.events, turns, words, self.rubric, self.models.nlp(), self.untrusted
        )
        probabilities = [word.probability for word in words]
        confidence = CallConfidence(
            mean_word_probability=sum(probabilities) / len(probabilities) if probabilities else None,
            diarization_confidence=record.diarization_confidence,
            role_confidence=record.role_confidence,
        )
        record.queue = review_decision(record.call_id, record.score, confidence, self.rubric.pass_mark, self.settings.queue)

    def __call__(self, path: Path, sha256: str) -> CallRecord:
        started = time.perf_counter()
        settings = self.settings
        clock = _StageClock()
        audio = load_audio(path, settings.max_duration_s, sha256=sha256)
        clock.lap("decode")
        record = CallRecord(
            call_id=call_id_for(sha256),
            source_path=str(path),
            status="done",
            sha256=sha256,
            duration_s=round(audio.duration_s, 3),
            sample_rate=audio.source_sample_rate,
            channels=audio.channels,
            asr_model=settings.asr.model,
        )
        peak = peak_dbfs(audio.samples)
        if peak < SILENT_PEAK_DBFS:
            raise AudioError(path, f"all silent: peak level {peak:.0f} dBFS, no speech to analyse")
        samples = audio.samples
        if is_dual_mono(samples):
            # The same signal on both channels: a mono call saved as stereo, no channel map applies.
            samples = samples[:1]
        activity = detect_speech(
            samples, audio.sample_rate, settings.vad, settings.bleed, settings.vad.method,
            vad=self.models.vad() if settings.vad.method == "silero" else None,
            source_sample_rate=audio.source_sample_rate,
        )  # fmt: skip
        clock.lap("vad")
        # The ASR hears the speech and the candidates Silero was unsure of; its words settle them.
        heard = transcribe_regions(
            self.models.whisper(), samples, audio.sample_rate, activity.speech, settings.asr,
            activity.candidates, hotwords=self.vocabulary,
        )  # fmt: skip
        regions, placed = settle_speech(activity, heard, settings.vad)
        clock.lap("transcribe")
        speech_s = sum(region.duration_s for channel in regions for region in channel)
        if speech_s < settings.min_speech_s:
            raise AudioError(path, f"no speech detected ({speech_s:.1f} s of speech-like sound in {audio.duration_s:.1f} s)")
        dual_channel = samples.shape[0] == 2
        diarizer = self.stereo_diarizer if dual_channel else self.mono_diarizer
        diarization = diarizer(replace(audio, samples=samples), regions)
        turns = list(diarization.turns)
        clock.lap("diarize")
        words: list[Word] = []
        for channel, word in placed:
            if dual_channel:
                speaker = settings.channel_map.get(channel, "unknown")
            else:
                speaker = speaker_by_overlap(turns, word.start_s, word.end_s)
            words.append(Word(word.start_s, word.end_s, word.word, word.probability, speaker))
        # Redact before anything is stored or built from the text: nothing unredacted leaves this function.
        words, record.redactions = redact_words(words, settings.redaction)
        clock.lap("redact")
        turns = attach_words(turns, words)
        record.diarization_confidence = diarization.confidence
        if dual_channel:
            record.role_confidence = 1.0  # the channel map says who is who
        elif not isinstance(diarizer, UnassignedMonoDiarizer):
            assignment = assign_roles(turns)
            turns, words = apply_roles(turns, words, assignment.roles)
            record.role_confidence = assignment.confidence
        elif turns:
            record.role_confidence = 0.0  # nobody knows who the agent is: the score needs a human
        record.num_speakers = len({turn.speaker for turn in turns})
        record.turns = turns
        record.words = words
        record.diarizer = diarizer.name
        clock.lap("roles")
        self.score(record, turns, words, audio.duration_s)
        clock.lap("features_scoring")
        if settings.redacted_audio.enabled and (self.redacted_audio_dir or settings.redacted_audio.replace_original):
            self._write_redacted_audio(path, audio, record)
            clock.lap("redacted_audio")
        record.stage_s = clock.laps
        record.processing_s = round(time.perf_counter() - started, 3)
        return record


def redacted_audio_dir_for(db_path: str | Path, settings: Settings) -> Path:
    directory = settings.redacted_audio.directory
    return Path(directory) if directory else Path(db_path).with_name(Path(db_path).name + ".redacted")


class _StageClock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = self.laps.get(stage, 0.0) + now - self._last
        self._last = now


def process_safely(processor: CallProcessor, path: Path, sha256: str) -> CallRecord:
    """Run one call; any problem with this call becomes a failed record, never an exception."""
    try:
        return processor(path, sha256)
    except AudioError as exc:
        error = str(exc)
    except ModelError:
        raise  # affects every call: stop the batch with the model's message
    except MemoryError:
        error = f"{path}: out of memory while processing (file too large for this machine?)"
    except Exception as exc:  # one bad call must never stop the batch
        error = f"{path}: internal error while processing: {type(exc).__name__}: {exc}"
    return CallRecord(call_id=call_id_for(sha256), source_path=str(path), status="failed", sha256=sha256, error=error)


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


def _init_worker(settings: Settings, redacted_dir: Path, untrusted: frozenset[str] = frozenset()) -> None:
    global _worker_processor  # one processor (and one set of loaded models) per worker process
    _worker_processor = CallProcessor(settings, redacted_audio_dir=redacted_dir)
    _worker_processor.untrusted = untrusted


def _work(path: Path, sha256: str) -> CallRecord:
    assert _worker_processor is not None
    return process_safely(_worker_processor, path, sha256)


def run_batch(
    paths: Iterable[str],
    db_path: str | Path,
    settings: Settings,
    on_progress: Callable[[CallRecord, BatchSummary], None] | None = None,
    on_plan: Callable[[list[PlannedCall], int], None] | None = None,
    processor: CallProcessor | None = None,
) -> BatchSummary:
    """Process every new recording under ``paths`` into ``db_path``; the main process is the only writer."""
    started = time.perf_counter()
    summary = BatchSummary()
    # The database is opened only to plan and to write each finished call, so the review app can
    # read and save grades in between (DuckDB allows one writing process at a time).
    local = processor or (CallProcessor(settings) if settings.workers <= 1 else None)
    rubric = local.rubric if local else load_rubric(settings.rubric, settings.rubric_variables)
    with Store(db_path) as store:
        store.register_rubric(rubric.id, rubric.version, rubric.pass_mark, str(settings.rubric), Path(settings.rubric).read_text())
        untrusted = untrusted_criteria(store.con, rubric.id, rubric.version)
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

    def record_result(record: CallRecord) -> None:
        with Store(db_path) as store:
            store.write_call(record)
        if record.status == "done":
            summary.done += 1
            summary.audio_s += record.duration_s or 0.0
        else:
            summary.failed += 1
            summary.failures.append((record.source_path, record.error or ""))
        summary.wall_s = time.perf_counter() - started
        if on_progress:
            on_progress(record, summary)

    unreadable = [call for call in planned if call.error]
    for call in unreadable:
        record_result(CallRecord(call_id=call.call_id, source_path=str(call.path), status="failed", error=call.error))
    todo = [call for call in planned if not call.error]
    if local is not None or len(todo) <= 1:
        local = local or CallProcessor(settings)
        local.untrusted = untrusted
        if local.redacted_audio_dir is None:
            local.redacted_audio_dir = redacted_audio_dir_for(db_path, settings)
        for call in todo:
            record_result(process_safely(local, call.path, call.sha256))
    else:
        _run_pool(todo, settings, redacted_audio_dir_for(db_path, settings), record_result, untrusted)
    summary.wall_s = time.perf_counter() - started
    return summary


def _run_pool(
    todo: list[PlannedCall], settings: Settings, redacted_dir: Path, record_result: Callable[[CallRecord], None],
    untrusted: frozenset[str] = frozenset(),
) -> None:
    worker_settings = settings.model_copy(deep=True)
    if worker_settings.asr.cpu_threads == 0:
        # Share the cores instead of every worker's CTranslate2 grabbing all of them.
        worker_settings.asr.cpu_threads = max(1, (os.cpu_count() or 1) // settings.workers)
    context = multiprocessing.get_context("spawn")  # fork after OpenMP/ONNX threads start can deadlock
    with ProcessPoolExecutor(settings.workers, mp_context=context, initializer=_init_worker, initargs=(worker_settings, redacted_dir, untrusted)) as pool:
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
                    record = future.result()
                except ModelError:
                    raise
                except Exception as exc:  # a worker that died (e.g. killed for memory)
                    record = CallRecord(
                        call_id=call.call_id, source_path=str(call.path), status="failed", sha256=call.sha256,
                        error=f"{call.path}: worker process failed: {type(exc).__name__}: {exc}",
                    )  # fmt: skip
                record_result(record)


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
    models = Models(settings)
    nlp = models.nlp()
    summary = RescoreSummary(rubric.id, rubric.version)
    with Store(db_path) as store:
        store.register_rubric(rubric.id, rubric.version, rubric.pass_mark, str(settings.rubric), Path(settings.rubric).read_text())
        untrusted = untrusted_criteria(store.con, rubric.id, rubric.version)
        for call_id, duration_s, (probability, diarization, role), turns, words in list(store.calls_for_rescoring(call_ids)):
            features, events = extract_features(turns, words, duration_s, settings.features)
            score = score_call(features, events, turns, words, rubric, nlp, untrusted)
            decision = review_decision(
                call_id, score, CallConfidence(probability, diarization, role), rubric.pass_mark, settings.queue
            )
            store.write_score(call_id, score, decision, features, events)
            summary.calls += 1
            summary.passed += int(score.passed)
            summary.queued += int(decision is not None)
    return summary
