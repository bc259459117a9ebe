"""Evict a post from the worker's workflow cache as soon as it goes to sleep far ahead.

The SDK's cache (`WORKER_MAX_CACHED_WORKFLOWS`) keeps the most recently active runs. After a
burst of submissions that is the posts just accepted, which then sleep for days: each holds
about 0.2 MiB all that time and serves nothing (the next task it gets is the one that wakes
it, and the cache has turned over by then). This module looks at every activation a watched
run completes and, when the run's only pending work is timers whose earliest fires at least
`WORKER_EVICT_SLEEPERS_AFTER_SECONDS` away (nothing else in flight: no activity, child,
signal to another workflow, Nexus operation), asks the worker to evict it. When its timer
fires it replays its history once, on any worker, as any uncached run does. A run due soon
stays cached, so posts due in the same minute keep the cache for their due-time burst.

Only workflow types that sleep on timers are watched (`WATCHED_WORKFLOW_TYPES`): a post and
its analytics. An account's entity (`TikTokAccount`) is woken by its posts' signals at any
moment; its long timers say nothing about when it is next needed, so it is never evicted
here (the LRU cache keeps it while its posts are busy).

How, in the SDK's terms: a `WorkflowRunner` (public) wraps the sandbox's runner and sees each
activation and the completion the workflow returns (`WorkflowInstance.activate`, public; the
jobs and commands are Core's protobufs). The decision is the worker's, from the commands, so
workflow code is untouched and stays deterministic. The one private part is the call that
asks Core to evict: the SDK exposes `request_workflow_eviction(run_id)` on its bridge worker
(`temporalio.bridge.worker.Worker`, Core's `Worker::request_workflow_eviction`) but not on
`temporalio.worker.Worker`, which keeps the bridge worker in `_bridge_worker`. That lookup
is `_core_eviction` below, alone; `tests/test_sleeper_eviction.py` fails if the SDK moves it.
Core processes an eviction requested while the activation is outstanding after that
activation's completion has been applied and reported to the server (sdk-core `ManagedRun`:
the eviction activation is only issued once no activation is outstanding).

One side effect of wrapping the runner: the SDK's debug mode (`TEMPORAL_DEBUG`, which lets
`breakpoint()` through the sandbox) recognises only its own `SandboxedWorkflowRunner`; to
step through workflow code under a debugger, run the worker with
`WORKER_EVICT_SLEEPERS_AFTER_SECONDS=0` (the runner is then not wrapped).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import SerializationContext, StorageDriverStoreContext
from temporalio.worker import (
    Worker,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.workflow import Info

from telemetry.metrics import REGISTRY
from workflows.analytics import ANALYTICS_TYPE

log = structlog.get_logger("worker.sleepers")

WATCHED_WORKFLOW_TYPES = frozenset({"PublishPost", ANALYTICS_TYPE})
"""Workflow types that sleep on timers and are evicted when they sleep far ahead."""

SLEEPERS_EVICTED = Counter(
    "tiktok_worker_sleepers_evicted",
    "Runs the worker evicted from its workflow cache because they went to sleep further "
    "ahead than WORKER_EVICT_SLEEPERS_AFTER_SECONDS, by workflow type.",
    ["workflow_type"],
    registry=REGISTRY,
)


@dataclass
class PendingWork:
    """What a run waits for, followed from its activations (jobs that resolve work) and its
    completions (commands that start work). Timers by sequence number with when they fire
    (in workflow time); everything else only as (kind, seq)."""

    timers: dict[int, datetime] = field(default_factory=dict)
    other: set[tuple[str, int]] = field(default_factory=set)
    finished: bool = False

    def activated(self, act: WorkflowActivation) -> None:
        for job in act.jobs:
            variant = job.WhichOneof("variant")
            if variant == "fire_timer":
                self.timers.pop(job.fire_timer.seq, None)
            elif variant == "resolve_activity":
                self.other.discard(("activity", job.resolve_activity.seq))
            elif variant == "resolve_child_workflow_execution_start":
                start = job.resolve_child_workflow_execution_start
                if start.WhichOneof("status") != "succeeded":  # failed or cancelled: ended
                    self.other.discard(("child", start.seq))
            elif variant == "resolve_child_workflow_execution":
                self.other.discard(("child", job.resolve_child_workflow_execution.seq))
            elif variant == "resolve_signal_external_workflow":
                self.other.discard(("signal", job.resolve_signal_external_workflow.seq))
            elif variant == "resolve_request_cancel_external_workflow":
                self.other.discard(("cancel", job.resolve_request_cancel_external_workflow.seq))
            elif variant == "resolve_nexus_operation_start":
                start_op = job.resolve_nexus_operation_start
                if start_op.WhichOneof("status") == "failed":
                    self.other.discard(("nexus", start_op.seq))
            elif variant == "resolve_nexus_operation":
                self.other.discard(("nexus", job.resolve_nexus_operation.seq))

    def completed(self, completion: WorkflowActivationCompletion, now: datetime) -> None:
        for command in completion.successful.commands:
            variant = command.WhichOneof("variant")
            if variant == "start_timer":
                timer = command.start_timer
                self.timers[timer.seq] = now + timer.start_to_fire_timeout.ToTimedelta()
            elif variant == "cancel_timer":
                self.timers.pop(command.cancel_timer.seq, None)
            elif variant in ("schedule_activity", "schedule_local_activity"):
                self.other.add(("activity", getattr(command, variant).seq))
            elif variant == "start_child_workflow_execution":
                self.other.add(("child", command.start_child_workflow_execution.seq))
            elif variant == "signal_external_workflow_execution":
                self.other.add(("signal", command.signal_external_workflow_execution.seq))
            elif variant == "request_cancel_external_workflow_execution":
                seq = command.request_cancel_external_workflow_execution.seq
                self.other.add(("cancel", seq))
            elif variant == "schedule_nexus_operation":
                self.other.add(("nexus", command.schedule_nexus_operation.seq))
            elif variant in (
                "complete_workflow_execution",
                "fail_workflow_execution",
                "continue_as_new_workflow_execution",
                "cancel_workflow_execution",
            ):
                self.finished = True  # Core evicts a closed run itself

    @property
    def waits_for_activity(self) -> bool:
        return not self.finished and any(kind == "activity" for kind, _ in self.other)

    def asleep_for(self, now: datetime) -> float | None:
        """Seconds until the run next wakes on its own, if it only waits for timers."""
        if self.finished or self.other or not self.timers:
            return None
        return (min(self.timers.values()) - now).total_seconds()


class SleeperEviction:
    """The policy and its way to Core: `runner()` wraps the worker's workflow runner, and
    `attach(worker)` (after the Worker is built) gives it the eviction call."""

    def __init__(
        self,
        after_seconds: float,
        workflow_types: frozenset[str] = WATCHED_WORKFLOW_TYPES,
    ) -> None:
        self.after_seconds = after_seconds
        self.workflow_types = workflow_types
        self.evicted = 0
        self.on_waiting: Callable[[str, bool], None] | None = None
        """Told when a watched run starts or stops waiting for an activity (from the
        workflow task's thread): `worker.admission.AdmissionGate.waiting`."""
        self._evict: Callable[[str], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def enabled(self) -> bool:
        return self.after_seconds > 0

    def runner(self, inner: WorkflowRunner) -> WorkflowRunner:
        return _EvictingRunner(inner, self) if self.enabled else inner

    def attach(self, worker: Worker) -> None:
        if self.enabled:
            self._evict = _core_eviction(worker)
            self._loop = asyncio.get_running_loop()

    def should_evict(self, pending: PendingWork, now: datetime) -> bool:
        asleep = pending.asleep_for(now)
        return asleep is not None and asleep >= self.after_seconds

    def request(self, run_id: str, workflow_type: str) -> None:
        """Called on the workflow task's thread: hand the request to the worker's loop."""
        if self._evict is None or self._loop is None:
            return
        evict = self._evict

        def ask() -> None:
            try:
                evict(run_id)
            except Exception as err:  # the worker is shutting down: nothing left to evict
                log.debug("sleepers.evict_failed", run_id=run_id, error=str(err))
                return
            self.evicted += 1
            SLEEPERS_EVICTED.labels(workflow_type=workflow_type).inc()

        with contextlib.suppress(RuntimeError):  # loop closed at shutdown
            self._loop.call_soon_threadsafe(ask)


def _core_eviction(worker: Worker) -> Callable[[str], None]:
    """Core's `request_workflow_eviction` for this worker (private in the SDK: see the module
    docstring; the test of this module fails loudly if the SDK renames it)."""
    bridge = getattr(worker, "_bridge_worker", None)
    evict = getattr(bridge, "request_workflow_eviction", None)
    if not callable(evict):
        raise RuntimeError(
            "temporalio.worker.Worker no longer has _bridge_worker.request_workflow_eviction: "
            "worker/sleeper_eviction.py needs updating for this SDK version (or set "
            "WORKER_EVICT_SLEEPERS_AFTER_SECONDS=0 to run without it)"
        )
    result: Callable[[str], None] = evict
    return result


class _EvictingRunner(WorkflowRunner):
    def __init__(self, inner: WorkflowRunner, policy: SleeperEviction) -> None:
        self._inner = inner
        self._policy = policy

    def prepare_workflow(self, defn: object) -> None:
        self._inner.prepare_workflow(defn)  # type: ignore[arg-type]

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        instance = self._inner.create_instance(det)
        if det.defn.name not in self._policy.workflow_types:
            return instance
        return _WatchedInstance(instance, self._policy, det.defn.name or "")

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


def _caught_up(act: WorkflowActivation) -> bool:
    """An activation after which the run's state is its present one: a live one (not a step
    of a replay, which more history follows), or one that only answers queries (a query on
    an evicted sleeper replays it into the cache; it leaves again). Never the eviction."""
    kinds = {job.WhichOneof("variant") for job in act.jobs}
    if "remove_from_cache" in kinds:
        return False
    return not act.is_replaying or kinds == {"query_workflow"}


class _WatchedInstance(WorkflowInstance):
    """The run as the SDK made it, followed: after each successful activation that leaves it
    caught up (`_caught_up`), evicted if it now only sleeps far ahead."""

    def __init__(self, inner: WorkflowInstance, policy: SleeperEviction, workflow_type: str):
        self._inner = inner
        self._policy = policy
        self._type = workflow_type
        self._pending = PendingWork()
        self._now = datetime.fromtimestamp(0, UTC)
        self._waits = False

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if act.HasField("timestamp"):
            self._now = act.timestamp.ToDatetime(tzinfo=UTC)
        self._pending.activated(act)
        completion = self._inner.activate(act)
        if completion.HasField("successful"):
            self._pending.completed(completion, self._now)
            if _caught_up(act) and self._policy.should_evict(self._pending, self._now):
                self._policy.request(act.run_id, self._type)
        self._report_waiting(act)
        return completion

    def _report_waiting(self, act: WorkflowActivation) -> None:
        report = self._policy.on_waiting
        if report is None:
            return
        evicted = any(job.WhichOneof("variant") == "remove_from_cache" for job in act.jobs)
        waits = not evicted and self._pending.waits_for_activity
        if waits != self._waits:
            self._waits = waits
            report(act.run_id, waits)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return self._inner.get_serialization_context(command_info)  # type: ignore[arg-type]

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return self._inner.get_external_store_context(command_info)  # type: ignore[arg-type]

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()
