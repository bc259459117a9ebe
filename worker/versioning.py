"""Worker Deployments (opt-in, WORKER_VERSIONING=true): each post stays on the build it began on.

A post can sleep for weeks. With versioning on, every PublishPost run is *pinned* to the Worker
Deployment Version (deployment name + build id, the package version by default) of the worker
that started it: a new release serves new posts, and old posts keep running on the old workers
until they finish, so no release ever replays a sleeping post on code it was not started with.
An operator marks a release compatible for running posts by moving them explicitly
(`temporal workflow update-options --versioning-override-*`, see deploy/README.md, Upgrades),
after `tests/test_replay.py` has replayed their histories on the new code.

Off (the default, and the local stack), workers are unversioned: every worker serves every
post, and `workflow.patched` plus the replay tests keep running posts replaying.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

from worker.config import WorkerSettings


def deployment_version(settings: WorkerSettings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(
        deployment_name=settings.deployment_name, build_id=settings.build_id
    )


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
