"""Every stored row of a `callqa run` database, minus what changes from run to run, as plain data.

The call path may be restructured without changing what it stores: `test_rows_snapshot.py` runs
the default model over audio_samples/ and compares every table with ``tests/data/audio_samples_rows.json``.
When a change is *meant* to change what is stored, regenerate the snapshot in its own commit and say
why in the message:

    .venv/bin/python tests/rows_snapshot.py --write

Whisper's int8 arithmetic follows the CPU (its vector instructions, which GEMM library runs): the
same commit stores other probabilities, times and now and then other words on another CPU. Such a
CPU keeps a variant of its own, ``audio_samples_rows.<cpu>.json``, written from a commit whose rows
match an existing snapshot on the CPU that made it (``--write --variant NAME``); the test compares
with the variant nearest the run. A change meant to alter the rows rewrites the variant of the
machine it is made on and deletes the others, which their machines then write again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
SNAPSHOT = PROJECT / "tests" / "data" / "audio_samples_rows.json"
# Wall-clock stamps and timings differ on every run; paths depend on where the run was started.
VOLATILE_COLUMNS = frozenset(
    {
        "at",
        "processed_at",
        "processing_s",
        "scored_at",
        "created_at",
        "first_used_at",
        "imported_at",
        "decided_at",
    }
)
# Lives beside the database, wherever the run put it.
BESIDE_DATABASE_COLUMNS = frozenset({"redacted_audio_path"})


def _portable(column: str, value: object) -> object:
    if isinstance(value, str):
        if column in BESIDE_DATABASE_COLUMNS:
            return Path(value).name
        return value.replace(f"{PROJECT}/", "")  # relative to the project, however the run named it
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is not None and not isinstance(value, (str, int, bool)):
        return str(value)
    return value


def database_rows(db: Path) -> dict[str, list[list]]:
    """{table: sorted rows} for every base table, volatile columns left out, column names first."""
    tables: dict[str, list[list]] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        names = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()]  # fmt: skip
        for table in names:
            columns = [
                row[0]
                for row in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if row[0] not in VOLATILE_COLUMNS
            ]
            quoted = ", ".join(f'"{column}"' for column in columns)
            rows = [
                [_portable(column, value) for column, value in zip(columns, row)]
                for row in con.execute(f'SELECT {quoted} FROM "{table}"').fetchall()
            ]
            rows.sort(key=lambda row: json.dumps(row, default=str))
            tables[table] = [columns, *rows]
    return tables


def run_default_model(db: Path) -> subprocess.CompletedProcess:
    """The real `callqa run` over audio_samples/ with the embedded defaults."""
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        str(PROJECT / "audio_samples"),
        "--db",
        str(db),
        "-q",
    ]
    return subprocess.run(command, check=False, capture_output=True, text=True, cwd=PROJECT)


def snapshots() -> list[Path]:
    """The snapshot and its variants for other CPUs."""
    return [SNAPSHOT, *sorted(SNAPSHOT.parent.glob(f"{SNAPSHOT.stem}.*.json"))]


def differing_rows(stored: list[list], expected: list[list]) -> tuple[list[list], list[list]]:
    """(rows of ``expected`` not stored, stored rows not in ``expected``); column names first in both."""
    missing = [row for row in expected[1:] if row not in stored[1:]]
    extra = [row for row in stored[1:] if row not in expected[1:]]
    return missing, extra


def nearest_snapshot(tables: dict[str, list[list]]) -> Path:
    """The snapshot (or CPU variant) whose words differ least from ``tables``' words."""
    words = json.loads(json.dumps(tables.get("words", [[]])))

    def distance(path: Path) -> int:
        expected = json.loads(path.read_text()).get("words", [[]])
        return sum(len(rows) for rows in differing_rows(words, expected))

    return min(snapshots(), key=distance)


def write_snapshot(tables: dict[str, list[list]], path: Path = SNAPSHOT) -> None:
    # one row per line, so a changed row shows as a one-line diff
    lines = ["{"]
    for index, (table, rows) in enumerate(tables.items()):
        body = ",\n    ".join(json.dumps(row) for row in rows)
        comma = "," if index < len(tables) - 1 else ""
        lines.append(f"  {json.dumps(table)}: [\n    {body}\n  ]{comma}")
    lines.append("}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write", action="store_true", help=f"run the default model and rewrite {SNAPSHOT.name}"
    )
    parser.add_argument(
        "--db",
        type=Path,
        help="snapshot this database (made by `callqa run audio_samples/`) instead of running the model",
    )
    parser.add_argument(
        "--variant",
        help="write the variant for this machine's CPU (e.g. amd-epyc-avx512) instead of the snapshot",
    )
    args = parser.parse_args()
    if not args.write:
        parser.print_help()
        return 2
    target = SNAPSHOT if not args.variant else SNAPSHOT.with_name(f"{SNAPSHOT.stem}.{args.variant}.json")
    # the kernels the test run pins (tests/conftest.py), or the snapshot is of other arithmetic
    sys.path.insert(0, str(PROJECT))
    import tests.conftest  # noqa: F401
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or Path(folder) / "calls.duckdb"
        if args.db is None:
            result = run_default_model(db)
            if result.returncode != 0:
                print(result.stdout, result.stderr, file=sys.stderr)
                return 1
        write_snapshot(database_rows(db), target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
