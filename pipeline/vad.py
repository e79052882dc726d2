"""Speech regions per channel, with crosstalk (channel bleed) removed on dual-channel calls.

Speech is found the way a listener finds it, whatever the line does to the level:

- Silero VAD runs at the recording's own rate (8 kHz telephony stays 8 kHz; the silero-vad
  package's model runs at 8 and 16 kHz) and carries its state through the whole channel;
- a channel whose speech level is outside the ordinary range is brought into it first (a very
  quiet line is raised, a loud, clipped one lowered), since Silero's verdict moves with level;
- a run of speech starts at ``threshold`` and goes on while the probability stays above
  ``neg_threshold`` (noise pulls the probability of real speech down, never that of silence up);
- a frame is speech of a channel only when it is that channel's own voice (not far below the
  other channel, and above its noise floor where the other side is talking): the other side's
  voice leaking in never becomes a turn.

What Silero only half hears (a probability over ``candidate_threshold``), or what is loud on its
own channel while Silero hears nothing, becomes a *candidate*: the ASR transcribes it with the
speech, and it counts as speech only where confident words are heard (``confirm_candidates``).
Line noise gives no words, so it stays out; speech Silero missed comes back.

The frame grid is 32 ms (512 samples at 16 kHz, 256 at 8 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from pipeline import timeline
from pipeline.types import Audio, AudioSource, Segment, Word

FRAME_S = 0.032
FRAME_SAMPLES = 512  # at 16 kHz, the rate audio is decoded to
SILENT_DB = -120.0


class VadOptions(BaseModel):
    """Speech detection per channel (Silero VAD from the silero-vad package; see pipeline/vad.py)."""

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Silero probability that starts speech")
    neg_threshold: float = Field(
        0.15, ge=0.0, le=1.0, description="speech goes on while the probability stays above this"
    )
    candidate_threshold: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="a stretch Silero gives this much is handed to the ASR; kept where words are heard",
    )
    candidate_loud_db: float = Field(
        20.0, ge=0.0, description="own-voice sound this far over the noise floor is a candidate too"
    )
    candidate_min_above_floor_db: float = Field(
        6.0, ge=0.0, description="on a noisy line, sound this far over the floor is already a candidate"
    )
    confirm_min_word_probability: float = Field(
        0.5, ge=0.0, le=1.0, description="mean ASR word probability that confirms a candidate as speech"
    )
    confirm_min_words: int = Field(
        3, ge=1, description="this many words confirm a candidate at a lower median probability..."
    )
    confirm_many_word_probability: float = Field(
        0.25, ge=0.0, le=1.0, description="...of at least this (speech under heavy noise)"
    )
    speech_level_range_dbfs: tuple[float, float] = Field(
        (-35.0, -15.0), description="a channel whose speech level is outside this is brought into it before Silero"
    )
    speech_level_percentile: float = Field(
        95.0, gt=0.0, le=100.0, description="the frame-level percentile taken as a channel's speech level"
    )
    max_gain_db: float = Field(30.0, ge=0.0, description="most a channel's level is raised or lowered")
    method: Literal["silero", "energy"] = "silero"
    min_speech_s: float = Field(0.12, ge=0.0, description="shorter speech blips are dropped")
    min_candidate_s: float = Field(0.2, ge=0.0, description="shorter candidates are not transcribed")
    other_side_margin_s: float = Field(
        0.3, ge=0.0, description="no candidate this close to the other channel's speech (its leak)"
    )
    candidate_context_s: float = Field(
        1.0,
        ge=0.0,
        description="a candidate reaches this far either side, into time where no one else may be speaking",
    )
    noisy_line_db: float = Field(
        15.0,
        ge=0.0,
        description="a line whose speech stands less than this over its noise floor is noisy: its words may widen Silero's regions",
    )
    min_silence_s: float = Field(0.35, ge=0.0, description="shorter pauses do not split a turn")
    pad_s: float = Field(0.05, ge=0.0, description="padding added around each speech region")


class BleedOptions(BaseModel):
    """Dual-channel crosstalk: one side's voice leaking quietly into the other channel."""

    # Leaks through a hybrid or headset sit 20-60 dB under the talker (measured on real 8 kHz
    # call-center stereo); two people talking at once are within a few dB of each other.
    margin_db: float = Field(
        15.0, ge=0.0, description="a frame this far below the other channel is bleed"
    )
    above_floor_db: float = Field(
        6.0, ge=0.0, description="own speech stands this far above the channel's noise floor"
    )
    min_own_share: float = Field(
        0.5, ge=0.0, le=1.0, description="a region with fewer own-voice frames than this is bleed"
    )


