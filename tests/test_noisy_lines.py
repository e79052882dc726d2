"""Real calls with what real lines do to them, through the whole pipeline.

The customer channel of a Harper Valley bank call (real people, human transcript) and of a
90 s stretch of the AWS call (its caller channel; energy-VAD reference) gets car or street noise
down to 5 dB SNR, clipping, or a level jump, and always the agent's voice leaking in at -25 dB.
Against the references the pipeline must keep at least 90 % of the customer's speech (pooled
over the calls, 0.25 s collar), report no dead air over anyone's speech, and make no customer
turn out of the agent's leak or the noise (with the customer silent and only street noise and
the leak on the line, not one customer turn). benchmarks/noisy_lines.py runs every shared call
under every condition with the default model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.line_conditions import degrade

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
BANK_CALL = EVAL / "harper-valley" / "010eaccb7a23436f.agentL_callerR.flac"
AWS_CALL = EVAL / "aws-live-call-analytics" / "Auto_Repairs_40_UTC.agentL_callerR.flac"
AWS_EXCERPT_S = (115.0, 205.0)  # both sides talk, with turn changes and a long caller stretch
# Street noise at 5 dB SNR is not met with the tests' whisper-tiny.en: on the bank call it hears
# too little of the customer (36 % of the speech missed) and a dead-air event lies over speech.
# (With the default whisper-base, benchmarks/noisy_lines.py keeps 90.3 % over 7 calls, with none.)
# Strict, so the test says when it starts to pass.
STREET_5 = pytest.param(
    "street 5", marks=pytest.mark.xfail(strict=True, reason="street noise at 5 dB with whisper-tiny.en")
)
CONDITIONS = ["car 10", "car 5", STREET_5, "clipped", "quiet, then loud", "street noise only"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (BANK_CALL.is_file() and AWS_CALL.is_file()),
        reason=f"the shared real calls are not here: {BANK_CALL} or {AWS_CALL} is missing",
    ),
]


def load_calls():
    """(name, stereo samples at 8 kHz, rate, Reference) for the bank call and the AWS excerpt."""
    from pipeline.evaluation import Reference, ReferenceSegment, load_references

    samples, rate = sf.read(BANK_CALL, dtype="float32")
    calls = [("bank", samples, rate, load_references(BANK_CALL.parent)["010eaccb7a23436f"])]
    samples, rate = sf.read(AWS_CALL, dtype="float32")
    start_s, end_s = AWS_EXCERPT_S
    excerpt = samples[int(start_s * rate) : int(end_s * rate)]
    roles = {"Agent": "agent", "Caller": "customer"}
    turns = [
        ReferenceSegment(
            roles[t.speaker], max(t.start_s, start_s) - start_s, min(t.end_s, end_s) - start_s
        )
        for t in load_references(AWS_CALL.parent)["Auto_Repairs_40_UTC"].turns
        if t.end_s > start_s and t.start_s < end_s
    ]
    calls.append(("aws", excerpt, rate, Reference("aws-excerpt", turns)))
    return calls


@pytest.fixture(scope="module")
def processor():
    from pipeline.batch import CallProcessor
    from pipeline.config import load_settings

    return CallProcessor(
        load_settings(asr={"model": "whisper-tiny.en"}, redacted_audio={"enabled": False})
    )


@pytest.mark.parametrize("name", CONDITIONS)
def test_customer_speech_survives_the_line(processor, tmp_path, name):
    from pipeline.audio import file_sha256
    from pipeline.evaluation import evaluate_call

    missed_s = scored_s = 0.0
    for call, samples, rate, reference in load_calls():
        spans = [(t.start_s, t.end_s) for t in reference.turns if t.speaker == "customer"]
        customer = degrade(name, samples[:, 0], samples[:, 1], rate, spans)
        path = tmp_path / f"{call}.flac"
        sf.write(path, np.stack([samples[:, 0], customer], axis=1), rate)
        record = processor(path, file_sha256(path))
        result = evaluate_call(
            reference, record.turns, record.words, record.duration_s, events=record.judgement.events
        )
        customer_only = evaluate_call(
            type(reference)(reference.key, [t for t in reference.turns if t.speaker == "customer"]),
            [t for t in record.turns if t.speaker == "customer"], [], record.duration_s,
        )  # fmt: skip
        missed_s += customer_only.missed_s
        scored_s += customer_only.reference_speech_s
        print(f"{call} {name}: customer speech missed {result.missed_by_role['customer']:.1%}, "
              f"customer false alarm {result.false_alarm_by_role['customer']:.2f} s")  # fmt: skip
        if name.endswith("noise only"):  # the customer never speaks: nothing may come of it
            assert [t for t in record.turns if t.speaker == "customer"] == []
            assert [w for w in record.words if w.speaker == "customer"] == []
            continue
        assert result.dead_air_over_speech == 0, f"{call} {name}: dead air over speech"
        # no phantom customer turns: each one lies mostly on the customer's reference speech
        said = [(s - 0.5, e + 0.5) for s, e in spans]
        for turn in (t for t in record.turns if t.speaker == "customer"):
            covered = sum(max(0.0, min(turn.end_s, e) - max(turn.start_s, s)) for s, e in said)
            assert covered >= 0.5 * turn.duration_s, f"{call} {name}: phantom customer turn {turn}"
    if name.endswith("noise only"):
        return  # checked above: not one customer turn came out of the noise and the leak
    kept = 1 - missed_s / scored_s
    print(f"{name}: {kept:.1%} of {scored_s:.1f} s of customer speech kept")
    assert kept >= 0.90, f"{name}: only {kept:.0%} of the customer's speech kept"
