"""Call metadata: sidecar parsing with line-numbered errors, file-name patterns, and storage that
survives the batch rewriting a call (``pipeline/metadata.py``, ``Store.import_metadata``)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.batch import run_batch
from pipeline.cli import app as cli_app
from pipeline.config import load_settings
from pipeline.metadata import (
    CallMetadata,
    FileNamePattern,
    MetadataError,
    parse_csv,
    parse_json,
    read_metadata,
)
from pipeline.rubric import load_rubric
from pipeline.call import CallFailure, CallResult
from pipeline.features import extract_features
from pipeline.judge import Judgement
from pipeline.scoring import CallScore
from pipeline.store.store import Store
from tests.conftest import SAMPLES

GOOD_AND_BAD_CSV = """call_file,agent_id,team,queue,started_at
a.wav,a101,billing,billing_inbound,2026-11-02T09:14:05Z
b.wav,,support,tech_support,2026-11-02T10:14:05+01:00
,a102,support,sales,2026-11-02T11:00:00Z
c.wav,a103,support,sales,yesterday
a.wav,a104,billing,payments,2026-11-02T12:00:00Z
d.wav,a105,billing,payments,2026-11-02,extra

/recordings/2026-11-02/e.wav,a106,billing,payments,2026-11-02
"""


def test_csv_keeps_good_lines_and_names_each_bad_one():
    parsed = parse_csv(GOOD_AND_BAD_CSV, "meta.csv")
    assert parsed.rows == [
        CallMetadata(
            "a.wav", "a101", "billing", "billing_inbound", datetime(2026, 11, 2, 9, 14, 5)
        ),
        CallMetadata(
            "b.wav", None, "support", "tech_support", datetime(2026, 11, 2, 9, 14, 5)
        ),  # no agent: unassigned
        CallMetadata(
            "e.wav", "a106", "billing", "payments", datetime(2026, 11, 2)
        ),  # folder dropped
    ]
    assert [(bad.line, bad.reason.split(" ")[0]) for bad in parsed.bad_lines] == [
        (4, "no"),
        (5, "started_at"),
        (6, "a.wav:"),
        (7, "6"),
    ]
    assert "first on line 2" in parsed.bad_lines[2].reason
    assert str(parsed.bad_lines[1]).startswith("line 5: started_at 'yesterday'")


def test_csv_column_aliases_and_a_missing_file_column():
    parsed = parse_csv(
        "File,Agent,Team,Campaign,Start_Time\nx.flac,a1,t1,spring_promo,2026-01-01T00:00:00\n"
    )
    assert parsed.rows == [CallMetadata("x.flac", "a1", "t1", "spring_promo", datetime(2026, 1, 1))]
    with pytest.raises(MetadataError, match="line 1: no file-name column"):
        parse_csv("agent_id,team\na1,t1\n", "meta.csv")
    with pytest.raises(MetadataError, match="empty"):
        parse_csv("", "meta.csv")


def test_control_characters_and_overlong_values_are_bad_lines():
    parsed = parse_csv("call_file,agent_id\nx.wav,a1\x07\ny.wav," + "a" * 300 + "\n")
    assert parsed.rows == [] and [bad.line for bad in parsed.bad_lines] == [2, 3]


def test_json_array_reports_the_line_each_entry_starts_on():
    text = '[\n  {"call_file": "a.wav", "agent_id": "a1", "team": "t"},\n  {"call_file": "b.wav",\n   "started_at": "soon"},\n  7,\n  {"call_file": "c.wav", "agent": "a3"}\n]\n'
    parsed = parse_json(text, "meta.json")
    assert [row.file_name for row in parsed.rows] == ["a.wav", "c.wav"]
    assert [(bad.line, bad.reason.split(" ")[0]) for bad in parsed.bad_lines] == [
        (3, "started_at"),
        (5, "expected"),
    ]


def test_json_lines_and_a_broken_line():
    text = '{"call_file": "a.wav", "agent_id": "a1"}\n{"call_file": "b.wav", oops}\n\n{"call_file": "c.wav", "team": ["x"]}\n{"call_file": "d.wav"}\n'
    parsed = parse_json(text, "meta.jsonl")
    assert [row.file_name for row in parsed.rows] == ["a.wav", "d.wav"]
    assert [bad.line for bad in parsed.bad_lines] == [2, 4]


def test_broken_json_array_keeps_the_entries_before_the_break(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text('[{"call_file": "a.wav"},\n{"call_file": "b.wav" "agent_id": "x"}]')
    parsed = read_metadata(path)
    assert [row.file_name for row in parsed.rows] == ["a.wav"] and parsed.bad_lines[0].line == 2


def test_sample_metadata_lists_every_sample_with_agent_and_team():
    parsed = read_metadata(SAMPLES / "metadata.csv")
    assert parsed.bad_lines == []
    audio = {p.name for p in SAMPLES.iterdir() if p.suffix in {".wav", ".flac", ".mp3"}}
    assert {row.file_name for row in parsed.rows} == audio
    assert all(
        row.agent_id and row.team and row.queue_name and row.started_at for row in parsed.rows
    )


@pytest.mark.parametrize(
    "pattern, name, expected",
    [
        ("{date}_{agent}_{callid}.wav", "2026-11-02_a101_000123.wav", CallMetadata("2026-11-02_a101_000123.wav", "a101", started_at=datetime(2026, 11, 2))),
        ("{date}_{time}_{team}_{agent}_{callid}", "20261102_091405_billing_a101_77.flac",
         CallMetadata("20261102_091405_billing_a101_77.flac", "a101", "billing", started_at=datetime(2026, 11, 2, 9, 14, 5))),
        ("{queue}-{agent}.{ext}", "/x/y/sales-a7.mp3", CallMetadata("sales-a7.mp3", "a7", queue_name="sales")),
        ("{date}_{agent}_{callid}.wav", "notes.wav", None),
        ("{date}_{agent}_{callid}.wav", "2026-13-45_a101_1.wav", None),  # not a date
    ],
)  # fmt: skip
def test_file_name_pattern(pattern, name, expected):
    assert FileNamePattern(pattern).match(name) == expected


def test_bad_file_name_patterns_are_refused():
    with pytest.raises(ValueError, match="unknown field"):
        FileNamePattern("{date}_{agnet}.wav")
    with pytest.raises(ValueError, match="names none of"):
        FileNamePattern("{callid}.wav")
    with pytest.raises(ValueError, match="name_pattern"):
        load_settings(metadata={"name_pattern": "{date}_{nope}"})


def _call(call_id: str, path: str) -> CallFailure:
    return CallFailure(call_id=call_id, source_path=path, sha256=None, error="x")


def _owner(db: Path, call_id: str) -> tuple:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT agent_id, team, queue_name, started_at FROM calls WHERE call_id = ?", [call_id]
        ).fetchone()


def test_metadata_survives_the_call_being_rewritten_and_may_come_first(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_call(_call("c1", "/night/a.wav"))
        updated = store.import_metadata(
            [
                CallMetadata("a.wav", "a101", "billing", "inbound", datetime(2026, 11, 2, 9)),
                CallMetadata("later.wav", "a102", "support"),
            ],
            source="meta.csv",
        )
        assert updated == 1
        store.write_call(_call("c1", "/night/a.wav"))  # a rerun replaces the calls row
        store.write_call(
            _call("c2", "/other/folder/later.wav")
        )  # processed after its metadata arrived
        store.write_call(_call("c3", "/night/nobody.wav"))
    assert _owner(db, "c1") == ("a101", "billing", "inbound", datetime(2026, 11, 2, 9))
    assert _owner(db, "c2") == ("a102", "support", None, None)
    assert _owner(db, "c3") == (None, None, None, None)  # unassigned, still stored


def test_a_new_sidecar_replaces_and_a_pattern_only_fills_gaps(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_call(_call("c1", "/night/a.wav"))
        store.import_metadata([CallMetadata("a.wav", "a101", None)], source="first.csv")
        store.import_metadata(
            [CallMetadata("a.wav", "a999", "guessed", started_at=datetime(2026, 1, 1))],
            "pattern",
            fill_only=True,
        )
    assert _owner(db, "c1") == ("a101", "guessed", None, datetime(2026, 1, 1))
    with Store(db) as store:
        store.import_metadata([CallMetadata("a.wav", "a555", "billing")], source="correction.csv")
    assert _owner(db, "c1") == ("a555", "billing", None, None)


def test_cli_metadata_import_keeps_good_lines_and_reports_bad_ones(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_call(_call("c1", "/night/a.wav"))
        store.write_call(_call("c2", "/night/b.wav"))
    sidecar = tmp_path / "meta.csv"
    sidecar.write_text(GOOD_AND_BAD_CSV)
    result = CliRunner().invoke(cli_app, ["metadata", "import", str(sidecar), "--db", str(db)])
    assert result.exit_code == 1
    for line in (4, 5, 6, 7):
        assert f"meta.csv:{line}:" in result.output.replace("\n", "")
    assert _owner(db, "c1")[0] == "a101" and _owner(db, "c2")[1] == "support"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT action, object FROM audit_log").fetchall() == [
            ("metadata_import", str(sidecar))
        ]


class _FakeProcessor:
    """Stands in for the models: returns a finished record for each file (the batch flow is real)."""

    def __init__(self):
        self.rubric = load_rubric(load_settings().rubric)
        self.redacted_audio_dir = None

    def __call__(self, path: Path, sha256: str) -> CallResult:
        no_speech: list = []
        features, events = extract_features(no_speech, no_speech, 1.0)
        score = CallScore(self.rubric.id, self.rubric.version, 100.0, True, False, 1.0, ())
        return CallResult(
            call_id=sha256[:16], source_path=str(path), sha256=sha256, duration_s=1.0, sample_rate=8000,
            channels=1, asr_model="none", diarizer="none", num_speakers=0, diarization_confidence=None,
            role_confidence=None, turns=(), words=(), redactions=(),
            judgement=Judgement(features, tuple(events), score, None),
        )  # fmt: skip


def test_batch_reads_owner_from_file_names_unless_a_sidecar_said_so(tmp_path):
    night = tmp_path / "night"
    night.mkdir()
    for name in ("2026-11-02_a101_0001.wav", "2026-11-02_a102_0002.wav", "unnamed.wav"):
        (night / name).write_bytes(name.encode() * 10)
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.import_metadata(
            [CallMetadata("2026-11-02_a102_0002.wav", "a777", "support")], source="sidecar.csv"
        )
    settings = load_settings(metadata={"name_pattern": "{date}_{agent}_{callid}.wav"})
    summary = run_batch([str(night)], db, settings, processor=_FakeProcessor())
    assert summary.done == 3
    with duckdb.connect(str(db), read_only=True) as con:
        owners = {
            Path(r[0]).name: r[1:]
            for r in con.execute(
                "SELECT source_path, agent_id, team, started_at FROM calls"
            ).fetchall()
        }
    assert owners["2026-11-02_a101_0001.wav"] == ("a101", None, datetime(2026, 11, 2))
    assert owners["2026-11-02_a102_0002.wav"] == (
        "a777",
        "support",
        datetime(2026, 11, 2),
    )  # sidecar wins, pattern fills
    assert owners["unnamed.wav"] == (None, None, None)


def test_sample_sidecar_is_a_valid_csv_for_the_run_flag():
    with (SAMPLES / "metadata.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "call_file" and {"agent_id", "team", "queue", "started_at"} <= set(header)


def test_a_run_finds_the_sidecar_beside_the_recordings(tmp_path):
    from pipeline.metadata import sidecars_in

    (tmp_path / "metadata.csv").write_text("call_file\n")
    assert sidecars_in([str(tmp_path), str(tmp_path / "x.wav"), "*.wav"]) == [
        tmp_path / "metadata.csv"
    ]
    assert sidecars_in([str(SAMPLES)]) == [SAMPLES / "metadata.csv"]
