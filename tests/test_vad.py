"""Speech regions per channel on hand-made signals: exact turn and overlap times, no bleed turns."""

import numpy as np
import pytest

from pipeline.vad import BleedOptions, VadOptions
from pipeline.diarize.stereo import ChannelMapDiarizer
from pipeline.types import Audio
from pipeline.vad import FRAME_SAMPLES, detect_speech, hysteresis, mask_to_regions, own_voice_mask
from tests.conftest import RATE, place

FRAME_S = FRAME_SAMPLES / RATE
NO_PAD = VadOptions(pad_s=0.0, min_silence_s=0.3, min_speech_s=0.1, method="energy")


def regions_of(samples, options=NO_PAD, bleed=BleedOptions()):
    return detect_speech(samples, RATE, options, bleed).speech


def spans(regions):
    return [(region.start_s, region.end_s) for region in regions]


def test_tone_regions_match_placement_within_one_frame():
    channel = place(6.0, [(1.0, 2.5), (4.0, 5.0)])
    (regions,) = regions_of(channel[None, :])
    assert len(regions) == 2
    for (start, end), (expected_start, expected_end) in zip(spans(regions), [(1.0, 2.5), (4.0, 5.0)]):
        assert start == pytest.approx(expected_start, abs=FRAME_S)
        assert end == pytest.approx(expected_end, abs=FRAME_S)


def test_short_pause_is_bridged_and_blip_dropped():
    channel = place(6.0, [(1.0, 2.0), (2.2, 3.0), (4.5, 4.55)])
    (regions,) = regions_of(channel[None, :])
    assert len(regions) == 1  # the 0.2 s pause is bridged, the 50 ms blip dropped
    assert regions[0].start_s == pytest.approx(1.0, abs=FRAME_S)
    assert regions[0].end_s == pytest.approx(3.0, abs=FRAME_S)


def test_bleed_from_other_channel_makes_no_turn_but_true_overlap_survives():
    agent = place(8.0, [(1.0, 4.0)], level_dbfs=-20)
    customer = place(8.0, [(3.5, 6.0)], level_dbfs=-22)
    # each side leaks into the other at -25 dB, as through a telephone hybrid
    left = agent + 10 ** (-25 / 20) * customer
    right = customer + 10 ** (-25 / 20) * agent
    agent_regions, customer_regions = regions_of(np.stack([left, right]))
    assert spans(agent_regions) == [pytest.approx((1.0, 4.0), abs=FRAME_S)]
    assert spans(customer_regions) == [pytest.approx((3.5, 6.0), abs=FRAME_S)]

    audio = Audio("hand-made", "0" * 64, np.stack([left, right]), RATE, RATE)
    diarizer = ChannelMapDiarizer({0: "agent", 1: "customer"})
    turns = diarizer(audio, [agent_regions, customer_regions]).turns
    assert [turn.speaker for turn in turns] == ["agent", "customer"]
    overlap = min(turns[0].end_s, turns[1].end_s) - max(turns[0].start_s, turns[1].start_s)
    assert overlap == pytest.approx(0.5, abs=2 * FRAME_S)


def test_without_bleed_suppression_the_leak_would_be_a_phantom_turn():
    # guards the test above: the energy detector alone does hear the -25 dB leak
    agent = place(6.0, [(1.0, 3.0)], level_dbfs=-20)
    right = 10 ** (-25 / 20) * agent
    _, customer_regions = regions_of(np.stack([agent, right]), bleed=BleedOptions(margin_db=60))
    assert len(customer_regions) == 1
    _, customer_regions = regions_of(np.stack([agent, right]))
    assert customer_regions == []


