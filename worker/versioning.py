"""Worker Deployments (opt-in, WORKER_VERSIONING=true): each post stays on the build it began on.

A post can sleep for weeks. With versioning on, every PublishPost run is *pinned* to the Worker
Deployment Version (deployment name + build id, the package version by default) of the worker
that started it: a new release serves new posts, and old posts keep running on the old workers
until they finish, so no release ever replays a sleeping post on code it was not started with.
Pinned is the worker's default for every workflow type; the account entity, which never ends,
is registered as `VersionedTikTokAccount`, which declares auto-upgrade (workflows/account.py),
and moves with each release.
An operator marks a release compatible for running posts by moving them explicitly
(`temporal workflow update-options --versioning-override-*`, see deploy/README.md, Upgrades),
after `tests/test_replay.py` has replayed their histories on the new code.

Off (the default, and the local stack), workers are unversioned: every worker serves every
post, and `workflow.patched` plus the replay tests keep running posts replaying.
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as DeploymentVersionProto
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import WorkerDeploymentConfig

from worker.config import WorkerSettings
from workflows.account import TikTokAccount, VersionedTikTokAccount


def deployment_version(settings: WorkerSettings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(
        deployment_name=settings.deployment_name, build_id=settings.build_id
    )


def account_workflow(settings: WorkerSettings) -> type[TikTokAccount]:
    """The account entity's class for this worker: auto-upgrade when versioned; without
    versioning the server refuses any declared behavior."""
    return VersionedTikTokAccount if settings.versioning else TikTokAccount


def deployment_config(settings: WorkerSettings) -> dict[str, Any]:
    """Keyword arguments for `Worker(...)`: none when versioning is off."""
    if not settings.versioning:
        return {}
    if not settings.build_id:
        raise ValueError("WORKER_BUILD_ID is empty: a versioned worker needs a build id")
    return {
        "deployment_config": WorkerDeploymentConfig(
            version=deployment_version(settings),
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED,
        )
    }


# -- the operator's steps, as the upgrade test runs them (deploy/README.md shows the
#    equivalent `temporal` CLI commands) -------------------------------------------------


async def set_current_version(
    client: Client, deployment_name: str, build_id: str, *, within: float = 30
) -> None:
    """Route new posts to this build (`temporal worker deployment set-current-version`).
    Waits for the version to exist: a version appears once one of its workers polls."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace, deployment_name=deployment_name, build_id=build_id
    )
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def pin_to(client: Client, workflow_id: str, deployment_name: str, build_id: str) -> None:
    """Mark a build compatible for one running post: move it there (`temporal workflow
    update-options --versioning-override-behavior pinned ...`)."""
    override = VersioningOverride(
        pinned=VersioningOverride.PinnedOverride(
            behavior=VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED,
            version=DeploymentVersionProto(deployment_name=deployment_name, build_id=build_id),
        )
    )
    await client.workflow_service.update_workflow_execution_options(
        UpdateWorkflowExecutionOptionsRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            workflow_execution_options=WorkflowExecutionOptions(versioning_override=override),
            update_mask=FieldMask(paths=["versioning_override"]),
        )
    )


async def pinned_build(client: Client, workflow_id: str) -> str | None:
    """The build id a post runs on (its override, else the version that ran it), or None."""
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    info = response.workflow_execution_info.versioning_info
    if info.versioning_override.HasField("pinned"):
        return info.versioning_override.pinned.version.build_id or None
    return info.deployment_version.build_id or None
