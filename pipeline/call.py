"""One recording, start to finish: decode -> speech -> who spoke when -> words -> redaction ->
roles -> judgement -> redacted audio. The result is one frozen ``CallResult`` (or a ``CallFailure``
saying why not) that the store writes, and that pickles as it is to another process or machine.
"""

from __future__ import annotations

import hashlib
import queue
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.audio import AudioError, SpooledAudio, decode_to_spool
from pipeline.categories import load_categories
from pipeline.config import Settings
from pipeline.diarize.embedded import EmbeddedDiarizer, EmbeddedOptions
from pipeline.diarize.roles import apply_roles, assign_roles
from pipeline.diarize.stereo import ChannelMapDiarizer, UnassignedMonoDiarizer
from pipeline.judge import Judgement, judge_call
from pipeline.memory import MemoryPlan
from pipeline.models import ModelError, Models, limit_heap_arenas
from pipeline.redact import PaymentWindow, Redaction, redact
from pipeline.redacted_audio import RedactedAudio, redacted_target, write_redacted_audio
from pipeline.rubric import Rubric, load_rubric
from pipeline.signals import SignalStage
from pipeline.transcribe import attach_words, custom_vocabulary, transcribe_regions, with_speakers
from pipeline.types import AudioSource, Segment, Turn, Word
from pipeline.vad import detect_speech, settle_speech

# Below this the file holds digital silence or dither, not a conversation.
SILENT_PEAK_DBFS = -60.0


def call_id_for(sha256: str) -> str:
    """A call is named by its content: the first 16 hex digits of the recording's sha256."""
    return sha256[:16]


def call_id_for_unreadable(path: Path) -> str:
    return "path-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:11]


@dataclass(frozen=True)
class CallResult:
    """Everything stored for one processed call."""

    call_id: str
    source_path: str
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    asr_model: str
    diarizer: str
    num_speakers: int
    diarization_confidence: float | None
    role_confidence: float | None
    turns: tuple[Turn, ...]
    words: tuple[Word, ...]
    redactions: tuple[Redaction, ...]
    judgement: Judgement
    payment_windows: tuple[PaymentWindow, ...] = ()  # times of each payment exchange, never a value
    redacted_audio: RedactedAudio | None = None
    processing_s: float = 0.0
    stage_s: Mapping[str, float] = field(default_factory=dict)  # wall time per stage, for logs and benchmarks

    status = "done"
    error = None


@dataclass(frozen=True)
class CallFailure:
    """A recording that could not be processed, and why (the file and the reason)."""

    call_id: str
    source_path: str
    sha256: str | None
    error: str

    status = "failed"


@dataclass(frozen=True)
class Speakers:
    """Turns and words with their final speakers, and how sure the split and the roles are."""

    turns: list[Turn]
    words: list[Word]
    diarization_confidence: float | None
    role_confidence: float | None


