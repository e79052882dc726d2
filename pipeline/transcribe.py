"""faster-whisper over the speech regions of each channel -> words with call-time timestamps.

Only speech is transcribed. Each channel's speech regions are packed into one signal (with a
short gap between regions) and cut into chunks of at most 30 s, one Whisper window each; word
times are mapped back to call time. This costs about what faster-whisper's own VAD filter
costs on a mono file, keeps the two sides of a dual-channel call apart even when they talk at
once, and gives Whisper no long silence to hallucinate in.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from pipeline import timeline
from pipeline.types import UNKNOWN, AudioSource, Segment, Turn, Word
from pipeline.vad import as_source

# Whisper's window is 30 s; stay a little under so a chunk never spills into a second window.
CHUNK_S = 29.5
# Silence laid between packed regions: Whisper's word timings drift by a few hundred ms, and a
# word must not be carried across a join into a region where nobody said it.
REGION_GAP_S = 0.5


class AsrOptions(BaseModel):
    """faster-whisper settings; the same ones the benchmark's bare baseline uses."""

    model: str = Field(
        "whisper-base",
        description="manifest name, faster-whisper size name or local CTranslate2 dir",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field("default", description="int8 on CPU, float16 on CUDA when 'default'")
    batch_size: int = Field(
        8, ge=0, description="0 = sequential decoding, else BatchedInferencePipeline"
    )
    beam_size: int = Field(5, ge=1)
    # 2, not 4: at 4 the encoder's moment was still a batch's peak (~950 MB on the 5-minute call of
    # benchmarks/long_calls.py, against ~900 MB while decoding; ~715 MB at 2), at the same speed
    # (transcribe 12.4 s and 12.5 s, medians of 4 runs)
    encoder_batch_size: int = Field(
        2,
        ge=0,
        description="windows the encoder takes at once on CPU, the batch still decoded together "
        "(0 = the whole batch): on CPU the encoder's self-attention is held for a moment, ~44 MB a "
        "window in whisper-base",
    )
    # 4, apart from the encoder's 2: aligned 2 at a time, 4 words of the AWS call moved by one
    # Whisper time step (20 ms). It costs some memory on the longest calls: a 240-minute call
    # peaked 9.4 % over a 5-minute one at 4, 6.1 % at 2 (benchmarks/long_calls.py, separate runs)
    aligner_batch_size: int = Field(
        4,
        ge=0,
        description="windows the word aligner takes at once on CPU (0 = the whole batch): what it "
        "holds grows with the words",
    )
    language: str | None = "en"
    cpu_threads: int = Field(0, ge=0, description="the worker's ASR threads; 0 = CTranslate2's default")
    # On 2 cores one batch on 2 threads keeps them ~75 % busy; two batches on 1 thread each,
    # sharing the weights, did the same files in 0.6 of the time (bare faster-whisper, 13 demo calls)
    parallel_batches: int = Field(
        0,
        ge=0,
        description="batches the model decodes at once, each on its own threads with the weights "
        "shared (CTranslate2 inter_threads), so calls in flight overlap in the model; 0 = 2 on a CPU "
        "worker with 2 or more threads, 1 on CUDA or with 1 thread",
    )
    region_pad_s: float = Field(
        0.8, ge=0.0, description="audio heard either side of each speech region, for context"
    )
    vocabulary: list[str] = Field(
        default_factory=list,
        description="names Whisper should expect (products, places), given to it as hotwords",
    )
    retry_min_word_probability: float = Field(
        0.5, ge=0.0, le=1.0, description="a speech region heard again keeps its words at this mean probability"
    )
    # Off by default: on the demo calls and the real bank calls the prompt costs more words around
    # the company name than it wins on the name itself (see benchmarks/vocabulary.py).
    vocabulary_from_rubric: bool = Field(
        False, description="also the rubric's variables (company name...) as hotwords"
    )

    def resolved_encoder_batch_size(self) -> int:
        """0 (the whole batch) on CUDA, where the GPU's memory is not the worker's."""
        return 0 if self.device == "cuda" else self.encoder_batch_size

    def resolved_aligner_batch_size(self) -> int:
        """0 (the whole batch) on CUDA, as the encoder's."""
        return 0 if self.device == "cuda" else self.aligner_batch_size

    def resolved_parallel_batches(self) -> int:
        if self.parallel_batches:
            return self.parallel_batches
        if self.device == "cuda":
            return 1
        return min(2, self.cpu_threads or os.cpu_count() or 1)

    def resolved_call_batch_size(self) -> int:
        """Chunks one call's batch takes: ``batch_size`` shared out among the parallel batches, so
        the model holds ``batch_size`` chunks at once however many calls are in it."""
        if self.batch_size == 0:
            return 0
        return max(1, self.batch_size // self.resolved_parallel_batches())

    def resolved_threads_per_batch(self) -> int:
        """Threads each parallel batch gets; 0 (CTranslate2's default) for one batch with no thread count set."""
        parallel = self.resolved_parallel_batches()
        if parallel == 1 and not self.cpu_threads:
            return 0
        return max(1, (self.cpu_threads or os.cpu_count() or 1) // parallel)

    def resolved_compute_type(self) -> str:
        if self.compute_type != "default":
            return self.compute_type
        return "float16" if self.device == "cuda" else "int8"


@dataclass(frozen=True)
class PackedRegion:
    """Where one speech region of one channel sits in the packed signal."""

    channel: int
    start_s: float
    end_s: float
    packed_start_s: float
    first_frame: int = 0  # its first sample on the call
    packed_first: int = 0  # and in the packed signal
    frames: int = 0

    @property
    def packed_end_s(self) -> float:
        return self.packed_start_s + (self.end_s - self.start_s)


@dataclass
class PackedAudio:
    """The plan of the packed signal: where each region goes and the chunks Whisper hears. The
    samples stay on the call until a chunk is read (``read``)."""

    regions: list[PackedRegion]
    chunks: list[tuple[float, float]]  # packed-time spans, each at most CHUNK_S
    frames: int  # length of the packed signal, in samples

    def __post_init__(self):
        self._packed_firsts = [region.packed_first for region in self.regions]
        self._search_starts = [region.packed_start_s - REGION_GAP_S / 2 for region in self.regions]

    def read(self, source: AudioSource, first: int, last: int) -> np.ndarray:
        """Samples [first, last) of the packed signal: its regions' audio, silence between them."""
        last = min(last, self.frames)
        out = np.zeros(max(0, last - first), dtype=np.float32)
        index = max(0, bisect.bisect_right(self._packed_firsts, first) - 1)
        for region in self.regions[index:]:
            if region.packed_first >= last:
                break
            start = max(first, region.packed_first)
            stop = min(last, region.packed_first + region.frames)
            if stop > start:
                on_call = region.first_frame + start - region.packed_first
                out[start - first : stop - first] = source.read(
                    on_call, on_call + stop - start, channel=region.channel
                )
        return out

    def region_near(self, packed_time_s: float) -> PackedRegion | None:
        """The first region whose span, with half the silence either side, holds ``packed_time_s``."""
        index = bisect.bisect_right(self._search_starts, packed_time_s)
        # spans only touch, so the first that holds it is this one or one just before
        for region in self.regions[max(0, index - 2) : index]:
            if (
                region.packed_start_s - REGION_GAP_S / 2
                <= packed_time_s
                <= region.packed_end_s + REGION_GAP_S / 2
            ):
                return region
        return None


def pack_regions(
    samples: np.ndarray | AudioSource,
    sample_rate: int,
    streams: list[tuple[int, list[Segment]]],
    chunk_s: float = CHUNK_S,
) -> PackedAudio:
    """Lay each stream's regions (a channel and its regions) end to end, a short silence between
    them; chunks never mix streams (so never channels) or exceed ``chunk_s``."""
    total_frames = samples.shape[1] if isinstance(samples, np.ndarray) else samples.frames
    gap_frames = int(REGION_GAP_S * sample_rate)
    packed_regions: list[PackedRegion] = []
    chunks: list[tuple[float, float]] = []
    cursor_s = 0.0
    packed_frames = 0
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
            first = min(round(region.start_s * sample_rate), total_frames)
            last = min(max(first, round(region.end_s * sample_rate)), total_frames)
            frames = last - first
            packed_regions.append(
                PackedRegion(
                    channel,
                    region.start_s,
                    region.start_s + frames / sample_rate,
                    cursor_s,
                    first,
                    packed_frames,
                    frames,
                )
            )
            cursor_s += (frames + gap_frames) / sample_rate
            packed_frames += frames + gap_frames
        if chunk_start_s is not None:
            chunks.append((chunk_start_s, cursor_s))
    return PackedAudio(packed_regions, chunks, packed_frames)


class PackedSignal(np.ndarray):
    """The packed signal as faster-whisper takes it: an array as long as the packed speech, whose
    slices are read from the call when asked for. The batched pipeline only measures the audio
    and slices out each clip, so nothing but the clips being heard is ever in memory."""

    def __new__(cls, packed: PackedAudio, source: AudioSource):
        nothing = np.zeros(1, dtype=np.float32)
        view = np.lib.stride_tricks.as_strided(
            nothing, shape=(packed.frames,), strides=(0,), writeable=False
        )
        signal = view.view(cls)
        signal._read = partial(packed.read, source)
        return signal

    def __array_finalize__(self, obj):
        self._read = getattr(obj, "_read", None)

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1) and self._read is not None:
            start, stop, _ = key.indices(self.shape[0])
            return self._read(start, stop)
        return super().__getitem__(key)


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
    # the silence after a region belongs half to it and half to the next one
    best = packed.region_near((packed_start_s + packed_end_s) / 2)
    if best is None:
        return None
    offset = best.start_s - best.packed_start_s
    start = min(max(packed_start_s + offset, best.start_s), best.end_s)
    end = min(max(packed_end_s + offset, start), best.end_s)
    return best.channel, round(start, 3), round(end, 3)


def transcribe_regions(
    model_and_batched,
    samples: np.ndarray | AudioSource,
    sample_rate: int,
    regions_per_channel: list[list[Segment]],
    options: AsrOptions,
    candidates_per_channel: list[list[Segment]] | None = None,
    hotwords: str | None = None,
) -> list[Word]:
    """Transcribe each channel's speech (and candidates); words in call time with their channel, by start.

    Each region is heard with ``options.region_pad_s`` of audio either side (a word whose start
    the speech detector clipped is still heard whole); words that land in that margin are the
    caller's to keep or drop (``vad.settle_speech``). Candidates not already inside that margin
    are heard apart from the speech, so Whisper never carries a word across from real speech
    into a stretch where nobody spoke. ``samples`` is an array or a source on disk
    (``audio.SpooledAudio``): only the chunks of one batch are read at a time. ``hotwords`` (see
    ``custom_vocabulary``) are given to Whisper in every window.
    """
    source = as_source(samples, sample_rate)
    duration_s = source.frames / sample_rate
    pad_s = options.region_pad_s
    speech = [timeline.widen(regions, pad_s, 0.0, duration_s) for regions in regions_per_channel]
    streams = list(enumerate(speech))
    for channel, candidates in enumerate(candidates_per_channel or []):
        heard = timeline.widen(candidates, pad_s, 0.0, duration_s)
        apart = timeline.subtract(heard, speech[channel])
        if apart:
            streams.append((channel, apart))
    packed = pack_regions(source, sample_rate, streams)
    words: list[Word] = []
    heard_at: list[float] = []  # packed time of every word heard

    def hear(chunks: list[tuple[float, float]], min_probability: float = 0.0) -> None:
        """Words heard over ``chunks``; a chunk's words are kept when their mean probability
        reaches ``min_probability``."""
        by_chunk: list[list[tuple[float, Word]]] = [[] for _ in chunks]
        starts = [start for start, _ in chunks]
        for start, end, text, probability in _heard_words(
            model_and_batched, packed, source, sample_rate, options, hotwords, chunks
        ):
            placed = to_call_time(packed, start, end)
            text = text.strip()
            # no text, or "..." or "-" alone: what Whisper writes for a sound it cannot make out
            if placed is None or not any(character.isalnum() for character in text):
                continue
            channel, start_s, end_s = placed
            word = Word(start_s, end_s, text, round(float(probability), 4), channel=channel)
            by_chunk[max(0, bisect.bisect_right(starts, start) - 1)].append(((start + end) / 2, word))
        for heard in by_chunk:
            if heard and np.mean([word.probability for _, word in heard]) >= min_probability:
                heard_at.extend(at for at, _ in heard)
                words.extend(word for _, word in heard)

    hear(packed.chunks)
    in_speech = [timeline.SpanIndex(spans) for spans in speech]

    def is_speech(region: PackedRegion) -> bool:
        return in_speech[region.channel].first_containing((region.start_s + region.end_s) / 2) is not None

    # Whisper may end a chunk at the silence between two regions and never hear the ones after
    # (the batched pipeline does not seek on): speech regions left without a word are heard again.
    retried: set[tuple[float, float]] = set()
    for alone in (False, True):  # the runs of them first, then each one still unheard on its own
        # a run of one region is the same clip alone: Whisper would hear the same audio again
        retry = [clip for clip in unheard_clips(packed, heard_at, is_speech, alone) if clip not in retried]
        retried.update(retry)
        if retry:
            # heard a second time, a region of noise invites Whisper to make words up: only
            # what it hears with some confidence counts
            hear(retry, options.retry_min_word_probability)
    words.sort(key=lambda word: (word.start_s, word.channel))
    return words


def unheard_clips(
    packed: PackedAudio, heard_at: list[float], wanted: Callable[[PackedRegion], bool], alone: bool = False
) -> list[tuple[float, float]]:
    """Packed-time clips (half the silence either side) over the ``wanted`` regions no heard word
    (``heard_at``, packed times) falls in: each run of them within a chunk as one clip, so
    Whisper keeps its context, or each region ``alone``."""
    times = sorted(heard_at)
    margin_s = REGION_GAP_S / 2
    clips: list[tuple[float, float]] = []
    for chunk_start, chunk_end in packed.chunks:
        run: list[float] | None = None
        for region in packed.regions:
            if not chunk_start <= region.packed_start_s < chunk_end:
                continue
            index = bisect.bisect_left(times, region.packed_start_s - margin_s)
            heard = index < len(times) and times[index] <= region.packed_end_s + margin_s
            if not heard and wanted(region):
                start_s = run[0] if run and not alone else max(chunk_start, region.packed_start_s - margin_s)
                if run and alone:
                    clips.append((run[0], run[1]))
                run = [start_s, min(chunk_end, region.packed_end_s + margin_s)]
            elif run:
                clips.append((run[0], run[1]))
                run = None
        if run:
            clips.append((run[0], run[1]))
    return clips


def _heard_words(
    model_and_batched,
    packed: PackedAudio,
    source: AudioSource,
    sample_rate: int,
    options: AsrOptions,
    hotwords: str | None = None,
    chunks: list[tuple[float, float]] | None = None,
) -> Iterator[tuple[float, float, str, float]]:
    """Whisper's words over every chunk, in packed time: (start, end, text, probability).

    The batched pipeline gets one batch of chunks per call, sliced from the packed signal in
    packed time, so its timings are those of one call over the whole signal; the end of the last
    speech it carries from batch to batch inside a call is carried across calls too. Decoding
    without a batch (``batch_size`` 0) hears one chunk at a time.
    """
    model, batched = model_and_batched
    chunks = packed.chunks if chunks is None else chunks
    common = {
        "language": options.language,
        "beam_size": options.beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
        "hotwords": hotwords or None,
    }
    if batched is None:
        for start_s, end_s in chunks:
            first = int(start_s * sample_rate)
            chunk = packed.read(source, first, int(end_s * sample_rate))
            segments, _ = model.transcribe(chunk, vad_filter=False, **common)
            offset_s = first / sample_rate
            for segment in segments:
                for word in segment.words or []:
                    yield word.start + offset_s, word.end + offset_s, word.word, word.probability
        return
    signal = PackedSignal(packed, source)
    last_speech_s = 0.0
    batch_size = options.resolved_call_batch_size()
    for index in range(0, len(chunks), batch_size):
        clips = [
            {"start": start, "end": end}
            for start, end in chunks[index : index + batch_size]
        ]
        segments, info = batched.transcribe(
            signal, batch_size=batch_size, clip_timestamps=clips, **common
        )
        common["language"] = info.language  # heard in the first batch, as one call would
        batched.last_speech_timestamp = last_speech_s  # read when the generator runs its batch
        for segment in segments:
            last_speech_s = batched.last_speech_timestamp  # before the generator's end resets it
            for word in segment.words or []:
                yield word.start, word.end, word.word, word.probability


def with_speakers(words: list[Word], turns: list[Turn]) -> list[Word]:
    """Each word with the speaker of the turns on its own channel who covers most of it
    (``speaker_by_overlap``); words keep their order."""
    turns_on: dict[int, list[Turn]] = {}
    for turn in turns:
        turns_on.setdefault(turn.channel, []).append(turn)
    found = {channel: timeline.SpanIndex(on_channel) for channel, on_channel in turns_on.items()}
    return [
        replace(
            word,
            speaker=speaker_by_overlap(
                turns_on.get(word.channel, []), word.start_s, word.end_s, found.get(word.channel)
            ),
        )
        for word in words
    ]


def custom_vocabulary(options: AsrOptions, rubric_variables: dict[str, str]) -> str | None:
    """The names Whisper is told to expect: the configured vocabulary, then the rubric's
    variables (the company name...), each once. None when there are none."""
    terms = list(options.vocabulary)
    if options.vocabulary_from_rubric:
        terms += list(rubric_variables.values())
    unique = list(dict.fromkeys(term.strip() for term in terms if term and term.strip()))
    return ", ".join(unique) or None


def speaker_by_overlap(
    turns: list[Turn], start_s: float, end_s: float, index: timeline.SpanIndex | None = None
) -> str:
    """The speaker whose turns cover most of [start_s, end_s]; the nearest turn's when none does.

    ``index`` is ``timeline.SpanIndex(turns)`` when many words are looked up in the same turns."""
    if not turns:
        return UNKNOWN
    index = index or timeline.SpanIndex(turns)
    cover: dict[str, float] = {}
    for position in index.touching(start_s, end_s):
        turn = turns[position]
        overlap = min(turn.end_s, end_s) - max(turn.start_s, start_s)
        if overlap > 0:
            cover[turn.speaker] = cover.get(turn.speaker, 0.0) + overlap
    if cover:
        return max(cover.items(), key=lambda item: item[1])[0]
    return turns[index.nearest((start_s + end_s) / 2)].speaker


def attach_words(turns: list[Turn], words: list[Word]) -> list[Turn]:
    """Fill each turn's text with the words of its speaker that fall in it (by midpoint, else nearest).

    Words must already carry their speaker. A word of a speaker with no turn there still lands in
    that speaker's nearest turn, so no transcribed word is lost.
    """
    texts: list[list[str]] = [[] for _ in turns]
    by_speaker: dict[str, list[int]] = {}
    for index, turn in enumerate(turns):
        by_speaker.setdefault(turn.speaker, []).append(index)
    everyone = timeline.SpanIndex(turns)
    of_speaker = {
        speaker: timeline.SpanIndex(turns, indices) for speaker, indices in by_speaker.items()
    }
    for word in words:
        found = of_speaker.get(word.speaker, everyone)
        middle = (word.start_s + word.end_s) / 2
        index = found.first_containing(middle)
        if index is None:
            index = found.nearest(middle)
        if index is not None:
            texts[index].append(word.word)
    return [replace(turn, text=" ".join(parts)) for turn, parts in zip(turns, texts)]
