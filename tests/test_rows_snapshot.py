"""The rows `callqa run` stores for audio_samples/ and for the shared real calls with the default
model, every table and column except timestamps and timings, equal the snapshots in tests/data
(see tests/rows_snapshot.py).

A restructuring of the call path must leave this unchanged; a change meant to alter what is stored
regenerates the snapshot in its own commit."""

from __future__ import annotations

import json

import pytest

from tests.rows_snapshot import (
    SHARED_EVAL,
    SHARED_SNAPSHOT,
    SNAPSHOT,
    database_rows,
    row_digests,
    run_default_model,
    shared_recordings,
)

pytestmark = pytest.mark.slow

REGENERATE = (
    "if the change is meant to alter stored rows: .venv/bin/python tests/rows_snapshot.py --write"
)
REGENERATE_SHARED = "if the change is meant to alter stored rows: .venv/bin/python tests/rows_snapshot.py --write --shared"


@pytest.fixture(scope="module")
def stored(default_model_db):
    return database_rows(default_model_db)


@pytest.fixture(scope="module")
def expected():
    return json.loads(SNAPSHOT.read_text())


def test_the_same_tables(stored, expected):
    assert sorted(stored) == sorted(expected), REGENERATE


@pytest.mark.parametrize("table", sorted(json.loads(SNAPSHOT.read_text())))
def test_every_row_of_the_table_is_unchanged(stored, expected, table):
    rows = json.loads(
        json.dumps(stored.get(table, []))
    )  # tuples and floats as the snapshot has them
    assert rows[0] == expected[table][0], f"{table}: columns changed; {REGENERATE}"
    missing = [row for row in expected[table][1:] if row not in rows[1:]]
    extra = [row for row in rows[1:] if row not in expected[table][1:]]
    assert not missing and not extra, (
        f"{table}: {len(missing)} snapshot row(s) missing, {len(extra)} new; first missing {missing[:2]}, "
        f"first new {extra[:2]}; {REGENERATE}"
    )


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    """One real `callqa run` over the shared real calls (read in place) with the embedded defaults."""
    recordings = shared_recordings()
    if not recordings:
        pytest.skip(
            f"the shared real calls are not there: {SHARED_EVAL} (../shared/eval beside the project)"
        )
    db = tmp_path_factory.mktemp("shared_calls") / "calls.duckdb"
    result = run_default_model(db, recordings)
    assert result.returncode == 0, result.stderr
    return db


def test_the_shared_real_calls_store_the_same_rows(shared_db):
    expected = _by_table_and_call(json.loads(SHARED_SNAPSHOT.read_text()))
    stored = _by_table_and_call(row_digests(database_rows(shared_db)))
    differ = sorted(
        key for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key)
    )
    assert not differ, f"rows differ (table, call): {differ[:10]}; {REGENERATE_SHARED}"


def _by_table_and_call(digests: dict[str, dict]) -> dict[tuple[str, str], dict]:
    """{(table, call_id): digest}; tables without a call_id under call ''."""
    return {
        (table, call_id): digest
        for table, entry in digests.items()
        for call_id, digest in (entry.items() if "sha256" not in entry else [("", entry)])
    }