# How far inside a word its start or end must be in a speech region for the word to be said there.
EDGE_S = 0.02


@dataclass(frozen=True)
class SpeechActivity:
    """Per channel: the speech regions, the candidate regions only the ASR can settle, and for
    each 32 ms frame whether the channel carries its own voice there or the other side's leak."""

    speech: list[list[Segment]]
    candidates: list[list[Segment]]
    own_voice: np.ndarray  # (channels, frames) bool: some sign of the channel's own voice
    leak: np.ndarray  # (channels, frames) bool: audible, but far below the other channel
    # (channels, frames) bool, two channels only: the channel's own voice standing out of its noise
    audible_own: np.ndarray | None = None
    levels_db: np.ndarray | None = None  # (channels, frames): each frame's level, in dBFS

    def speech_over_floor_db(self, channel: int, percentile: float) -> float:
        """How far the channel's speech level (its ``percentile``) stands over its noise floor (10th percentile)."""
        if self.levels_db is None or not self.levels_db.shape[1]:
            return float("inf")
        high, low = np.percentile(self.levels_db[channel], [percentile, 10.0])
        return float(high - low)

    def level_db(self, channel: int, start_s: float, end_s: float) -> float:
        """The channel's mean power over [start_s, end_s], in dBFS (its loud frames weigh most)."""
        if self.levels_db is None:
            raise ValueError("this SpeechActivity carries no frame levels")
        first = int(start_s / FRAME_S)
        levels = self.levels_db[channel, first : max(first + 1, int(np.ceil(end_s / FRAME_S)))]
        if not levels.size:
            return SILENT_DB
        return float(10.0 * np.log10(max(float(np.mean(10.0 ** (levels / 10.0))), 1e-12)))

    def _sounding(self, channel: int) -> np.ndarray:
        """Own-voice frames that sound: on two channels, Silero's hint at the line's floor between
        the other side's words is that side's leak, not this side talking."""
        if self.audible_own is None:
            return self.own_voice[channel]
        return self.audible_own[channel]

    def is_own_voice(self, channel: int, start_s: float, end_s: float) -> bool:
        """Whether [start_s, end_s] holds this channel's own voice at least as much as a leak.

        Silent frames count for neither side, so a word whose timing runs into the silence
        before it is judged on the part where it sounds.
        """
        first = int(start_s / FRAME_S)
        last = max(first + 1, int(np.ceil(end_s / FRAME_S)))
        own = int(self._sounding(channel)[first:last].sum())
        return own > 0 and own >= int(self.leak[channel, first:last].sum())

    def voiced_span(self, channel: int, start_s: float, end_s: float) -> tuple[float, float]:
        """[start_s, end_s] narrowed to its first and last frames of own voice."""
        first = int(start_s / FRAME_S)
        frames = np.flatnonzero(self._sounding(channel)[first : max(first + 1, int(np.ceil(end_s / FRAME_S)))])
        if not frames.size:
            return start_s, end_s
        return max(start_s, (first + frames[0]) * FRAME_S), min(
            end_s, (first + frames[-1] + 1) * FRAME_S
        )


