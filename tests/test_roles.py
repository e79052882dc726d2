"""Agent/customer roles for mono calls from what each diarized speaker says."""

from pipeline.diarize.roles import apply_roles, assign_roles
from pipeline.types import Turn, Word


def turns(*spoken):
    return [Turn(speaker, 5.0 * i, 5.0 * i + 4.0, text) for i, (speaker, text) in enumerate(spoken)]


def test_agent_is_who_greets_and_verifies():
    call = turns(
        ("spk0", "Thank you for calling Acme Telecom, my name is Sarah, how can I help you today?"),
        ("spk1", "Hi, I'm calling about my bill, I was charged twice."),
        ("spk0", "I'm sorry to hear that. Can I confirm your full name and date of birth?"),
        ("spk1", "David Miller, fourth of March."),
        ("spk0", "Is there anything else I can help you with today?"),
    )
    assignment = assign_roles(call)
    assert assignment.roles == {"spk0": "agent", "spk1": "customer"}
    assert assignment.confidence > 0.9


def test_swapped_order_customer_speaks_first():
    # the caller says hello before the agent's greeting: speaking first must not make them the agent
    call = turns(
        ("spk0", "Hello? Hi, yes."),
        ("spk1", "Thank you for calling Acme Telecom, this call may be recorded for quality and training purposes."),
        ("spk0", "I'm calling because my internet is not working."),
        ("spk1", "Let me check that for you. Can you confirm your date of birth?"),
    )
    assert assign_roles(call).roles == {"spk1": "agent", "spk0": "customer"}


def test_no_evidence_means_low_confidence():
    call = turns(("spk0", "Okay."), ("spk1", "Right."), ("spk0", "Sure."))
    assignment = assign_roles(call)
    assert assignment.confidence < 0.5


def test_asr_slips_in_cues_still_count():
    call = turns(
        ("spk0", "thanks for colling acme tele com my name is james"),
        ("spk1", "i'd like to cancel my plan"),
        ("spk0", "can i please confirm your date of birth"),
    )
    assert assign_roles(call).roles["spk0"] == "agent"


def test_rubric_phrases_add_evidence():
    call = turns(("spk0", "Good morning, Zephyr Bank, Dana speaking."), ("spk1", "Hello there."))
    without = assign_roles(call)
    with_rubric = assign_roles(call, extra_agent_phrases=["zephyr bank"])
    assert with_rubric.roles["spk0"] == "agent"
    assert with_rubric.evidence["spk0"] > without.evidence["spk0"]


def test_apply_roles_renames_turns_and_words():
    call = turns(("spk0", "Thank you for calling"), ("spk1", "hi"))
    words = [Word(0.1, 0.4, "Thank", 0.9, "spk0"), Word(5.1, 5.3, "hi", 0.9, "spk1"), Word(9.0, 9.2, "x", 0.9, "spk7")]
    new_turns, new_words = apply_roles(call, words, {"spk0": "agent", "spk1": "customer"})
    assert [t.speaker for t in new_turns] == ["agent", "customer"]
    assert [w.speaker for w in new_words] == ["agent", "customer", "unknown"]


def test_a_turn_that_only_begins_a_cue_is_no_evidence():
    # the diarizer cut the customer's "Thank you so much" after "so": the start of the agent's
    # "thank you for calling" is not the agent speaking
    call = turns(
        ("spk0", "Good morning, Northwind Insurance, Priya speaking."),
        ("spk1", "Hello, yes, I need to make a claim on my car policy."),
        ("spk1", "Thank you so"),
        ("spk0", "Lovely, thanks for calling Northwind Insurance, take care."),
    )
    assignment = assign_roles(call)
    assert assignment.evidence["spk1"] == 0.0
    assert assignment.roles == {"spk0": "agent", "spk1": "customer"}
