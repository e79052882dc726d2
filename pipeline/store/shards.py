"""Parquet shards: a finished call's rows, made where the call was processed (a Ray worker on any
machine) and stored later by the run's one writer (``Store.load_shards``).

A shard is a folder named by the call id with one Parquet file per table, typed exactly as the
database's tables. It is written as ``<call_id>.partial`` and renamed when complete, so a folder
without the suffix is always whole; a call processed twice (a retried worker) leaves one shard.
Shards left by a killed driver are stored by the next run before it plans anything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline.store.connection import utc_now
from pipeline.store.store import SCHEMA_PATH, STAGED_TABLES, call_tables, row_count

if TYPE_CHECKING:
    from pipeline.call import CallFailure, CallResult

PARTIAL_SUFFIX = ".partial"


class ShardWriter:
    """Turns finished calls into Parquet files; one per worker, its in-memory tables made once."""

    def __init__(self):
        self.con = duckdb.connect()  # in memory: the schema gives every column its stored type
        self.con.execute(SCHEMA_PATH.read_text())

    def files(self, result: CallResult | CallFailure) -> dict[str, bytes]:
        """The call's rows, table by table, as Parquet bytes (tables it has no rows in are left out)."""
        import pandas as pd

        tables = call_tables([result], utc_now())
        out: dict[str, bytes] = {}
        with tempfile.TemporaryDirectory(prefix="callqa-shard-") as folder:
            for table in STAGED_TABLES:
                columns = tables.get(table)
                if not columns or not row_count(columns):
                    continue
                self.con.register("incoming_rows", pd.DataFrame(columns))
                try:
                    self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
                finally:
                    self.con.unregister("incoming_rows")
                target = Path(folder) / f"{table}.parquet"
                self.con.execute(f"COPY {table} TO '{target}' (FORMAT parquet)")
                self.con.execute(f"DELETE FROM {table}")
                out[table] = target.read_bytes()
        return out


def save_shard(directory: Path, call_id: str, files: dict[str, bytes]) -> Path:
    """Write one call's shard under ``directory`` atomically; replaces an older shard of the call."""
    final = Path(directory) / call_id
    partial = final.with_name(call_id + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for table, data in files.items():
        with open(partial / f"{table}.parquet", "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    return final


def finished_shards(directory: Path) -> list[Path]:
    """Whole shards waiting to be stored, oldest first; half-written ones are removed."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    shards = []
    for entry in directory.iterdir():
        if entry.name.endswith(PARTIAL_SUFFIX):
            shutil.rmtree(entry, ignore_errors=True)  # its call was never stored: it runs again
        elif entry.is_dir() and (entry / "calls.parquet").exists():
            shards.append(entry)
    return sorted(shards, key=lambda shard: shard.stat().st_mtime)


def remove_shards(shards: list[Path]) -> None:
    for shard in shards:
        shutil.rmtree(shard, ignore_errors=True)
