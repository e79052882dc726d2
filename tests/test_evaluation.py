"""pipeline/evaluation.py and `callqa eval`: reference formats, exact figures on hand-made turns,
and the same DER as benchmarks/real_calls.py on the shared real calls."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.evaluation import (
    Reference,
    ReferenceSegment,
    evaluate_call,
    load_references,
    summarise,
)
from pipeline.types import Event, Turn, Word

PROJECT = Path(__file__).resolve().parents[1]
EVAL = PROJECT.parent / "shared" / "eval"


def reference(*turns, words=()) -> Reference:
    return Reference("call", [ReferenceSegment(*t) for t in turns], list(words))


CALL = reference(("agent", 0.0, 10.0), ("customer", 12.0, 20.0))


def test_perfect_turns_score_zero():
    result = evaluate_call(CALL, [Turn("agent", 0.0, 10.0), Turn("customer", 12.0, 20.0)], [], 25.0)
    assert result.der == 0.0 and result.role_der == 0.0 and result.jer == 0.0
    assert result.missed_by_role == {"agent": 0.0, "customer": 0.0}


def test_swapped_roles_are_all_wrong_only_for_the_role_aware_der():
    swapped = [Turn("customer", 0.0, 10.0), Turn("agent", 12.0, 20.0)]
    result = evaluate_call(CALL, swapped, [], 25.0)
    assert result.der == 0.0  # the best mapping swaps them back
    assert result.role_der == pytest.approx(1.0)


def test_missed_customer_speech_and_collar():
    # half of the customer's 8 s is missed; the collar forgives 0.25 s each side of each boundary
    turns = [Turn("agent", 0.0, 10.0), Turn("customer", 12.0, 16.0)]
    result = evaluate_call(CALL, turns, [], 25.0)
    scored_customer = 8.0 - 0.5  # 0.25 s off each end of the customer's reference turn
    assert result.missed_by_role["customer"] == pytest.approx((4.0 - 0.25) / scored_customer)
    assert result.missed_by_role["agent"] == 0.0
    assert result.role_der == pytest.approx((4.0 - 0.25) / (10.0 - 0.5 + scored_customer))


def test_wer_normalises_numbers_fillers_and_tags_on_both_sides():
    ref = reference(
        ("agent", 0.0, 5.0, "your balance is seven one five dollars"),
        ("customer", 6.0, 8.0, "um [noise] thank you"),
        words=[
            ReferenceSegment("agent", 0.0, 5.0, "your balance is seven one five dollars"),
            ReferenceSegment("customer", 6.0, 8.0, "um [noise] thank you"),
        ],
    )
    words = [
        Word(0.1, 0.4, "Your", 0.9, "agent"), Word(0.4, 0.8, "balance", 0.9, "agent"),
        Word(0.8, 1.0, "is", 0.9, "agent"), Word(1.0, 2.0, "$715.", 0.9, "agent"),
        Word(6.2, 6.6, "Thank", 0.9, "customer"), Word(6.6, 7.0, "you.", 0.9, "customer"),
    ]  # fmt: skip
    result = evaluate_call(ref, [], words, 10.0)
    assert result.wer_by_role == {"all": 0.0, "agent": 0.0, "customer": 0.0}


def test_dead_air_over_reference_speech_is_counted():
    events = [Event("dead_air", 9.5, 12.5), Event("dead_air", 20.0, 26.0)]
    result = evaluate_call(
        CALL, [Turn("agent", 0.0, 9.5), Turn("customer", 12.5, 20.0)], [], 30.0, events=events
    )
    assert result.dead_air_events == 2
    assert (
        result.dead_air_over_speech == 0
    )  # 0.5 s + 0.5 s of speech under the first: not over 1.5 s
    assert result.dead_air_max_overlap_s == pytest.approx(1.0)
    long_gap = [Event("dead_air", 8.0, 14.0)]
    assert evaluate_call(CALL, [], [], 30.0, events=long_gap).dead_air_over_speech == 1


def test_references_in_every_format(tmp_path):
    (tmp_path / "a.rttm").write_text(
        "SPEAKER a 1 0.0 4.0 <NA> <NA> Agent <NA> <NA>\nSPEAKER a 1 5.0 2.0 <NA> <NA> Caller <NA> <NA>\n"
        "SPEAKER a 1 8.0 0.5 <NA> <NA> Caller <NA> <NA>\n"
    )
    (tmp_path / "a.stm").write_text(
        "a 1 Agent 0.0 4.0 hello there\na 1 Caller 5.0 7.0 <o,f0,male> hi\na 1 Caller 8.0 8.5 [noise]\n"
    )
    (tmp_path / "a.uem").write_text("a 1 0.0 9.0\n")
    (tmp_path / "b.json").write_text(json.dumps({"turns": [
        {"speaker": "rep", "start": 0.0, "end": 2.0, "text": "good morning"},
        {"speaker": "client", "start": 2.5, "end": 3.0, "text": "<unk>"},
    ]}))  # fmt: skip
    (tmp_path / "c.txt").write_text("just the words\n")
    (tmp_path / "notes.md").write_text("not a reference")
    refs = load_references(tmp_path)
    assert sorted(refs) == ["a", "b", "c"]
    a = refs["a"]
    # the [noise]-only stretch is not speech; roles come from the labels
    assert [(t.speaker, t.start_s, t.end_s) for t in a.turns] == [
        ("Agent", 0.0, 4.0),
        ("Caller", 5.0, 7.0),
    ]
    assert a.has_roles and a.role("Caller") == "customer"
    assert [w.text for w in a.words] == ["hello there", "hi"]
    assert a.uem == [(0.0, 9.0)]
    assert [(t.speaker, t.text) for t in refs["b"].turns] == [("rep", "good morning")]
    assert refs["c"].turns == [] and refs["c"].words[0].text == "just the words\n"


def test_duplicate_reference_files_are_refused(tmp_path):
    (tmp_path / "x.one.rttm").write_text("")
    (tmp_path / "x.two.rttm").write_text("")
    with pytest.raises(ValueError, match="two .rttm files for 'x'"):
        load_references(tmp_path)


def test_summary_pools_by_scored_speech():
    one = evaluate_call(CALL, [Turn("agent", 0.0, 10.0), Turn("customer", 12.0, 20.0)], [], 25.0)
    two = evaluate_call(CALL, [Turn("customer", 0.0, 10.0), Turn("agent", 12.0, 20.0)], [], 25.0)
    summary = summarise([one, two])
    assert summary.mean_role_der == pytest.approx(0.5)
    assert summary.worst_role_der == pytest.approx(1.0)
    assert summary.role_der == pytest.approx(0.5)


def test_eval_command_says_when_nothing_matches(tmp_path):
    from pipeline.store.store import Store

    db = tmp_path / "calls.duckdb"
    with Store(db):
        pass
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "call.rttm").write_text(
        "SPEAKER call 1 0.0 1.0 <NA> <NA> agent <NA> <NA>\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "eval", str(tmp_path / "refs"), "--db", str(db)],
        cwd=PROJECT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no stored call" in result.stderr and "matches a reference" in result.stderr


# --- the same DER as the benchmark, on the shared real calls -------------------------------------

SHARED = [EVAL / "google-cloud-speech", EVAL / "harper-valley"]


@pytest.mark.slow
@pytest.mark.skipif(
    not all(folder.is_dir() for folder in SHARED),
    reason=f"the shared real calls are not here: {', '.join(str(f) for f in SHARED)}",
)
def test_callqa_eval_prints_the_benchmarks_der(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "real_calls", PROJECT / "benchmarks" / "real_calls.py"
    )
    real_calls = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(
        sys.modules, spec.name, real_calls
    )  # its dataclasses look themselves up there
    spec.loader.exec_module(real_calls)
    wanted = ("commercial_mono.wav", "0002f70f7386445b.agentL_callerR.flac")
    calls = [c for c in real_calls.real_calls(EVAL) if c.audio.name in wanted]
    assert len(calls) == 2
    stored = real_calls.run_callqa(calls, "whisper-tiny.en", None, tmp_path)
    benchmark = {
        c.audio.name: real_calls.callqa_evaluation(c, stored[c.audio.resolve()]) for c in calls
    }

    printed = {}
    for folder in SHARED:
        command = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "eval",
            str(folder),
            "--db",
            str(tmp_path / "real_calls.duckdb"),
        ]
        as_json = subprocess.run(
            [*command, "--json"], cwd=PROJECT, capture_output=True, text=True, check=True
        )
        for row in json.loads(as_json.stdout)["calls"]:
            printed[row["source"]] = row
        table = subprocess.run(
            command, cwd=PROJECT, capture_output=True, text=True, check=True
        ).stdout
        for name, figures in benchmark.items():
            if (folder / name).exists():
                assert f"{100 * figures.role_der:.1f}" in table  # the table shows the same figure
    for name, figures in benchmark.items():
        assert printed[name]["role_der"] == pytest.approx(figures.role_der, abs=1e-12)
        assert printed[name]["der"] == pytest.approx(figures.der, abs=1e-12)
        assert printed[name]["missed_by_role"] == pytest.approx(figures.missed_by_role)
        assert printed[name]["wer_by_role"] == pytest.approx(figures.wer_by_role)
