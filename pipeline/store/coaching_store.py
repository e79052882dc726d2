"""SQL for coaching and agents: coaching sessions and follow-ups, the agent's own reviewed calls,
acknowledgements and disputes. Every change writes ``audit_log`` in the same transaction.

Works on a ``ReviewDB`` (one request's connection, ``pipeline/store/review_store.py``) and keeps its
team scope: a supervisor reaches only their teams' agents, calls and disputes (anything else is
``NotFound``, exactly like a call that does not exist); an ``agent`` account reaches only the calls
of its own agent id that have a submitted review.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from pipeline.store.connection import transaction, utc_now
from pipeline.store.reports_sql import ReportQueries
from pipeline.store.review_store import (
    Forbidden,
    NotFound,
    ReviewConflict,
    ReviewDB,
    User,
    _dicts,
    _scope_sql,
)

GRADE_STATUSES = ("pass", "fail", "na")
# the newest version of each review chain (a review nobody amended), per call
_CURRENT_REVIEWS = """
    SELECT r.* FROM reviews r
     WHERE r.submitted_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM reviews a WHERE a.amends_review_id = r.review_id)
"""


@dataclass(frozen=True)
class SessionInput:
    agent_id: str
    held_on: date
    focus: tuple[str, ...]
    commitment: str
    follow_up_on: date
    notes: str | None = None


class CoachingDB:
    """Coaching, acknowledgement and dispute queries on one request's ``ReviewDB``."""

    def __init__(self, db: ReviewDB):
        self.db = db
        self.con = db.con
        self.reports = ReportQueries(db.con)

    # --- who -----------------------------------------------------------------------------------

    def agent_id_of(self, user: User) -> str:
        """The agent id an ``agent`` account stands for (its own name unless set)."""
        row = self.con.execute(
            "SELECT agent_id FROM users WHERE username = ?", [user.username]
        ).fetchone()
        return (row[0] if row and row[0] else None) or user.username

    def agent_team(self, user: User, agent_id: str) -> str | None:
        """The team most of the agent's calls in scope belong to; ``NotFound`` when none is in scope."""
        team, calls = self.reports.agent_team(agent_id, *_scope_sql(user))
        if not calls:
            raise NotFound(agent_id)
        return team

    def agents(self, user: User) -> list[dict]:
        """Agents with calls in scope: id, main team, calls."""
        scope, params = _scope_sql(user)
        return _dicts(
            self.con.execute(
                f"""SELECT agent_id, arg_max(team, n) AS team, sum(n) AS calls FROM (
                        SELECT agent_id, team, count(*) AS n FROM calls c
                         WHERE agent_id IS NOT NULL AND status = 'done' AND {scope} GROUP BY ALL)
                     GROUP BY agent_id ORDER BY team, agent_id""",
                params,
            )
        )

    # --- the agent's own calls ----------------------------------------------------------------

    def _own_call(self, agent_id: str, call_id: str) -> dict:
        rows = _dicts(
            self.con.execute(
                f"""SELECT c.call_id, c.agent_id, c.team, c.queue_name, coalesce(c.started_at, c.processed_at) AS call_at,
                           c.duration_s, c.redacted_audio_path, c.redacted_sha256
                      FROM calls c
                     WHERE c.call_id = ? AND c.agent_id = ? AND c.status = 'done'
                       AND EXISTS ({_CURRENT_REVIEWS} AND r.call_id = c.call_id)""",
                [call_id, agent_id],
            )
        )
        if not rows:
            raise NotFound(call_id)
        return rows[0]

    def own_reviewed_calls(self, agent_id: str) -> list[dict]:
        """The agent's calls with a submitted review: newest first, with acknowledgement and disputes."""
        return _dicts(
            self.con.execute(
                f"""WITH cur AS ({_CURRENT_REVIEWS})
                    SELECT c.call_id, coalesce(c.started_at, c.processed_at) AS call_at, c.duration_s, c.queue_name,
                           cur.review_id, cur.reviewer, cur.human_score, cur.submitted_at,
                           EXISTS (SELECT 1 FROM review_acknowledgements k WHERE k.review_id = cur.review_id) AS acknowledged,
                           (SELECT count(*) FROM disputes d WHERE d.call_id = c.call_id AND d.status = 'pending') AS open_disputes
                      FROM calls c JOIN cur ON cur.call_id = c.call_id
                     WHERE c.agent_id = ? AND c.status = 'done'
                   QUALIFY row_number() OVER (PARTITION BY c.call_id ORDER BY cur.submitted_at DESC) = 1
                     ORDER BY call_at DESC, c.call_id""",
                [agent_id],
            )
        )

    def current_review(self, call_id: str) -> dict | None:
        """The newest version of the call's most recent review, with its grades and the rubric's points."""
        reviews = _dicts(
            self.con.execute(
                f"SELECT * FROM ({_CURRENT_REVIEWS}) WHERE call_id = ? ORDER BY submitted_at DESC LIMIT 1",
                [call_id],
            )
        )
        if not reviews:
            return None
        review = reviews[0]
        review["grades"] = _dicts(
            self.con.execute(
                """SELECT g.criterion_id, g.status, g.points, g.comment, cs.max_points, cs.status AS auto_status,
                          cs.evidence_text, cs.evidence_start_s
                     FROM human_grades g
                     LEFT JOIN criterion_scores cs ON cs.call_id = ? AND cs.criterion_id = g.criterion_id
                          AND cs.rubric_id = ? AND cs.rubric_version = ?
                    WHERE g.review_id = ? ORDER BY g.criterion_id""",
                [call_id, review["rubric_id"], review["rubric_version"], review["review_id"]],
            )
        )
        return review

    def own_call_view(self, agent_id: str, call_id: str) -> dict:
        """What the agent sees of one of their reviewed calls: transcript, events, the review, disputes."""
        call = self._own_call(agent_id, call_id)
        return {
            "call": call,
            "turns": _dicts(
                self.con.execute(
                    "SELECT speaker, start_s, end_s, text FROM turns WHERE call_id = ? ORDER BY start_s, turn_idx",
                    [call_id],
                )
            ),
            "events": _dicts(
                self.con.execute(
                    "SELECT kind, start_s, end_s, speaker, detail FROM events WHERE call_id = ? ORDER BY start_s",
                    [call_id],
                )
            ),
            "review": self.current_review(call_id),
            "acknowledged": self.con.execute(
                "SELECT min(acknowledged_at) FROM review_acknowledgements WHERE call_id = ? AND review_id IN"
                f" (SELECT review_id FROM ({_CURRENT_REVIEWS}) WHERE call_id = ?)",
                [call_id, call_id],
            ).fetchone()[0],
            "disputes": _dicts(
                self.con.execute(
                    "SELECT * FROM disputes WHERE call_id = ? ORDER BY raised_at", [call_id]
                )
            ),
            "coaching": self.sessions(agent_id),
        }

    def own_audio(self, agent_id: str, call_id: str) -> tuple[str, str | None]:
        call = self._own_call(agent_id, call_id)
        if not call["redacted_audio_path"]:
            raise NotFound(call_id)
        return call["redacted_audio_path"], call["redacted_sha256"]

    def acknowledge(self, user: User, agent_id: str, call_id: str) -> None:
        self._own_call(agent_id, call_id)
        with self.db.store._write_lock, transaction(self.con):
            review = self.current_review(call_id)
            done = self.con.execute(
                "SELECT count(*) FROM review_acknowledgements WHERE review_id = ?",
                [review["review_id"]],
            ).fetchone()[0]
            if done:
                raise ReviewConflict("this review is already acknowledged")
            self.con.execute(
                "INSERT INTO review_acknowledgements VALUES (?, ?, ?, ?)",
                [review["review_id"], call_id, user.username, utc_now()],
            )
            self.db.audit(
                user.username, "acknowledge", call_id, None, {"review_id": review["review_id"]}
            )

    def raise_dispute(
        self, user: User, agent_id: str, call_id: str, criterion_id: str, comment: str
    ) -> str:
        """Dispute one criterion of the call's current review; returns the dispute id."""
        self._own_call(agent_id, call_id)
        with self.db.store._write_lock, transaction(self.con):
            review = self.current_review(call_id)
            grades = {g["criterion_id"]: g for g in review["grades"]}
            if criterion_id not in grades:
                raise NotFound(criterion_id)
            open_ = self.con.execute(
                "SELECT count(*) FROM disputes WHERE call_id = ? AND criterion_id = ? AND status = 'pending'",
                [call_id, criterion_id],
            ).fetchone()[0]
            if open_:
                raise ReviewConflict(
                    f"{criterion_id} is already disputed and waiting for a decision"
                )
            dispute_id = uuid.uuid4().hex
            self.con.execute(
                "INSERT INTO disputes (dispute_id, review_id, call_id, criterion_id, raised_by, comment, raised_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    dispute_id,
                    review["review_id"],
                    call_id,
                    criterion_id,
                    user.username,
                    comment,
                    utc_now(),
                ],
            )
            grade = grades[criterion_id]
            self.db.audit(
                user.username, "dispute", call_id, {criterion_id: [grade["status"], grade["points"]]},
                {"dispute_id": dispute_id, "review_id": review["review_id"], "criterion_id": criterion_id,
                 "comment": comment},
            )  # fmt: skip
        return dispute_id

    # --- disputes, for supervisors and QA leads -------------------------------------------------

    def disputes(self, user: User, status: str = "pending") -> list[dict]:
        scope, params = _scope_sql(user)
        return _dicts(
            self.con.execute(
                f"""SELECT d.*, c.agent_id, c.team, g.status AS graded_status, g.points AS graded_points,
                           g.comment AS graded_comment, r.reviewer
                      FROM disputes d JOIN calls c ON c.call_id = d.call_id
                      JOIN reviews r ON r.review_id = d.review_id
                      LEFT JOIN human_grades g ON g.review_id = d.review_id AND g.criterion_id = d.criterion_id
                     WHERE d.status = ? AND {scope} ORDER BY d.raised_at""",
                [status, *params],
            )
        )

    def _dispute_in_scope(self, user: User, dispute_id: str) -> dict:
        scope, params = _scope_sql(user)
        rows = _dicts(
            self.con.execute(
                f"SELECT d.* FROM disputes d JOIN calls c ON c.call_id = d.call_id WHERE d.dispute_id = ? AND {scope}",
                [dispute_id, *params],
            )
        )
        if not rows:
            raise NotFound(dispute_id)
        return rows[0]

    def resolve_dispute(
        self, user: User, dispute_id: str, accept: bool, reason: str, status: str | None = None,
        points: float | None = None,
    ) -> str | None:  # fmt: skip
        """Accept (amend the review: the disputed criterion becomes ``status``/``points``) or reject
        with ``reason``. Returns the amended review's id when accepted."""
        if user.role not in ("supervisor", "qa_lead", "admin"):
            raise Forbidden("only a supervisor or a QA lead decides disputes")
        dispute = self._dispute_in_scope(user, dispute_id)
        with self.db.store._write_lock, transaction(self.con):
            if (
                self.con.execute(
                    "SELECT status FROM disputes WHERE dispute_id = ?", [dispute_id]
                ).fetchone()[0]
                != "pending"
            ):
                raise ReviewConflict("this dispute has already been decided")
            amended = self._amend_for(dispute, user, status, points, reason) if accept else None
            self.con.execute(
                "UPDATE disputes SET status = ?, resolved_by = ?, resolved_at = ?, resolution = ?, amended_review_id = ?"
                " WHERE dispute_id = ?",
                [
                    "accepted" if accept else "rejected",
                    user.username,
                    utc_now(),
                    reason,
                    amended,
                    dispute_id,
                ],
            )
            self.db.audit(
                user.username, "dispute_accept" if accept else "dispute_reject", dispute["call_id"],
                {"dispute_id": dispute_id, "criterion_id": dispute["criterion_id"], "status": "pending"},
                {"status": "accepted" if accept else "rejected", "reason": reason, "amended_review_id": amended},
            )  # fmt: skip
        return amended

    def _amend_for(
        self, dispute: dict, user: User, status: str | None, points: float | None, reason: str
    ) -> str:
        """A new version of the review's chain with the disputed criterion changed (in the caller's transaction)."""
        review_id = dispute["review_id"]
        while True:  # the newest version of the chain (it may have been amended since)
            row = self.con.execute(
                "SELECT review_id FROM reviews WHERE amends_review_id = ?", [review_id]
            ).fetchone()
            if row is None:
                break
            review_id = row[0]
        review = _dicts(self.con.execute("SELECT * FROM reviews WHERE review_id = ?", [review_id]))[
            0
        ]
        grades = _dicts(
            self.con.execute(
                """SELECT g.criterion_id, g.status, g.points, g.comment, cs.max_points FROM human_grades g
                     LEFT JOIN criterion_scores cs ON cs.call_id = ? AND cs.criterion_id = g.criterion_id
                          AND cs.rubric_id = ? AND cs.rubric_version = ?
                    WHERE g.review_id = ?""",
                [review["call_id"], review["rubric_id"], review["rubric_version"], review_id],
            )
        )
        target = next(g for g in grades if g["criterion_id"] == dispute["criterion_id"])
        new_status = status or ("pass" if target["status"] == "fail" else "fail")
        if new_status not in GRADE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(GRADE_STATUSES)}")
        maximum = float(target["max_points"] or 0.0)
        if new_status == "na":
            new_points = None
        elif points is not None:
            if not 0 <= points <= maximum:
                raise ValueError(f"points must be between 0 and {maximum:g}")
            new_points = float(points)
        else:
            new_points = maximum if new_status == "pass" else 0.0
        target.update(status=new_status, points=new_points, comment=f"dispute accepted: {reason}")
        applied = [g for g in grades if g["status"] != "na"]
        possible = sum(float(g["max_points"] or 0.0) for g in applied)
        score = (
            round(100.0 * sum(float(g["points"] or 0.0) for g in applied) / possible, 1)
            if possible
            else 100.0
        )
        amended_id = uuid.uuid4().hex
        now = utc_now()
        comment = f"Amended after dispute {dispute['dispute_id']} by {dispute['raised_by']}, accepted by {user.username}: {reason}"
        self.con.execute(
            "INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score, overall_comment,"
            " coaching_notes, source, amends_review_id, started_at, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'dispute', ?, ?, ?)",
            [amended_id, review["call_id"], review["reviewer"], review["rubric_id"], review["rubric_version"], score,
             comment, review["coaching_notes"], review_id, now, now],
        )  # fmt: skip
        self.con.executemany(
            "INSERT INTO human_grades (review_id, criterion_id, status, points, comment) VALUES (?, ?, ?, ?, ?)",
            [
                [amended_id, g["criterion_id"], g["status"], g["points"], g["comment"]]
                for g in grades
            ],
        )
        self.db.audit(
            user.username, "amend", review["call_id"],
            {"review_id": review_id, "human_score": review["human_score"]},
            {"review_id": amended_id, "human_score": score, "amends_review_id": review_id, "source": "dispute",
             "grades": {target["criterion_id"]: [new_status, new_points, target["comment"]]}},
        )  # fmt: skip
        return amended_id

    # --- coaching sessions ----------------------------------------------------------------------

    def add_session(self, user: User, session: SessionInput) -> str:
        if user.role not in ("supervisor", "qa_lead", "admin"):
            raise Forbidden("only a supervisor or a QA lead records coaching")
        team = self.agent_team(user, session.agent_id)  # NotFound outside the coach's teams
        session_id = uuid.uuid4().hex
        with self.db.store._write_lock, transaction(self.con):
            self.con.execute(
                "INSERT INTO coaching_sessions (session_id, agent_id, team, coach, held_on, focus, commitment,"
                " follow_up_on, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [session_id, session.agent_id, team, user.username, session.held_on, list(session.focus),
                 session.commitment, session.follow_up_on, session.notes, utc_now()],
            )  # fmt: skip
            self.db.audit(
                user.username, "coaching", session.agent_id, None,
                {"session_id": session_id, "held_on": session.held_on, "focus": list(session.focus),
                 "commitment": session.commitment, "follow_up_on": session.follow_up_on, "notes": session.notes},
            )  # fmt: skip
        return session_id

    def sessions(self, agent_id: str) -> list[dict]:
        return self.reports.coaching_sessions(agent_id=agent_id)

    def sessions_in_scope(
        self, user: User, due_by: date | None = None, open_only: bool = True
    ) -> list[dict]:
        """Coaching sessions of agents in the user's teams (by the session's team)."""
        teams = None if user.sees_all_teams else list(user.teams)
        return self.reports.coaching_sessions(teams=teams, due_by=due_by, open_only=open_only)

    def close_session(self, user: User, session_id: str, outcome: str, note: str | None) -> None:
        if outcome not in ("met", "not_met"):
            raise ValueError("outcome must be met or not_met")
        sessions = [
            s
            for s in self.sessions_in_scope(user, open_only=False)
            if s["session_id"] == session_id
        ]
        if not sessions:
            raise NotFound(session_id)
        with self.db.store._write_lock, transaction(self.con):
            updated = self.con.execute(
                "UPDATE coaching_sessions SET closed_at = ?, closed_by = ?, outcome = ?, outcome_note = ?"
                " WHERE session_id = ? AND closed_at IS NULL RETURNING session_id",
                [utc_now(), user.username, outcome, note, session_id],
            ).fetchall()
            if not updated:
                raise ReviewConflict("this follow-up is already closed")
            self.db.audit(
                user.username, "coaching_follow_up", sessions[0]["agent_id"], {"session_id": session_id, "open": True},
                {"outcome": outcome, "note": note},
            )  # fmt: skip
