"""Deleting a call everywhere: every table, its redacted audio, its exported files and, only when
asked, the original recording. One function, used by `callqa delete`, `callqa retention` and the
review app's admin page.

What stays: one ``deleted_calls`` row (the call id and the recording's hash, so that the next
`callqa run` does not process the file again unless asked) and one ``audit_log`` row saying who
deleted the call, when and why. The call's earlier audit rows go (a grade's comments are content).
The reason is redacted like any other text before it is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.store.connection import transaction, utc_now
from pipeline.store.queue_listing import LISTING
from pipeline.store.store import Store

# Rows that belong to a call without a call_id column of their own.
_BY_REVIEW = ("human_grades",)
# Kept on purpose: the record that the call was deleted.
_DELETION_RECORD = "deleted_calls"
# Derived from the other tables (a copy of the queue rows): emptied with them, not counted.
_DERIVED = (LISTING,)


class DeletionError(ValueError):
    """A call id that matches no stored call, or a reason that is missing."""


@dataclass
class Deleted:
    """What one deletion removed (and what it could not)."""

    call_ids: list[str] = field(default_factory=list)
    rows: int = 0
    files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # already gone
    failed_files: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def resolve_call_ids(store: Store, call_ids: list[str]) -> list[str]:
    """Each id, or the one stored call whose id starts with it; ``DeletionError`` otherwise."""
    resolved: list[str] = []
    for given in call_ids:
        rows = store.con.execute(
            "SELECT call_id FROM calls WHERE call_id = ? OR starts_with(call_id, ?)", [given, given]
        ).fetchall()
        exact = [row[0] for row in rows if row[0] == given]
        matches = exact or [row[0] for row in rows]
        if len(matches) != 1:
            why = "no stored call" if not matches else f"{len(matches)} calls"
            raise DeletionError(
                f"{given!r} matches {why}; give the call id as `callqa queue` shows it"
            )
        resolved.append(matches[0])
    return list(dict.fromkeys(resolved))


def calls_older_than(store: Store, cutoff: datetime) -> list[str]:
    """Calls that took place (or, where that is unknown, were processed) before ``cutoff``."""
    rows = store.con.execute(
        "SELECT call_id FROM calls WHERE coalesce(started_at, processed_at) < ? ORDER BY call_id",
        [cutoff],
    ).fetchall()
    return [row[0] for row in rows]


def _tables_with(store: Store, column: str) -> list[str]:
    rows = store.con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = ? AND table_schema = 'main'"
        " AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')",
        [column],
    ).fetchall()
    return sorted(row[0] for row in rows)


def _files_of(store: Store, call_id: str, redacted_dir: Path | None, original: bool) -> list[Path]:
    row = store.con.execute(
        "SELECT source_path, redacted_audio_path FROM calls WHERE call_id = ?", [call_id]
    ).fetchone()
    source_path, redacted_path = row if row else (None, None)
    files: list[Path] = []
    if redacted_path:
        files.append(Path(redacted_path))
    for directory in {Path(redacted_path).parent if redacted_path else None, redacted_dir} - {None}:
        if directory.is_dir():
            files += sorted(directory.glob(f"{call_id}*"))
    exported = store.con.execute(
        "SELECT path FROM exported_files WHERE call_id = ?", [call_id]
    ).fetchall()
    files += [Path(path) for (path,) in exported]
    if original and source_path:
        files.append(Path(source_path))
    unique: dict[str, Path] = {}
    for path in files:
        unique.setdefault(str(path.resolve()), path)
    return list(unique.values())


def delete_calls(
    db_path: str | Path,
    call_ids: list[str],
    by: str,
    reason: str,
    redacted_dir: Path | None = None,
    original: bool = False,
) -> Deleted:
    """Remove each call from every table in one transaction, record who/when/why, then remove
    its files (redacted audio, exports; the recording itself only with ``original``).

    ``redacted_dir`` is where the run writes redacted audio, searched for files named after the
    call as well as the path stored with it. Raises ``DeletionError`` for an unknown call id or
    an empty reason (nothing is deleted then).
    """
    from pipeline.redact import redact_text  # the reason is free text: it may hold a number

    reason = " ".join(reason.split())
    if not reason:
        raise DeletionError("a deletion needs a reason (it goes into the audit log)")
    stored_reason = redact_text(reason)
    result = Deleted()
    files: list[Path] = []
    with Store(db_path) as store:
        result.call_ids = resolve_call_ids(store, call_ids)
        for call_id in result.call_ids:
            files += _files_of(store, call_id, redacted_dir, original)
        tables = [
            t for t in _tables_with(store, "call_id") if t not in (_DELETION_RECORD, *_DERIVED)
        ]
        now = utc_now()
        with transaction(store.con):
            for call_id in result.call_ids:
                result.rows += _delete_rows(store, call_id, tables)
                sha256 = store.con.execute(
                    "SELECT sha256 FROM calls WHERE call_id = ?", [call_id]
                ).fetchone()
                store.con.execute("DELETE FROM deleted_calls WHERE call_id = ?", [call_id])
                store.con.execute(
                    "INSERT INTO deleted_calls VALUES (?, ?, ?)",
                    [call_id, sha256[0] if sha256 else None, now],
                )
                result.rows += _delete_call_row(store, call_id)
                store.con.execute(
                    'INSERT INTO audit_log ("at", username, action, object, "before", "after")'
                    " VALUES (?, ?, 'delete_call', ?, NULL, ?)",
                    [
                        now,
                        by,
                        call_id,
                        json.dumps({"reason": stored_reason, "recording_deleted": original}),
                    ],
                )
    for path in files:  # after the commit: a file that cannot go is reported, the rows are gone
        try:
            path.unlink()
            result.files.append(str(path))
        except FileNotFoundError:
            result.missing_files.append(str(path))
        except OSError as exc:
            result.failed_files.append((str(path), exc.strerror or str(exc)))
    return result


def _delete_rows(store: Store, call_id: str, tables: list[str]) -> int:
    """Every row of the call but its calls row, which goes last (metadata is found through it)."""
    count = 0
    for table in _BY_REVIEW:
        count += _count(
            store,
            f"DELETE FROM {table} WHERE review_id IN (SELECT review_id FROM reviews WHERE call_id = ?)",
            call_id,
        )
    # metadata by file name, unless another stored call has a file of that name
    count += _count(
        store,
        "DELETE FROM call_metadata WHERE file_name IN (SELECT parse_filename(source_path) FROM calls WHERE call_id = ?)"
        " AND file_name NOT IN (SELECT parse_filename(source_path) FROM calls WHERE call_id <> ?)",
        call_id,
        call_id,
    )
    count += _count(store, "DELETE FROM audit_log WHERE object = ?", call_id)
    for table in _DERIVED:
        store.con.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
    for table in tables:
        if table != "calls":
            count += _count(store, f'DELETE FROM "{table}" WHERE call_id = ?', call_id)
    return count


def _delete_call_row(store: Store, call_id: str) -> int:
    return _count(store, "DELETE FROM calls WHERE call_id = ?", call_id)


def _count(store: Store, sql: str, *params: str) -> int:
    row = store.con.execute(sql, list(params)).fetchone()
    return int(row[0]) if row else 0
