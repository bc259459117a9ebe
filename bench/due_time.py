"""Benchmark: many posts on many accounts falling due in the same second.

    python -m bench.due_time --posts 100          # make bench-due

One dev server, the simulator (rate limits and caps raised: this measures the engine, not
TikTok's budgets) and moto S3 in child processes, a media host and one in-process worker.
Two populations, one after the other in the same run, so that both meet the same machine:

1. **bare**: `--posts` workflows of the simplest shape that does the same job (a durable
   timer to the due time, then three no-op activities), all due in the same second;
2. **posts**: `--posts` photo posts, one per account (acct_0 ... acct_N), submitted through
   `PostPublisher.submit` and staged ahead, all due in the same second.

Figures, each as a ratio against the bare population of the same run:

- **lateness**: for the bare workflow, when its first activity starts; for a post, when its
  init reaches TikTok (the simulator's own request log), each less the due time; p50 and p99;
- **throughput**: workflows finished per second, from the due time to the last one finished;
- **history events** per workflow (the work the server does per post);
- **CPU ms per workflow**, from `arm_seconds` + 0.5 s before the due time (when a post arms
  its init) to the last one finished, of this process (the worker), the Temporal dev server
  and the simulator's and moto's processes (`bench/cpu.py`): what a burst costs, which the
  machine's other load moves much less than its seconds.

Nothing passes or fails on timing: it prints figures measured against a baseline of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench.bare_workflow import BareDue, bare_step
from bench.cpu import snapshot, snapshot_at, spent
from bench.posts import photo_post
from bench.results import record
from bench.rolling_restarts import dev_server, unlimited_limits
from bench.simulator_process import simulator_process
from simulator import SimulatorConfig
from simulator.admin import SimulatorAdmin
from simulator.config import DEMO_ACCESS_TOKEN, DEMO_REFRESH_TOKEN
from starter.api import PostPublisher
from starter.local_s3 import create_bucket, moto_server_process
from starter.media_host import MediaHost, sample_jpeg
from worker import main as worker_main
from worker.config import MediaSettings, WorkerSettings, task_pollers
from workflows.account_contracts import AccountSettings, account_workflow_id
from workflows.contracts import PublishSettings

BIN = Path(sys.executable).parent
WORKER_DEFAULT_CACHE: int = WorkerSettings().max_cached_workflows
UNLIMITED = 0
INIT_ENDPOINTS = ("video_init", "inbox_video_init", "content_init")
LIKE_POSTS = WorkerSettings()
"""The posts' worker's slot limits and pollers, which the bare workflow's worker gets too."""
SETTINGS = PublishSettings(poll_initial_seconds=0.5, poll_max_seconds=1.0)
CPU_AHEAD = SETTINGS.arm_seconds + 0.5
"""CPU is counted from this long before the due time (for both populations): a post arms
its init `arm_seconds` ahead, and that work belongs to its due time."""


@dataclass
class Population:
    name: str
    lateness: list[float]
    seconds_to_last: float
    events: float
    steps: dict[str, list[float]] = field(default_factory=dict)
    """Where the lateness goes, per run (`due_steps`)."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per program from the due time to the last one finished (bench.cpu)."""

    @property
    def throughput(self) -> float:
        return len(self.lateness) / self.seconds_to_last if self.seconds_to_last else 0.0

    def p(self, q: float) -> float:
        ordered = sorted(self.lateness)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fetch_histories(client: Client, ids: list[str]) -> list[WorkflowHistory]:
    """Every run's history, fetched once for all the figures read from them."""
    return [await client.get_workflow_handle(wf_id).fetch_history() for wf_id in ids]


def events_per_run(histories: list[WorkflowHistory], sample: int = 10) -> float:
    counts = [len(history.events) for history in histories[:sample]]
    return statistics.mean(counts) if counts else 0.0


def _seconds(event: HistoryEvent) -> float:
    return float(event.event_time.ToDatetime(UTC).timestamp())


