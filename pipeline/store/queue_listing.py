"""The review queue as the queue page and `callqa queue` list it: ``queue_listing``, one row per
``review_queue`` row with the call's, the score's and the failed criteria's columns beside it.

Listing the queue from the base tables joins it with every call, score and criterion score (ten
million rows at a million calls) on each request; the listing answers from one table of queue
rows. It is derived data: every write that changes a value it holds refreshes the listing rows of
the calls it touched (``refresh_queue_listing``), or, for a status change, makes the same change to
both tables. Opening a database for writing rebuilds the listing when it is missing or out of
step (``sync_queue_listing``).
"""

from __future__ import annotations

import duckdb

from pipeline.store.connection import transaction

LISTING = "queue_listing"
# What the listing holds, from the queue row ``q``, its call ``c`` (none: has_call is false), the
# score the entry was made under ``s`` and the failed criteria with a time to listen at ``l``.
_COLUMNS = """
    q.call_id, q.priority, q.reasons, q.reason_kinds, q.rubric_id, q.rubric_version, q.status, q.assigned_to,
    q.created_at, c.call_id IS NOT NULL AS has_call, c.source_path, c.duration_s, c.agent_id, c.team,
    c.queue_name, c.started_at, c.processed_at, s.score, s.auto_fail, l.listen_at
"""


def listing_select(call_filter: str = "TRUE") -> str:
    """The listing rows of the calls ``call_filter`` (a condition on ``call_id``) keeps, computed
    from the base tables; each table is filtered before it is joined."""
    return f"""
        SELECT {_COLUMNS}
          FROM (SELECT * FROM review_queue WHERE {call_filter}) q
          LEFT JOIN (SELECT * FROM calls WHERE {call_filter}) c ON c.call_id = q.call_id
          LEFT JOIN (SELECT * FROM call_scores WHERE {call_filter}) s
            ON s.call_id = q.call_id AND s.rubric_id = q.rubric_id AND s.rubric_version = q.rubric_version
          LEFT JOIN (SELECT call_id, rubric_id, rubric_version,
                            string_agg(criterion_id || ' ' || printf('%.1f', evidence_start_s) || 's', ', '
                                       ORDER BY evidence_start_s) AS listen_at
                       FROM criterion_scores
                      WHERE {call_filter} AND status = 'fail' AND evidence_start_s IS NOT NULL
                      GROUP BY ALL) l
            ON l.call_id = q.call_id AND l.rubric_id = q.rubric_id AND l.rubric_version = q.rubric_version
    """


def refresh_queue_listing(
    con: duckdb.DuckDBPyConnection, call_ids_sql: str, params: list | None = None
) -> None:
    """Recompute the listing rows of the calls ``call_ids_sql`` (a query of one column) names, from
    the base tables; run it inside the writing transaction, after the write."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE queue_listing_touched AS SELECT DISTINCT ids.call_id FROM ({call_ids_sql}) ids(call_id)",
        params or [],
    )
    touched = "call_id IN (SELECT call_id FROM queue_listing_touched)"
    try:
        con.execute(f"DELETE FROM {LISTING} WHERE {touched}")
        con.execute(f"INSERT INTO {LISTING} BY NAME {listing_select(touched)}")
    finally:
        con.execute("DROP TABLE IF EXISTS queue_listing_touched")


def refresh_call(con: duckdb.DuckDBPyConnection, call_id: str) -> None:
    """``refresh_queue_listing`` for one call."""
    refresh_queue_listing(con, "SELECT ?", [call_id])


def listing_in_step(con: duckdb.DuckDBPyConnection) -> bool:
    """The listing exists and has a row for each queue row (a cheap check, not a full compare).
    Not inside a transaction: a missing table's error would end it."""
    try:
        queued, listed = con.execute(
            f"SELECT (SELECT count(*) FROM review_queue), (SELECT count(*) FROM {LISTING})"
        ).fetchall()[0]
    except duckdb.CatalogException:  # no listing: a database written by an older version
        return False
    return queued == listed


def listing_relation(con: duckdb.DuckDBPyConnection) -> str:
    """What to list the queue from: the listing, or, on a database opened read-only whose listing
    is missing or out of step (written by an older version), the same rows computed in the query."""
    return LISTING if listing_in_step(con) else f"({listing_select()})"


def sync_queue_listing(con: duckdb.DuckDBPyConnection) -> None:
    """On open for writing: rebuild the listing when its row count differs from the queue's (new
    table, or rows written by an older version), and refresh the calls whose reason kinds were
    filled in since (schema.sql fills ``review_queue.reason_kinds`` of old rows)."""
    if not listing_in_step(con):
        with transaction(con):
            con.execute(f"DELETE FROM {LISTING}")
            con.execute(f"INSERT INTO {LISTING} BY NAME {listing_select()}")
        return
    if con.execute(f"SELECT count(*) FROM {LISTING} WHERE reason_kinds IS NULL").fetchall()[0][0]:
        with transaction(con):
            refresh_queue_listing(
                con,
                f"SELECT call_id FROM {LISTING} l WHERE reason_kinds IS NULL"
                " AND EXISTS (SELECT 1 FROM review_queue q WHERE q.call_id = l.call_id AND q.reason_kinds IS NOT NULL)",
            )
