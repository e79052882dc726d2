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

from dataclasses import dataclass

import numpy as np

from pipeline import timeline
from pipeline.config import BleedOptions, VadOptions
from pipeline.types import Segment, Word

FRAME_S = 0.032
FRAME_SAMPLES = 512  # at 16 kHz, the rate audio is decoded to
SILENT_DB = -120.0


@dataclass(frozen=True)
class SpeechActivity:
    """Per channel: the speech regions, the candidate regions only the ASR can settle, and for
    each 32 ms frame whether the channel carries its own voice there or the other side's leak."""

    speech: list[list[Segment]]
    candidates: list[list[Segment]]
    own_voice: np.ndarray  # (channels, frames) bool: some sign of the channel's own voice
    leak: np.ndarray  # (channels, frames) bool: audible, but far below the other channel

    def is_own_voice(self, channel: int, start_s: float, end_s: float) -> bool:
        """Whether [start_s, end_s] holds this channel's own voice at least as much as a leak.

        Silent frames count for neither side, so a word whose timing runs into the silence
        before it is judged on the part where it sounds.
        """
        first = int(start_s / FRAME_S)
        last = max(first + 1, int(np.ceil(end_s / FRAME_S)))
        own = int(self.own_voice[channel, first:last].sum())
        return own > 0 and own >= int(self.leak[channel, first:last].sum())

    def voiced_span(self, channel: int, start_s: float, end_s: float) -> tuple[float, float]:
        """[start_s, end_s] narrowed to its first and last frames of own voice."""
        first = int(start_s / FRAME_S)
        frames = np.flatnonzero(
            self.own_voice[channel, first : max(first + 1, int(np.ceil(end_s / FRAME_S)))]
        )
        if not frames.size:
            return start_s, end_s
        return max(start_s, (first + frames[0]) * FRAME_S), min(
            end_s, (first + frames[-1] + 1) * FRAME_S
        )


class SileroVad:
    """Silero VAD (the silero-vad package's ONNX model), run chunk by chunk with its state.

    Loaded once per process (``Models.vad()``); channels are run side by side as one batch.
    """

    CONTEXT = {8000: 32, 16000: 64}  # samples of the previous chunk the model sees

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
        if rate not in self.CONTEXT:
            raise ValueError(f"Silero runs at 8 or 16 kHz, got {rate} Hz")
        chunk = int(FRAME_S * rate)
        context_size = self.CONTEXT[rate]
        count = channels.shape[0]
        padded = np.pad(
            channels.astype(np.float32, copy=False), ((0, 0), (0, (-channels.shape[1]) % chunk))
        )
        frames = padded.reshape(count, -1, chunk)
        state = np.zeros((2, count, 128), dtype=np.float32)
        context = np.zeros((count, context_size), dtype=np.float32)
        sample_rate = np.array(rate, dtype=np.int64)
        out = np.zeros((count, frames.shape[1]), dtype=np.float32)
        for index in range(frames.shape[1]):
            window = np.concatenate([context, frames[:, index]], axis=1)
            probability, state = self.session.run(
                None, {"input": window, "state": state, "sr": sample_rate}
            )
            out[:, index] = probability[:, 0]
            context = window[:, -context_size:]
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
    samples: np.ndarray,
    sample_rate: int,
    options: VadOptions,
    bleed: BleedOptions,
    method: str = "silero",
    vad: SileroVad | None = None,
    source_sample_rate: int | None = None,
) -> SpeechActivity:
    """Speech and candidate regions for each channel of ``samples`` (channels, frames) at 16 kHz.

    ``vad`` is the loaded Silero model (needed for ``method="silero"``); ``source_sample_rate``
    is the recording's own rate, which decides whether Silero listens at 8 or 16 kHz.
    """
    if sample_rate != 16_000:
        raise ValueError(f"speech detection runs at 16 kHz, got {sample_rate} Hz")
    duration_s = samples.shape[1] / sample_rate
    levels = np.stack([frame_levels_db(channel) for channel in samples])
    if method == "silero":
        if vad is None:
            raise ValueError("method 'silero' needs the loaded Silero model (Models.vad())")
        probabilities = _silero(samples, levels, options, vad, source_sample_rate or sample_rate)
    elif method == "energy":
        probabilities = np.stack([energy_probabilities(level) for level in levels])
    else:
        raise ValueError(f"unknown speech detector {method!r}; use 'silero' or 'energy'")
    own = own_voice_mask(levels, bleed.margin_db, bleed.above_floor_db)
    audible = np.stack([_audible(level, options) for level in levels])
    leak = audible & ~own if samples.shape[0] == 2 else np.zeros_like(own)
    evidence = np.zeros_like(own)
    speech, candidates = [], []
    for channel in range(samples.shape[0]):
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
        speech.append(regions)
        # Any sign of this side's voice: Silero half hears it, or it is loud for this line.
        hinted = hysteresis(
            probabilities[channel], options.candidate_threshold, options.candidate_threshold / 2
        )
        loud = _audible(levels[channel], options, options.candidate_loud_db)
        evidence[channel] = (heard | hinted | loud) & own[channel]
    for channel in range(samples.shape[0]):
        if method != "silero" or options.candidate_threshold >= options.threshold:
            candidates.append([])
            continue
        # Only Silero's own verdict counts while the other side talks: under a noisy line the
        # other side's leak hides below the noise, where levels cannot tell it from this side's
        # voice, yet Silero half hears it and Whisper makes words of it.
        others = timeline.widen(
            [region for other, regions in enumerate(speech) if other != channel for region in regions],
            options.other_side_margin_s, 0.0, duration_s,
        )  # fmt: skip
        candidates.append(_candidates(evidence[channel], [*speech[channel], *others], options, duration_s))
    return SpeechActivity(speech, candidates, evidence, leak)