class CallProcessor:
    """Configured once per process (models loaded once), then called on each recording."""

    def __init__(
        self,
        settings: Settings,
        models: Models | None = None,
        redacted_audio_dir: Path | None = None,
        untrusted: frozenset[str] = frozenset(),
        memory_plan: MemoryPlan | None = None,
    ):
        # before any model or thread allocates: the C heap then stays near one batch's worth
        limit_heap_arenas()
        self.settings = settings
        # when given, a call this worker cannot hold within its memory budget is refused with the reason
        self.memory_plan = memory_plan
        self.models = models or Models(settings.models_dir, settings.asr, settings.diarization)
        self.redacted_audio_dir = redacted_audio_dir
        # criteria calibration does not trust for this rubric version: they never auto-fail a call
        self.untrusted = untrusted
        # read once, up front: a broken rubric stops the run before any call is touched
        self.rubric: Rubric = load_rubric(settings.rubric, settings.rubric_variables)
        # the company's words (the rubric's variables, asr.vocabulary) that Whisper should expect
        self.vocabulary = custom_vocabulary(settings.asr, self.rubric.variables)
        self.categories = load_categories(settings.categories)  # likewise the call reasons
        self.signal_stage = SignalStage(self.models.sentiment(), settings.customer, self.categories)
        # spaCy now, before the lanes' threads: it is imported without torch (``script.load_nlp``)
        self.models.nlp()
        self.stereo_diarizer = ChannelMapDiarizer(settings.channel_map)
        self._mono_diarizer = None
        self.warnings: list[str] = []
        # Threads calling this processor take turns in each lane, so one call's decoding and
        # another's scoring overlap the model's work on others (``batch``). The ASR lane has a seat
        # per batch the model decodes at once, each with its own batched pipeline; every other
        # model is used by one thread at a time.
        self.lanes = Lanes({"before_asr": 1, "asr": settings.asr.resolved_parallel_batches(), "after_asr": 1})

    def __call__(self, path: Path, sha256: str) -> CallResult:
        settings, clock = self.settings, StageClock()
        # decoded once, block by block, to a spool on disk; each stage reads what it needs from it
        with decode_to_spool(path, settings.max_duration_s, sha256, settings.audio) as audio:
            clock.lap("decode")  # decoding takes no lane: it is the call's own work, not queueing
            with self.lanes.enter("before_asr", clock):
                call = conversation_channels(audio)
                if self.memory_plan:
                    self.memory_plan.check_call(str(path), audio.duration_s, call.channels)
                clock.lap("decode")
                activity = detect_speech(
                    call, call.sample_rate, settings.vad, settings.bleed, self._vad_model(), call.source_sample_rate
                )
                clock.lap("vad")
            with self.lanes.enter("asr", clock) as seat:
                # The ASR hears the speech and the candidates Silero was unsure of; its words settle them.
                heard = transcribe_regions(
                    self.models.whisper_pipelines()[seat], call, call.sample_rate, activity.speech, settings.asr,
                    activity.candidates, hotwords=self.vocabulary,
                )  # fmt: skip
                clock.lap("transcribe")
            with self.lanes.enter("after_asr", clock):
                regions, words = settle_speech(activity, heard, settings.vad, settings.bleed)
                require_speech(audio, regions, settings.min_speech_s)
                diarizer = self.stereo_diarizer if call.channels == 2 else self.mono_diarizer
                diarization = diarizer(call, regions)
                turns = list(diarization.turns)
                words = with_speakers(words, turns)
                clock.lap("diarize")
                # Redact before anything is stored or built from the text: nothing unredacted leaves here.
                redacted = redact(words, settings.redaction)
                words, redactions = redacted.words, redacted.redactions
                clock.lap("redact")
                speakers = assign_speakers(diarizer, attach_words(turns, words), words, diarization.confidence)
            clock.lap("roles")
            call_id = call_id_for(sha256)
            judgement = judge_call(
                call_id, speakers.turns, speakers.words, audio.duration_s, self.rubric, self.models.nlp(),
                diarization_confidence=speakers.diarization_confidence, role_confidence=speakers.role_confidence,
                feature_options=settings.features, queue_policy=settings.queue, untrusted=self.untrusted,
                signal_stage=self.signal_stage,
            )  # fmt: skip
            clock.lap("features_scoring")
            redacted_audio = self._redacted_audio(audio, call_id, redactions, redacted.payment_windows)
            clock.lap("redacted_audio")
        return CallResult(
            call_id=call_id,
            source_path=str(path),
            sha256=sha256,
            duration_s=round(audio.duration_s, 3),
            sample_rate=audio.source_sample_rate,
            channels=audio.channels,
            asr_model=settings.asr.model,
            diarizer=diarizer.name,
            num_speakers=len({turn.speaker for turn in speakers.turns}),
            diarization_confidence=speakers.diarization_confidence,
            role_confidence=speakers.role_confidence,
            turns=tuple(speakers.turns),
            words=tuple(speakers.words),
            redactions=tuple(redactions),
            payment_windows=tuple(redacted.payment_windows),
            judgement=judgement,
            redacted_audio=redacted_audio,
            processing_s=round(clock.busy_s, 3),
            stage_s=dict(clock.laps),
        )

    @property
    def mono_diarizer(self):
        """Built on first use, once: the configured backend, or the embedded one when it is missing."""
        if self._mono_diarizer is None:
            options = self.settings.diarization
            if options.mono_backend == "pyannote":
                try:
                    self._mono_diarizer = self.models.pyannote()
                except ModelError as exc:
                    self.warnings.append(f"{exc} -- using the embedded diarizer instead")
            if options.mono_backend == "none":
                self._mono_diarizer = UnassignedMonoDiarizer()
            if self._mono_diarizer is None:
                embedded_options = EmbeddedOptions(
                    num_speakers=options.num_speakers,
                    min_speakers=options.min_speakers,
                    max_speakers=options.max_speakers,
                )
                self._mono_diarizer = EmbeddedDiarizer(self.models.speaker_encoder(), embedded_options)
        return self._mono_diarizer

    def _vad_model(self):
        return self.models.silero_vad() if self.settings.vad.method == "silero" else None

    def _redacted_audio(
        self, audio: AudioSource, call_id: str, redactions: list[Redaction], windows: list[PaymentWindow]
    ) -> RedactedAudio | None:
        options = self.settings.redacted_audio
        target = redacted_target(audio, call_id, options, self.redacted_audio_dir)
        if target is None:
            return None
        spans = [Segment(r.start_s, r.end_s) for r in redactions]
        if options.silence_payment_windows:
            # fail closed: the ASR may have missed digits said in the exchange, the audio keeps them
            spans += [Segment(w.start_s, w.end_s) for w in windows]
        return write_redacted_audio(audio, spans, self.settings.redaction.margin_s, options, target)


