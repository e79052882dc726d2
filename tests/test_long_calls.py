"""A long call runs in about the memory of a short one: `callqa run` on a 20-minute dual-channel call,
made here from the demo calls with stretches of quiet line noise between them (as holds and
transfers give real long calls), runs under a data-size cap (``RLIMIT_DATA``: heap and private
mappings, what a run allocates) set just above what a 3-minute call made the same way needs.

Before streaming, the long call alone needed about 0.5 GB more than the short one (its whole
decoded audio, with copies, through every stage) and failed under this cap.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import PROJECT, SAMPLES

pytestmark = pytest.mark.slow

MODEL = "whisper-tiny.en"
SHORT_MIN = 3.0  # long enough to fill the ASR's batches, as a long call does
LONG_MIN = 20.0
# Room above the short call's peak for what a long call keeps by right: its words, turns and
# per-frame speech marks (about 50 MB an hour on two channels), and allocator slack.
HEADROOM_MB = 200
# Sets the cap in a new interpreter, which then becomes the command (exec keeps the limit).
CAPPED_EXEC = (
    "import os, resource, sys; limit = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_DATA, (limit, limit)); os.execv(sys.argv[2], sys.argv[2:])"
)


def long_call(path: Path, minutes: float) -> Path:
    """The stereo demo calls back to back, each followed by a stretch of quiet line noise, until
    ``minutes`` are reached: 8 kHz, agent left, customer right."""
    rng = np.random.default_rng(7)
    calls = [sf.read(str(p), dtype="float32")[0] for p in sorted(SAMPLES.glob("*.stereo.flac"))]
    rate = sf.info(str(SAMPLES / "good_call.stereo.flac")).samplerate
    wanted = int(minutes * 60 * rate)
    pieces, total = [], 0
    while total < wanted:
        for call in calls:
            hold = rng.normal(0.0, 10 ** (-60 / 20), (int(rng.uniform(20, 60) * rate), 2))
            for piece in (call, hold.astype(np.float32)):
                pieces.append(piece)
                total += len(piece)
    sf.write(str(path), np.concatenate(pieces)[:wanted], rate, subtype="PCM_16")
    return path


def run_capped(recording: Path, db: Path, data_limit_bytes: int | None) -> tuple[int, float, str]:
    """`callqa run` on one recording in a new process, under RLIMIT_DATA when a limit is given;
    its exit code, peak resident memory in MB, and output."""
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        str(recording),
        "--db",
        str(db),
        "--model",
        MODEL,
        "-q",
    ]
    if data_limit_bytes is not None:
        command = [
            sys.executable,
            "-c",
            CAPPED_EXEC,
            str(data_limit_bytes),
            *command,
        ]
    process = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, output


def test_a_long_call_runs_in_the_memory_of_a_short_one(tmp_path):
    short = long_call(tmp_path / "short.wav", SHORT_MIN)
    code, short_peak_mb, output = run_capped(short, tmp_path / "short.duckdb", None)
    assert code == 0, output
    # the data segment runs ~0.1-0.3 GB above the resident set (untouched reservations): cap it
    # at the short call's resident peak plus the headroom plus that slack
    cap_mb = short_peak_mb + HEADROOM_MB + 300
    recording = long_call(tmp_path / "long.wav", LONG_MIN)
    db = tmp_path / "long.duckdb"
    code, long_peak_mb, output = run_capped(recording, db, int(cap_mb * 1024**2))
    print(
        f"{SHORT_MIN:.0f}-min call peak {short_peak_mb:.0f} MB; {LONG_MIN:.0f}-min call peak "
        f"{long_peak_mb:.0f} MB under a {cap_mb:.0f} MB data cap"
    )
    assert code == 0, f"the long call did not finish under the cap:\n{output[-3000:]}"
    with duckdb.connect(str(db), read_only=True) as con:
        status, duration_s, words = con.execute(
            "SELECT status, duration_s, word_count FROM calls WHERE source_path = ?",
            [str(recording)],
        ).fetchone()
    assert status == "done" and duration_s == pytest.approx(LONG_MIN * 60, abs=1)
    assert words > 1000  # every demo call's words, several times over: the speech was heard
