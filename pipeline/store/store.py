"""The only module that speaks SQL for the nightly run. Short connections; one transaction per batch of
finished calls (all of a call or none of it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.store.connection import LOCK_RETRY_S, connect_with_retry, transaction, utc_now
from pipeline.store.migrations import add_agent_role, fill_call_summary
from pipeline.store.queue_listing import listing_relation, refresh_call, refresh_queue_listing, sync_queue_listing
from pipeline.store.signals_sql import SIGNAL_TABLES, register_categories, signal_columns, summary_columns
from pipeline.types import Event, Features, Turn, Word

if TYPE_CHECKING:  # read-only commands (callqa queue/show) should not pay for these imports
    from pipeline.call import CallFailure, CallResult
    from pipeline.categories import CategorySet
    from pipeline.judge import Judgement
    from pipeline.metadata import CallMetadata
    from pipeline.queue import QueueDecision
    from pipeline.rubric import Rubric
    from pipeline.store.calibration_sql import CalibrationQueries
    from pipeline.store.reports_sql import ReportQueries
    from pipeline.scoring import CallScore

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
CALL_TABLES = (
    "turns", "words", "redactions", "payment_windows", "features", "events", "call_scores", "criterion_scores",
    *SIGNAL_TABLES,
)  # fmt: skip
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
    def __init__(
        self,
        path: str | Path,
        read_only: bool = False,
        lock_timeout_s: float = LOCK_RETRY_S,
        apply_schema: bool = True,
    ):
        """Open the database. ``apply_schema`` brings it up to date (schema.sql, views.sql): once
        per process is enough, so the nightly run's writer opens it without after the first time."""
        self.path = str(path)
        self.con = connect_with_retry(self.path, read_only, lock_timeout_s)
        if not read_only and apply_schema:
            schema = SCHEMA_PATH.read_text()
            self.con.execute(schema)
            add_agent_role(self.con, schema)
            self.con.execute(VIEWS_PATH.read_text())
            self._store_missing_rubric_criteria()
            fill_call_summary(self.con)
            sync_queue_listing(self.con)

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

    @property
    def reports(self) -> ReportQueries:
        """Production report, scorecards, coaching progress and the calls behind each figure."""
        from pipeline.store.reports_sql import ReportQueries

        return ReportQueries(self.con)

    def register_categories(self, categories: CategorySet, path: str | Path) -> None:
        """Keep every call-reasons file version used; a changed file under an old version is refused."""
        with transaction(self.con):
            register_categories(self.con, categories, path)

    def write_judgement(self, call_id: str, judgement: Judgement) -> None:
        """Store a (re)score for one call in one transaction; other rubric versions' rows stay."""
        score = judgement.score
        key = [call_id, score.rubric_id, score.rubric_version]
        tables = {
            "features": features_columns(call_id, judgement.features),
            "events": item_columns(call_id, "event_idx", Event, judgement.events),
            **score_columns(call_id, score, utc_now()),
            **derived_columns(call_id, judgement),
        }
        queue = queue_columns(call_id, score, judgement.queue, utc_now())
        with transaction(self.con):
            for table in ("features", "events", "call_customer", "customer_turn_sentiment", "call_summary"):
                self.con.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
            if judgement.categories is not None:
                self.con.execute(
                    "DELETE FROM call_categories WHERE call_id = ? AND set_id = ?", [call_id, judgement.categories.set_id]
                )
            for table in ("call_scores", "criterion_scores"):
                self.con.execute(
                    f"DELETE FROM {table} WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?", key
                )
            for table, columns in tables.items():
                self._insert_frame(table, columns)
            in_review = self.con.execute(
                "SELECT count(*) FROM review_queue WHERE call_id = ? AND status = 'in_review'", [call_id]
            ).fetchone()[0]
            if not in_review:  # a supervisor has the call open: their queue entry stays as it is
                self.con.execute("DELETE FROM review_queue WHERE call_id = ? AND status = 'pending'", [call_id])
                self._insert_frame("review_queue", queue)
            refresh_call(self.con, call_id)

    def _insert_frame(self, table: str, columns: dict) -> None:
        if not row_count(columns):
            return
        import pandas as pd

        self.con.register("incoming_rows", pd.DataFrame(columns))
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
        finally:
            self.con.unregister("incoming_rows")

    def queue_rows(self, status: str = "pending", limit: int = 50, category: str | None = None) -> list[dict]:
        """The review queue, most urgent first, with score and the failed criteria's times to listen to;
        ``category``: only calls with that call reason."""
        sql = """
            SELECT q.priority, q.call_id, q.score, q.auto_fail, q.reasons, q.status, q.assigned_to, q.source_path,
                   q.duration_s, q.listen_at
              FROM (SELECT * FROM {listing} WHERE status = ? {reason} ORDER BY priority, created_at LIMIT ?) q
             WHERE q.has_call
             ORDER BY q.priority, q.score NULLS FIRST, q.call_id
        """
        reason = "AND call_id IN (SELECT call_id FROM call_categories WHERE category_id = ?)" if category else ""
        params = [status, category, limit] if category else [status, limit]
        sql = sql.replace("{listing}", listing_relation(self.con)).replace("{reason}", reason)
        cursor = self.con.execute(sql, params)
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
            **self._signals_report(key),
        }

    def _signals_report(self, call_id: str) -> dict:
        """The customer summary and call reasons (absent from a database no newer version has opened)."""
        tables = {row[0] for row in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {"call_customer", "call_categories"} <= tables:
            return {"customer": None, "categories": []}
        cursor = self.con.execute("SELECT * EXCLUDE (call_id) FROM call_customer WHERE call_id = ?", [call_id])
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        row = rows[0] if rows else None
        cursor = self.con.execute(
            "SELECT category_id, name, evidence_text, start_s, set_id, set_version FROM call_categories WHERE call_id = ?"
            " ORDER BY start_s NULLS LAST, category_id",
            [call_id],
        )
        columns = [d[0] for d in cursor.description]
        return {
            "customer": dict(zip(names, row)) if row else None,
            "categories": [dict(zip(columns, r)) for r in cursor.fetchall()],
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

    def redacted_hashes(self) -> set[str]:
        rows = self.con.execute("SELECT redacted_sha256 FROM calls WHERE redacted_sha256 IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    def deleted_hashes(self) -> set[str]:
        """The recordings of calls deleted on purpose (see ``store/deletion.py``)."""
        rows = self.con.execute("SELECT sha256 FROM deleted_calls WHERE sha256 IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    def record_exports(self, files: list[tuple[str, str, str]]) -> None:
        """Remember files `callqa export` wrote: (call_id, format, path)."""
        now = utc_now()
        with transaction(self.con):
            for call_id, fmt, path in files:  # a file written again is one row, with its new time
                self.con.execute(
                    "DELETE FROM exported_files WHERE call_id = ? AND format = ? AND path = ?", [call_id, fmt, path]
                )
                self.con.execute("INSERT INTO exported_files VALUES (?, ?, ?, ?)", [call_id, fmt, path, now])

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
                matching = "parse_filename(calls.source_path) IN (SELECT file_name FROM incoming_metadata)"
                updated = self._apply_metadata(matching, [])
                refresh_queue_listing(self.con, f"SELECT call_id FROM calls WHERE {matching}")
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
        self.write_calls([result])

    def write_calls(self, results: Sequence[CallResult | CallFailure]) -> None:
        """Replace whatever is stored for these calls in one transaction: all of them or none."""
        if not results:
            return
        import pandas as pd

        latest = {result.call_id: result for result in results}  # a call given twice is stored once
        tables = call_tables(list(latest.values()), utc_now())
        names = {table: f"incoming_{table}" for table, columns in tables.items() if row_count(columns)}
        for table, name in names.items():
            self.con.register(name, pd.DataFrame(tables[table]))
        try:
            with transaction(self.con):
                self._replace_calls(names)
        finally:
            for name in names.values():
                self.con.unregister(name)

    def load_shards(self, shards: Sequence[Path]) -> None:
        """Store the calls of finished Parquet shards (``store.shards``) in one transaction."""
        shards = list(dict.fromkeys(shards))  # a shard is named by its call: one each
        sources = {}
        for table in STAGED_TABLES:
            files = [str(shard / f"{table}.parquet") for shard in shards if (shard / f"{table}.parquet").exists()]
            if files:
                sources[table] = "read_parquet([" + ", ".join(f"'{_sql_string(file)}'" for file in files) + "])"
        with transaction(self.con):
            self._replace_calls(sources)

    def _replace_calls(self, sources: dict[str, str]) -> None:
        """Inside a transaction: the calls of ``sources["calls"]`` replace what was stored for them.

        ``sources`` names, for each table, a relation with its new rows (a registered frame or
        Parquet files). A call a supervisor has open (``in_review``) keeps its queue entry.
        """
        incoming = f"(SELECT call_id FROM {sources['calls']})"
        for table in ("calls", *CALL_TABLES):
            self.con.execute(f"DELETE FROM {table} WHERE call_id IN {incoming}")
        # stored again on purpose (`callqa run --reprocess-deleted`): no longer deleted
        self.con.execute(f"DELETE FROM deleted_calls WHERE call_id IN {incoming}")
        in_review = "(SELECT call_id FROM review_queue WHERE status = 'in_review')"
        done = f"(SELECT call_id FROM {sources['calls']} WHERE status = 'done')"
        self.con.execute(
            f"DELETE FROM review_queue WHERE status = 'pending' AND call_id IN {done} AND call_id NOT IN {in_review}"
        )
        for table in STAGED_TABLES:
            if table not in sources:
                continue
            keep_open_reviews = f" WHERE call_id NOT IN {in_review}" if table == "review_queue" else ""
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {sources[table]}{keep_open_reviews}")
            if table == "calls":  # metadata outlives the row
                self._apply_metadata(f"calls.call_id IN {incoming}", [])
        refresh_queue_listing(self.con, f"SELECT call_id FROM {sources['calls']}")


# The tables one call's result fills, in the order they are written (review_queue last: it reads
# what is stored); ``call_tables`` builds their rows.
STAGED_TABLES = ("calls", *CALL_TABLES, "review_queue")


def row_count(columns: dict) -> int:
    return max((len(value) for value in columns.values() if isinstance(value, (list, range))), default=0)


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def call_tables(results: Sequence[CallResult | CallFailure], now: datetime) -> dict[str, dict[str, list]]:
    """The rows these calls store in each table (``STAGED_TABLES``), as columns. The local writer
    and the Parquet shards of a cluster run both store exactly these."""
    tables: dict[str, dict[str, list]] = {}
    for result in results:
        for table, columns in _one_call_tables(result, now).items():
            target = tables.setdefault(table, {})
            rows = row_count(columns)
            for name, value in columns.items():
                target.setdefault(name, []).extend(value if isinstance(value, (list, range)) else [value] * rows)
    return tables


def _one_call_tables(result: CallResult | CallFailure, now: datetime) -> dict[str, dict]:
    done = result.status == "done"
    turns, words = (list(result.turns), list(result.words)) if done else ([], [])
    speech_s = sum(turn.end_s - turn.start_s for turn in turns) if turns else None
    probabilities = [word.probability for word in words]
    redacted = result.redacted_audio if done else None
    calls = {
        "call_id": [result.call_id],
        "source_path": [result.source_path],
        "sha256": [result.sha256],
        "duration_s": [result.duration_s if done else None],
        "sample_rate": [result.sample_rate if done else None],
        "channels": [result.channels if done else None],
        "status": [result.status],
        "error": [result.error],
        "asr_model": [result.asr_model if done else None],
        "diarizer": [result.diarizer if done else None],
        "num_speakers": [result.num_speakers if done else None],
        "diarization_confidence": [result.diarization_confidence if done else None],
        "role_confidence": [result.role_confidence if done else None],
        "speech_s": [speech_s],
        "word_count": [len(words) if done else None],
        "mean_word_probability": [sum(probabilities) / len(probabilities) if probabilities else None],
        "processing_s": [result.processing_s if done else None],
        "redacted_audio_path": [redacted.path if redacted else None],
        "redacted_sha256": [redacted.sha256 if redacted else None],
        "processed_at": [now],
    }
    if not done:
        return {"calls": calls}
    judgement = result.judgement
    return {
        "calls": calls,
        "turns": item_columns(result.call_id, "turn_idx", Turn, turns),
        "words": item_columns(result.call_id, "word_idx", Word, words),
        "redactions": item_columns(result.call_id, "redaction_idx", _redaction_type(), result.redactions),
        "payment_windows": item_columns(result.call_id, "window_idx", _payment_window_type(), result.payment_windows),
        "features": features_columns(result.call_id, judgement.features),
        "events": item_columns(result.call_id, "event_idx", Event, judgement.events),
        **score_columns(result.call_id, judgement.score, now),
        **derived_columns(result.call_id, judgement),
        "review_queue": queue_columns(result.call_id, judgement.score, judgement.queue, now),
    }


def derived_columns(call_id: str, judgement: Judgement) -> dict[str, dict[str, list]]:
    """The customer's rows, the call reasons and the report summary of a judged call."""
    return {
        **signal_columns(call_id, judgement.customer, judgement.categories),
        "call_summary": summary_columns(
            call_id, judgement.features, judgement.events, judgement.score, judgement.queue, judgement.customer
        ),
    }


def _payment_window_type() -> type:
    from pipeline.redact import PaymentWindow

    return PaymentWindow


def _redaction_type() -> type:
    # imported on the write path only: `callqa queue` and `show` never load redaction
    from pipeline.redact import Redaction

    return Redaction


def item_columns(call_id: str, index_column: str, item_type: type, items: Sequence) -> dict[str, list]:
    """Rows from plain dataclasses whose stored field names are the table's columns, numbered in order."""
    names = [f.name for f in fields(item_type) if f.name not in NOT_STORED]
    columns: dict[str, list] = {"call_id": [call_id] * len(items), index_column: list(range(len(items)))}
    columns.update({name: [getattr(item, name) for item in items] for name in names})
    return columns


def features_columns(call_id: str, features: Features) -> dict[str, list]:
    return {"call_id": [call_id], **{name: [value] for name, value in asdict(features).items()}}


def score_columns(call_id: str, score: CallScore, now: datetime) -> dict[str, dict[str, list]]:
    """``call_scores`` and ``criterion_scores`` rows of one call's score under one rubric version."""
    criteria = score.criteria
    key = {"call_id": call_id, "rubric_id": score.rubric_id, "rubric_version": score.rubric_version}
    return {
        "call_scores": {
            **{name: [value] for name, value in key.items()},
            "score": [round(score.score, 2)],
            "passed": [score.passed],
            "auto_fail": [score.auto_failed],
            "confidence": [round(score.confidence, 3)],
            "scored_at": [now],
        },
        "criterion_scores": {
            **{name: [value] * len(criteria) for name, value in key.items()},
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
    }


def queue_columns(call_id: str, score: CallScore, queue: QueueDecision | None, now: datetime) -> dict[str, list]:
    """The call's pending ``review_queue`` row, or no row when the policy does not queue it."""
    queued = [queue] if queue is not None else []
    return {
        "call_id": [call_id for _ in queued],
        "priority": [q.priority for q in queued],
        "reasons": [q.text for q in queued],
        "reason_kinds": [list(q.kinds) for q in queued],
        "rubric_id": [score.rubric_id for _ in queued],
        "rubric_version": [score.rubric_version for _ in queued],
        "status": ["pending" for _ in queued],
        "created_at": [now for _ in queued],
    }
