"""pipeline/transcribe.py: speech regions packed for Whisper and word times mapped back to the call,
with hand-made regions (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.transcribe import (
    CHUNK_S,
    REGION_GAP_S,
    attach_words,
    pack_regions,
    speaker_by_overlap,
    to_call_time,
)
from pipeline.types import Audio, Segment, Turn, Word

RATE = 16_000


def silence(seconds: float, channels: int = 2) -> np.ndarray:
    return np.zeros((channels, int(seconds * RATE)), dtype=np.float32)


def test_regions_are_laid_end_to_end_per_channel_with_a_gap_between_them():
    regions = [[Segment(1.0, 2.0), Segment(5.0, 5.5)], [Segment(3.0, 4.0)]]
    packed = pack_regions(silence(10.0), RATE, list(enumerate(regions)))
    starts = [(r.channel, r.start_s, round(r.packed_start_s, 6)) for r in packed.regions]
    assert starts == [
        (0, 1.0, 0.0),
        (0, 5.0, round(1.0 + REGION_GAP_S, 6)),
        (1, 3.0, round(1.5 + 2 * REGION_GAP_S, 6)),
    ]
    assert packed.frames == pytest.approx((2.5 + 3 * REGION_GAP_S) * RATE, abs=2)


def test_the_packed_signal_is_read_from_the_call_span_by_span():
    """Reading any span of the packed signal gives what laying the regions out in memory gives:
    each region's samples of its own channel, then silence."""
    rng = np.random.default_rng(0)
    call = rng.standard_normal((2, 12 * RATE)).astype(np.float32)
    regions = [[Segment(1.0, 2.0), Segment(5.0, 5.5), Segment(11.5, 13.0)], [Segment(3.0, 4.25)]]
    packed = pack_regions(call, RATE, list(enumerate(regions)))
    gap = np.zeros(int(REGION_GAP_S * RATE), dtype=np.float32)
    laid_out = np.concatenate(
        [
            part
            for channel, spans in enumerate(regions)
            for span in spans
            for part in (call[channel, int(span.start_s * RATE) : int(span.end_s * RATE)], gap)
        ]
    )
    assert packed.frames == len(laid_out)
    for first, last in [
        (0, packed.frames),
        (100, 20_000),
        (15_999, 16_001),
        (40_000, packed.frames + 50),
    ]:
        assert np.array_equal(
            packed.read(Audio("", "", call, RATE, RATE), first, last), laid_out[first:last]
        )
    # the region running past the end of the call is cut where the call ends
    assert packed.regions[2].end_s == 12.0


def test_chunks_never_mix_channels_nor_pass_whisper_window():
    regions = [[Segment(i * 3.0, i * 3.0 + 2.0) for i in range(20)], [Segment(0.5, 1.5)]]
    packed = pack_regions(silence(70.0), RATE, list(enumerate(regions)))
    assert all(end - start <= CHUNK_S + 1e-6 for start, end in packed.chunks)
    for start, end in packed.chunks:
        channels = {r.channel for r in packed.regions if start <= r.packed_start_s < end}
        assert len(channels) == 1


def test_a_region_longer_than_a_window_is_split():
    packed = pack_regions(silence(80.0, channels=1), RATE, [(0, [Segment(0.0, 75.0)])])
    assert len(packed.regions) >= 3
    assert all(r.end_s - r.start_s <= CHUNK_S for r in packed.regions)
    assert sum(r.end_s - r.start_s for r in packed.regions) == pytest.approx(75.0)


def test_packed_times_map_back_to_the_call_on_the_right_channel():
    regions = [[Segment(10.0, 12.0)], [Segment(20.0, 21.0)]]
    packed = pack_regions(silence(30.0), RATE, list(enumerate(regions)))
    second = packed.regions[1]
    assert to_call_time(packed, 0.5, 0.9) == (0, 10.5, 10.9)
    assert to_call_time(packed, second.packed_start_s + 0.2, second.packed_start_s + 0.4) == (
        1,
        20.2,
        20.4,
    )
    # a word Whisper places running past its region's end is clipped to the region
    assert to_call_time(packed, 1.8, 2.1) == (0, 11.8, 12.0)


def test_each_word_takes_the_speaker_who_covers_most_of_it_or_the_nearest():
    turns = [Turn("spk0", 0.0, 2.0), Turn("spk1", 1.8, 4.0)]
    assert speaker_by_overlap(turns, 1.7, 2.2) == "spk1"  # 0.3 s in spk0, 0.4 s in spk1
    assert speaker_by_overlap(turns, 5.0, 5.2) == "spk1"  # after every turn: the nearest
    assert speaker_by_overlap([], 0.0, 1.0) == "unknown"


def test_words_fill_the_turn_of_their_own_speaker():
    turns = [Turn("agent", 0.0, 3.0), Turn("customer", 1.0, 2.0)]
    words = [
        Word(1.2, 1.4, "yes", 0.9, "customer"),
        Word(1.3, 1.6, "so", 0.9, "agent"),
        Word(3.5, 3.7, "bye", 0.9, "agent"),
    ]
    assert [t.text for t in attach_words(turns, words)] == ["so bye", "yes"]


