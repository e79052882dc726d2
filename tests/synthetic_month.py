"""A synthetic month of calls with known per-agent behaviour, stored the way the pipeline stores
them: transcripts made from script lines go through the real stages after ASR (features, customer
signals, call reasons, the default rubric, the queue policy) and ``Store.write_call``; human reviews
and coaching sessions are added on top. Each ``PlannedCall`` keeps what was planted (handle time,
hold, dead air, interruptions, unhappy or escalating customer, review score), so tests can compute
every report figure from the plan, independently of the report SQL.

Used by tests/test_reports.py, tests/test_coaching_app.py and tests/test_reports_notebook.py.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.call import CallResult
from pipeline.categories import DEFAULT_CATEGORIES_PATH, load_categories
from pipeline.features import FeatureOptions
from pipeline.features.customer import CustomerOptions, load_sentiment_analyzer
from pipeline.judge import judge_call
from pipeline.metadata import CallMetadata
from pipeline.queue import QueuePolicy
from pipeline.rubric import DEFAULT_RUBRIC_PATH, load_rubric
from pipeline.script import Lemmatizer, load_nlp
from pipeline.signals import SignalStage
from pipeline.store.queue_listing import refresh_call
from pipeline.store.store import Store
from tests.synthetic_calibration import transcript_from_lines

MONTH_START = date(2026, 3, 2)  # a Monday
WEEKS = 4
COACHING_DAY = date(
    2026, 3, 16
)  # a2 starts interrupting from this day (the coaching session's day)
FOLLOW_UP_DAY = date(2026, 3, 27)
AS_OF = date(2026, 3, 31)


@dataclass(frozen=True)
class AgentBehaviour:
    agent_id: str
    team: str
    queue: str
    calls_per_day: int = 2
    hold_s: float = 0.0  # an announced, agreed hold of this length on every call
    dead_air_s: float = 0.0  # an unannounced silence of this length on every call
    interruptions: int = 0  # agent cut-ins per call ...
    interruptions_from: tuple[date, int] | None = None  # ... and from this day on, this many
    unhappy_every: int = 0  # every n-th call the customer ends unhappy (two frustrated turns)
    escalate_every: int = 0  # every n-th call the customer asks for a manager
    review_every: int = 0  # every n-th call gets a human review
    human_score: float = 90.0  # the review's score, minus 10 per interruption


AGENTS = (
    AgentBehaviour(
        "a1", "billing", "billing_inbound", hold_s=0.0, review_every=3, human_score=95.0
    ),
    AgentBehaviour(
        "a2",
        "billing",
        "billing_inbound",
        interruptions_from=(COACHING_DAY, 2),
        review_every=2,
        human_score=90.0,
    ),
    AgentBehaviour(
        "a3", "billing", "payments", hold_s=75.0, unhappy_every=4, review_every=4, human_score=85.0
    ),
    AgentBehaviour(
        "a4", "support", "tech_support", dead_air_s=12.0, escalate_every=5, review_every=5
    ),
    AgentBehaviour(
        "a5",
        "support",
        "tech_support",
        calls_per_day=3,
        unhappy_every=3,
        human_score=80.0,
        review_every=3,
    ),
)


@dataclass
class PlannedCall:
    call_id: str
    agent_id: str
    team: str
    queue: str
    started_at: datetime
    lines: list[tuple[str, float, float, str]]
    duration_s: float
    hold_s: float
    dead_air_s: float
    interruptions: int
    unhappy: bool
    escalated: bool
    reason_line: str
    human_score: float | None = None
    review_id: str | None = None

    @property
    def day(self) -> date:
        return self.started_at.date()


@dataclass
class SyntheticMonth:
    db: Path
    calls: list[PlannedCall]
    coaching_session_ids: dict[str, str] = field(default_factory=dict)  # label -> session id


def _script(agent: AgentBehaviour, index: int, interruptions: int, unhappy: bool, escalated: bool):
    """Script lines for one call and what it holds. Times run on; every line is a plain call step."""
    lines: list[tuple[str, float, float, str]] = []
    t = 0.5

    def say(speaker: str, seconds: float, text: str, gap: float = 0.5) -> None:
        nonlocal t
        lines.append((speaker, round(t, 3), round(t + seconds, 3), text))
        t += seconds + gap

    say("agent", 8.0, "Thank you for calling Acme Telecom, my name is Sam. This call may be recorded for quality"
        " and training purposes. How can I help?")  # fmt: skip
    reason = (
        "Hi, I was charged twice on my bill this month."
        if agent.team == "billing"
        else "Hi, I have had no signal on my phone since yesterday."
    )
    say("customer", 4.0, reason)
    say("agent", 5.0, "I can help with that. Can you verify your date of birth for me please?")
    say("customer", 3.0, "Sure, it is the fourth of May nineteen eighty.")
    for _ in range(interruptions):
        start = t
        lines.append(("customer", round(start, 3), round(start + 5.0, 3),
                      "Well the thing is I was away last week and it started while I was travelling abroad."))  # fmt: skip
        lines.append(("agent", round(start + 2.5, 3), round(start + 6.0, 3),
                      "Sorry to cut in, let me check the account details first."))  # fmt: skip
        t = start + 6.5
    if unhappy:
        say("customer", 4.0, "This is ridiculous, nobody told me about this.")
        say("agent", 4.0, "I'm sorry to hear that, I understand how frustrating that is.")
    if escalated:
        say("customer", 3.0, "I want to speak to your manager.")
        say("agent", 4.0, "I completely understand, I will ask my manager to call you back today.")
    if agent.dead_air_s:
        say("agent", 3.0, "Let me look into the details here.", gap=agent.dead_air_s)
        say("agent", 2.0, "Okay, I found it.")
    if agent.hold_s:
        say("agent", 3.0, "Can I put you on hold for a moment while I check?")
        say("customer", 0.6, "Sure.", gap=agent.hold_s)
        say("agent", 2.0, "Thank you for holding.")
    say(
        "agent",
        6.0,
        "I've applied a credit to your account and you will receive a confirmation email.",
    )
    if unhappy:
        say("customer", 3.0, "Well, I am still not happy about this.")
    else:
        say("customer", 2.0, "Great, thank you.")
    say(
        "agent",
        5.0,
        "Is there anything else I can help you with? Thank you for calling Acme Telecom.",
    )
    duration_s = round(t + 0.5, 3)
    return lines, duration_s, reason


def plan_month(agents: tuple[AgentBehaviour, ...] = AGENTS) -> list[PlannedCall]:
    calls: list[PlannedCall] = []
    for agent in agents:
        n = 0
        for day_offset in range(WEEKS * 7):
            day = MONTH_START + timedelta(days=day_offset)
            if day.weekday() >= 5:
                continue
            for slot in range(agent.calls_per_day):
                n += 1
                interruptions = agent.interruptions
                if agent.interruptions_from and day >= agent.interruptions_from[0]:
                    interruptions = agent.interruptions_from[1]
                unhappy = bool(agent.unhappy_every) and n % agent.unhappy_every == 0
                escalated = bool(agent.escalate_every) and n % agent.escalate_every == 0
                lines, duration_s, reason = _script(agent, n, interruptions, unhappy, escalated)
                call_id = hashlib.sha256(f"month:{agent.agent_id}:{n}".encode()).hexdigest()[:16]
                started_at = datetime.combine(day, datetime.min.time()) + timedelta(
                    hours=9 + 2 * slot, minutes=7 * n % 50
                )
                reviewed = bool(agent.review_every) and n % agent.review_every == 0
                calls.append(
                    PlannedCall(
                        call_id, agent.agent_id, agent.team, agent.queue, started_at, lines, duration_s,
                        agent.hold_s, agent.dead_air_s, interruptions, unhappy or escalated, escalated, reason,
                        human_score=agent.human_score - 10 * interruptions if reviewed else None,
                    )
                )  # fmt: skip
    return calls


def write_month(directory: Path, calls: list[PlannedCall] | None = None) -> SyntheticMonth:
    """Judge every planned call with the real stages (``judge_call``) and store it, then add the reviews."""
    calls = calls if calls is not None else plan_month()
    db = directory / "month.duckdb"
    rubric = load_rubric()
    categories = load_categories()
    nlp = Lemmatizer(load_nlp())
    stage = SignalStage(load_sentiment_analyzer(), CustomerOptions(), categories)
    policy = QueuePolicy(random_sample_rate=0.0)
    with Store(db) as store:
        store.register_rubric(rubric, str(DEFAULT_RUBRIC_PATH), DEFAULT_RUBRIC_PATH.read_text())
        store.register_categories(categories, DEFAULT_CATEGORIES_PATH)
        store.import_metadata(
            [
                CallMetadata(f"{c.call_id}.wav", c.agent_id, c.team, c.queue, c.started_at)
                for c in calls
            ],
            source="tests/synthetic_month.py",
        )
        for call in calls:
            turns, words = transcript_from_lines(call.lines)
            judgement = judge_call(
                call.call_id, turns, words, call.duration_s, rubric, nlp, diarization_confidence=1.0,
                role_confidence=1.0, feature_options=FeatureOptions(), queue_policy=policy, signal_stage=stage,
            )  # fmt: skip
            store.write_call(
                CallResult(
                    call_id=call.call_id, source_path=f"/recordings/{call.call_id}.wav", sha256=call.call_id * 4,
                    duration_s=call.duration_s, sample_rate=8000, channels=2, asr_model="synthetic",
                    diarizer="channel-map", num_speakers=2, diarization_confidence=1.0, role_confidence=1.0,
                    turns=tuple(turns), words=tuple(words), redactions=(), judgement=judgement,
                )
            )  # fmt: skip
    with duckdb.connect(str(db)) as con:
        _write_reviews(con, calls)
    return SyntheticMonth(db, calls)


def _write_reviews(con, calls: list[PlannedCall]) -> None:
    """A submitted review per reviewed call: every criterion as the auto-scorer said, the planned score."""
    for call in calls:
        if call.human_score is None:
            continue
        call.review_id = uuid.uuid5(uuid.NAMESPACE_URL, call.call_id).hex
        submitted = call.started_at + timedelta(days=1)
        con.execute(
            "INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score, overall_comment,"
            " coaching_notes, source, started_at, submitted_at) VALUES (?, ?, 'sue', 'contact-center-default', 1, ?,"
            " 'synthetic review', 'keep it up', 'app', ?, ?)",
            [call.review_id, call.call_id, call.human_score, submitted, submitted],
        )
        con.execute(
            "INSERT INTO human_grades SELECT ?, criterion_id, status, points, NULL FROM criterion_scores WHERE call_id = ?",
            [call.review_id, call.call_id],
        )
        con.execute(
            "UPDATE review_queue SET status = 'done', assigned_to = 'sue' WHERE call_id = ?",
            [call.call_id],
        )
        refresh_call(con, call.call_id)  # the queue listing shows the new status
