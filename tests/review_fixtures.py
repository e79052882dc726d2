"""A small review database written the way the pipeline writes it (``Store.write_call``), with real
redacted FLAC copies, metadata for two teams and an unassigned call, a rubric whose ``verification``
criterion calibration does not trust, and one user per role. Shared by the review app tests."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import soundfile as sf
from argon2 import PasswordHasher

from pipeline.call import CallResult
from pipeline.digest import file_sha256
from pipeline.judge import Judgement
from pipeline.metadata import CallMetadata
from pipeline.queue import QueueDecision, QueueReason
from pipeline.redact import Redaction
from pipeline.redacted_audio import RedactedAudio
from pipeline.rubric import parse_rubric
from pipeline.scoring import CallScore, CriterionScore
from pipeline.store.review_store import ReviewStore
from pipeline.store.store import Store, connect_with_retry
from pipeline.types import Event, Features, Turn, Word

PASSWORD = "correct horse battery"
SECRET_KEY = "test-secret-key-" + "x" * 40
TEAM_A, TEAM_B = "billing", "support"
USERS = {  # name -> (role, teams)
    "sue": ("supervisor", [TEAM_A]),
    "bob": ("supervisor", [TEAM_A]),
    "sam": ("supervisor", [TEAM_B]),
    "lena": ("qa_lead", []),
    "ada": ("admin", []),
}
RUBRIC_ID, RUBRIC_VERSION = "test-rubric", 1
RUBRIC_YAML = """id: test-rubric
version: 1
pass_mark: 80
stages:
  - id: opening
    name: Opening
    criteria:
      - id: greeting
        description: Agent greets with the company name
        weight: 25
        type: phrase
        phrases: [[thank you for calling]]
      - id: recording_disclosure
        description: Agent discloses call recording
        weight: 25
        auto_fail: true
        type: phrase
        phrases: [[this call may be recorded]]
  - id: discovery
    name: Discovery
    criteria:
      - id: verification
        description: Agent verifies the caller's identity
        weight: 25
        type: phrase
        phrases: [[date of birth]]
  - id: closing
    name: Closing
    criteria:
      - id: closing
        description: Agent offers further help
        weight: 25
        type: phrase
        phrases: [[anything else]]
