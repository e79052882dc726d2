"""categories.py: call reasons from YAML rules (phrases, measures, events), errors with lines; and
rescore and the queue applying a new version."""

from __future__ import annotations

import pytest

from pipeline.categories import CategoriesError, load_categories, parse_categories
from pipeline.features import extract_features
from pipeline.features.customer import CustomerOptions
from pipeline.signals import SignalStage, call_signals
from tests.synthetic_calibration import transcript_from_lines

CALL = [
    ("agent", 0.0, 5.0, "Thank you for calling Acme Telecom, my name is Sam."),
    ("customer", 6.0, 11.0, "Hi, I was charged twice on my bill and I want to cancel my contract."),
    ("agent", 12.0, 15.0, "I'm sorry to hear that. Can I put you on hold while I check?"),
    ("customer", 15.5, 16.0, "Okay."),
    ("agent", 90.0, 95.0, "Thanks for holding, I've refunded the second charge."),
    ("customer", 96.0, 98.0, "Okay, thanks."),
]
DURATION_S = 100.0


@pytest.fixture(scope="module")
def nlp(lemmatizer):
    return lemmatizer


def reasons_of(lines, nlp, vader, categories=None):
    turns, words = transcript_from_lines(lines)
    features, events = extract_features(turns, words, DURATION_S)
    stage = SignalStage(vader, CustomerOptions(), categories or load_categories())
    return call_signals(features, events, turns, words, nlp, stage)


def test_default_categories_on_a_call_with_a_dispute_a_cancellation_and_a_long_hold(nlp, vader):
    signals = reasons_of(CALL, nlp, vader)
    found = {m.category_id: m for m in signals.categories.matches}
    assert set(found) == {
        "billing_dispute",
        "cancellation_intent",
        "long_hold",
        "escalation",
        "unhappy_customer",
    }
    assert found["billing_dispute"].evidence_text.startswith("customer said 'charged twice'")
    assert 6.0 < found["billing_dispute"].start_s < found["cancellation_intent"].start_s < 11.0
    assert found["long_hold"].evidence_text == "hold_total_s = 74"  # 16.0 s to 90.0 s
    assert found["escalation"].start_s == found["cancellation_intent"].start_s
    assert (signals.categories.set_id, signals.categories.set_version) == (
        "contact-center-reasons",
        1,
    )


def test_all_rules_of_a_category_must_hold_and_negate_turns_a_rule_round(nlp, vader):
    categories = parse_categories(
        """
id: test
version: 3
categories:
  - id: unresolved_cancellation
    name: Cancellation the agent did not try to save
    rules:
      - {type: phrases, speaker: customer, phrases: [cancel my contract]}
      - {type: phrases, speaker: agent, phrases: [special offer, a discount], negate: true}
  - id: early_cancellation
    name: Cancellation in the first 5 s
    rules:
      - {type: phrases, speaker: customer, phrases: [cancel my contract], within_first_s: 5}
  - id: short_call
    name: Under a minute
    rules:
      - {type: measure, measure: handle_time_s, max: 60}
  - id: agent_held
    name: The agent put the customer on hold
    rules:
      - {type: event, event: hold, speaker: agent, min_duration_s: 60}
"""
    )
    found = reasons_of(CALL, nlp, vader, categories).categories
    assert found.ids == ("unresolved_cancellation", "agent_held")
    assert found.matches[0].evidence_text.endswith("agent never said any of 2 phrases")
    saved = [*CALL[:4], ("agent", 90.0, 95.0, "I can give you a discount of ten percent."), CALL[5]]
    assert reasons_of(saved, nlp, vader, categories).categories.ids == ("agent_held",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "id: x\nversion: 1\ncategories:\n  - id: a\n    name: A\n    rules:\n      - {type: mood}\n",
            7,
            "unknown rule type",
        ),
        (
            "id: x\nversion: 1\ncategories:\n  - id: a\n    name: A\n    rules:\n      - {type: event, event: yelling}\n",
            7,
            "unknown event kind 'yelling'",
        ),
        (
            "id: x\nversion: 1\ncategories:\n  - id: a\n    name: A\n    rules:\n      - {type: measure, measure: hold_total_s}\n",
            7,
            "needs 'min', 'max'",
        ),
        (
            "id: x\nversion: 1\ncategories:\n  - id: a\n    name: A\n    rules: []\n  - id: a\n    name: B\n    rules: [{type: measure, measure: hold_events, min: 1}]\n",
            6,
            "category 'a' (rules)",
        ),
        (
            "id: x\nversion: 1\ncategories:\n  - id: a\n    name: A\n    rules: [{type: measure, measure: hold_events, min: 1}]\n  - id: a\n    name: B\n    rules: [{type: measure, measure: hold_events, min: 1}]\n",
            7,
            "duplicate category id 'a' (first on line 4)",
        ),
        ("id: x\nid: y\n", 2, "duplicate key 'id'"),
    ],
)
def test_a_categories_file_with_mistakes_names_the_line(text, line, message):
    with pytest.raises(CategoriesError) as caught:
        parse_categories(text, "reasons.yaml")
    assert f"reasons.yaml:{line}:" in str(caught.value) and message in str(caught.value)


