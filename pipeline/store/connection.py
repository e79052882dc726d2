"""Opening the database and writing to it: short connections that wait their turn for DuckDB's
single writer, one transaction helper, and the UTC clock every stored timestamp uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb


def utc_now() -> datetime:
    """Timestamps are stored as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, on_conflict: Exception | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """All of the block's writes, or none of them.

    ``on_conflict`` is raised instead of DuckDB's error when another connection changed the same
    rows first (a write-write conflict), so a caller can say what that means to a user.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except duckdb.TransactionException as exc:
        con.execute("ROLLBACK")
        if on_conflict is None:
            raise
        raise on_conflict from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise


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


