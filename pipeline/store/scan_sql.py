"""SQL for `callqa pci-scan`: every text column of every table, each call's text in time order,
the files `callqa export` wrote, and what to listen to in each call's redacted audio."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

_TEXT_TYPES = ("VARCHAR", "JSON", "TEXT")
# Columns that give a row's place in its call, most telling first.
_ORDER_COLUMNS = (
    "start_s",
    "evidence_start_s",
    "turn_idx",
    "word_idx",
    "redaction_idx",
    "event_idx",
)


@dataclass(frozen=True)
class TextColumn:
    table: str
    column: str
    per_call: bool  # the table has a call_id: read each call's values as one text, in order
    order: str | None  # the column that orders a call's rows
    start: str | None  # the columns that place a row in time
    end: str | None


@dataclass(frozen=True)
class TextValue:
    call_id: str | None
    start_s: float | None
    end_s: float | None
    text: str


@dataclass(frozen=True)
class CallAudio:
    call_id: str
    redacted_audio_path: str | None
    redacted_sha256: str | None
    duration_s: float | None
    windows: list[tuple[float, float]]
    redactions: list[tuple[float, float]]


def text_columns(con: duckdb.DuckDBPyConnection) -> list[TextColumn]:
    """Every column of every base table that can hold text (VARCHAR, VARCHAR[], JSON)."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        columns.setdefault(table, []).append((column, data_type))
    found: list[TextColumn] = []
    for table, table_columns in columns.items():
        names = {name for name, _ in table_columns}
        order = next((name for name in _ORDER_COLUMNS if name in names), None)
        start = next((name for name in ("start_s", "evidence_start_s") if name in names), None)
        end = (
            start.replace("start", "end")
            if start and start.replace("start", "end") in names
            else None
        )
        for column, data_type in table_columns:
            if column == "call_id" or not any(kind in data_type for kind in _TEXT_TYPES):
                continue
            found.append(TextColumn(table, column, "call_id" in names, order, start, end))
    return found


def column_values(con: duckdb.DuckDBPyConnection, column: TextColumn) -> Iterator[TextValue]:
    """The column's non-empty values, each call's in order (with their times where the table
    has them)."""
    call = "call_id" if column.per_call else "NULL"
    start = f'"{column.start}"' if column.start else "NULL"
    end = f'"{column.end}"' if column.end else "NULL"
    if column.per_call:
        order = f'call_id, "{column.order}"' if column.order else "call_id"
    else:
        order = "1"
    # rows that tie (evidence of several criteria over the same span) in one order every time
    order += f', CAST("{column.column}" AS VARCHAR)'
    cursor = con.execute(
        f'SELECT {call}, {start}, {end}, CAST("{column.column}" AS VARCHAR) FROM "{column.table}"'
        f' WHERE "{column.column}" IS NOT NULL ORDER BY {order}'
    )
    while batch := cursor.fetchmany(10_000):
        for call_id, start_s, end_s, text in batch:
            if text:
                yield TextValue(call_id, start_s, end_s, text)


def exported_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(call_id, path) of every file `callqa export` wrote."""
    return con.execute("SELECT call_id, path FROM exported_files ORDER BY call_id, path").fetchall()


def calls_to_listen(con: duckdb.DuckDBPyConnection) -> list[CallAudio]:
    """Each done call with a payment window or a redaction: its redacted audio and the spans
    to listen to."""
    calls = con.execute(
        "SELECT call_id, redacted_audio_path, redacted_sha256, duration_s FROM calls"
        " WHERE status = 'done' AND (call_id IN (SELECT call_id FROM payment_windows)"
        " OR call_id IN (SELECT call_id FROM redactions)) ORDER BY call_id"
    ).fetchall()
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for table in ("payment_windows", "redactions"):
        for call_id, start_s, end_s in con.execute(
            f"SELECT call_id, start_s, end_s FROM {table} ORDER BY call_id, start_s"
        ).fetchall():
            spans.setdefault((table, call_id), []).append((start_s, end_s))
    return [
        CallAudio(
            call_id,
            path,
            sha256,
            duration_s,
            spans.get(("payment_windows", call_id), []),
            spans.get(("redactions", call_id), []),
        )
        for call_id, path, sha256, duration_s in calls
    ]
