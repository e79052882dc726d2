"""A Ray cluster: the same per-call work on Ray actors, on one machine or many.

Each actor is one ``CallProcessor`` (models loaded once, kept for the night) taking
``calls_per_worker`` calls at once through its lanes. It returns each finished call as Parquet
shard files (``store.shards``) that the run's one writer saves and loads into DuckDB, so the
database stays the one place supervisors read, whatever number of machines worked on the night.

An actor that dies mid-call (node lost, killed for memory) is restarted by Ray, and the calls it
held are given to another actor; a call is stored once because shards are keyed by call id and
the writer replaces a call's rows. Recordings and the redacted-audio folder must be reachable at
the same path from every node (a shared mount, as call recordings usually are).

Ray is optional (``pip install 'callqa[ray]'``); without it ``--engine ray`` says so and stops.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pipeline.call import CallProcessor, process_safely
from pipeline.config import Settings
from pipeline.engines import EngineError, FinishedCall, Outcome, PlannedCall
from pipeline.models import ModelError

RAY_MISSING = (
    "--engine ray needs Ray, which is not installed in this environment: "
    "pip install 'callqa[ray]' (or run without --engine ray to process on this machine)"
)


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise EngineError(RAY_MISSING) from exc
    return ray


class CallWorker:
    """A Ray actor: one processor and one shard writer for the night."""

    def __init__(self, settings: Settings, redacted_dir: Path, untrusted: frozenset[str]):
        import ray

        from pipeline.store.shards import ShardWriter

        self.processor = CallProcessor(settings, redacted_audio_dir=redacted_dir, untrusted=untrusted)
        self.shards = ShardWriter()
        self._writing = threading.Lock()  # the shard writer's tables are shared by the actor's threads
        self.where = f"node {ray.get_runtime_context().get_node_id()[:12]} pid {os.getpid()}"

    def process(self, call_id: str, path: str, sha256: str):
        """("done", where, FinishedCall, shard files) or ("model_error", where, message, None)."""
        try:
            result = process_safely(self.processor, Path(path), sha256)
        except ModelError as exc:
            return "model_error", self.where, str(exc), None
        with self._writing:
            files = self.shards.files(result)
        return "done", self.where, FinishedCall.of(result), files

    def location(self) -> str:
        return self.where


class RayEngine:
    """Actors spread over the cluster's nodes, each holding up to ``calls_per_worker`` calls."""

    name = "ray"

    def __init__(self, settings: Settings, redacted_dir: Path, untrusted: frozenset[str], workers: int):
        ray = import_ray()
        self._ray = ray
        self._started_ray = False
        options = settings.engine
        if not ray.is_initialized():
            project = str(Path(__file__).resolve().parents[2])
            try:
                ray.init(
                    address=options.address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    namespace="callqa",
                    # this checkout's code on every worker of this machine; other machines use their install
                    runtime_env={"env_vars": {"PYTHONPATH": f"{project}:${{PYTHONPATH}}"}},
                )
            except Exception as exc:
                where = options.address or "this machine"
                raise EngineError(f"cannot start or reach the Ray cluster at {where}: {exc}") from exc
            self._started_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.workers = workers or max(1, int(cpus // options.cpus_per_worker))
        from pipeline.batch import worker_asr

        worker_settings = settings.model_copy(update={"asr": worker_asr(settings)}, deep=True)
        actor = ray.remote(CallWorker).options(
            num_cpus=options.cpus_per_worker,
            max_concurrency=options.calls_per_worker,
            max_restarts=-1,  # a dead actor comes back (on another node if its node is gone)
            max_task_retries=0,  # its calls are handed to another actor by us, not replayed on it
            scheduling_strategy="SPREAD",
        )
        self._actors = [actor.remote(worker_settings, redacted_dir, untrusted) for _ in range(self.workers)]
        self.capacity = options.calls_per_worker
        self._held: list[int] = [0] * self.workers
        self._pending: dict = {}  # ObjectRef -> (call, actor index)
        self._restarting: dict = {}  # ObjectRef of a ping -> index of an actor Ray is bringing back
        self._gone: set[int] = set()  # actors Ray could not bring back
        errors = ray.exceptions
        self._lost_errors = (errors.RayActorError, errors.ObjectLostError, errors.WorkerCrashedError, errors.NodeDiedError)

    def has_room(self, avoid: str | None = None) -> bool:
        return bool(self._open(avoid))

    def _open(self, avoid: str | None) -> list[int]:
        """Actors with room; a call lost on ``avoid`` waits for another live actor when there is one."""
        down = {*self._restarting.values(), *self._gone}
        open_actors = [index for index, held in enumerate(self._held) if held < self.capacity and index not in down]
        others_live = any(_actor_name(index) != avoid for index in range(self.workers) if index not in self._gone)
        if not others_live:  # only the actor it was lost on is left: it takes the call again
            return open_actors
        return [index for index in open_actors if _actor_name(index) != avoid]

    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, call: PlannedCall, avoid: str | None = None) -> None:
        index = min(self._open(avoid), key=lambda index: self._held[index])
        self._held[index] += 1
        reference = self._actors[index].process.remote(call.call_id, str(call.path), call.sha256)
        self._pending[reference] = (call, index)

    def finished(self, timeout_s: float) -> list[Outcome]:
        waiting_on = [*self._pending, *self._restarting]
        if not waiting_on:
            return []
        ready, _ = self._ray.wait(waiting_on, num_returns=1, timeout=timeout_s)
        if ready:  # everything else already done too, without waiting again
            ready, _ = self._ray.wait(waiting_on, num_returns=len(waiting_on), timeout=0)
        outcomes = []
        for reference in ready:
            if reference in self._restarting:
                self._back(reference)
                continue
            call, index = self._pending.pop(reference)
            self._held[index] -= 1
            try:
                kind, where, payload, files = self._ray.get(reference)
            except self._lost_errors as exc:
                outcomes.append(Outcome(call, _actor_name(index), lost=f"{_actor_name(index)} died: {type(exc).__name__}"))
                self._wait_for_restart(index)
                continue
            if kind == "model_error":
                raise ModelError(payload)
            outcomes.append(Outcome(call, f"{_actor_name(index)} ({where})", payload, shard=files))
        return outcomes

    def _wait_for_restart(self, index: int) -> None:
        """No calls for the actor until Ray has it back: a ping that Ray retries until it answers."""
        if index not in self._restarting.values():
            ping = self._actors[index].location.options(max_task_retries=-1).remote()
            self._restarting[ping] = index

    def _back(self, ping) -> None:
        index = self._restarting.pop(ping)
        try:
            self._ray.get(ping)
        except self._lost_errors as exc:  # Ray gave up on it: the night goes on without it
            self._gone.add(index)
            if len(self._gone) == self.workers:
                raise EngineError(f"every Ray worker died and Ray could not restart them ({exc})") from exc

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        if self._started_ray:
            self._ray.shutdown()


def _actor_name(index: int) -> str:
    return f"ray worker {index}"
