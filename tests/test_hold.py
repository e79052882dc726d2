"""features/hold.py: announced holds, their end at the agent's return, long holds."""

from pipeline.features import FeatureOptions
from pipeline.features.hold import find_holds, is_hold_announcement
from pipeline.features.silence import find_silences
from pipeline.types import Turn

OPTIONS = FeatureOptions()


def holds_of(turns, **overrides):
    options = OPTIONS.model_copy(update=overrides)
    return find_holds(
        turns,
        find_silences(turns),
        options.hold_phrases,
        min_similarity=options.hold_phrase_min_similarity,
        min_silence_s=options.hold_min_silence_s,
        announce_window_s=options.hold_announce_window_s,
        long_hold_s=options.long_hold_s,
    )


def test_announced_hold_runs_from_the_silence_to_the_agents_return():
    turns = [
        Turn("agent", 10.0, 13.0, "Can I place you on a brief hold while I check?"),
        Turn("customer", 13.5, 14.0, "Sure."),
        Turn("agent", 74.0, 76.0, "Thank you for holding."),
    ]
    [hold] = holds_of(turns)
    assert (hold.kind, hold.start_s, hold.end_s, hold.speaker) == ("hold", 14.0, 74.0, "agent")
    assert hold.detail == "announced at 10.00 s"


def test_long_hold_is_flagged():
    turns = [
        Turn("agent", 0.0, 3.0, "Let me put you on hold for a moment."),
        Turn("agent", 133.0, 135.0, "Thanks for waiting."),
    ]
    [hold] = holds_of(turns)
    assert (hold.start_s, hold.end_s) == (3.0, 133.0)
    assert hold.detail == "long_hold; announced at 0.00 s"


def test_customer_speaking_during_the_hold_does_not_end_it():
    turns = [
        Turn("agent", 0.0, 2.0, "Please bear with me while I check."),
        Turn("customer", 40.0, 41.0, "Hello?"),
        Turn("agent", 90.0, 92.0, "Thanks for holding."),
    ]
    [hold] = holds_of(turns)
    assert (hold.start_s, hold.end_s) == (2.0, 90.0)


def test_silence_without_announcement_is_no_hold():
    turns = [
        Turn("agent", 0.0, 2.0, "Let me look at your account."),
        Turn("agent", 30.0, 32.0, "Okay, I see it."),
    ]
    assert holds_of(turns) == []


def test_announcement_too_long_before_the_silence_is_no_hold():
    turns = [
        Turn("agent", 0.0, 2.0, "I may need to place you on hold later."),
        Turn("customer", 2.5, 40.0, "That's fine, so the thing is..."),
        Turn("agent", 60.0, 62.0, "Right."),
    ]
    assert holds_of(turns) == []
    assert len(holds_of(turns, hold_announce_window_s=40.0)) == 1


def test_short_pause_after_announcement_is_no_hold():
    turns = [
        Turn("agent", 0.0, 2.0, "One moment while I pull that up."),
        Turn("agent", 4.0, 6.0, "Got it."),
    ]
    assert holds_of(turns) == []


def test_each_announcement_makes_one_hold():
    turns = [
        Turn("agent", 0.0, 2.0, "Can I put you on hold?"),
        Turn("agent", 20.0, 22.0, "Thanks for holding."),
        Turn("agent", 40.0, 42.0, "Sorry, still looking."),  # 18 s silence, no new announcement
    ]
    holds = holds_of(turns)
    assert [(h.start_s, h.end_s) for h in holds] == [(2.0, 20.0)]


def test_announcement_tolerates_asr_errors_but_not_unrelated_text():
    phrases = OPTIONS.hold_phrases
    assert is_hold_announcement("bare with me while I check", phrases, 90.0)
    assert is_hold_announcement("Can I place you on hold?", phrases, 90.0)
    assert not is_hold_announcement("Let me check your account.", phrases, 90.0)
    assert not is_hold_announcement("", phrases, 90.0)