def test_the_default_file_loads():
    categories = load_categories()
    assert len({c.id for c in categories.categories}) == len(categories.categories) >= 5


def test_rescore_applies_a_new_categories_version_and_queue_filters_by_it(tmp_path):
    import subprocess
    import sys

    import duckdb

    from pipeline.categories import DEFAULT_CATEGORIES_PATH
    from tests.review_fixtures import build_review_db

    fx = build_review_db(tmp_path / "fixture")
    v2 = tmp_path / "reasons_v2.yaml"
    v2.write_text(
        DEFAULT_CATEGORIES_PATH.read_text().replace("version: 1", "version: 2")
        + "\n  - id: card_read_out\n    name: Card read out\n    rules:\n"
        "      - {type: phrases, speaker: agent, phrases: [read me the card number]}\n"
    )

    def cli(*args):
        command = [sys.executable, "-m", "pipeline.cli", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    result = cli("rescore", "--rubric", DEFAULT_CATEGORIES_PATH.with_name("default.yaml"), "--categories", v2,
                 "--db", fx.db)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(fx.db), read_only=True) as con:
        rows = con.execute(
            "SELECT call_id, set_version, category_id FROM call_categories"
        ).fetchall()
        versions = con.execute("SELECT set_id, set_version FROM category_sets").fetchall()
    assert versions == [("contact-center-reasons", 2)]
    assert {(call_id, version) for call_id, version, cid in rows if cid == "card_read_out"} == {
        (call_id, 2) for call_id in [*fx.calls.values()]
    }
    # a changed file under a version already used is refused, like a rubric
    v2.write_text(
        v2.read_text()
        + "\n  - {id: extra, name: Extra, rules: [{type: measure, measure: hold_events, min: 9}]}\n"
    )
    refused = cli("rescore", "--rubric", DEFAULT_CATEGORIES_PATH.with_name("default.yaml"), "--categories", v2,
                  "--db", fx.db)  # fmt: skip
    assert (
        refused.returncode == 2 and "give the changed file a new version number" in refused.stderr
    )
    with duckdb.connect(str(fx.db), read_only=True) as con:
        pending = con.execute(
            "SELECT call_id FROM review_queue WHERE status = 'pending'"
        ).fetchall()
    labels = {call_id: label for label, call_id in fx.calls.items()}
    queue = cli("queue", "--db", fx.db, "--category", "card_read_out")
    assert queue.returncode == 0, queue.stderr
    assert pending and all(
        f"{labels[call_id]}.original.wav" in queue.stdout for (call_id,) in pending
    )
    nothing = cli("queue", "--db", fx.db, "--category", "no_such_reason")
    assert not any(f"{label}.original.wav" in nothing.stdout for label in labels.values())