def conversation_channels(audio: SpooledAudio) -> SpooledAudio:
    """The channels that carry the conversation: both sides of a dual-channel call, or one.

    Refuses a silent file; a stereo file carrying the same signal twice (a mono call saved as
    stereo) is one channel, since no channel map applies to it.
    """
    if audio.peak_dbfs < SILENT_PEAK_DBFS:
        raise AudioError(audio.path, f"all silent: peak level {audio.peak_dbfs:.0f} dBFS, no speech to analyse")
    return audio.select((0,)) if audio.dual_mono else audio


def require_speech(audio: AudioSource, regions: list[list[Segment]], min_speech_s: float) -> None:
    speech_s = sum(region.duration_s for channel in regions for region in channel)
    if speech_s < min_speech_s:
        raise AudioError(
            audio.path, f"no speech detected ({speech_s:.1f} s of speech-like sound in {audio.duration_s:.1f} s)"
        )


def assign_speakers(
    diarizer, turns: list[Turn], words: list[Word], diarization_confidence: float | None
) -> Speakers:
    """Final speakers: the channel map's roles on dual-channel calls; on mono calls the diarized
    labels become agent/customer from what each says (``diarize.roles``), or stay unknown."""
    if isinstance(diarizer, ChannelMapDiarizer):
        return Speakers(turns, words, diarization_confidence, 1.0)  # the channel map says who is who
    if isinstance(diarizer, UnassignedMonoDiarizer):
        # nobody knows who the agent is: the score needs a human
        return Speakers(turns, words, None, 0.0 if turns else None)
    assignment = assign_roles(turns)
    turns, words = apply_roles(turns, words, assignment.roles)
    return Speakers(turns, words, diarization_confidence, assignment.confidence)


class StageClock:
    """Wall time per stage of one call, for logs and benchmarks; ``waiting`` is time spent
    queued for a lane another call held."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._started = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = self.laps.get(stage, 0.0) + now - self._last
        self._last = now

    @property
    def total_s(self) -> float:
        return time.perf_counter() - self._started

    @property
    def busy_s(self) -> float:
        """Time the call's own work took, queueing left out."""
        return sum(seconds for stage, seconds in self.laps.items() if stage != "waiting")


class Lanes:
    """Seats per part of a call. A thread takes a seat in each lane in turn (waiting while all are
    taken); while it holds one, other threads work in the other lanes or seats, so N threads keep
    up to N calls moving through the parts."""

    def __init__(self, seats: dict[str, int]):
        self._free: dict[str, queue.SimpleQueue[int]] = {}
        for name, count in seats.items():
            self._free[name] = queue.SimpleQueue()
            for seat in range(count):
                self._free[name].put(seat)

    @contextmanager
    def enter(self, name: str, clock: StageClock) -> Iterator[int]:
        """Hold a seat of lane ``name`` (its number) while the block runs."""
        seat = self._free[name].get()
        try:
            clock.lap("waiting")
            yield seat
        finally:
            self._free[name].put(seat)


def process_safely(processor: CallProcessor, path: Path, sha256: str) -> CallResult | CallFailure:
    """Run one call; any problem with this call becomes a ``CallFailure``, never an exception."""
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
    return CallFailure(call_id_for(sha256), str(path), sha256, error)
