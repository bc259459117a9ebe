"""Worker Deployments: a release serves new posts; a sleeping post stays on the build it
began on until an operator marks the new build compatible for it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.workflow_support import publisher, video_request, wait_for
from worker import main as worker_main
from worker.config import MediaSettings, WorkerSettings
from worker.versioning import pin_to, pinned_build, set_current_version
from workflows.account_contracts import account_workflow_id
from workflows.contracts import Phase


async def test_a_sleeping_post_stays_on_its_build_until_marked_compatible(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    client = dev_env.client
    deployment = f"tiktok-publisher-{uuid.uuid4().hex[:6]}"
    v1 = WorkerSettings(
        tiktok_base_url=simulator.base_url,
        client_key="sim-client-key",
        client_secret="sim-client-secret",
        token_file=str(token_file),
        task_queue=task_queue,
        versioning=True,
        deployment_name=deployment,
        build_id="1.0.0",
    )
    v2 = dataclasses.replace(v1, build_id="2.0.0")
    media = MediaSettings.from_env()
    api = publisher(client, task_queue)
    url = media_host.add("versioning/video.mp4", sample_video(), "video/mp4")
    week = datetime.now(UTC) + timedelta(days=7)
    old_id, new_id = (f"ver-{uuid.uuid4().hex[:8]}" for _ in range(2))
    entity = account_workflow_id("acct_demo")
    timeout = httpx.Timeout(5.0)

    async with worker_main.running_worker(client, v1, media, tiktok_timeout=timeout):
        await set_current_version(client, deployment, "1.0.0")
        [old] = await api.submit(video_request(old_id, url, scheduled_for=week))
        await wait_for(api.handle(old_id, "acct_demo"), lambda s: s.phase is Phase.SCHEDULED)
        assert await pinned_build(client, old.workflow_id) == "1.0.0"
        assert await behavior_of(client, old.workflow_id) == VersioningBehavior.PINNED
        # The account's entity lives for ever (continue-as-new): it follows the release.
        await wait_until_running(client, entity, task_queue)  # woken by the sleeping post
        assert await behavior_of(client, entity) == VersioningBehavior.AUTO_UPGRADE

    # Release 2.0.0: v1's workers are gone, new posts start (and finish) on v2.
    async with worker_main.running_worker(client, v2, media, tiktok_timeout=timeout):
        await set_current_version(client, deployment, "2.0.0")
        [new] = await api.submit(video_request(new_id, url))
        result = await client.get_workflow_handle(new.workflow_id).result()
        assert result["phase"] == "PUBLISHED"
        assert await pinned_build(client, new.workflow_id) == "2.0.0"
        # The sleeping post was not moved: no v2 worker ever replays it.
        assert await pinned_build(client, old.workflow_id) == "1.0.0"
        # The entity both posts share moved with the release, so 1.0.0's workers can stop.
        assert await pinned_build(client, entity) == "2.0.0"

        # The operator marks 2.0.0 compatible for it (after the replay tests passed on 2.0.0):
        # now it runs there.
        await pin_to(client, old.workflow_id, deployment, "2.0.0")
        assert await pinned_build(client, old.workflow_id) == "2.0.0"
        # (publish_now, not a reschedule a second ahead: a busy machine's second can lapse
        # before the update lands, and the update refuses a time in the past)
        await api.publish_now(old_id, "acct_demo")
        result = await client.get_workflow_handle(old.workflow_id).result()
        assert result["phase"] == "PUBLISHED"


async def wait_until_running(
    client: Client, workflow_id: str, task_queue: str, within: float = 30
) -> None:
    """Until the workflow runs on `task_queue` and has finished a task (its versioning
    behavior is known). Other tests' runs of the same entity id are closed or elsewhere."""
    deadline = time.monotonic() + within
    while True:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
            info = described.raw_description.workflow_execution_info
            if (
                described.status is WorkflowExecutionStatus.RUNNING
                and described.task_queue == task_queue
                and info.versioning_info.behavior
            ):
                return
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
        assert time.monotonic() < deadline, f"{workflow_id} never ran on {task_queue}"
        await asyncio.sleep(0.1)


async def behavior_of(client: Client, workflow_id: str) -> VersioningBehavior:
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return VersioningBehavior(response.workflow_execution_info.versioning_info.behavior)


def test_versioning_is_off_unless_asked() -> None:
    from worker.versioning import deployment_config

    assert deployment_config(WorkerSettings()) == {}
    config = deployment_config(WorkerSettings(versioning=True, build_id="1.2.3"))
    assert config["deployment_config"].version.build_id == "1.2.3"
