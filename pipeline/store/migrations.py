"""Changes to existing databases that ``CREATE ... IF NOT EXISTS`` / ``ADD COLUMN IF NOT EXISTS``
cannot express; each is idempotent and runs when a database is opened for writing."""

from __future__ import annotations

import duckdb


def users_lack_agent_role(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``users``' role check predates the ``agent`` role."""
    row = con.execute(
        "SELECT expression FROM duckdb_constraints() WHERE table_name = 'users' AND constraint_type = 'CHECK'"
    ).fetchone()
    return bool(row) and "'agent'" not in str(row[0])


def add_agent_role(con: duckdb.DuckDBPyConnection, schema_sql: str) -> None:
    """Rebuild ``users`` with the current role check (DuckDB cannot alter a CHECK constraint): the
    rows are copied out, the table dropped and made again by ``schema_sql``, the rows copied back,
    in one transaction. Nothing happens when the check already allows ``agent``."""
    if not users_lack_agent_role(con):
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE TEMP TABLE users_before_agent_role AS SELECT * FROM users")
        con.execute("DROP TABLE users")
        con.execute(schema_sql)
        con.execute("INSERT INTO users BY NAME SELECT * FROM users_before_agent_role")
        con.execute("DROP TABLE users_before_agent_role")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
