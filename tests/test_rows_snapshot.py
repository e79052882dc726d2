"""The rows `callqa run` stores for audio_samples/ with the default model, every table and column
except timestamps and timings, equal the snapshot in tests/data, or its variant for the CPU's
arithmetic that is nearest the run (see tests/rows_snapshot.py).

A restructuring of the call path must leave this unchanged; a change meant to alter what is stored
regenerates the snapshot in its own commit."""

from __future__ import annotations

import json

import pytest

from tests.rows_snapshot import SNAPSHOT, database_rows, differing_rows, nearest_snapshot

pytestmark = pytest.mark.slow

REGENERATE = (
    "if the change is meant to alter stored rows: .venv/bin/python tests/rows_snapshot.py --write"
)


@pytest.fixture(scope="module")
def stored(default_model_db):
    return database_rows(default_model_db)


@pytest.fixture(scope="module")
def nearest(stored):
    return nearest_snapshot(stored)


@pytest.fixture(scope="module")
def expected(nearest):
    return json.loads(nearest.read_text())


def test_the_same_tables(stored, expected):
    assert sorted(stored) == sorted(expected), REGENERATE


@pytest.mark.parametrize("table", sorted(json.loads(SNAPSHOT.read_text())))
def test_every_row_of_the_table_is_unchanged(stored, expected, nearest, table):
    rows = json.loads(
        json.dumps(stored.get(table, []))
    )  # tuples and floats as the snapshot has them
    assert rows[0] == expected[table][0], f"{table}: columns changed; {REGENERATE}"
    missing, extra = differing_rows(rows, expected[table])
    assert not missing and not extra, (
        f"{table}: {len(missing)} row(s) of {nearest.name} missing, {len(extra)} new; first missing {missing[:2]}, "
        f"first new {extra[:2]}; {REGENERATE}"
    )
