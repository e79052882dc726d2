"""What an operator and a cron job see of a nightly run: when it must stop taking calls, a JSON-lines
log with each call's stage times, a JSON summary file, and the exit codes."""

from __future__ import annotations

import json
import os
import statistics
import threading
from datetime import datetime, timedelta
from pathlib import Path

# `callqa run` exit codes (README "Running it every night").
EXIT_OK = 0  # every call done (or already stored)
EXIT_CALLS_FAILED = 1  # the run finished, some calls (or metadata lines) failed with a reason
EXIT_CONFIGURATION = 2  # nothing was processed: settings, rubric, model or engine problem
EXIT_STOPPED = 3  # stopped at the deadline with calls left; the next run takes them


def parse_deadline(text: str, now: datetime) -> datetime:
    """``HH:MM`` is the next such time (later today, else tomorrow); an ISO date-time is taken as it is."""
    try:
        clock = datetime.strptime(text, "%H:%M")
    except ValueError:
        try:
            return datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"--deadline {text!r}: give HH:MM (24-hour, local time) or an ISO date-time") from exc
    deadline = now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return deadline if deadline > now else deadline + timedelta(days=1)


def run_deadline(deadline: str | None, max_hours: float | None, now: datetime) -> datetime | None:
    """The earlier of ``--deadline`` and ``--max-hours`` from now; None when neither is given."""
    limits = []
    if deadline:
        limits.append(parse_deadline(deadline, now))
    if max_hours is not None:
        if max_hours <= 0:
            raise ValueError(f"--max-hours {max_hours}: must be more than 0")
        limits.append(now + timedelta(hours=max_hours))
    return min(limits) if limits else None


class CallTimeEstimator:
    """How long a call will take from submission to stored, from the calls finished so far.

    Wall time per byte of recording (the 90th percentile, so a slow stretch is not forgotten) times
    the file's size: a night mixes formats and lengths, and the size is known before decoding.
    """

    def __init__(self):
        self._seconds_per_byte: list[float] = []

    def add(self, size_bytes: int, wall_s: float) -> None:
        if size_bytes > 0:
            self._seconds_per_byte.append(wall_s / size_bytes)

    def expected_s(self, size_bytes: int) -> float | None:
        """None until a call has finished (nothing is known yet)."""
        if not self._seconds_per_byte:
            return None
        rates = sorted(self._seconds_per_byte)
        p90 = rates[min(len(rates) - 1, int(0.9 * len(rates)))]
        return size_bytes * max(p90, statistics.median(rates))


def may_start(deadline: datetime | None, now: datetime, expected_s: float | None) -> bool:
    """Start a call only if it is expected to be stored before the deadline."""
    if deadline is None:
        return True
    if now >= deadline:
        return False
    return expected_s is None or now + timedelta(seconds=expected_s) <= deadline


class RunLog:
    """JSON lines, one object per event (``run_start``, ``call``, ``retry``, ``deadline``, ``run_end``),
    appended and flushed as they happen so a killed run's log is complete up to the kill."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._handle = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def event(self, event: str, **fields: object) -> None:
        if self._handle is None:
            return
        line = json.dumps({"at": datetime.now().astimezone().isoformat(timespec="milliseconds"), "event": event, **fields}, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def write_summary(path: Path, summary: dict) -> None:
    """The run summary as one JSON file, replaced atomically (a cron job never reads half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    os.replace(partial, path)