"""
SCRIPT_TAG = "<script>alert('pwned')</script>"
DURATION_S = 20.0
RATE = 16_000
# (speaker, start_s, end_s, text)
TURNS = [
    ("agent", 0.5, 2.5, "Thank you for calling Acme Telecom, my name is Emily."),
    ("customer", 3.0, 5.0, "Hi, I'd like to pay my bill."),
    ("agent", 5.5, 7.5, "Of course. Can I please confirm your full name?"),
    ("customer", 8.0, 9.5, "Thomas Wright."),
    ("agent", 10.0, 12.0, "Thank you. Please read me the card number."),
    ("customer", 12.5, 14.5, "It's [CARD] [CARD] [CARD] [CARD]"),
    ("agent", 15.0, 17.0, "Is there anything else I can help you with?"),
    ("customer", 17.5, 19.0, "No, thanks."),
]
# id, auto_fail, quote when said, what was searched when not, evidence start/end (s)
CRITERIA = [
    (
        "greeting",
        False,
        "'thank you for calling Acme Telecom'",
        "'thank you for calling'",
        0.5,
        2.5,
    ),
    (
        "recording_disclosure",
        True,
        "'this call may be recorded'",
        "'this call may be recorded'",
        3.0,
        5.0,
    ),
    ("verification", False, "'confirm your full name'", "'confirm your name'", 5.5, 7.5),
    ("closing", False, "'anything else I can help you with'", "'anything else'", 15.0, 17.0),
]


def criteria_failing(*failing: str) -> list[CriterionScore]:
    """The four criteria, each worth 25 points, with ``failing`` failed and the rest passed."""
    scores = []
    for cid, auto_fail, quote, searched, start_s, end_s in CRITERIA:
        failed = cid in failing
        text = (
            f"not said in {start_s}-{end_s} s: {searched}"
            if failed
            else f"{quote} ({start_s}-{end_s} s)"
        )
        scores.append(
            CriterionScore(cid, 0.0 if failed else 25.0, 25.0, "fail" if failed else "pass", text, start_s, end_s,
                           stage="", auto_fail=auto_fail, confidence=0.9)
        )  # fmt: skip
    return scores


@dataclass
class ReviewFixture:
    db: Path
    calls: dict[str, str]  # label -> call_id
    audio: dict[str, Path] = field(default_factory=dict)  # label -> redacted copy
    sources: dict[str, Path] = field(default_factory=dict)  # label -> "original" (never served)
    extra_pending: list[str] = field(default_factory=list)  # call ids of the bulk billing calls

    def copy_to(self, directory: Path) -> ReviewFixture:
        """The same database in another folder (the audio files are shared, read-only)."""
        db = directory / "review.duckdb"
        shutil.copy(self.db, db)
        return ReviewFixture(
            db, dict(self.calls), dict(self.audio), dict(self.sources), list(self.extra_pending)
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        # read-write, like the app: a server running in this process may have the file open, and
        # DuckDB refuses a second connection with another configuration in the same process
        with connect_with_retry(str(self.db), read_only=False) as con:
            return con.execute(sql, params or []).fetchall()


def write_flac(path: Path, seed: int, silent: list[tuple[float, float]] = ()) -> None:
    """A 20 s 16 kHz call-like signal: a tone per speaker turn, blanked where redacted."""
    t = np.arange(int(DURATION_S * RATE)) / RATE
    signal = np.zeros_like(t, dtype=np.float32)
    rng = np.random.default_rng(seed)
    for speaker, start_s, end_s, _ in TURNS:
        span = (t >= start_s) & (t < end_s)
        frequency = 220.0 if speaker == "agent" else 330.0
        signal[span] = 0.2 * np.sin(2 * np.pi * frequency * t[span])
    signal += 0.003 * rng.standard_normal(len(t)).astype(np.float32)
    for start_s, end_s in silent:
        signal[(t >= start_s) & (t < end_s)] = 0.0
    sf.write(path, signal, RATE, format="FLAC", subtype="PCM_16")


def _record(call_id: str, label: str, directory: Path, audio: bool, priority: int | None, reasons: tuple[QueueReason, ...],
            extra_text: str = "", scores: list[CriterionScore] | None = None) -> CallResult:  # fmt: skip
    turns = [Turn(s, a, b, text) for s, a, b, text in TURNS]
    if extra_text:
        turns[3] = Turn(turns[3].speaker, turns[3].start_s, turns[3].end_s, extra_text)
    words = [
        Word(turn.start_s + 0.2 * i, turn.start_s + 0.2 * i + 0.18, word, 0.9, turn.speaker)
        for turn in turns
        for i, word in enumerate(turn.text.split())
    ]
    criteria = tuple(scores if scores is not None else criteria_failing())
    total = 100.0 * sum(c.points for c in criteria) / sum(c.max_points for c in criteria)
    auto_failed = any(c.auto_fail and c.status == "fail" for c in criteria)
    score = CallScore(
        RUBRIC_ID,
        RUBRIC_VERSION,
        total,
        total >= 80 and not auto_failed,
        auto_failed,
        0.9,
        criteria,
    )
    source = directory / f"{label}.original.wav"
    redacted = None
    if audio:
        redacted_path = directory / f"{call_id}.flac"
        write_flac(redacted_path, seed=len(label), silent=[(12.7, 14.5)])
        redacted = RedactedAudio(str(redacted_path), file_sha256(redacted_path))
        # The "original": different bytes at a different path, which the app must never serve.
        write_flac(source, seed=len(label) + 1)
    judgement = Judgement(
        features=Features(**{f.name: 0.0 for f in fields(Features)}),
        events=(
            Event("dead_air", 9.5, 10.0, "", "0.5 s"), Event("hold", 2.5, 3.0, "agent", ""),
            Event("talkover", 14.4, 15.1, "agent", ""),
        ),
        score=score,
        queue=QueueDecision(priority, reasons) if priority else None,
    )  # fmt: skip
    return CallResult(
        call_id=call_id, source_path=str(source), sha256=call_id * 4, duration_s=DURATION_S,
        sample_rate=8000, channels=2, asr_model="whisper-tiny.en", diarizer="channel-map", num_speakers=2,
        diarization_confidence=1.0, role_confidence=1.0, turns=tuple(turns), words=tuple(words),
        redactions=(Redaction("card", 12.7, 14.5),), judgement=judgement, redacted_audio=redacted,
        processing_s=1.0,
    )  # fmt: skip


def build_review_db(directory: Path, extra_pending: int = 0) -> ReviewFixture:
    """Write the fixture database under ``directory``; ``extra_pending`` bulk billing calls for paging."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "review.duckdb"
    labels = {  # label: call id, queue priority, reasons, a transcript line, failed criteria
        "flagged": ("a1f78d98eca793a2", 1, (QueueReason("auto_fail", "auto-fail: recording_disclosure at 3.0 s"),), "", ("recording_disclosure",)),
        "low": ("21816e91f002d0ab", 2, (QueueReason("below_pass_mark", "score 50 below pass mark 80 (greeting, closing)"),), "", ("greeting", "closing")),
        "other_team": ("96ccad287ef0c988", 2, (QueueReason("below_pass_mark", "score 75 below pass mark 80 (greeting)"),), SCRIPT_TAG, ("greeting",)),
        "unassigned": ("7efe84656ff07a84", 3, (QueueReason("low_confidence", "low confidence: role confidence 0.40"),), "", ()),
        "not_queued": ("c134435fd6eaab88", None, (), "", ()),
    }  # fmt: skip
    fixture = ReviewFixture(db, {})
    with Store(db) as store:
        store.register_rubric(parse_rubric(RUBRIC_YAML, "rubric.yaml"), "rubric.yaml", RUBRIC_YAML)
        for label, (call_id, priority, reasons, text, failing) in labels.items():
            scores = criteria_failing(*failing)
            record = _record(call_id, label, directory, True, priority, reasons, text, scores)
            store.write_call(record)
            fixture.calls[label] = call_id
            fixture.audio[label] = Path(record.redacted_audio.path)
            fixture.sources[label] = Path(record.source_path)
        metadata = [
            CallMetadata(
                "flagged.original.wav",
                "a101",
                TEAM_A,
                "billing_inbound",
                _at("2026-11-02T09:14:05"),
            ),
            CallMetadata(
                "low.original.wav", "a104", TEAM_A, "payments", _at("2026-11-03T14:05:33")
            ),
            CallMetadata(
                "other_team.original.wav",
                "a102",
                TEAM_B,
                "tech_support",
                _at("2026-11-02T10:02:41"),
            ),
            CallMetadata(
                "not_queued.original.wav",
                "a101",
                TEAM_A,
                "billing_inbound",
                _at("2026-11-04T08:00:00"),
            ),
        ]
        for i in range(extra_pending):
            call_id = f"e{i:015x}"
            label = f"extra{i}"
            store.write_call(
                _record(
                    call_id,
                    label,
                    directory,
                    False,
                    2,
                    (QueueReason("below_pass_mark", "score 75 below pass mark 80 (closing)"),),
                    "",
                    criteria_failing("closing"),
                )
            )
            metadata.append(
                CallMetadata(
                    f"{label}.original.wav",
                    f"a{200 + i % 7}",
                    TEAM_A,
                    "billing_inbound",
                    _at("2026-11-05T12:00:00"),
                )
            )
            fixture.extra_pending.append(call_id)
        store.import_metadata(metadata, source="tests/review_fixtures.py")
        store.con.execute(
            "INSERT INTO criterion_trust (rubric_id, rubric_version, criterion_id, trusted, reason, n_calls, kappa, kappa_low,"
            " kappa_high, decided_at) VALUES (?, ?, 'verification', false, 'kappa 0.21 < 0.6 on 40 calls', 40, 0.21, 0.05, 0.4, now()::TIMESTAMP)",
            [RUBRIC_ID, RUBRIC_VERSION],
        )
    # Real argon2id hashes, with small cost parameters so that the many logins of the tests are
    # quick (verification reads the parameters from the hash; production hashes use the defaults).
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    store = ReviewStore(str(db))
    with store.open() as review_db:
        for name, (role, teams) in USERS.items():
            review_db.add_user(name, cheap.hash(PASSWORD), role, teams, by="tests")
    return fixture


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log a TestClient in; returns the response of the login post (303 on success)."""
    page = client.get("/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )  # fmt: skip