def test_own_voice_mask_is_per_frame_and_mono_untouched():
    levels = np.array([[-20.0, -20.0, -50.0], [-45.0, -22.0, -20.0]])
    mask = own_voice_mask(levels, margin_db=15, above_floor_db=0)
    assert mask.tolist() == [[True, True, False], [False, True, True]]
    # near the line's noise floor while the other side talks, a sound is the other side's quiet
    # leak summed with the line noise, however far below the talker it is
    floor = np.array([[-60.0] * 9 + [-30.0], [-60.0] * 9 + [-57.0]])
    assert own_voice_mask(floor, margin_db=15, above_floor_db=6)[1].tolist()[-1] is False
    # ...but where the other side is silent nothing can leak: a noisy line's speech 3 dB over
    # its floor is that side's own voice
    noisy = np.array([[-70.0] * 10, [-35.0] * 9 + [-32.0]])
    assert own_voice_mask(noisy, margin_db=15, above_floor_db=6)[1].tolist() == [True] * 10
    assert own_voice_mask(levels[:1], margin_db=15).all()


def test_hysteresis_keeps_speech_until_probability_drops_well_below_threshold():
    probabilities = np.array([0.1, 0.6, 0.45, 0.4, 0.3, 0.6])
    assert hysteresis(probabilities, 0.5).tolist() == [False, True, True, True, False, True]


def test_mask_to_regions_pads_and_clips_to_the_call():
    mask = np.array([True] * 10 + [False] * 20 + [True] * 10)
    regions = mask_to_regions(mask, 0.1, min_speech_s=0.5, min_silence_s=0.5, pad_s=0.2, duration_s=4.0)
    assert spans(regions) == [(0.0, 1.2), (2.8, 4.0)]


def test_detect_speech_refuses_wrong_rate():
    with pytest.raises(ValueError, match="16 kHz"):
        detect_speech(np.zeros((1, 8000), dtype=np.float32), 8000, NO_PAD, BleedOptions())



def _activity_with_a_leaked_word(customer_talks_over: bool, customer_region: bool = False):
    """3.2 s, two channels: the agent speaks from 1.6 s at -20 dBFS; on the customer's line only
    the agent's leak sounds then, 25 dB down (or, with ``customer_talks_over``, the customer's own
    voice too); before it, the line's noise, which Silero half heard (a candidate at 0.5-1.7 s)
    or, with ``customer_region``, heard as speech (a region at 1.0-2.4 s)."""
    from pipeline.types import Segment
    from pipeline.vad import FRAME_S, SpeechActivity

    frames = 100
    levels = np.full((2, frames), -70.0)
    levels[0, 50:] = -20.0
    levels[1, 16:50] = -50.0
    levels[1, 50:] = -22.0 if customer_talks_over else -45.0
    own = levels[::-1] - 15.0 <= levels  # not far below the other channel
    leak = ~own & (levels > -60.0)
    speech = [[Segment(1.6, frames * FRAME_S)], [Segment(1.0, 2.4)] if customer_region else []]
    candidates = [[], [] if customer_region else [Segment(0.5, 1.7)]]
    return SpeechActivity(speech, candidates, own, leak, own.copy(), levels)


@pytest.mark.parametrize("customer_region", [False, True], ids=["candidate", "silero region"])
@pytest.mark.parametrize(
    "heard_on_the_customer_line, customer_talks_over, kept",
    [
        ("have", False, False),  # the agent's "have" leaking in, stretched back into the noise
        ("Have,", False, False),  # the same word, whatever Whisper's case and punctuation
        ("hello", False, True),  # a word the agent did not say: not an echo of the agent
        ("have", True, True),  # both say it at once, each on their own line
    ],
)
def test_a_word_both_channels_hear_at_once_is_said_where_it_is_loud(
    heard_on_the_customer_line, customer_talks_over, kept, customer_region
):
    from pipeline.types import Word
    from pipeline.vad import settle_speech

    activity = _activity_with_a_leaked_word(customer_talks_over, customer_region)
    agent_word = Word(2.0, 2.4, "have", 0.99, channel=0)
    customer_word = Word(1.0, 2.3, heard_on_the_customer_line, 0.77, channel=1)
    regions, words = settle_speech(activity, [customer_word, agent_word], VadOptions())
    assert [w.word for w in words if w.channel == 0] == ["have"]
    assert [w.word for w in words if w.channel == 1] == ([heard_on_the_customer_line] if kept else [])
    assert bool(regions[1]) is kept  # no customer speech made of the leak
    assert regions[0] == activity.speech[0]


