"""Where a night's calls are processed: threads of this process, worker processes on this machine,
or Ray actors across a cluster. Every engine runs the same ``CallProcessor`` (models loaded once
per worker, several calls in flight per worker so decoding and scoring overlap the model) and
hands finished calls back to the run's one writer (``pipeline.batch``), which alone writes DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from pipeline.call import CallFailure, CallResult


class EngineOptions(BaseModel):
    """Where calls run and how many at once (``callqa run --workers --engine --address``)."""

    kind: Literal["local", "ray"] = Field("local", description="local: this machine; ray: a Ray cluster")
    address: str | None = Field(None, description="Ray cluster address (host:port); none: a Ray instance on this machine")
    calls_per_worker: int = Field(
        4,
        ge=1,
        description="calls a worker holds at once: one per seat of its lanes (decode+speech, the "
        "ASR's parallel batches, scoring)",
    )
    cpus_per_worker: float = Field(2.0, gt=0, description="Ray: CPUs each worker reserves (its ASR threads)")


@dataclass(frozen=True)
class PlannedCall:
    """One recording to process: where it is, its content hash and call id, or why it cannot be read."""

    path: Path
    sha256: str | None
    call_id: str
    error: str | None = None
    size_bytes: int = 0


@dataclass(frozen=True)
class FinishedCall:
    """What the log and the progress bar show of a processed call (the rows travel separately)."""

    call_id: str
    source_path: str
    status: str
    error: str | None = None
    duration_s: float = 0.0
    processing_s: float = 0.0
    stage_s: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: CallResult | CallFailure) -> FinishedCall:
        if result.status == "done":
            return cls(
                result.call_id, result.source_path, "done", None, result.duration_s, result.processing_s,
                {stage: round(seconds, 3) for stage, seconds in result.stage_s.items()},
            )  # fmt: skip
        return cls(result.call_id, result.source_path, "failed", result.error)


@dataclass(frozen=True)
class Outcome:
    """A call an engine is done with: its result (in this process) or its rows as Parquet shard
    files (from a cluster), or ``lost`` when the worker holding it died."""

    call: PlannedCall
    worker: str
    finished: FinishedCall | None = None
    result: CallResult | CallFailure | None = None
    shard: Mapping[str, bytes] | None = None
    lost: str | None = None


class Engine(Protocol):
    """What the run's scheduler needs of an engine."""

    name: str
    workers: int

    def has_room(self, avoid: str | None = None) -> bool:
        """Whether a worker (other than ``avoid``, where the call was lost, if there are others)
        can take another call now; each holds ``calls_per_worker``."""
        ...

    def submit(self, call: PlannedCall, avoid: str | None = None) -> None:
        """Give the call to a worker with room, other than ``avoid`` when there are others."""
        ...

    def in_flight(self) -> int: ...

    def finished(self, timeout_s: float) -> list[Outcome]:
        """Calls finished (or lost) since the last call, waiting up to ``timeout_s`` for the first."""
        ...

    def close(self) -> None: ...


class EngineError(Exception):
    """The engine cannot run at all (Ray missing, cluster unreachable); the message says what to do."""
