"""`callqa pci-scan` (pipeline/pci_scan.py): the text checks on hand-made text, and the command on
a database with a planted leak. The listening check runs on real audio in test_redaction_e2e.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.pci_scan import Finding, read_tokens, scan_tokens
from pipeline.call import CallResult
from pipeline.features import extract_features
from pipeline.judge import Judgement
from pipeline.scoring import CallScore
from pipeline.store.store import Store
from pipeline.types import Turn, Word
from tests.conftest import PROJECT

VISA = "4539148803436467"


def _found(*texts: str) -> list[str]:
    return [what for _, what in scan_tokens(read_tokens(texts))]


@pytest.mark.parametrize(
    "text",
    [
        f"my card is {VISA}",
        "4539 1488 0343 6467",
        "four five three nine one four eight eight zero three four three six four six seven",
        "forty five thirty nine, fourteen eighty eight, oh three four three, sixty four sixty seven",
        "4 -5 -3 -9, 1 -4 -8 -8, 0 -3 -4 -3, 6 -4 -6 -7",
    ],
)
def test_a_card_number_in_any_spelling_is_found(text: str) -> None:
    assert _found(text) == ["Luhn-valid card number (16 digits)"]


def test_a_card_split_over_rows_is_found_and_placed() -> None:
    tokens = read_tokens(["4539", "1488", "0343", "6467"])
    ((words, what),) = scan_tokens(tokens)
    assert what.startswith("Luhn-valid") and [tokens[i].source for i in words] == [0, 1, 2, 3]


def test_long_runs_and_values_after_cues() -> None:
    assert _found("1 8 8, " * 8) == ["digit run long enough to be a card number (24 digits)"]
    assert _found("and the security code is seven three seven") == [
        "3 digits after a security-code cue"
    ]
    assert _found("expiry twelve twenty eight") == ["4 digits after an expiry cue"]
    assert _found("what's your PIN? 4 8 2 1") == ["4 digits after a PIN cue"]


def test_the_scores_own_times_and_match_scores_are_not_call_content() -> None:
    # two criteria's evidence, read one after the other: a quote ending in a security cue, its
    # time span and match score, then a count of events
    assert _found(
        "not said in 0.0-15.0 s: 'thank you'; closest 'your social security number, please.' (8.9-10.8 s, 20)",
        "1 dead_air events of 10 s or more (max 0); over the limit at 47.7-72.7 s",
    ) == []  # fmt: skip
    # a value quoted in the evidence is still found
    assert _found("closest 'the security code is 7 3 9' (5.0-6.0 s, 80)") == [
        "3 digits after a security-code cue"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "the card number is [CARD] [CARD] [CARD] [CARD], security code [CVV]",
        "my order number is 1234 5678 9012 3456",  # not a card: no brand, after an order cue
        "the card ending in 4444? yes",
        "security code done. and a phone number for the receipt? 555 867 5309",
        "the card number please. it's $49.99 a month",
        "expires in three days",
        "call id a1f78d98eca793a2, sha256 "
        + "0f" * 32
        + ", at 2026-11-02T09:14:05 in /data/4111.wav",
        "SPEAKER a1f78d98eca793a2 1 12.345 3.210 <NA> <NA> agent <NA> <NA>",
    ],
)
def test_what_is_not_card_data_is_not_reported(text: str) -> None:
    assert _found(text) == []


def test_a_finding_line_names_where_and_never_the_value() -> None:
    line = Finding("turns.text", "Luhn-valid card number (16 digits)", "abc", 1.0, 2.5).line()
    assert line == "call abc  turns.text 1.0-2.5 s: Luhn-valid card number (16 digits)"


# --- the command ------------------------------------------------------------------------------


def _store_call(db, call_id: str, text: str, extra_words: tuple[str, ...] = ()) -> None:
    words = [
        Word(1.0 + 0.4 * i, 1.3 + 0.4 * i, " " + w, 0.9, "customer")
        for i, w in enumerate([*text.split(), *extra_words])
    ]
    turns = (Turn("customer", 1.0, 9.0, text),)
    features, events = extract_features(turns, words, 30.0)
    record = CallResult(
        call_id=call_id, source_path=f"/recordings/{call_id}.wav", sha256=call_id * 4, duration_s=30.0,
        sample_rate=8000, channels=1, asr_model="tiny.en", diarizer="embedded", num_speakers=1,
        diarization_confidence=None, role_confidence=None, turns=turns, words=tuple(words), redactions=(),
        judgement=Judgement(features, tuple(events), CallScore("rubric", 1, 50.0, False, False, 0.5, ()), None),
    )  # fmt: skip
    with Store(db) as store:
        store.write_call(record)


def _scan(db, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.cli", "pci-scan", "--db", str(db), "--no-listen"]
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, cwd=PROJECT, check=False
    )


def test_pci_scan_reports_a_planted_leak_and_exits_non_zero(tmp_path):
    db = tmp_path / "calls.duckdb"
    _store_call(db, "a1f78d98eca793a2", "my card is [CARD] [CARD] [CARD] [CARD] thanks")
    clean = _scan(db)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 finding(s)" in clean.stderr
    # the leak: a Luhn-valid number written into a turn's text
    with Store(db) as store:
        store.con.execute(
            "UPDATE turns SET text = ? WHERE call_id = ?",
            [
                f"my card is {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]} thanks",
                "a1f78d98eca793a2",
            ],
        )
    found = _scan(db)
    assert found.returncode == 1
    assert found.stdout.strip() == (
        "call a1f78d98eca793a2  turns.text 1.0-9.0 s: Luhn-valid card number (16 digits)"
    )
    output = found.stdout + found.stderr
    assert VISA not in output and VISA[:4] not in output and VISA[-4:] not in output
    assert "1 finding(s) in 1 call(s)" in found.stderr


def test_pci_scan_reads_exported_files(tmp_path):
    db = tmp_path / "calls.duckdb"
    _store_call(db, "c134435fd6eaab88", "hello")
    export = tmp_path / "out" / "notes.txt"
    export.parent.mkdir()
    export.write_text(f"the customer said the card number was {VISA}\n")
    result = _scan(db, "--export", str(export.parent))
    assert result.returncode == 1
    assert f"export {export}: Luhn-valid card number (16 digits)" in result.stdout
    assert VISA not in result.stdout + result.stderr


def test_pci_scan_of_no_database_is_an_error(tmp_path):
    result = _scan(tmp_path / "missing.duckdb")
    assert result.returncode == 2 and "no such database" in result.stderr