def _scan_speaker(turns, start_s, end_s):
    """speaker_by_overlap as a plain scan through the turns (the rule the index must keep)."""
    if not turns:
        return "unknown"
    cover = {}
    for turn in turns:
        overlap = min(turn.end_s, end_s) - max(turn.start_s, start_s)
        if overlap > 0:
            cover[turn.speaker] = cover.get(turn.speaker, 0.0) + overlap
    if cover:
        return max(cover.items(), key=lambda item: item[1])[0]
    middle = (start_s + end_s) / 2
    return min(turns, key=lambda t: min(abs(t.start_s - middle), abs(t.end_s - middle))).speaker


def _scan_turn(turns, indices, middle):
    """attach_words' choice of turn for a word's midpoint, as a plain scan."""

    def distance(index):
        turn = turns[index]
        if turn.start_s <= middle <= turn.end_s:
            return 0.0
        return min(abs(turn.start_s - middle), abs(turn.end_s - middle))

    return min(indices, key=distance)


@pytest.mark.parametrize("seed", range(5))
def test_turns_are_found_by_time_as_a_scan_through_them_finds_them(seed):
    """On overlapping, touching, nested and zero-length turns on a coarse time grid (so ties
    happen), every word gets the speaker and the turn a scan in list order gives it."""
    rng = np.random.default_rng(seed)
    grid = lambda n: np.round(rng.integers(0, 400, n) * 0.25, 3)
    starts = grid(60)
    turns = [
        Turn(
            str(rng.choice(["spk0", "spk1", "spk2"])),
            float(s),
            float(s + rng.choice([0.0, 0.25, 1.0, 4.0, 30.0])),
        )
        for s in starts
    ]
    words = [(float(a), float(a + rng.choice([0.0, 0.25, 0.5]))) for a in grid(300)]
    for start_s, end_s in words:
        assert speaker_by_overlap(turns, start_s, end_s) == _scan_speaker(turns, start_s, end_s)
    speakers = [str(rng.choice(["spk0", "spk1", "nobody"])) for _ in words]
    attached = attach_words(
        turns, [Word(a, b, f"w{i}", 0.9, s) for i, ((a, b), s) in enumerate(zip(words, speakers))]
    )
    expected = [[] for _ in turns]
    for i, ((a, b), speaker) in enumerate(zip(words, speakers)):
        indices = [k for k, t in enumerate(turns) if t.speaker == speaker] or list(
            range(len(turns))
        )
        expected[_scan_turn(turns, indices, (a + b) / 2)].append(f"w{i}")
    assert [t.text for t in attached] == [" ".join(parts) for parts in expected]


def test_a_region_whisper_does_not_hear_is_asked_again_but_never_twice_with_the_same_clip():
    """Speech regions left without a word are heard again (the runs of them, then each alone);
    a run of one region is the same clip alone, so it is sent once (each clip costs a whole
    Whisper window), while a run of two is split and each region asked on its own."""
    from types import SimpleNamespace

    from pipeline.transcribe import AsrOptions, transcribe_regions

    asked: list[list[tuple[float, float]]] = []

    class DeafBatched:
        def transcribe(self, audio, clip_timestamps, **kwargs):
            asked.append([(clip["start"], clip["end"]) for clip in clip_timestamps])
            return iter(()), SimpleNamespace(language="en")

    rate = 16_000
    samples = np.zeros((1, rate * 40), dtype=np.float32)
    options = AsrOptions(region_pad_s=0.0)
    transcribe_regions((None, DeafBatched()), samples, rate, [[Segment(1.0, 2.0)]], options)
    assert len(asked) == 2  # the window, then the region once
    assert asked[1] == [(0.0, 1.25)]

    asked.clear()
    transcribe_regions((None, DeafBatched()), samples, rate, [[Segment(1.0, 2.0), Segment(5.0, 6.0)]], options)
    assert asked[1] == [(0.0, 2.75)]  # the run of both
    assert asked[2] == [(0.0, 1.25), (1.25, 2.75)]  # then each alone
    assert len(asked) == 3


def test_punctuation_alone_is_no_word():
    """Over a noisy line Whisper writes "..." where it makes nothing out: no word, so no turn."""
    from types import SimpleNamespace

    from pipeline.transcribe import AsrOptions, transcribe_regions

    def word(start, end, text):
        return SimpleNamespace(start=start, end=end, word=text, probability=0.4)

    class NoisyBatched:
        def transcribe(self, audio, clip_timestamps, **kwargs):
            segment = SimpleNamespace(words=[word(0.1, 0.3, " ..."), word(0.3, 0.6, " Hello,"), word(0.6, 0.8, " -")])
            return iter([segment]), SimpleNamespace(language="en")

    rate = 16_000
    samples = np.zeros((1, rate * 5), dtype=np.float32)
    words = transcribe_regions((None, NoisyBatched()), samples, rate, [[Segment(0.0, 1.0)]], AsrOptions(region_pad_s=0.0))
    assert [w.word for w in words] == ["Hello,"]
