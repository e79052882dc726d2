"""This machine: threads of the run's own process (one worker), or worker processes (``--workers N``).

Each worker is one ``CallProcessor`` (models loaded once) called from ``calls_per_worker`` threads:
its lanes let one call decode and find speech while another is in the model and a third is being
scored. A worker process that dies (killed for memory, by an operator) takes only its own calls
down: they are handed to another worker, and a new worker takes its place.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from pathlib import Path

from pipeline.memory import MemoryPlan
from pipeline.call import CallFailure, CallProcessor, process_safely
from pipeline.config import Settings
from pipeline.engines import FinishedCall, Outcome, PlannedCall
from pipeline.models import ModelError


class ThreadEngine:
    """One worker: the run's own process, ``calls_per_worker`` calls in flight through its lanes."""

    name = "local"
    workers = 1

    def __init__(self, processor: CallProcessor, calls_per_worker: int):
        self.processor = processor
        self.capacity = calls_per_worker
        self._pool = ThreadPoolExecutor(calls_per_worker, thread_name_prefix="callqa-call")
        self._done: queue.SimpleQueue[tuple[PlannedCall, Future]] = queue.SimpleQueue()
        self._in_flight = 0
        self._worker = f"pid {os.getpid()}"

    def has_room(self, avoid: str | None = None) -> bool:
        return self._in_flight < self.capacity

    def in_flight(self) -> int:
        return self._in_flight

    def submit(self, call: PlannedCall, avoid: str | None = None) -> None:
        self._in_flight += 1
        future = self._pool.submit(process_safely, self.processor, call.path, call.sha256)
        future.add_done_callback(lambda done, call=call: self._done.put((call, done)))

    def finished(self, timeout_s: float) -> list[Outcome]:
        items = _drain(self._done, timeout_s)
        outcomes = []
        for call, future in items:
            self._in_flight -= 1
            result = future.result()  # a ModelError stops the run here, with the model's message
            outcomes.append(Outcome(call, self._worker, FinishedCall.of(result), result=result))
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _drain(source: queue.SimpleQueue, timeout_s: float) -> list:
    try:
        items = [source.get(timeout=timeout_s)]
    except queue.Empty:
        return []
    while True:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            return items


class _Worker:
    def __init__(self, number: int, process: multiprocessing.Process, inbox: Connection, outbox: Connection):
        self.number = number
        self.process = process
        self.inbox = inbox  # the run writes calls here
        self.outbox = outbox  # and reads results here
        self.calls: dict[str, PlannedCall] = {}

    @property
    def name(self) -> str:
        return f"worker {self.number} (pid {self.process.pid})"


class ProcessEngine:
    """``workers`` processes on this machine, each a ``CallProcessor`` with ``calls_per_worker`` threads."""

    name = "local"

    def __init__(
        self,
        settings: Settings,
        redacted_dir: Path,
        untrusted: frozenset[str],
        workers: int,
        memory: MemoryPlan | None = None,
    ):
        self.workers = workers
        self.capacity = settings.engine.calls_per_worker
        self._args = (settings, redacted_dir, untrusted, memory)
        self._context = multiprocessing.get_context("spawn")  # fork after OpenMP/ONNX threads start can deadlock
        self._started = 0
        self._pool = [self._start() for _ in range(workers)]

    def _start(self) -> _Worker:
        self._started += 1
        inbox_reader, inbox_writer = self._context.Pipe(duplex=False)
        outbox_reader, outbox_writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=serve_calls, args=(*self._args, inbox_reader, outbox_writer), daemon=True,
            name=f"callqa-worker-{self._started}",
        )  # fmt: skip
        process.start()
        inbox_reader.close()  # the worker's ends: closed here, so a dead worker reads as EOF
        outbox_writer.close()
        return _Worker(self._started, process, inbox_writer, outbox_reader)

    def has_room(self, avoid: str | None = None) -> bool:
        return bool(self._open(avoid))

    def _open(self, avoid: str | None) -> list[_Worker]:
        """Workers with room, ``avoid`` left out (a lost call's dead worker was replaced anyway)."""
        return [worker for worker in self._pool if len(worker.calls) < self.capacity and worker.name != avoid]

    def in_flight(self) -> int:
        return sum(len(worker.calls) for worker in self._pool)

    def submit(self, call: PlannedCall, avoid: str | None = None) -> None:
        worker = min(self._open(avoid), key=lambda worker: len(worker.calls))
        worker.calls[call.call_id] = call
        worker.inbox.send((call.call_id, call.path, call.sha256))

    def finished(self, timeout_s: float) -> list[Outcome]:
        handles = [worker.outbox for worker in self._pool] + [worker.process.sentinel for worker in self._pool]
        ready = set(wait(handles, timeout_s))
        outcomes: list[Outcome] = []
        for index, worker in enumerate(list(self._pool)):
            alive = True
            if worker.outbox in ready or worker.process.sentinel in ready:
                alive = self._receive(worker, outcomes)
            if not alive or not worker.process.is_alive():
                outcomes.extend(self._replace(index, worker))
        return outcomes

    def _receive(self, worker: _Worker, outcomes: list[Outcome]) -> bool:
        """Read every message the worker sent; False when its end is closed (it died)."""
        try:
            while worker.outbox.poll():
                kind, call_id, payload = worker.outbox.recv()
                if kind == "model_error":
                    raise ModelError(payload)
                call = worker.calls.pop(call_id)
                outcomes.append(Outcome(call, worker.name, FinishedCall.of(payload), result=payload))
        except (EOFError, OSError):
            return False
        return True

    def _replace(self, index: int, worker: _Worker) -> list[Outcome]:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        reason = f"{worker.name} died (exit code {code}{', killed by a signal' if code and code < 0 else ''})"
        lost = [Outcome(call, worker.name, lost=reason) for call in worker.calls.values()]
        worker.inbox.close()
        worker.outbox.close()
        self._pool[index] = self._start()
        return lost

    def close(self) -> None:
        for worker in self._pool:
            try:
                worker.inbox.send(None)
            except OSError:
                pass
        for worker in self._pool:
            worker.process.join(timeout=30)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.inbox.close()
            worker.outbox.close()


def serve_calls(
    settings: Settings,
    redacted_dir: Path,
    untrusted: frozenset[str],
    memory: MemoryPlan | None,
    inbox: Connection,
    outbox: Connection,
) -> None:
    """A worker process: one processor (models loaded once), calls taken from ``inbox`` on
    ``calls_per_worker`` threads, each result sent back as soon as it is ready."""
    sending = threading.Lock()

    def reply(kind: str, call_id: str | None, payload: object) -> None:
        with sending:
            outbox.send((kind, call_id, payload))

    try:
        processor = CallProcessor(settings, redacted_audio_dir=redacted_dir, untrusted=untrusted, memory_plan=memory)
    except ModelError as exc:
        reply("model_error", None, str(exc))
        return

    def run(call_id: str, path: Path, sha256: str) -> None:
        try:
            reply("done", call_id, process_safely(processor, path, sha256))
        except ModelError as exc:
            reply("model_error", call_id, str(exc))
        except BaseException as exc:  # noqa: BLE001 - the run must hear of it, whatever it was
            failure = CallFailure(call_id, str(path), sha256, f"{path}: worker error: {type(exc).__name__}: {exc}")
            reply("done", call_id, failure)

    with ThreadPoolExecutor(settings.engine.calls_per_worker, thread_name_prefix="callqa-call") as pool:
        while True:
            try:
                message = inbox.recv()
            except (EOFError, OSError):
                break  # the run is gone
            if message is None:
                break
            pool.submit(run, *message)
