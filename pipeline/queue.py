"""Review policy: which scored calls a supervisor should see, in what order, and why (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from pipeline.features.customer import CustomerSignals
from pipeline.scoring import CallScore

AUTO_FAIL, BELOW_PASS_MARK, LOW_CONFIDENCE, RANDOM_SAMPLE = 1, 2, 3, 4
# an untrusted criterion decides pass/fail: as urgent as a failed call
NEEDS_HUMAN = BELOW_PASS_MARK
# a supervisor claimed a call the policy did not queue (from the review app)
MANUAL_REVIEW = 5
# an escalated or unhappy customer: a supervisor should hear the call whatever it scored
CUSTOMER_AT_RISK = BELOW_PASS_MARK

# Why a call is in the queue, one kind per reason (kind -> what the review app's filter says).
REASON_KINDS = {
    "auto_fail": "auto-fail",
    "below_pass_mark": "below pass mark",
    "needs_human": "needs human",
    "low_confidence": "low confidence",
    "random_sample": "random sample",
    "manual_review": "manual review",
    "customer_escalation": "customer escalation",
    "unhappy_customer": "unhappy customer",
}


class QueuePolicy(BaseModel):
    """What puts a call in the review queue. Priorities: 1 auto-fail, 2 below the pass mark,
    "needs human" (a criterion calibration does not trust decides pass/fail), or a customer who
    escalated or was unhappy (even on a call that scores well), 3 low confidence
    (ASR, diarization, roles or the score's own), 4 a random sample of passing calls, so the
    queue also measures the auto-scorer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_score_confidence: float = Field(0.6, ge=0, le=1)
    min_asr_word_probability: float = Field(0.6, ge=0, le=1, description="mean Whisper word probability")
    min_diarization_confidence: float = Field(0.5, ge=0, le=1)
    min_role_confidence: float = Field(0.5, ge=0, le=1)
    random_sample_rate: float = Field(0.05, ge=0, le=1)
    queue_escalations: bool = Field(True, description="queue a call where the customer escalated (priority 2)")
    queue_unhappy: bool = Field(True, description="queue a call where the customer was unhappy (priority 2)")


@dataclass(frozen=True)
class CallConfidence:
    """The per-call confidences the pipeline stores beside the score (None where not measured)."""

    mean_word_probability: float | None = None
    diarization_confidence: float | None = None
    role_confidence: float | None = None


@dataclass(frozen=True)
class QueueReason:
    """One reason a call is queued: its kind (``REASON_KINDS``) and the sentence a reviewer reads."""

    kind: str
    text: str


@dataclass(frozen=True)
class QueueDecision:
    priority: int
    reasons: tuple[QueueReason, ...]

    @property
    def text(self) -> str:
        """The reasons as one line, as ``review_queue.reasons`` stores them."""
        return "; ".join(reason.text for reason in self.reasons)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(reason.kind for reason in self.reasons))


def _at(start_s: float | None) -> str:
    return f" at {start_s:.1f} s" if start_s is not None else ""


def review_decision(
    call_id: str, score: CallScore, confidence: CallConfidence, pass_mark: float, policy: QueuePolicy,
    customer: CustomerSignals | None = None,
) -> QueueDecision | None:
    """The queue entry for a scored call, or None when it need not be reviewed."""
    reasons: list[QueueReason] = []
    priority = None
    failed = [c for c in score.criteria if c.status == "fail"]
    for criterion in failed:
        if criterion.auto_fail:
            reasons.append(QueueReason("auto_fail", f"auto-fail: {criterion.criterion_id}{_at(criterion.evidence_start_s)}"))
            priority = priority or AUTO_FAIL
    if score.score < pass_mark:
        names = ", ".join(c.criterion_id for c in failed if not c.auto_fail)
        text = f"score {score.score:.0f} below pass mark {pass_mark:.0f}" + (f" ({names})" if names else "")
        reasons.append(QueueReason("below_pass_mark", text))
        priority = min(priority or BELOW_PASS_MARK, BELOW_PASS_MARK)
    # a criterion calibration does not trust, whose verdict decides pass/fail: a human decides
    for criterion in score.criteria:
        if criterion.decides_outcome:
            text = (
                f"needs human: {criterion.criterion_id} (not trusted), auto says {criterion.status}"
                f"{_at(criterion.evidence_start_s)}"
            )
            reasons.append(QueueReason("needs_human", text))
            priority = min(priority or NEEDS_HUMAN, NEEDS_HUMAN)
    if customer is not None and customer.escalated and policy.queue_escalations:
        text = f"{REASON_KINDS['customer_escalation']}: {customer.escalation}"
        reasons.append(QueueReason("customer_escalation", text))
        priority = min(priority or CUSTOMER_AT_RISK, CUSTOMER_AT_RISK)
    if customer is not None and customer.unhappy_reasons and policy.queue_unhappy:
        text = f"{REASON_KINDS['unhappy_customer']}: " + "; ".join(customer.unhappy_reasons)
        reasons.append(QueueReason("unhappy_customer", text))
        priority = min(priority or CUSTOMER_AT_RISK, CUSTOMER_AT_RISK)
    low = []
    if score.confidence < policy.min_score_confidence:
        low.append(f"score confidence {score.confidence:.2f}")
    checks = (
        ("ASR word probability", confidence.mean_word_probability, policy.min_asr_word_probability),
        ("diarization confidence", confidence.diarization_confidence, policy.min_diarization_confidence),
        ("role confidence", confidence.role_confidence, policy.min_role_confidence),
    )
    for label, value, minimum in checks:
        if value is not None and value < minimum:
            low.append(f"{label} {value:.2f}")
    if low:
        reasons.append(QueueReason("low_confidence", "low confidence: " + ", ".join(low)))
        priority = min(priority or LOW_CONFIDENCE, LOW_CONFIDENCE)
    if priority is None and _sampled(call_id, score, policy.random_sample_rate):
        sample = QueueReason("random_sample", "random sample of passing calls (measures the auto-scorer)")
        return QueueDecision(RANDOM_SAMPLE, (sample,))
    return QueueDecision(priority, tuple(reasons)) if priority is not None else None


def _sampled(call_id: str, score: CallScore, rate: float) -> bool:
    """Deterministic per call and rubric version, so a rerun or rescore picks the same calls."""
    key = f"{call_id}:{score.rubric_id}:{score.rubric_version}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) / 0x1_0000_0000 < rate