@pytest.mark.parametrize(
    "probabilities, confirmed",
    [
        ([0.9], True),  # one word heard with confidence
        ([0.3], False),  # a stray unsure word: what Whisper makes of a noise
        ([0.2, 0.3], False),
        ([0.35, 0.4, 0.3, 0.45], True),  # speech under heavy noise: several unsure words
        # a hang-up clatter on a real bank call (0002f70f, 50.2 s): "I want you to let", all but
        # one barely believed; their mean (0.26) would confirm it, their median does not
        ([0.034, 0.151, 0.351, 0.662, 0.115], False),
    ],
)
def test_a_candidate_is_speech_when_its_words_are_heard(probabilities, confirmed):
    from pipeline.types import Segment, Word
    from pipeline.vad import SpeechActivity, settle_speech

    frames = 100
    own = np.ones((1, frames), dtype=bool)
    activity = SpeechActivity([[]], [[Segment(0.5, 2.5)]], own, np.zeros_like(own))
    words = [
        Word(0.6 + 0.3 * index, 0.8 + 0.3 * index, f"word{index}", probability)
        for index, probability in enumerate(probabilities)
    ]
    regions, kept = settle_speech(activity, words, VadOptions())
    assert (kept == words) is confirmed
    assert bool(regions[0]) is confirmed


@pytest.mark.parametrize("noise_db, grows", [(-30.0, True), (-60.0, False)], ids=["noisy line", "clean line"])
def test_on_a_noisy_line_a_word_heard_widens_the_speech_silero_marked_in_part(noise_db, grows):
    from pipeline.types import Segment, Word
    from pipeline.vad import FRAME_S, SpeechActivity, settle_speech

    frames = 125  # 4 s, speech at -20 dBFS from 1 to 3 s over the line's noise
    levels = np.full((1, frames), noise_db)
    levels[0, int(1.0 / FRAME_S) : int(3.0 / FRAME_S)] = -20.0
    own = np.ones((1, frames), dtype=bool)
    # Silero marked 1.8-2.6 s of the utterance; Whisper heard a word from 1.1 s to 1.9 s
    activity = SpeechActivity([[Segment(1.8, 2.6)]], [[]], own, np.zeros_like(own), None, levels)
    word = Word(1.1, 1.9, "account", 0.9)
    regions, words = settle_speech(activity, [word], VadOptions())
    assert [w.word for w in words] == ["account"]
    expected = (1.1, 2.6) if grows else (1.8, 2.6)
    assert [(r.start_s, r.end_s) for r in regions[0]] == [pytest.approx(expected)]
    assert (words[0].start_s, words[0].end_s) == pytest.approx((1.1, 1.9) if grows else (1.8, 1.9))


def test_a_candidate_takes_context_where_no_one_else_may_be_speaking():
    from pipeline.types import Segment
    from pipeline.vad import _with_context

    # this side's speech, the other side's speech and candidates (with their margins)
    blocked = [Segment(4.0, 6.0), Segment(9.5, 12.0), Segment(16.4, 17.2)]
    candidates = [Segment(2.0, 2.5), Segment(7.0, 7.5), Segment(13.0, 13.3), Segment(16.0, 16.6)]
    widened = _with_context(candidates, blocked, 1.0, duration_s=17.8)
    assert [(s.start_s, s.end_s) for s in widened] == [
        pytest.approx((1.0, 3.5)),  # context both sides
        pytest.approx((6.0, 8.5)),  # up to speech, no further
        pytest.approx((12.0, 14.3)),
        pytest.approx((15.0, 16.6)),  # the candidate stays whole; 17.2-17.6 is no one's context
    ]
    assert _with_context(candidates, blocked, 0.0, 17.8) == candidates
