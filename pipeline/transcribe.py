"""faster-whisper over the speech regions of each channel -> words with call-time timestamps.

Only speech is transcribed. Each channel's speech regions are packed into one signal (with a
short gap between regions) and cut into chunks of at most 30 s, one Whisper window each; word
times are mapped back to call time. This costs about what faster-whisper's own VAD filter
costs on a mono file, keeps the two sides of a dual-channel call apart even when they talk at
once, and gives Whisper no long silence to hallucinate in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pipeline import timeline
from pipeline.config import AsrOptions
from pipeline.types import UNKNOWN, Segment, Turn, Word

# Whisper's window is 30 s; stay a little under so a chunk never spills into a second window.
CHUNK_S = 29.5
# Silence laid between packed regions: Whisper's word timings drift by a few hundred ms, and a
# word must not be carried across a join into a region where nobody said it.
REGION_GAP_S = 0.5


@dataclass(frozen=True)
class PackedRegion:
    """Where one speech region of one channel sits in the packed signal."""

    channel: int
    start_s: float
    end_s: float
    packed_start_s: float

    @property
    def packed_end_s(self) -> float:
        return self.packed_start_s + (self.end_s - self.start_s)


@dataclass
class PackedAudio:
    samples: np.ndarray
    regions: list[PackedRegion]
    chunks: list[tuple[float, float]]  # packed-time spans, each at most CHUNK_S


def pack_regions(
    samples: np.ndarray,
    sample_rate: int,
    streams: list[tuple[int, list[Segment]]],
    chunk_s: float = CHUNK_S,
) -> PackedAudio:
    """Lay each stream's regions (a channel and its regions) end to end, a short silence between
    them; chunks never mix streams (so never channels) or exceed ``chunk_s``."""
    gap = np.zeros(int(REGION_GAP_S * sample_rate), dtype=np.float32)
    pieces: list[np.ndarray] = []
    packed_regions: list[PackedRegion] = []
    chunks: list[tuple[float, float]] = []
    cursor_s = 0.0
    for channel, regions in streams:
        chunk_start_s = None
        for region in _split_long(regions, chunk_s - 2 * REGION_GAP_S):
            length_s = region.end_s - region.start_s
            if (
                chunk_start_s is None
                or cursor_s + length_s + REGION_GAP_S - chunk_start_s > chunk_s
            ):
                if chunk_start_s is not None:
                    chunks.append((chunk_start_s, cursor_s))
                chunk_start_s = cursor_s
            first = int(round(region.start_s * sample_rate))
            last = int(round(region.end_s * sample_rate))
            piece = samples[channel, first:last]
            pieces.extend([piece, gap])
            packed_regions.append(
                PackedRegion(
                    channel, region.start_s, region.start_s + len(piece) / sample_rate, cursor_s
                )
            )
            cursor_s += (len(piece) + len(gap)) / sample_rate
        if chunk_start_s is not None:
            chunks.append((chunk_start_s, cursor_s))
    packed = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return PackedAudio(packed.astype(np.float32, copy=False), packed_regions, chunks)


def _split_long(regions: list[Segment], max_s: float) -> list[Segment]:
    out = []
    for region in regions:
        start_s = region.start_s
        while region.end_s - start_s > max_s:
            out.append(Segment(start_s, start_s + max_s))
            start_s += max_s
        out.append(Segment(start_s, region.end_s))
    return out


def to_call_time(
    packed: PackedAudio, packed_start_s: float, packed_end_s: float
) -> tuple[int, float, float] | None:
    """Map a packed-time span to (channel, start_s, end_s) in call time by the region nearest its midpoint."""
    middle = (packed_start_s + packed_end_s) / 2
    best = None
    for region in packed.regions:
        # the silence after a region belongs half to it and half to the next one
        if (
            region.packed_start_s - REGION_GAP_S / 2
            <= middle
            <= region.packed_end_s + REGION_GAP_S / 2
        ):
            best = region
            break
    if best is None:
        return None
    offset = best.start_s - best.packed_start_s
    start = min(max(packed_start_s + offset, best.start_s), best.end_s)
    end = min(max(packed_end_s + offset, start), best.end_s)
    return best.channel, round(start, 3), round(end, 3)


def transcribe_regions(
    model_and_batched,
    samples: np.ndarray,
    sample_rate: int,
    regions_per_channel: list[list[Segment]],
    options: AsrOptions,
    candidates_per_channel: list[list[Segment]] | None = None,
    hotwords: str | None = None,
) -> list[tuple[int, Word]]:
    """Transcribe each channel's speech (and candidates); returns (channel, Word) in call time, by start.

    Each region is heard with ``options.region_pad_s`` of audio either side (a word whose start
    the speech detector clipped is still heard whole); words that land in that margin are the
    caller's to keep or drop (``vad.settle_speech``). Candidates not already inside that margin
    are heard apart from the speech, so Whisper never carries a word across from real speech
    into a stretch where nobody spoke. ``hotwords`` (see ``custom_vocabulary``) are given to
    Whisper in every window.
    """
    duration_s = samples.shape[1] / sample_rate
    pad_s = options.region_pad_s
    speech = [timeline.widen(regions, pad_s, 0.0, duration_s) for regions in regions_per_channel]
    streams = list(enumerate(speech))
    for channel, candidates in enumerate(candidates_per_channel or []):
        heard = timeline.widen(candidates, pad_s, 0.0, duration_s)
        apart = timeline.subtract(heard, speech[channel])
        if apart:
            streams.append((channel, apart))
    packed = pack_regions(samples, sample_rate, streams)
    if not packed.chunks:
        return []
    model, batched = model_and_batched
    common = {
        "language": options.language,
        "beam_size": options.beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
        "hotwords": hotwords or None,
    }
    if batched is not None:
        clips = [{"start": start, "end": end} for start, end in packed.chunks]
        segments, _ = batched.transcribe(
            packed.samples, batch_size=options.batch_size, clip_timestamps=clips, **common
        )
    else:
        clips = [value for span in packed.chunks for value in span]
        segments, _ = model.transcribe(
            packed.samples, vad_filter=False, clip_timestamps=clips, **common
        )
    results: list[tuple[int, Word]] = []
    for segment in segments:
        for word in segment.words or []:
            placed = to_call_time(packed, word.start, word.end)
            text = word.word.strip()
            if placed is None or not text:
                continue
            channel, start_s, end_s = placed
            results.append((channel, Word(start_s, end_s, text, round(float(word.probability), 4))))
    results.sort(key=lambda item: (item[1].start_s, item[0]))
    return results


def custom_vocabulary(options: AsrOptions, rubric_variables: dict[str, str]) -> str | None:
    """The names Whisper is told to expect: the configured vocabulary, then the rubric's
    variables (the company name...), each once. None when there are none."""
    terms = list(options.vocabulary)
    if options.vocabulary_from_rubric:
        terms += list(rubric_variables.values())
    unique = list(dict.fromkeys(term.strip() for term in terms if term and term.strip()))
    return ", ".join(unique) or None


def speaker_by_overlap(turns: list[Turn], start_s: float, end_s: float) -> str:
    """The speaker whose turns cover most of [start_s, end_s]; the nearest turn's when none does."""
    if not turns:
        return UNKNOWN
    cover: dict[str, float] = {}
    for turn in turns:
        overlap = min(turn.end_s, end_s) - max(turn.start_s, start_s)
        if overlap > 0:
            cover[turn.speaker] = cover.get(turn.speaker, 0.0) + overlap
    if cover:
        return max(cover.items(), key=lambda item: item[1])[0]
    middle = (start_s + end_s) / 2
    nearest = min(turns, key=lambda turn: min(abs(turn.start_s - middle), abs(turn.end_s - middle)))
    return nearest.speaker


def attach_words(turns: list[Turn], words: list[Word]) -> list[Turn]:
    """Fill each turn's text with the words of its speaker that fall in it (by midpoint, else nearest).

    Words must already carry their speaker. A word of a speaker with no turn there still lands in
    that speaker's nearest turn, so no transcribed word is lost.
    """
    texts: list[list[str]] = [[] for _ in turns]
    by_speaker: dict[str, list[int]] = {}
    for index, turn in enumerate(turns):
        by_speaker.setdefault(turn.speaker, []).append(index)
    for word in words:
        candidates = by_speaker.get(word.speaker) or list(range(len(turns)))
        if not candidates:
            continue
        middle = (word.start_s + word.end_s) / 2

        def distance(index: int) -> float:
            turn = turns[index]
            if turn.start_s <= middle <= turn.end_s:
                return 0.0
            return min(abs(turn.start_s - middle), abs(turn.end_s - middle))

        texts[min(candidates, key=distance)].append(word.word)
    return [replace(turn, text=" ".join(parts)) for turn, parts in zip(turns, texts)]
