"""The only module that speaks SQL. One DuckDB connection per process; one transaction per call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import time
from datetime import datetime, timezone
from pathlib import Path

from typing import TYPE_CHECKING

import duckdb

from pipeline.types import Event, Features, Turn, Word

if TYPE_CHECKING:  # read-only commands (callqa queue/show) should not pay for these imports
    from pipeline.metadata import CallMetadata
    from pipeline.queue import QueueDecision
    from pipeline.redact import Redaction
    from pipeline.scoring import CallScore

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
CALL_TABLES = ("turns", "words", "redactions", "features", "events", "call_scores", "criterion_scores")
VIEWS_PATH = Path(__file__).with_name("views.sql")


@dataclass
class CallRecord:
    """Everything stored for one call (done or failed)."""

    call_id: str
    source_path: str
    status: str
    sha256: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    error: str | None = None
    asr_model: str | None = None
    diarizer: str | None = None
    num_speakers: int | None = None
    diarization_confidence: float | None = None
    role_confidence: float | None = None
    processing_s: float | None = None
    redacted_audio_path: str | None = None
    redacted_sha256: str | None = None
    turns: list[Turn] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redactions: list[Redaction] = field(default_factory=list)
    features: Features | None = None
    events: list[Event] = field(default_factory=list)
    score: CallScore | None = None
    queue: QueueDecision | None = None
    stage_s: dict[str, float] = field(default_factory=dict)  # wall time per stage, for benchmarks and logs


@dataclass
class StoredCall:
    """A processed call as stored: what ``callqa eval`` scores against a reference."""

    call_id: str
    source_path: str
    duration_s: float
    channels: int
    turns: list[Turn] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


LOCK_RETRY_S = 30.0


def connect_with_retry(path: str, read_only: bool, timeout_s: float = LOCK_RETRY_S) -> duckdb.DuckDBPyConnection:
    """Open the database, waiting while another process (the nightly run, the review app) holds it.

    DuckDB lets one process write at a time, so every writer keeps its connection short and the
    others wait their turn here instead of failing.
    """
    deadline = time.monotonic() + timeout_s
    delay_s = 0.01
    marker = Path(waiting_marker(path))
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only)
            if delay_s > 0.01:
                marker.unlink(missing_ok=True)
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            # Say "someone is waiting" beside the database: the review app then lets its open
            # connections drain before opening new ones, so a busy app cannot starve the batch.
            try:
                marker.touch()
            except OSError:
                pass
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.2)


def waiting_marker(path: str) -> str:
    """The file a process waiting for the database lock touches (see ``connect_with_retry``)."""
    return str(path) + ".waiting"


class Store:
    def __init__(self, path: str | Path, read_only: bool = False, lock_timeout_s: float = LOCK_RETRY_S):
        self.path = str(path)
        self.con = connect_with_retry(self.path, read_only, lock_timeout_s)
        if not read_only:
            self.con.execute(SCHEMA_PATH.read_text())
            self.con.execute(VIEWS_PATH.read_text())

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def done_call_ids(self) -> list[str]:
        return [row[0] for row in self.con.execute("SELECT call_id FROM calls WHERE status = 'done' ORDER BY call_id").fetchall()]

    def turns_of(self, call_id: str) -> list[Turn]:
        rows = self.con.execute(
            "SELECT speaker, start_s, end_s, text FROM turns WHERE call_id = ? ORDER BY turn_idx", [call_id]
        ).fetchall()
        return [Turn(*row) for row in rows]

    def register_rubric(self, rubric_id: str, version: int, pass_mark: float, path: str, text: str) -> None:
        """Keep the source of every rubric version used; a changed file under an old version is refused."""
        row = self.con.execute(
            "SELECT source_text FROM rubrics WHERE rubric_id = ? AND rubric_version = ?", [rubric_id, version]
        ).fetchone()
        if row is None:
            self.con.execute(
                "INSERT INTO rubrics VALUES (?, ?, ?, ?, ?, ?)",
                [rubric_id, version, pass_mark, path, text, datetime.now(timezone.utc).replace(tzinfo=None)],
            )
        elif row[0] != text:
            raise ValueError(
                f"{path}: rubric {rubric_id!r} version {version} differs from the version {version} already used "
                "in this database; give the changed rubric a new version number (old scores stay as they were)"
            )

    def _write_score(self, call_id: str, score: CallScore, queue: QueueDecision | None) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        key = [call_id, score.rubric_id, score.rubric_version]
        for table in ("call_scores", "criterion_scores"):
            self.con.execute(f"DELETE FROM {table} WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?", key)
        self.con.execute(
            "INSERT INTO call_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*key, round(score.score, 2), score.passed, score.auto_failed, round(score.confidence, 3), now],
        )
        criteria = score.criteria
        self._insert_frame(
            "criterion_scores",
            {
                "call_id": call_id,
                "rubric_id": score.rubric_id,
                "rubric_version": score.rubric_version,
                "criterion_id": [c.criterion_id for c in criteria],
                "stage": [c.stage for c in criteria],
                "points": [float(c.points) for c in criteria],
                "max_points": [float(c.max_points) for c in criteria],
                "status": [c.status for c in criteria],
                "auto_fail": [c.auto_fail for c in criteria],
                "confidence": [c.confidence for c in criteria],
                "evidence_text": [c.evidence_text for c in criteria],
                "evidence_start_s": [c.evidence_start_s for c in criteria],
                "evidence_end_s": [c.evidence_end_s for c in criteria],
                "trusted": [c.trusted for c in criteria],
            },
        )
        in_review = self.con.execute(
            "SELECT count(*) FROM review_queue WHERE call_id = ? AND status = 'in_review'", [call_id]
        ).fetchone()[0]
        if in_review:
            return  # a supervisor has the call open: their queue entry stays as it is
        self.con.execute("DELETE FROM review_queue WHERE call_id = ? AND status = 'pending'", [call_id])
        if queue is not None:
            self.con.execute(
                "INSERT INTO review_queue (call_id, priority, reasons, rubric_id, rubric_version, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                [call_id, queue.priority, "; ".join(queue.reasons), score.rubric_id, score.rubric_version, now],
            )

    def write_score(
        self, call_id: str, score: CallScore, queue: QueueDecision | None, features: Features | None = None,
        events: list[Event] = (),
    ) -> None:
        """Store a (re)score for one call in one transaction; other rubric versions' rows stay."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            if features is not None:
                self.replace_features(call_id, features, list(events))
            self._write_score(call_id, score, queue)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _insert_items(self, table: str, call_id: str, index_column: str, items: list) -> None:
        """Rows from plain dataclasses whose field names are the table's columns, numbered in order."""
        if not items:
            return
        rows = [asdict(item) for item in items]
        columns = {"call_id": call_id, index_column: range(len(rows))}
        columns.update({name: [row[name] for row in rows] for name in rows[0]})
        self._insert_frame(table, columns)

    def _insert_frame(self, table: str, columns: dict) -> None:
        import pandas as pd

        frame = pd.DataFrame(columns)
        self.con.register("incoming_rows", frame)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
        finally:
            self.con.unregister("incoming_rows")

    def queue_rows(self, status: str = "pending", limit: int = 50) -> list[dict]:
        """The review queue, most urgent first, with score and the failed criteria's times to listen to."""
        sql = """
            SELECT q.priority, q.call_id, s.score, s.auto_fail, q.reasons, q.status, q.assigned_to, c.source_path,
                   c.duration_s,
                   (SELECT string_agg(cs.criterion_id || ' ' || printf('%.1f', cs.evidence_start_s) || 's', ', '
                                      ORDER BY cs.evidence_start_s)
                      FROM criterion_scores cs
                     WHERE cs.call_id = q.call_id AND cs.rubric_id = q.rubric_id
                       AND cs.rubric_version = q.rubric_version AND cs.status = 'fail'
                       AND cs.evidence_start_s IS NOT NULL) AS listen_at
              FROM (SELECT * FROM review_queue WHERE status = ? ORDER BY priority, created_at LIMIT ?) q
              JOIN calls c USING (call_id)
              LEFT JOIN call_scores s
                ON s.call_id = q.call_id AND s.rubric_id = q.rubric_id AND s.rubric_version = q.rubric_version
             ORDER BY q.priority, s.score NULLS FIRST, q.call_id
        """
        cursor = self.con.execute(sql, [status, limit])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def call_report(self, call_id: str) -> dict | None:
        """Everything `callqa show` prints for one call (latest rubric version unless given)."""
        cursor = self.con.execute("SELECT * FROM calls WHERE call_id = ? OR call_id LIKE ?", [call_id, call_id + "%"])
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        if len(rows) != 1:
            return None
        call = dict(zip(names, rows[0]))
        key = call["call_id"]

        def dicts(sql: str, params: list) -> list[dict]:
            cur = self.con.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        feature_rows = dicts("SELECT * EXCLUDE (call_id) FROM features WHERE call_id = ?", [key])
        score = dicts("SELECT * FROM latest_call_scores WHERE call_id = ?", [key])
        criteria = []
        if score:
            criteria = dicts(
                "SELECT * FROM criterion_scores WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?",
                [key, score[0]["rubric_id"], score[0]["rubric_version"]],
            )
        return {
            "call": call,
            "turns": dicts("SELECT speaker, start_s, end_s, text FROM turns WHERE call_id = ? ORDER BY turn_idx", [key]),
            "features": feature_rows[0] if feature_rows else {},
            "events": dicts("SELECT kind, start_s, end_s, speaker, detail FROM events WHERE call_id = ? ORDER BY start_s", [key]),
            "redactions": dicts("SELECT kind, start_s, end_s FROM redactions WHERE call_id = ? ORDER BY start_s", [key]),
            "score": score[0] if score else None,
            "criteria": criteria,
            "queue": dicts("SELECT priority, reasons, status, assigned_to FROM review_queue WHERE call_id = ?", [key]),
        }

    def calls_for_rescoring(self, call_ids: list[str] | None = None):
        """Yield (call_id, confidences, turns, words) for done calls, reading each table once."""
        where = "status = 'done'" + (" AND call_id IN (SELECT unnest(?))" if call_ids else "")
        params = [call_ids] if call_ids else []
        calls = self.con.execute(
            f"SELECT call_id, duration_s, mean_word_probability, diarization_confidence, role_confidence FROM calls"
            f" WHERE {where} ORDER BY call_id",
            params,
        ).fetchall()
        wanted = {row[0] for row in calls}
        turns: dict[str, list[Turn]] = {}
        for call_id, speaker, start_s, end_s, text in self.con.execute(
            "SELECT call_id, speaker, start_s, end_s, text FROM turns ORDER BY call_id, turn_idx"
        ).fetchall():
            if call_id in wanted:
                turns.setdefault(call_id, []).append(Turn(speaker, start_s, end_s, text))
        words: dict[str, list[Word]] = {}
        for call_id, start_s, end_s, word, probability, speaker in self.con.execute(
            "SELECT call_id, start_s, end_s, word, probability, speaker FROM words ORDER BY call_id, word_idx"
        ).fetchall():
            if call_id in wanted:
                words.setdefault(call_id, []).append(Word(start_s, end_s, word, probability, speaker))
        for call_id, duration_s, probability, diarization, role in calls:
            yield call_id, duration_s, (probability, diarization, role), turns.get(call_id, []), words.get(call_id, [])

    def replace_features(self, call_id: str, features: Features, events: list[Event]) -> None:
        self.con.execute("DELETE FROM features WHERE call_id = ?", [call_id])
        self.con.execute("DELETE FROM events WHERE call_id = ?", [call_id])
        self._insert_frame("features", {"call_id": [call_id], **{k: [v] for k, v in asdict(features).items()}})
        self._insert_items("events", call_id, "event_idx", events)

    def redacted_hashes(self) -> set[str]:
        rows = self.con.execute("SELECT redacted_sha256 FROM calls WHERE redacted_sha256 IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    def call_statuses(self) -> dict[str, str]:
        """call_id -> status for every stored call."""
        return dict(self.con.execute("SELECT call_id, status FROM calls").fetchall())

    def calls_for_evaluation(self) -> list[StoredCall]:
        """Every done call with its turns, words and events, for scoring against references."""
        calls = self.con.execute(
            "SELECT call_id, source_path, duration_s, channels FROM calls WHERE status = 'done' ORDER BY source_path"
        ).fetchall()
        by_id = {row[0]: StoredCall(row[0], row[1], row[2] or 0.0, row[3] or 0) for row in calls}
        for call_id, speaker, start_s, end_s, text in self.con.execute(
            "SELECT call_id, speaker, start_s, end_s, text FROM turns ORDER BY call_id, turn_idx"
        ).fetchall():
            if call_id in by_id:
                by_id[call_id].turns.append(Turn(speaker, start_s, end_s, text))
        for call_id, start_s, end_s, word, probability, speaker in self.con.execute(
            "SELECT call_id, start_s, end_s, word, probability, speaker FROM words ORDER BY call_id, word_idx"
        ).fetchall():
            if call_id in by_id:
                by_id[call_id].words.append(Word(start_s, end_s, word, probability, speaker))
        for call_id, kind, start_s, end_s, speaker, detail in self.con.execute(
            "SELECT call_id, kind, start_s, end_s, speaker, detail FROM events ORDER BY call_id, event_idx"
        ).fetchall():
            if call_id in by_id:
                by_id[call_id].events.append(Event(kind, start_s, end_s, speaker or "", detail or ""))
        return list(by_id.values())

    def import_metadata(
        self, rows: list[CallMetadata], source: str, fill_only: bool = False, audit_by: str | None = None
    ) -> int:
        """Keep who each file's call belongs to and copy it onto the stored calls; returns calls updated.

        A sidecar replaces what was known for its files; ``fill_only`` (a file-name pattern) only
        fills what nothing gave yet. One transaction; ``audit_by`` adds an audit_log row (an edit).
        """
        if not rows:
            return 0
        import pandas as pd

        frame = pd.DataFrame(
            {
                "file_name": [r.file_name for r in rows],
                "agent_id": pd.Series([r.agent_id for r in rows], dtype=object),
                "team": pd.Series([r.team for r in rows], dtype=object),
                "queue_name": pd.Series([r.queue_name for r in rows], dtype=object),
                "started_at": pd.to_datetime(pd.Series([r.started_at for r in rows], dtype=object)),
            }
        )
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.register("incoming_metadata", frame)
            if fill_only:
                self.con.execute(
                    "UPDATE call_metadata m SET agent_id = coalesce(m.agent_id, i.agent_id), team = coalesce(m.team, i.team),"
                    " queue_name = coalesce(m.queue_name, i.queue_name), started_at = coalesce(m.started_at, i.started_at)"
                    " FROM incoming_metadata i WHERE m.file_name = i.file_name"
                )
                new_rows = "WHERE file_name NOT IN (SELECT file_name FROM call_metadata)"
            else:
                self.con.execute("DELETE FROM call_metadata WHERE file_name IN (SELECT file_name FROM incoming_metadata)")
                new_rows = ""
            self.con.execute(
                "INSERT INTO call_metadata SELECT file_name, agent_id, team, queue_name, CAST(started_at AS TIMESTAMP),"
                f" ?, ? FROM incoming_metadata {new_rows}",
                [source, now],
            )
            updated = self._apply_metadata("parse_filename(calls.source_path) IN (SELECT file_name FROM incoming_metadata)", [])
            if audit_by:
                self.con.execute(
                    'INSERT INTO audit_log ("at", username, action, object, "after") VALUES (?, ?, ?, ?, ?)',
                    [now, audit_by, "metadata_import", source, f'{{"rows": {len(rows)}, "calls_updated": {updated}}}'],
                )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("incoming_metadata")
        return updated

    def _apply_metadata(self, condition: str, params: list) -> int:
        row = self.con.execute(
            "UPDATE calls SET agent_id = m.agent_id, team = m.team, queue_name = m.queue_name, started_at = m.started_at"
            f" FROM call_metadata m WHERE m.file_name = parse_filename(calls.source_path) AND {condition}",
            params,
        ).fetchone()
        return int(row[0]) if row else 0

    def write_call(self, record: CallRecord) -> None:
        """Replace whatever is stored for this call, atomically: all of it or none of it."""
        speech_s = sum(turn.end_s - turn.start_s for turn in record.turns) if record.turns else None
        probabilities = [word.probability for word in record.words]
        mean_probability = sum(probabilities) / len(probabilities) if probabilities else None
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in ("calls", *CALL_TABLES):
                self.con.execute(f"DELETE FROM {table} WHERE call_id = ?", [record.call_id])
            self.con.execute(
                "INSERT INTO calls (call_id, source_path, sha256, duration_s, sample_rate, channels, status, error,"
                " asr_model, diarizer, num_speakers, diarization_confidence, role_confidence, speech_s, word_count,"
                " mean_word_probability, processing_s, redacted_audio_path, redacted_sha256, processed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.call_id, record.source_path, record.sha256, record.duration_s, record.sample_rate,
                    record.channels, record.status, record.error, record.asr_model, record.diarizer, record.num_speakers,
                    record.diarization_confidence, record.role_confidence, speech_s,
                    len(record.words) if record.status == "done" else None, mean_probability, record.processing_s,
                    record.redacted_audio_path, record.redacted_sha256,
                    datetime.now(timezone.utc).replace(tzinfo=None),
                ],
            )  # fmt: skip
            self._apply_metadata("calls.call_id = ?", [record.call_id])  # metadata outlives the row
            self._insert_items("turns", record.call_id, "turn_idx", record.turns)
            self._insert_items("words", record.call_id, "word_idx", record.words)
            self._insert_items("redactions", record.call_id, "redaction_idx", record.redactions)
            if record.features is not None:
                self.replace_features(record.call_id, record.features, record.events)
            if record.score is not None:
                self._write_score(record.call_id, record.score, record.queue)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