class SileroVad:
    """Silero VAD (the silero-vad package's ONNX model), run chunk by chunk with its state.

    Loaded once per process (``Models.silero_vad()``); channels are run side by side as one batch.
    """

    def __init__(self, path: str):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            path, providers=["CPUExecutionProvider"], sess_options=options
        )

    def probabilities(self, channels: np.ndarray, rate: int) -> np.ndarray:
        """Speech probability of each 32 ms frame of each channel: (channels, frames)."""
        stream = self.stream(channels.shape[0], rate)
        return np.concatenate([stream.push(channels), stream.finish()], axis=1)

    def stream(self, count: int, rate: int) -> SileroStream:
        """A run over ``count`` channels fed block by block, its state carried from one to the next."""
        return SileroStream(self.session, count, rate)


class SileroStream:
    """Silero over a channel that arrives in blocks: the model's state and context run on across
    them, so the probabilities equal those of the whole channel in one go."""

    CONTEXT: ClassVar[dict[int, int]] = {8000: 32, 16000: 64}  # samples of the chunk before it the model sees

    def __init__(self, session, count: int, rate: int):
        if rate not in self.CONTEXT:
            raise ValueError(f"Silero runs at 8 or 16 kHz, got {rate} Hz")
        self.session = session
        self.chunk = int(FRAME_S * rate)
        self.state = np.zeros((2, count, 128), dtype=np.float32)
        self.context = np.zeros((count, self.CONTEXT[rate]), dtype=np.float32)
        self.sample_rate = np.array(rate, dtype=np.int64)
        self.pending = np.zeros((count, 0), dtype=np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of the whole frames now available: (channels, frames)."""
        pending = np.concatenate([self.pending, samples.astype(np.float32, copy=False)], axis=1)
        whole = pending.shape[1] - pending.shape[1] % self.chunk
        self.pending = pending[:, whole:]
        return self._run(pending[:, :whole])

    def finish(self) -> np.ndarray:
        """The last, partial frame, zero-padded (nothing when the channel ended on a frame)."""
        if not self.pending.shape[1]:
            return np.zeros((self.pending.shape[0], 0), dtype=np.float32)
        padded = np.pad(self.pending, ((0, 0), (0, self.chunk - self.pending.shape[1])))
        self.pending = self.pending[:, :0]
        return self._run(padded)

    def _run(self, samples: np.ndarray) -> np.ndarray:
        count, context_size = samples.shape[0], self.context.shape[1]
        frames = samples.reshape(count, -1, self.chunk)
        out = np.zeros((count, frames.shape[1]), dtype=np.float32)
        for index in range(frames.shape[1]):
            window = np.concatenate([self.context, frames[:, index]], axis=1)
            probability, self.state = self.session.run(
                None, {"input": window, "state": self.state, "sr": self.sample_rate}
            )
            out[:, index] = probability[:, 0]
            self.context = window[:, -context_size:]
        return out


class HalfRate:
    """``scipy.signal.resample_poly(x, 1, 2)`` over a signal that arrives in blocks, equal to
    resampling it whole: each block borrows enough of its neighbours for the filter."""

    CONTEXT = 64  # input samples kept either side: more than the filter's half length (20), even

    def __init__(self):
        self.buffer: np.ndarray | None = None
        self.buffer_start = 0  # input index of buffer[:, 0], always even
        self.emitted = 0  # output samples given out so far

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        from scipy.signal import resample_poly

        buffer = block if self.buffer is None else np.concatenate([self.buffer, block], axis=1)
        end = self.buffer_start + buffer.shape[1]
        # outputs whose filter reaches past what has arrived wait for the next block
        stop = -(-end // 2) if last else max(self.emitted, (end - self.CONTEXT) // 2)
        first = self.emitted - self.buffer_start // 2
        out = resample_poly(buffer, 1, 2, axis=1)[:, first : first + stop - self.emitted]
        self.emitted = stop
        keep_from = max(self.buffer_start, 2 * stop - self.CONTEXT)
        self.buffer = buffer[:, keep_from - self.buffer_start :]
        self.buffer_start = keep_from
        return out


def frame_levels_db(channel: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> np.ndarray:
    """RMS level of each frame in dBFS (the last partial frame is zero-padded)."""
    frames = _frames(channel, frame_samples)
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-12)), SILENT_DB)


def energy_probabilities(
    levels_db: np.ndarray, snr_db: float = 15.0, min_level_db: float = -55.0
) -> np.ndarray:
    """A plain energy detector: 1.0 where a frame is ``snr_db`` above the channel's floor."""
    floor_db = float(np.percentile(levels_db, 10)) if levels_db.size else SILENT_DB
    threshold_db = max(floor_db + snr_db, min_level_db)
    return (levels_db >= threshold_db).astype(np.float32)


def level_gain_db(levels_db: np.ndarray, options: VadOptions) -> float:
    """Gain that brings the channel's speech level (a high percentile of its frame levels) into
    the ordinary range; a channel already inside it is left as it is."""
    if not levels_db.size:
        return 0.0
    speech_level_db = float(np.percentile(levels_db, options.speech_level_percentile))
    low_db, high_db = options.speech_level_range_dbfs
    wanted_db = min(max(speech_level_db, low_db), high_db)
    return float(np.clip(wanted_db - speech_level_db, -options.max_gain_db, options.max_gain_db))


def own_voice_mask(
    levels_db: np.ndarray, margin_db: float, above_floor_db: float = 6.0
) -> np.ndarray:
    """For a (channels, frames) array of levels, True where the frame can be the channel's own
    voice (is not the other side leaking in); whether it is speech at all the detector decides.

    Mono calls have no bleed: every frame counts. On two channels a frame more than
    ``margin_db`` below the other channel is that side's voice leaking in (through the hybrid,
    a headset or the room), not speech of this channel's party. Two people really talking at
    once are each loud on their own channel, so true overlap survives. Where the other side is
    loud enough for a leak ``margin_db`` down to reach this channel's noise floor, a frame must
    also stand ``above_floor_db`` over that floor: the talker's quiet sounds leak in and sum
    with the line noise into something only a speech detector would hear. Where nothing can
    leak (the other side silent, or quiet next to this line's noise), a noisy line's speech a
    few dB over its floor still counts.
    """
    mask = np.ones_like(levels_db, dtype=bool)
    if levels_db.shape[0] != 2:
        return mask
    floors_db = np.percentile(levels_db, 10, axis=1)
    for own, other in ((0, 1), (1, 0)):
        can_leak = (levels_db[other] >= floors_db[other] + above_floor_db) & (
            levels_db[other] - margin_db >= floors_db[own]
        )
        mask[own] = (levels_db[own] >= levels_db[other] - margin_db) & (
            (levels_db[own] >= floors_db[own] + above_floor_db) | ~can_leak
        )
    return mask


def hysteresis(
    probabilities: np.ndarray, threshold: float, neg_threshold: float | None = None
) -> np.ndarray:
    """Speech starts at ``threshold`` and ends below ``neg_threshold`` (default ``threshold - 0.15``, as Silero's own rule)."""
    off_threshold = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
    active = np.zeros(probabilities.shape, dtype=bool)
    speaking = False
    for index, probability in enumerate(probabilities):
        if speaking:
            speaking = probability >= off_threshold
        else:
            speaking = probability >= threshold
        active[index] = speaking
    return active


def mask_to_regions(
    mask: np.ndarray,
    frame_s: float,
    min_speech_s: float,
    min_silence_s: float,
    pad_s: float,
    duration_s: float,
) -> list[Segment]:
    """Runs of True frames -> regions: short pauses bridged, blips dropped, edges padded."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = timeline.merge(
        (Segment(start * frame_s, end * frame_s) for start, end in zip(edges[::2], edges[1::2])),
        bridge_s=min_silence_s,
    )
    return timeline.merge(
        Segment(round(max(0.0, run.start_s - pad_s), 3), round(min(duration_s, run.end_s + pad_s), 3))
        for run in runs
        if run.duration_s >= min_speech_s
    )


def detection_rate(source_sample_rate: int) -> int:
    """Silero's rate for a recording: 8 kHz for telephony (nothing above 4 kHz to hear), else 16 kHz."""
    return 8000 if source_sample_rate < 16_000 else 16_000


def detect_speech(
    samples: np.ndarray | AudioSource,
    sample_rate: int,
    options: VadOptions,
    bleed: BleedOptions,
    vad_model: SileroVad | None = None,
    source_sample_rate: int | None = None,
) -> SpeechActivity:
    """Speech and candidate regions for each channel of ``samples`` (channels, frames) at 16 kHz.

    ``samples`` is an array or a source read block by block (``audio.SpooledAudio``): the call is
    read twice, for the level of every frame and then for Silero, never held whole.

    ``vad_model`` is the loaded Silero model (``Models.silero_vad()``; the ``energy`` method needs
    none); ``source_sample_rate`` is the recording's own rate, which decides whether Silero
    listens at 8 or 16 kHz.
    """
    if sample_rate != 16_000:
        raise ValueError(f"speech detection runs at 16 kHz, got {sample_rate} Hz")
    source = as_source(samples, sample_rate)
    duration_s = source.frames / sample_rate
    levels = channel_levels_db(source)
    if options.method == "silero":
        if vad_model is None:
            raise ValueError("the silero speech detector needs its model: pass Models.silero_vad()")
        probabilities = _silero(source, levels, options, vad_model, source_sample_rate or sample_rate)
    else:
        probabilities = np.stack([energy_probabilities(level) for level in levels])
    own = own_voice_mask(levels, bleed.margin_db, bleed.above_floor_db)
    audible = np.stack([_audible(level, options) for level in levels])
    leak = audible & ~own if source.channels == 2 else np.zeros_like(own)
    evidence = np.zeros_like(own)
    speech, candidates = [], []
    for channel in range(source.channels):
        heard = hysteresis(probabilities[channel], options.threshold, options.neg_threshold)
        regions = mask_to_regions(
            heard & own[channel],
            FRAME_S,
            options.min_speech_s,
            options.min_silence_s,
            options.pad_s,
            duration_s,
        )
        # Own-voice frames strung together across a leak are still mostly the leak: not a turn.
        regions = [r for r in regions if _own_share(heard, own[channel], r) >= bleed.min_own_share]
        if source.channels == 2:
            # A region where no frame of this side's voice stands out of the line's noise is the
            # other side's leak (or the floor) that Silero half heard between that side's words.
            sounding = audible[channel] & own[channel]
            regions = [r for r in regions if _frames_in(sounding, r).any()]
            # ...and a region starts and ends where this side's voice sounds, not in a leak
            # Silero heard as the start of it.
            regions = [_narrowed(r, sounding, options.pad_s) for r in regions]
        speech.append(regions)
        # Any sign of this side's voice: Silero half hears it, or it is loud for this line.
        hinted = hysteresis(
            probabilities[channel], options.candidate_threshold, options.candidate_threshold / 2
        )
        loud = _audible(levels[channel], options, options.candidate_loud_db)
        evidence[channel] = (heard | hinted | loud) & own[channel]
    taken_by_channel = []
    for channel in range(source.channels):
        if options.method != "silero" or options.candidate_threshold >= options.threshold:
            candidates.append([])
            taken_by_channel.append([])
            continue
        # Only Silero's own verdict counts while the other side talks: under a noisy line the
        # other side's leak hides below the noise, where levels cannot tell it from this side's
        # voice, yet Silero half hears it and Whisper makes words of it.
        others = timeline.widen(
            [region for other, regions in enumerate(speech) if other != channel for region in regions],
            options.other_side_margin_s, 0.0, duration_s,
        )  # fmt: skip
        taken_by_channel.append([*speech[channel], *others])
        candidates.append(_candidates(evidence[channel], taken_by_channel[-1], options, duration_s))
    # Context reaches no nearer the other side's candidates than its speech: where that side may
    # be talking (Silero half heard it), this line carries its leak, and Whisper makes words of it.
    candidates = [
        _with_context(
            found,
            [*taken, *timeline.widen(
                [c for other, spans in enumerate(candidates) if other != channel for c in spans],
                options.other_side_margin_s, 0.0, duration_s,
            )],
            options.candidate_context_s,
            duration_s,
        )
        for channel, (found, taken) in enumerate(zip(candidates, taken_by_channel))
    ]  # fmt: skip
    audible_own = (audible & own) if source.channels == 2 else None
    return SpeechActivity(speech, candidates, evidence, leak, audible_own, levels)


def channel_levels_db(source: AudioSource) -> np.ndarray:
    """``frame_levels_db`` of every channel, read block by block: (channels, frames)."""
    blocks = [
        np.stack([frame_levels_db(channel) for channel in block])
        for block in source.blocks(multiple_of=FRAME_SAMPLES)
    ]
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((source.channels, 0))


def _silero(
    source: AudioSource, levels: np.ndarray, options: VadOptions, vad: SileroVad, source_rate: int
) -> np.ndarray:
    gains = np.array(
        [10 ** (level_gain_db(level, options) / 20) for level in levels], dtype=np.float32
    )
    rate = detection_rate(source_rate)
    # decoded at 16 kHz from an 8 kHz original: halving the rate loses nothing that was there
    half_rate = HalfRate() if rate != 16_000 else None
    stream = vad.stream(source.channels, rate)
    pieces = []
    blocks = source.blocks(multiple_of=FRAME_SAMPLES)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        levelled = block * gains[:, None]
        if half_rate is not None:
            levelled = half_rate.push(levelled, last=following is None)
        pieces.append(stream.push(levelled))
        block = following
    pieces.append(stream.finish())
    return np.concatenate(pieces, axis=1)[:, : levels.shape[1]]


def _candidates(
    evidence: np.ndarray, taken: list[Segment], options: VadOptions, duration_s: float
) -> list[Segment]:
    """Stretches outside ``taken`` with some sign of the channel's own voice: Silero half hears
    them, or they are loud for this line (half-way from its noise floor to its speech level,
    between ``candidate_min_above_floor_db`` and ``candidate_loud_db`` over the floor)."""
    in_speech = np.zeros(len(evidence), dtype=bool)
    for region in taken:
        in_speech[int(region.start_s / FRAME_S) : int(np.ceil(region.end_s / FRAME_S))] = True
    return mask_to_regions(
        evidence & ~in_speech,
        FRAME_S,
        options.min_candidate_s,
        options.min_silence_s,
        options.pad_s,
        duration_s,
    )


def _with_context(
    candidates: list[Segment], blocked: list[Segment], context_s: float, duration_s: float
) -> list[Segment]:
    """Each candidate with up to ``context_s`` of context either side, in time not ``blocked``
    (the candidate itself stays whole). Under heavy noise Silero half hears a word or two of an
    utterance: the ASR, hearing only those, hears nothing it believes; hearing the stretch around
    them, it hears the utterance."""
    if not context_s or not candidates:
        return candidates
    context = timeline.subtract(timeline.widen(candidates, context_s, 0.0, duration_s), blocked)
    spans = timeline.merge([*candidates, *context])
    in_spans = timeline.SpanIndex(spans)
    # only context joined to its candidate: what lies past a blocked stretch is no one's
    holding = {in_spans.first_containing((c.start_s + c.end_s) / 2) for c in candidates}
    return [span for index, span in enumerate(spans) if index in holding]


def settle_speech(
    activity: SpeechActivity, words: list[Word], options: VadOptions, bleed: BleedOptions = BleedOptions()
) -> tuple[list[list[Segment]], list[Word]]:
    """Speech regions and words once the ASR has been heard: its word timings are evidence.

    - words inside a speech region, or starting or ending in one, stay, their timing held to the
      region; on a noisy line (speech less than ``noisy_line_db`` over the floor) the region grows
      to the word instead: there Silero marks only part of an utterance;
    - a candidate is confirmed as speech (from its first word to its last, padded) when its
      words' mean probability reaches ``confirm_min_word_probability``, or when it holds at
      least ``confirm_min_words`` words of median probability ``confirm_many_word_probability``
      (speech under heavy noise comes out as several unsure words; what Whisper makes of noise
      alone is a stray word or two, or a string of words it barely believes but for one, which
      lifts their mean and not their median); otherwise its words go;
    - a word the ASR heard just outside every region (the ASR listens with a margin) extends the
      speech to cover it when it is confident and the channel's own voice there; a word in the
      other side's leak is dropped, so bleed never becomes a word or a turn;
    - a word the other channel heard too, at the same time, where this channel is
      ``bleed.margin_db`` quieter than the other, is that side's word leaking in
      (``leaked_echoes``): it goes, and so does a speech region whose every word is such an echo
      (Silero heard the leak, with this line's noise in the other side's pauses as its own voice).
    """
    min_word_probability, pad_s = options.confirm_min_word_probability, options.pad_s
    kept: list[Word] = []
    added: list[list[Segment]] = [[] for _ in activity.speech]
    by_candidate: dict[tuple[int, int], list[Word]] = {}
    in_speech = [timeline.SpanIndex(spans) for spans in activity.speech]
    in_candidate = [timeline.SpanIndex(spans) for spans in activity.candidates]
    echoes = leaked_echoes(words, activity, bleed.margin_db)
    noisy = [
        activity.speech_over_floor_db(c, options.speech_level_percentile) < options.noisy_line_db
        for c in range(len(activity.speech))
    ]
    echo_regions: set[tuple[int, int]] = set()  # regions with a word echoed from the other side
    own_regions: set[tuple[int, int]] = set()  # regions with a word of their own
    for word in words:
        channel = word.channel
        index = _region_of(word, in_speech[channel])
        if id(word) in echoes:
            if index is not None:
                echo_regions.add((channel, index))
            continue
        if index is not None:
            own_regions.add((channel, index))
            if noisy[channel]:
                # under heavy noise Silero marks part of an utterance: the word heard says more
                kept.append(word)
                added[channel].append(Segment(word.start_s, word.end_s))
                continue
            # said in a speech region: its timing is brought into the region
            region = activity.speech[channel][index]
            start_s, end_s = max(word.start_s, region.start_s), min(word.end_s, region.end_s)
            kept.append(replace(word, start_s=round(start_s, 3), end_s=round(max(start_s, end_s), 3)))
            continue
        index = in_candidate[channel].first_containing((word.start_s + word.end_s) / 2)
        if index is not None:
            by_candidate.setdefault((channel, index), []).append(word)
        elif word.probability >= min_word_probability and activity.is_own_voice(
            channel, word.start_s, word.end_s
        ):
            # Whisper's word timings run early into the silence before a word: speech starts
            # where the word sounds on its own channel.
            start_s, end_s = activity.voiced_span(channel, word.start_s, word.end_s)
            added[channel].append(
                Segment(round(max(0.0, start_s - pad_s), 3), round(end_s + pad_s, 3))
            )
            kept.append(word)
    for (channel, index), heard in by_candidate.items():
        mean_probability = float(np.mean([w.probability for w in heard]))
        confirmed = mean_probability >= min_word_probability or (
            len(heard) >= options.confirm_min_words
            and float(np.median([w.probability for w in heard])) >= options.confirm_many_word_probability
        )
        if not confirmed:
            continue
        candidate = activity.candidates[channel][index]
        start_s = max(candidate.start_s, min(w.start_s for w in heard) - pad_s)
        end_s = min(candidate.end_s, max(w.end_s for w in heard) + pad_s)
        added[channel].append(Segment(round(start_s, 3), round(end_s, 3)))
        kept.extend(heard)
    kept.sort(key=lambda word: (word.start_s, word.channel))
    leaked = echo_regions - own_regions
    regions = [
        [r for index, r in enumerate(spans) if (channel, index) not in leaked]
        + added[channel]
        for channel, spans in enumerate(activity.speech)
    ]
    return [timeline.merge(channel) for channel in regions], kept


def leaked_echoes(words: list[Word], activity: SpeechActivity, margin_db: float) -> set[int]:
    """``id()`` of each word that is the other channel's word leaking in: the other channel heard
    the same word over the same time, and over this word this channel is ``margin_db`` or more
    quieter than the other (the other side's voice, leaking in; Whisper may stretch such a word
    back into this line's noise). Two people saying the same word at once, or one after the
    other, are each loud on their own line over their own word: both words stay."""
    if len(activity.speech) != 2:
        return set()
    by_text: dict[tuple[int, str], list[Word]] = {}
    for word in words:
        by_text.setdefault((word.channel, _spoken(word.word)), []).append(word)
    echoes = set()
    for word in words:
        other_channel = 1 - word.channel
        twins = by_text.get((other_channel, _spoken(word.word)), [])
        if any(t.start_s < word.end_s and t.end_s > word.start_s for t in twins) and (
            activity.level_db(word.channel, word.start_s, word.end_s) + margin_db
            <= activity.level_db(other_channel, word.start_s, word.end_s)
        ):
            echoes.add(id(word))
    return echoes


def _region_of(word: Word, speech: timeline.SpanIndex) -> int | None:
    """The speech region ``word`` is said in, if any. Whisper's timings run early (or late) into
    the silence beside a word: a word that starts or ends inside a region is said there."""
    times = ((word.start_s + word.end_s) / 2, word.start_s + EDGE_S, word.end_s - EDGE_S)
    return next((i for i in map(speech.first_containing, times) if i is not None), None)


def _spoken(text: str) -> str:
    """A word as said, for telling whether two channels heard the same one ("Have," = "have")."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _audible(
    levels_db: np.ndarray, options: VadOptions, most_db: float | None = None
) -> np.ndarray:
    """Frames that stand out of the channel's noise: half-way from its floor to its speech level,
    at least ``candidate_min_above_floor_db`` and at most ``most_db`` over the floor (on a noisy
    line speech stands only a few dB over the noise; on a quiet one a breath stands far over)."""
    if not levels_db.size:
        return np.zeros(0, dtype=bool)
    floor_db = float(np.percentile(levels_db, 10))
    speech_db = float(np.percentile(levels_db, options.speech_level_percentile))
    low_db = options.candidate_min_above_floor_db
    above_db = float(np.clip((speech_db - floor_db) / 2, low_db, max(low_db, most_db or low_db)))
    return levels_db >= floor_db + above_db


def _narrowed(region: Segment, mask: np.ndarray, pad_s: float) -> Segment:
    """``region`` from its first to its last ``mask`` frame, padded, never wider than it was."""
    first = int(region.start_s / FRAME_S)
    frames = np.flatnonzero(_frames_in(mask, region))
    start_s = max(region.start_s, (first + frames[0]) * FRAME_S - pad_s)
    end_s = min(region.end_s, (first + frames[-1] + 1) * FRAME_S + pad_s)
    return Segment(round(start_s, 3), round(end_s, 3))


def _frames_in(mask: np.ndarray, region: Segment) -> np.ndarray:
    first = int(region.start_s / FRAME_S)
    return mask[first : max(first + 1, int(np.ceil(region.end_s / FRAME_S)))]


def _own_share(heard: np.ndarray, own: np.ndarray, region: Segment) -> float:
    """Of the frames of ``region`` Silero hears as speech, the share that are the channel's own voice."""
    first = int(region.start_s / FRAME_S)
    last = max(first + 1, int(np.ceil(region.end_s / FRAME_S)))
    heard_frames = heard[first:last]
    if not heard_frames.any():
        return 1.0
    return float(own[first:last][heard_frames].mean())


def _frames(channel: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> np.ndarray:
    remainder = (-len(channel)) % frame_samples
    padded = np.pad(channel.astype(np.float32, copy=False), (0, remainder))
    return padded.reshape(-1, frame_samples)


def as_source(samples: np.ndarray | AudioSource, sample_rate: int) -> AudioSource:
    """An array of (channels, frames) as a source; a source as it is."""
    if isinstance(samples, np.ndarray):
        return Audio("", "", samples, sample_rate, sample_rate)
    return samples
