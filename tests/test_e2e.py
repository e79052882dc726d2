"""End to end: the real `callqa run` on audio_samples/, checked against each call's ground truth."""

from __future__ import annotations

import json

import duckdb
import jiwer
import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow
BOUNDARY_TOLERANCE_S = 0.3
# Segments of one speaker closer than this are one stretch of speech (a breath, a comma pause).
SAME_SPEAKER_GAP_S = 0.6
TRUTHS = sorted(SAMPLES.glob("*.truth.json"))


@pytest.fixture(scope="session")
def sample_db(default_model_db):
    # the product's default model, as a center runs it (the same run the stored-rows snapshot reads)
    return default_model_db


def query(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def merged(spans):
    out = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] < SAME_SPEAKER_GAP_S:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def stored_call(db, filename):
    rows = query(db, "SELECT call_id, status, channels, diarizer FROM calls WHERE source_path LIKE ?", ["%/" + filename])
    assert len(rows) == 1, f"{filename}: expected one stored call, found {len(rows)}"
    return rows[0]


def test_every_sample_is_stored_once_with_turns_and_words(sample_db):
    files = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in {".wav", ".flac", ".mp3"})
    assert len(files) >= 7
    for filename in files:
        call_id, status, _, _ = stored_call(sample_db, filename)
        assert status == "done", filename
        (turns,) = query(sample_db, "SELECT count(*) FROM turns WHERE call_id = ?", [call_id])[0]
        (words,) = query(sample_db, "SELECT count(*) FROM words WHERE call_id = ?", [call_id])[0]
        assert turns > 3 and words > 30, filename


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_dual_channel_turns_roles_and_words_match_truth(sample_db, truth_path):
    truth = json.loads(truth_path.read_text())
    if "stereo" not in truth["files"]:
        pytest.skip(f"{truth['call']} is a mono-only sample")
    call_id, _, channels, diarizer = stored_call(sample_db, truth["files"]["stereo"])
    assert channels == 2 and diarizer == "channel-map"
    turns = query(sample_db, "SELECT speaker, start_s, end_s FROM turns WHERE call_id = ? ORDER BY start_s", [call_id])
    for speaker in ("agent", "customer"):
        expected = merged([(t["start_s"], t["end_s"]) for t in truth["turns"] if t["speaker"] == speaker])
        found = merged([(start, end) for who, start, end in turns if who == speaker])
        # the same number of stretches: no phantom turn from the other side's bleed, none missed
        assert len(found) == len(expected), f"{speaker}: {found} vs truth {expected}"
        for (start, end), (true_start, true_end) in zip(found, expected):
            assert abs(start - true_start) <= BOUNDARY_TOLERANCE_S, (speaker, start, true_start)
            assert abs(end - true_end) <= BOUNDARY_TOLERANCE_S, (speaker, end, true_end)

    # roles: each side's words are that side's script, far closer to it than to the other side's
    scripts = {who: " ".join(t["text"] for t in truth["turns"] if t["speaker"] == who) for who in ("agent", "customer")}
    for speaker, other in (("agent", "customer"), ("customer", "agent")):
        words = query(sample_db, "SELECT word FROM words WHERE call_id = ? AND speaker = ? ORDER BY start_s", [call_id, speaker])
        hypothesis = " ".join(w for (w,) in words)
        own, crossed = word_error_rate(scripts[speaker], hypothesis), word_error_rate(scripts[other], hypothesis)
        print(f"{truth['call']} {speaker}: WER {own:.1%} against its own script, {crossed:.1%} against the other side's")
        assert crossed > own + 0.15, f"{speaker}'s words are not that side's: {hypothesis[:200]}"


def test_each_side_is_transcribed_well_over_the_dual_channel_calls(sample_db):
    """Word error rate per side, over all dual-channel samples together: one call's customer says
    about 20 words that are not numbers, so a single misheard word moves its rate by 5 points."""
    for speaker in ("agent", "customer"):
        references, hypotheses = [], []
        for truth_path in TRUTHS:
            truth = json.loads(truth_path.read_text())
            if "stereo" not in truth["files"]:
                continue
            call_id = stored_call(sample_db, truth["files"]["stereo"])[0]
            words = query(sample_db, "SELECT word FROM words WHERE call_id = ? AND speaker = ? ORDER BY start_s", [call_id, speaker])
            hypotheses.append(" ".join(w for (w,) in words))
            references.append(" ".join(t["text"] for t in truth["turns"] if t["speaker"] == speaker))
        error = word_error_rate(" ".join(references), " ".join(hypotheses))
        print(f"{speaker}: word error rate over the dual-channel samples {error:.1%}")
        assert error < 0.45, speaker


NUMBER_WORDS = set(
    "zero oh nought one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "double triple first second third fourth fifth sixth seventh eighth ninth".split()
)


def _without_numbers(words: list[str]) -> list[str]:
    """Whisper writes numbers as digits ('49'), scripts spell them out, and redaction tags replace
    some: compare the words that are not numbers, so the rate measures recognition, not formatting."""
    return [w for w in words if w not in NUMBER_WORDS and not any(ch.isdigit() for ch in w)]


def word_error_rate(reference: str, hypothesis: str) -> float:
    normalise = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    untagged = " ".join(w for w in hypothesis.split() if not w.startswith("["))
    reference_words = _without_numbers(normalise(reference).split())
    hypothesis_words = _without_numbers(normalise(untagged).split())
    return jiwer.wer(" ".join(reference_words), " ".join(hypothesis_words))


def test_no_words_invented_in_long_silences(sample_db):
    for truth_path in TRUTHS:
        truth = json.loads(truth_path.read_text())
        for kind, filename in truth["files"].items():
            call_id = stored_call(sample_db, filename)[0]
            for gap in truth.get("silences", []):
                inside = query(
                    sample_db,
                    "SELECT word FROM words WHERE call_id = ? AND start_s > ? AND end_s < ?",
                    [call_id, gap["start_s"] + 0.3, gap["end_s"] - 0.3],
                )
                assert inside == [], f"{filename}: words inside the silence {gap}: {inside}"


def test_mono_calls_are_not_guessed(sample_db):
    for truth_path in TRUTHS:
        truth = json.loads(truth_path.read_text())
        if "mono" not in truth["files"]:
            continue
        call_id, _, channels, _ = stored_call(sample_db, truth["files"]["mono"])
        assert channels == 1
        speakers = {s for (s,) in query(sample_db, "SELECT DISTINCT speaker FROM turns WHERE call_id = ?", [call_id])}
        assert speakers <= {"agent", "customer", "unknown"} and speakers


def test_overall_word_error_rate_is_printed_and_bounded(sample_db):
    references, hypotheses = [], []
    for truth_path in TRUTHS:
        truth = json.loads(truth_path.read_text())
        for filename in truth["files"].values():
            call_id = stored_call(sample_db, filename)[0]
            words = query(sample_db, "SELECT word FROM words WHERE call_id = ? ORDER BY start_s", [call_id])
            hypotheses.append(" ".join(w for (w,) in words))
            references.append(" ".join(t["text"] for t in truth["turns"]))
    error = word_error_rate(" ".join(references), " ".join(hypotheses))
    print(f"word error rate on audio_samples/ (default model, number words left out): {error:.1%}")
    assert error < 0.3