#: The activities of getting ready: one of them after the due time means the post was late
#: getting ready (under load), not late at its due time.
PREPARING = ("creator_info", "copy_attempt_media")
#: The steps from the due time to the first activity starting, in a run's history.
STEPS = (
    ("timer fired", EventType.EVENT_TYPE_TIMER_FIRED),
    ("task queued", EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    ("task ran", EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    ("activity queued", EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED),
)


def due_steps(histories: list[WorkflowHistory], due: float) -> dict[str, list[float]]:
    """Per run, how long each step after the due time took: the timer firing late, the
    workflow task waiting for the worker, running, and the first activity waiting. A post
    still getting ready at its due time (a step of `_prepare` after it) is counted under
    `ready late` instead: its steps would be those of getting ready."""
    steps: dict[str, list[float]] = {name: [] for name, _ in STEPS}
    steps["ready late"] = []
    steps["init armed ahead"] = []
    for history in histories:
        armed = [
            due - _seconds(e)
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == "init_publish"
            and _seconds(e) <= due
        ]
        if armed:
            # Its init was handed to the worker before the due time (PublishSettings.
            # arm_seconds): no step after the due time but the init itself.
            steps["init armed ahead"].append(max(armed))
            continue
        late = [
            _seconds(e) - due
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name in PREPARING
            and _seconds(e) > due
        ]
        if late:
            steps["ready late"].append(max(late))
            continue
        at, found = due, 0
        for event in history.events:
            when = _seconds(event)
            name, kind = STEPS[found]
            if event.event_type == kind and when >= due - 0.5:
                steps[name].append(max(when - at, 0.0))
                at, found = when, found + 1
                if found == len(STEPS):
                    break
    return steps


def step_lines(population: Population) -> list[str]:
    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return [
        f"  {name:<16} p50 {p(values, 0.5):6.3f} s  p99 {p(values, 0.99):6.3f} s"
        + (f"  ({len(values)} runs)" if name in SPECIAL_STEPS else "")
        for name, values in population.steps.items()
        if values
    ]


SPECIAL_STEPS = ("ready late", "init armed ahead")


def timeline(history: WorkflowHistory, due: float) -> list[str]:
    """A run's history as `seconds after the due time  event  (activity or timer)` lines:
    where a post's time after its due time goes."""
    lines = []
    for event in history.events:
        at = _seconds(event) - due
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        what = ""
        if event.HasField("activity_task_scheduled_event_attributes"):
            what = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.HasField("signal_external_workflow_execution_initiated_event_attributes"):
            what = event.signal_external_workflow_execution_initiated_event_attributes.signal_name
        elif event.HasField("workflow_execution_signaled_event_attributes"):
            what = event.workflow_execution_signaled_event_attributes.signal_name
        elif event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            what = ", ".join(sorted(fields.indexed_fields))
        elif event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            what = (
                details["patch_data"].payloads[0].data.decode() if "patch_data" in details else ""
            )
        lines.append(f"{at:+9.3f}  {kind:<45} {what}")
    return lines


async def run_bare(
    client: Client, posts: int, lead: float, cache: int, *, sandboxed: bool = True
) -> Population:
    """The bare workflows on a worker like the posts' one: the same workflow cache, task
    and activity slots, and (unless `sandboxed` is False) the same workflow sandbox."""
    queue = f"bare-{uuid.uuid4().hex[:6]}"
    due = time.time() + lead
    # Like the posts' worker (worker/sandbox.py): the sandbox, with the workflow's own
    # module passed through, so neither re-executes its module for every run.
    shared = SandboxRestrictions.default.with_passthrough_modules("bench.bare_workflow")
    runner = (
        SandboxedWorkflowRunner(restrictions=shared) if sandboxed else UnsandboxedWorkflowRunner()
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareDue],
        activities=[bare_step],
        workflow_runner=runner,
        max_cached_workflows=cache,
        max_concurrent_workflow_tasks=LIKE_POSTS.max_concurrent_workflow_tasks,
        max_concurrent_activities=LIKE_POSTS.max_concurrent_activities,
        **task_pollers(LIKE_POSTS),
    ):
        at_due = asyncio.create_task(snapshot_at(due - CPU_AHEAD))
        handles = [
            await client.start_workflow(BareDue.run, due, id=f"{queue}-{n}", task_queue=queue)
            for n in range(posts)
        ]
        lateness = list(await asyncio.gather(*(h.result() for h in handles)))
        last = time.time()
        cpu = spent(await at_due, snapshot())
    histories = await fetch_histories(client, [h.id for h in handles])
    return Population(
        "bare timer + 3 activities",
        lateness,
        last - due,
        events_per_run(histories),
        due_steps(histories, due),
        cpu,
    )


async def run_posts(
    client: Client,
    sim: SimulatorAdmin,
    media: MediaHost,
    token_file: Path,
    posts: int,
    lead: float,
    cache: int,
    history_out: Path | None = None,
) -> Population:
    queue = f"due-{uuid.uuid4().hex[:6]}"
    url = media.add(f"due/{queue}.jpg", sample_jpeg(), "image/jpeg")
    settings = WorkerSettings(
        tiktok_base_url=sim.base_url,
        client_key="sim-client-key",
        client_secret="sim-client-secret",
        token_file=str(token_file),
        task_queue=queue,
        log_level="ERROR",
        max_cached_workflows=cache,
    )
    publisher = PostPublisher(client, task_queue=queue, settings=SETTINGS)
    # Whole seconds: a request's time has second precision in its summary, not in its due.
    due_at = datetime.fromtimestamp(int(time.time() + lead) + 1, UTC)
    due = due_at.timestamp()
    async with worker_main.running_worker(
        client, settings, MediaSettings.from_env(), account_settings=AccountSettings()
    ):
        at_due = asyncio.create_task(snapshot_at(due - CPU_AHEAD))
        ids = []
        for n in range(posts):
            [target] = await publisher.submit(
                photo_post(
                    f"{queue}-{n}",
                    url,
                    account=f"acct_{n}",
                    at=due_at,
                    privacy="SELF_ONLY",
                    content="due now",
                )
            )
            ids.append(target.workflow_id)
        staged_by = time.time()
        finished: dict[str, float] = {}

        async def finish(wf_id: str) -> None:
            # Long-polls the result: no query load on the worker being measured.
            await client.get_workflow_handle(wf_id).result()
            finished[wf_id] = time.time()

        await asyncio.gather(*(finish(wf_id) for wf_id in ids))
        cpu = spent(await at_due, snapshot())
    if staged_by > due:
        print(f"warning: submitting took past the due time ({staged_by - due:.1f} s late)")
    histories = await fetch_histories(client, ids)
    if history_out:
        history_out.mkdir(parents=True, exist_ok=True)
        last_account = account_workflow_id(f"acct_{posts - 1}")
        entity = await client.get_workflow_handle(last_account).fetch_history()
        for wf_id, history in (
            (ids[0], histories[0]),
            (ids[-1], histories[-1]),
            (last_account, entity),
        ):
            lines = timeline(history, due)
            (history_out / f"{wf_id.replace('/', '_')}.txt").write_text("\n".join(lines) + "\n")
    log = sim.requests()
    inits = sorted(r["time"] for r in log if r.get("endpoint") in INIT_ENDPOINTS)[-posts:]
    return Population(
        "PublishPost (1 post per account)",
        [at - due for at in inits],
        max(finished.values()) - due,
        events_per_run(histories),
        due_steps(histories, due),
        cpu,
    )


def write_tokens(folder: Path, accounts: int) -> Path:
    entry = {"access_token": DEMO_ACCESS_TOKEN, "refresh_token": DEMO_REFRESH_TOKEN}
    path = folder / "tokens.json"
    path.write_text(json.dumps({"accounts": {f"acct_{n}": entry for n in range(accounts)}}))
    return path


def table(bare: Population, posts: Population) -> list[str]:
    rows = [
        ("lateness p50 (s)", bare.p(0.5), posts.p(0.5), "lower is better"),
        ("lateness p99 (s)", bare.p(0.99), posts.p(0.99), "lower is better"),
        ("throughput (workflows/s)", bare.throughput, posts.throughput, "higher is better"),
        ("history events per workflow", bare.events, posts.events, "lower is better"),
    ]
    n_bare, n_posts = len(bare.lateness) or 1, len(posts.lateness) or 1
    for program in sorted(set(bare.cpu) | set(posts.cpu), key=lambda k: -posts.cpu.get(k, 0)):
        b_ms, p_ms = (
            1000 * pop.cpu.get(program, 0) / n for pop, n in ((bare, n_bare), (posts, n_posts))
        )
        if max(b_ms, p_ms) >= 0.5:
            rows.append((f"CPU ms per workflow: {program}"[:30], b_ms, p_ms, "lower is better"))
    lines = [f"{'figure':<30} {'bare':>9} {'posts':>9} {'posts/bare':>11}"]
    for name, b, p, note in rows:
        ratio = p / b if b else float("inf")
        lines.append(f"{name:<30} {b:>9.3f} {p:>9.3f} {ratio:>10.2f}x  ({note})")
    return lines


async def measure(
    posts: int,
    lead: float,
    cache: int,
    *,
    bare_sandboxed: bool = True,
    history_out: Path | None = None,
) -> tuple[Population, Population]:
    os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"
    env = await dev_server()
    config = SimulatorConfig(
        time_scale=0.01,
        rate_limits=unlimited_limits(),
        direct_posts_per_day=UNLIMITED,
    )
    try:
        with (
            # TikTok's and S3's side run in their own processes, as they do for real: only
            # the engine shares this interpreter with the bare workflows' worker.
            simulator_process(config) as sim,
            moto_server_process() as s3,
            MediaHost() as media,
            tempfile.TemporaryDirectory() as folder,
        ):
            os.environ.update(create_bucket(s3, "due-media").env())
            bare = await run_bare(env.client, posts, lead, cache, sandboxed=bare_sandboxed)
            tokens = write_tokens(Path(folder), posts)
            published = await run_posts(
                env.client, sim, media, tokens, posts, lead, cache, history_out
            )
    finally:
        await env.shutdown()
    return bare, published


async def main_async(args: argparse.Namespace) -> int:
    worker_main.configure_logging("console", "ERROR")
    cache = WORKER_DEFAULT_CACHE if args.cache is None else args.cache
    bare, posts = await measure(
        args.posts,
        args.lead,
        cache,
        bare_sandboxed=not args.bare_unsandboxed,
        history_out=args.history_out,
    )
    print(
        f"{args.posts} workflows due in the same second, 1 worker, same dev server "
        f"(both workers: WORKER_MAX_CACHED_WORKFLOWS={cache}, bare workflow "
        f"{'not ' if args.bare_unsandboxed else ''}sandboxed like the posts)"
    )
    print("\n".join(table(bare, posts)))
    for population in (bare, posts):
        print(f"after the due time, {population.name}:")
        print("\n".join(step_lines(population)))
    n = args.posts
    for figure, b, p, goal in (
        ("lateness p50 vs bare workflow", bare.p(0.5), posts.p(0.5), ""),
        ("lateness p99 vs bare workflow", bare.p(0.99), posts.p(0.99), "p99 <= 1.0 s"),
        ("throughput of due posts vs bare", bare.throughput, posts.throughput, ">= 0.6"),
        ("history events per post vs bare", bare.events, posts.events, "lower"),
    ):
        detail = f"{n} due at once: {p:.2f} vs {b:.2f}"
        record("due", figure, p / b if b else float("inf"), detail, goal=goal)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument(
        "--lead",
        type=float,
        default=90,
        help="seconds from the first start to the due time (time to submit, stage and get "
        "ready, as a post scheduled ahead has)",
    )
    parser.add_argument(
        "--cache",
        type=int,
        default=None,
        help="both workers' max_cached_workflows (default: WORKER_MAX_CACHED_WORKFLOWS's default)",
    )
    parser.add_argument(
        "--bare-unsandboxed",
        action="store_true",
        help="run the bare workflows outside the workflow sandbox (a lower floor than the "
        "posts can have)",
    )
    parser.add_argument(
        "--history-out",
        type=Path,
        default=None,
        help="write the first and last post's history (and the last account entity's) as a "
        "timeline (seconds after the due "
        "time, event, activity or signal) into this folder",
    )
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
