"""Changes to existing databases that ``CREATE ... IF NOT EXISTS`` / ``ADD COLUMN IF NOT EXISTS``
cannot express; each is idempotent and runs when a database is opened for writing."""

from __future__ import annotations

import duckdb

from pipeline.store.connection import transaction


def users_lack_agent_role(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``users``' role check predates the ``agent`` role."""
    row = con.execute(
        "SELECT expression FROM duckdb_constraints() WHERE table_name = 'users' AND constraint_type = 'CHECK'"
    ).fetchall()
    return bool(row) and "'agent'" not in str(row[0][0])


def add_agent_role(con: duckdb.DuckDBPyConnection, schema_sql: str) -> None:
    """Rebuild ``users`` with the current role check (DuckDB cannot alter a CHECK constraint): the
    rows are copied out, the table dropped and made again by ``schema_sql``, the rows copied back,
    in one transaction. Nothing happens when the check already allows ``agent``."""
    if not users_lack_agent_role(con):
        return
    with transaction(con):
        con.execute("CREATE TEMP TABLE users_before_agent_role AS SELECT * FROM users")
        con.execute("DROP TABLE users")
        con.execute(schema_sql)
        con.execute("INSERT INTO users BY NAME SELECT * FROM users_before_agent_role")
        con.execute("DROP TABLE users_before_agent_role")


def fill_call_summary(con: duckdb.DuckDBPyConnection) -> None:
    """Fill ``call_summary`` for a database whose calls were stored before it existed (once: only
    while it is empty and scored calls exist)."""
    # fetchall, not fetchone: an unfinished result would block the connection's next register()
    if con.execute("SELECT count(*) FROM call_summary").fetchall()[0][0]:
        return
    if not con.execute("SELECT count(*) FROM call_scores").fetchall()[0][0]:
        return
    con.execute(
        """INSERT INTO call_summary
           SELECT f.call_id, f.hold_total_s, coalesce(d.dead_air_s, 0.0), s.score, s.rubric_id, s.rubric_version,
                  EXISTS (SELECT 1 FROM review_queue q WHERE q.call_id = f.call_id AND q.reasons <> 'manual review'),
                  cu.unhappy
             FROM features f
             LEFT JOIN (SELECT call_id, sum(end_s - start_s) AS dead_air_s FROM events WHERE kind = 'dead_air'
                         GROUP BY call_id) d ON d.call_id = f.call_id
             LEFT JOIN (SELECT * FROM call_scores
                      QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY scored_at DESC, rubric_version DESC) = 1) s
                    ON s.call_id = f.call_id
             LEFT JOIN call_customer cu ON cu.call_id = f.call_id"""
    )
