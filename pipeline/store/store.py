"""The only module that speaks SQL. One DuckDB connection per process; one transaction per call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.types import Turn, Word

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
CALL_TABLES = ("turns", "words")


@dataclass
class CallRecord:
    """Everything stored for one call (done or failed)."""

    call_id: str
    source_path: str
    status: str
    sha256: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    error: str | None = None
    asr_model: str | None = None
    diarizer: str | None = None
    num_speakers: int | None = None
    diarization_confidence: float | None = None
    role_confidence: float | None = None
    processing_s: float | None = None
    turns: list[Turn] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)


class Store:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = str(path)
        self.con = duckdb.connect(self.path, read_only=read_only)
        if not read_only:
            self.con.execute(SCHEMA_PATH.read_text())

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call_statuses(self) -> dict[str, str]:
        """call_id -> status for every stored call."""
        return dict(self.con.execute("SELECT call_id, status FROM calls").fetchall())

    def write_call(self, record: CallRecord) -> None:
        """Replace whatever is stored for this call, atomically: all of it or none of it."""
        speech_s = sum(turn.end_s - turn.start_s for turn in record.turns) if record.turns else None
        probabilities = [word.probability for word in record.words]
        mean_probability = sum(probabilities) / len(probabilities) if probabilities else None
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in ("calls", *CALL_TABLES):
                self.con.execute(f"DELETE FROM {table} WHERE call_id = ?", [record.call_id])
            self.con.execute(
                "INSERT INTO calls (call_id, source_path, sha256, duration_s, sample_rate, channels, status, error,"
                " asr_model, diarizer, num_speakers, diarization_confidence, role_confidence, speech_s, word_count,"
                " mean_word_probability, processing_s, processed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.call_id, record.source_path, record.sha256, record.duration_s, record.sample_rate,
                    record.channels, record.status, record.error, record.asr_model, record.diarizer, record.num_speakers,
                    record.diarization_confidence, record.role_confidence, speech_s,
                    len(record.words) if record.status == "done" else None, mean_probability, record.processing_s,
                    datetime.now(timezone.utc).replace(tzinfo=None),
                ],
            )  # fmt: skip
            if record.turns:
                turns = pd.DataFrame(
                    {
                        "call_id": record.call_id,
                        "turn_idx": range(len(record.turns)),
                        "speaker": [t.speaker for t in record.turns],
                        "start_s": [t.start_s for t in record.turns],
                        "end_s": [t.end_s for t in record.turns],
                        "text": [t.text for t in record.turns],
                    }
                )
                self.con.register("new_turns", turns)
                self.con.execute("INSERT INTO turns BY NAME SELECT * FROM new_turns")
                self.con.unregister("new_turns")
            if record.words:
                words = pd.DataFrame(
                    {
                        "call_id": record.call_id,
                        "word_idx": range(len(record.words)),
                        "speaker": [w.speaker for w in record.words],
                        "start_s": [w.start_s for w in record.words],
                        "end_s": [w.end_s for w in record.words],
                        "word": [w.word for w in record.words],
                        "probability": [w.probability for w in record.words],
                    }
                )
                self.con.register("new_words", words)
                self.con.execute("INSERT INTO words BY NAME SELECT * FROM new_words")
                self.con.unregister("new_words")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