def _silero(
    samples: np.ndarray, levels: np.ndarray, options: VadOptions, vad: SileroVad, source_rate: int
) -> np.ndarray:
    from scipy.signal import resample_poly

    gains = np.array(
        [10 ** (level_gain_db(level, options) / 20) for level in levels], dtype=np.float32
    )
    levelled = samples * gains[:, None]
    rate = detection_rate(source_rate)
    if rate != 16_000:
        # decoded at 16 kHz from an 8 kHz original: halving the rate loses nothing that was there
        levelled = resample_poly(levelled, rate, 16_000, axis=1).astype(np.float32)
    probabilities = vad.probabilities(levelled, rate)
    return probabilities[:, : levels.shape[1]]


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


def settle_speech(
    activity: SpeechActivity, words: list[tuple[int, Word]], options: VadOptions
) -> tuple[list[list[Segment]], list[tuple[int, Word]]]:
    """Speech regions and words once the ASR has been heard: its word timings are evidence.

    - words inside a speech region stay;
    - a candidate is confirmed as speech (from its first word to its last, padded) when its
      words' mean probability reaches ``confirm_min_word_probability``, or when it holds at
      least ``confirm_min_words`` words of mean probability ``confirm_many_word_probability``
      (speech under heavy noise comes out as several unsure words; what Whisper makes of noise
      alone is a stray word or two); otherwise its words go;
    - a word the ASR heard just outside every region (the ASR listens with a margin) extends the
      speech to cover it when it is confident and the channel's own voice there; a word in the
      other side's leak is dropped, so bleed never becomes a word or a turn.
    """
    min_word_probability, pad_s = options.confirm_min_word_probability, options.pad_s
    kept: list[tuple[int, Word]] = []
    regions = [list(channel) for channel in activity.speech]
    by_candidate: dict[tuple[int, int], list[Word]] = {}
    for channel, word in words:
        middle = (word.start_s + word.end_s) / 2
        if _index_of(activity.speech[channel], middle) is not None:
            kept.append((channel, word))
            continue
        index = _index_of(activity.candidates[channel], middle)
        if index is not None:
            by_candidate.setdefault((channel, index), []).append(word)
        elif word.probability >= min_word_probability and activity.is_own_voice(
            channel, word.start_s, word.end_s
        ):
            # Whisper's word timings run early into the silence before a word: speech starts
            # where the word sounds on its own channel.
            start_s, end_s = activity.voiced_span(channel, word.start_s, word.end_s)
            regions[channel].append(
                Segment(round(max(0.0, start_s - pad_s), 3), round(end_s + pad_s, 3))
            )
            kept.append((channel, word))
    for (channel, index), heard in by_candidate.items():
        mean_probability = float(np.mean([w.probability for w in heard]))
        confirmed = mean_probability >= min_word_probability or (
            len(heard) >= options.confirm_min_words
            and mean_probability >= options.confirm_many_word_probability
        )
        if not confirmed:
            continue
        candidate = activity.candidates[channel][index]
        start_s = max(candidate.start_s, min(w.start_s for w in heard) - pad_s)
        end_s = min(candidate.end_s, max(w.end_s for w in heard) + pad_s)
        regions[channel].append(Segment(round(start_s, 3), round(end_s, 3)))
        kept.extend((channel, word) for word in heard)
    kept.sort(key=lambda item: (item[1].start_s, item[0]))
    return [timeline.merge(channel) for channel in regions], kept


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


def _own_share(heard: np.ndarray, own: np.ndarray, region: Segment) -> float:
    """Of the frames of ``region`` Silero hears as speech, the share that are the channel's own voice."""
    first = int(region.start_s / FRAME_S)
    last = max(first + 1, int(np.ceil(region.end_s / FRAME_S)))
    heard_frames = heard[first:last]
    if not heard_frames.any():
        return 1.0
    return float(own[first:last][heard_frames].mean())


def _index_of(spans: list[Segment], time_s: float) -> int | None:
    return next((i for i, span in enumerate(spans) if span.start_s <= time_s <= span.end_s), None)


def _frames(channel: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> np.ndarray:
    remainder = (-len(channel)) % frame_samples
    padded = np.pad(channel.astype(np.float32, copy=False), (0, remainder))
    return padded.reshape(-1, frame_samples)
