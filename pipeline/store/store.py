"""The only module that speaks SQL for the nightly run. Short connections; one transaction per call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.store.connection import LOCK_RETRY_S, connect_with_retry, transaction, utc_now
from pipeline.types import Event, Features, Turn, Word

if TYPE_CHECKING:  # read-only commands (callqa queue/show) should not pay for these imports
    from pipeline.call import CallFailure, CallResult
    from pipeline.judge import Judgement
    from pipeline.metadata import CallMetadata
    from pipeline.queue import QueueDecision
    from pipeline.rubric import Rubric
    from pipeline.store.calibration_sql import CalibrationQueries
    from pipeline.scoring import CallScore

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
CALL_TABLES = ("turns", "words", "redactions", "features", "events", "call_scores", "criterion_scores")
VIEWS_PATH = Path(__file__).with_name("views.sql")
# Dataclass fields the pipeline keeps in memory but the tables do not store.
NOT_STORED = frozenset({"channel"})


@dataclass(frozen=True)
class StoredCall:
    """A done call as rescoring reads it back: its transcript and the confidences stored with it."""

    call_id: str
    duration_s: float
    diarization_confidence: float | None
    role_confidence: float | None
    turns: list[Turn]
    words: list[Word]


@dataclass
class EvaluationCall:
    """A processed call as stored: what ``callqa eval`` scores against a reference."""

    call_id: str
    source_path: str
    duration_s: float
    channels: int
    turns: list[Turn] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


RUBRIC_CRITERIA_COLUMNS = (
    "rubric_id", "rubric_version", "position", "stage_id", "stage_name", "criterion_id", "type",
    "description", "weight", "auto_fail", "min_similarity", "definition",
)  # fmt: skip


def rubric_criteria_rows(rubric: Rubric) -> list[tuple]:
    """The ``rubric_criteria`` rows of a validated rubric, in file order."""
    rows = []
    for position, (stage, criterion) in enumerate(rubric.criteria()):
        min_similarity = None
        if hasattr(criterion, "min_similarity"):
            min_similarity = rubric.min_similarity if criterion.min_similarity is None else criterion.min_similarity
        rows.append((
            rubric.id, rubric.version, position, stage.id, stage.name or stage.id, criterion.id, criterion.type,
            criterion.description, float(criterion.weight), criterion.auto_fail, min_similarity,
            criterion.model_dump_json(),
        ))  # fmt: skip
    return rows


class Store:
    def __init__(self, path: str | Path, read_only: bool = False, lock_timeout_s: float = LOCK_RETRY_S):
        self.path = str(path)
        self.con = connect_with_retry(self.path, read_only, lock_timeout_s)
        if not read_only:
            self.con.execute(SCHEMA_PATH.read_text())
            self.con.execute(VIEWS_PATH.read_text())
            self._store_missing_rubric_criteria()

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

    def register_rubric(self, rubric: Rubric, path: str, text: str) -> None:
        """Keep every rubric version used, as its source and as validated criteria rows; a changed
        file under an old version number is refused."""
        row = self.con.execute(
            "SELECT source_text FROM rubrics WHERE rubric_id = ? AND rubric_version = ?", [rubric.id, rubric.version]
        ).fetchone()
        if row is None:
            with transaction(self.con):
                self.con.execute(
                    "INSERT INTO rubrics VALUES (?, ?, ?, ?, ?, ?)",
                    [rubric.id, rubric.version, rubric.pass_mark, path, text, utc_now()],
                )
                self._insert_rubric_criteria(rubric)
        elif row[0] != text:
            raise ValueError(
                f"{path}: rubric {rubric.id!r} version {rubric.version} differs from the version {rubric.version} "
                "already used in this database; give the changed rubric a new version number (old scores stay as they were)"
            )

    def _insert_rubric_criteria(self, rubric: Rubric) -> None:
        placeholders = ", ".join("?" for _ in RUBRIC_CRITERIA_COLUMNS)
        self.con.executemany(
            f"INSERT INTO rubric_criteria ({', '.join(RUBRIC_CRITERIA_COLUMNS)}) VALUES ({placeholders})",
            rubric_criteria_rows(rubric),
        )

    def _store_missing_rubric_criteria(self) -> None:
        """Databases from before ``rubric_criteria`` existed: validate each stored rubric once."""
        missing = self.con.execute(
            "SELECT rubric_id, rubric_version, source_text, source_path FROM rubrics r WHERE NOT EXISTS"
            " (SELECT 1 FROM rubric_criteria c WHERE c.rubric_id = r.rubric_id AND c.rubric_version = r.rubric_version)"
        ).fetchall()
        if not missing:
            return
        from pipeline.rubric import RubricError, parse_rubric

        for rubric_id, version, text, source in missing:
            try:
                rubric = parse_rubric(text, source or f"{rubric_id} v{version}")
            except RubricError:
                continue  # valid when it was used, not under today's rules: its scores stay as they are
            if (rubric.id, rubric.version) == (rubric_id, version):
                with transaction(self.con):
                    self._insert_rubric_criteria(rubric)

    @property
    def calibration(self) -> CalibrationQueries:
        """Human grades against auto scores, trust decisions and grade imports, on this connection."""
        from pipeline.store.calibration_sql import CalibrationQueries

        return CalibrationQueries(self.con)

    def untrusted_criteria(self, rubric_id: str, version: int) -> frozenset[str]:
        """The criteria of this rubric version calibration does not let decide a call on its own."""
        return self.calibration.untrusted_criteria(rubric_id, version)

    def _write_score(self, call_id: str, score: CallScore, queue: QueueDecision | None) -> None:
        now = utc_now()
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
                "INSERT INTO review_queue (call_id, priority, reasons, reason_kinds, rubric_id, rubric_version, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                [call_id, queue.priority, queue.text, list(queue.kinds), score.rubric_id, score.rubric_version, now],
            )

    def write_judgement(self, call_id: str, judgement: Judgement) -> None:
        """Store a (re)score for one call in one transaction; other rubric versions' rows stay."""
        with transaction(self.con):
            self._replace_features(call_id, judgement.features, judgement.events)
            self._write_score(call_id, judgement.score, judgement.queue)

    def _insert_items(self, table: str, call_id: str, index_column: str, items) -> None:
        """Rows from plain dataclasses whose stored field names are the table's columns, numbered in order."""
        if not items:
            return
        names = [f.name for f in fields(items[0]) if f.name not in NOT_STORED]
        columns = {"call_id": call_id, index_column: range(len(items))}
        columns.update({name: [getattr(item, name) for item in items] for name in names})
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

    def calls_for_rescoring(self, call_ids: list[str] | None = None) -> Iterator[StoredCall]:
        """Done calls with their turns and words, reading each table once."""
        where = "status = 'done'" + (" AND call_id IN (SELECT unnest(?))" if call_ids else "")
        params = [call_ids] if call_ids else []
        calls = self.con.execute(
            f"SELECT call_id, duration_s, diarization_confidence, role_confidence FROM calls"
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
        for call_id, duration_s, diarization, role in calls:
            yield StoredCall(call_id, duration_s, diarization, role, turns.get(call_id, []), words.get(call_id, []))

    def _replace_features(self, call_id: str, features: Features, events: tuple[Event, ...]) -> None:
        self.con.execute("DELETE FROM features WHERE call_id = ?", [call_id])
        self.con.execute("DELETE FROM events WHERE call_id = ?", [call_id])
        self._insert_frame("features", {"call_id": [call_id], **{k: [v] for k, v in asdict(features).items()}})
        self._insert_items("events", call_id, "event_idx", list(events))

    def redacted_hashes(self) -> set[str]:
        rows = self.con.execute("SELECT redacted_sha256 FROM calls WHERE redacted_sha256 IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    def call_statuses(self) -> dict[str, str]:
        """call_id -> status for every stored call."""
        return dict(self.con.execute("SELECT call_id, status FROM calls").fetchall())

    def calls_for_evaluation(self) -> list[EvaluationCall]:
        """Every done call with its turns, words and events, for scoring against references."""
        calls = self.con.execute(
            "SELECT call_id, source_path, duration_s, channels FROM calls WHERE status = 'done' ORDER BY source_path"
        ).fetchall()
        by_id = {row[0]: EvaluationCall(row[0], row[1], row[2] or 0.0, row[3] or 0) for row in calls}
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
        now = utc_now()
        self.con.register("incoming_metadata", frame)
        try:
            with transaction(self.con):
                if fill_only:
                    self.con.execute(
                        "UPDATE call_metadata m SET agent_id = coalesce(m.agent_id, i.agent_id), team = coalesce(m.team, i.team),"
                        " queue_name = coalesce(m.queue_name, i.queue_name), started_at = coalesce(m.started_at, i.started_at)"
                        " FROM incoming_metadata i WHERE m.file_name = i.file_name"
                    )
                    new_rows = "WHERE file_name NOT IN (SELECT file_name FROM call_metadata)"
                else:
                    self.con.execute(
                        "DELETE FROM call_metadata WHERE file_name IN (SELECT file_name FROM incoming_metadata)"
                    )
                    new_rows = ""
                self.con.execute(
                    "INSERT INTO call_metadata SELECT file_name, agent_id, team, queue_name, CAST(started_at AS TIMESTAMP),"
                    f" ?, ? FROM incoming_metadata {new_rows}",
                    [source, now],
                )
                updated = self._apply_metadata(
                    "parse_filename(calls.source_path) IN (SELECT file_name FROM incoming_metadata)", []
                )
                if audit_by:
                    self.con.execute(
                        'INSERT INTO audit_log ("at", username, action, object, "after") VALUES (?, ?, ?, ?, ?)',
                        [now, audit_by, "metadata_import", source, f'{{"rows": {len(rows)}, "calls_updated": {updated}}}'],
                    )
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

    def write_call(self, result: CallResult | CallFailure) -> None:
        """Replace whatever is stored for this call, atomically: all of it or none of it."""
        done = result.status == "done"
        turns, words = (list(result.turns), list(result.words)) if done else ([], [])
        speech_s = sum(turn.end_s - turn.start_s for turn in turns) if turns else None
        probabilities = [word.probability for word in words]
        mean_probability = sum(probabilities) / len(probabilities) if probabilities else None
        redacted = result.redacted_audio if done else None
        with transaction(self.con):
            for table in ("calls", *CALL_TABLES):
                self.con.execute(f"DELETE FROM {table} WHERE call_id = ?", [result.call_id])
            self.con.execute(
                "INSERT INTO calls (call_id, source_path, sha256, duration_s, sample_rate, channels, status, error,"
                " asr_model, diarizer, num_speakers, diarization_confidence, role_confidence, speech_s, word_count,"
                " mean_word_probability, processing_s, redacted_audio_path, redacted_sha256, processed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    result.call_id, result.source_path, result.sha256,
                    *((result.duration_s, result.sample_rate, result.channels) if done else (None, None, None)),
                    result.status, result.error,
                    *((result.asr_model, result.diarizer, result.num_speakers, result.diarization_confidence,
                       result.role_confidence) if done else (None,) * 5),
                    speech_s, len(words) if done else None, mean_probability,
                    result.processing_s if done else None,
                    redacted.path if redacted else None, redacted.sha256 if redacted else None,
                    utc_now(),
                ],
            )  # fmt: skip
            self._apply_metadata("calls.call_id = ?", [result.call_id])  # metadata outlives the row
            if done:
                self._insert_items("turns", result.call_id, "turn_idx", turns)
                self._insert_items("words", result.call_id, "word_idx", words)
                self._insert_items("redactions", result.call_id, "redaction_idx", list(result.redactions))
                self._replace_features(result.call_id, result.judgement.features, result.judgement.events)
                self._write_score(result.call_id, result.judgement.score, result.judgement.queue)
