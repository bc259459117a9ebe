"""The dialects through the real engine: Ampost's guide example submitted through the HTTP
API and the CLI against a platform set of two accounts (one published post per account), and
Post for Me's two drafts through a worker: `is_draft` in the TikTok configuration reaches the
creator's inbox, root `isDraft` stays a system draft that TikTok never hears of."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.tokens import StoredToken
from simulator import Simulator
from simulator.config import CreatorConfig
from starter.media_host import MediaHost, sample_video
from tests.api_support import LiveApi, live_api
from tests.test_cli import cli_env, run_cli
from tests.workflow_support import recorded, running_worker

FIXTURES = Path(__file__).parent / "fixtures" / "dialects"


def ampost_example(video: str, *, post_id: str | None, privacy: str) -> dict[str, Any]:
    """The guide's request with this test's video (its declared facts dropped: staging
    measures the real file) and the set of this test."""
    doc: dict[str, Any] = json.loads((FIXTURES / "ampost_tiktok_guide.json").read_text())
    request: dict[str, Any] = doc["request"]
    request["content"]["media"] = [
        {"url": video, "type": "video", "mimeType": "video/mp4", "filename": "launch.mp4"}
    ]
    request["content"]["platformOverrides"]["tiktok"]["settings"]["privacyLevel"] = privacy
    request["platformSetId"] = "set_uuid"
    if post_id:
        request["postId"] = post_id
    return request


@pytest.fixture
def video(media_host: MediaHost) -> str:
    return media_host.add("dialects/launch.mp4", sample_video(), "video/mp4")


@pytest.fixture
def second_creator(simulator: Simulator) -> None:
    simulator.upsert_creator(CreatorConfig("act.two", "rft.two", username="second"))


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    second_creator: None,
    tmp_path: Path,
    task_queue: str,
) -> Any:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        await live.store.save(
            "acct_two", StoredToken("act.two", "rft.two", open_id="", scope="video.publish")
        )
        yield live


async def until(check: Any, within: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.2)


async def phase(api: LiveApi, post_id: str, account: str) -> str | None:
    async with api.http() as http:
        answer = await http.get(f"/v1/posts/{post_id}/targets/{account}")
        return answer.json().get("phase") if answer.status_code == 200 else None


async def test_api_submits_the_ampost_example_into_one_target_per_account_of_the_set(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    async with api.http() as http:
        created = await http.post(
            "/v1/platform-sets",
            json={"name": "launch", "accountIds": ["acct_demo", "acct_two"], "setId": "set_uuid"},
        )
        assert created.status_code == 201, created.text
        listed = await http.get("/v1/platform-sets")
        assert [s["accountIds"] for s in listed.json()["items"]] == [["acct_demo", "acct_two"]]

        # As the guide sends it: no id of its own, and branded content posted SELF_ONLY.
        as_is = await http.post(
            "/v1/posts", json=ampost_example(video, post_id=None, privacy="SELF_ONLY")
        )
        assert as_is.status_code == 422, as_is.text
        assert {(p["field"], p["code"]) for p in as_is.json()["problems"]} == {
            ("postId", "TT_IDEMPOTENCY_KEY_REQUIRED"),
            ("content.platformOverrides.tiktok.settings.privacyLevel", "TT_BRANDED_PRIVATE"),
        }
        keyed = await http.post(
            "/v1/posts",
            json=ampost_example(video, post_id=None, privacy="SELF_ONLY"),
            headers={"Idempotency-Key": "amp-api-1", "Dialect": "ampost"},
        )
        assert [(p["field"], p["code"]) for p in keyed.json()["problems"]] == [
            ("content.platformOverrides.tiktok.settings.privacyLevel", "TT_BRANDED_PRIVATE")
        ]

        public = ampost_example(video, post_id=None, privacy="PUBLIC_TO_EVERYONE")
        first = await http.post("/v1/posts", json=public, headers={"Idempotency-Key": "amp-api-1"})
        assert first.status_code == 202, first.text
        assert first.json()["postId"] == "amp-api-1"
        assert [t["workflowId"] for t in first.json()["targets"]] == [
            "tiktok-post/amp-api-1/acct_demo",
            "tiktok-post/amp-api-1/acct_two",
        ]
        again = await http.post("/v1/posts", json=public, headers={"Idempotency-Key": "amp-api-1"})
        assert again.status_code == 200 and not any(t["created"] for t in again.json()["targets"])

    for account in ("acct_demo", "acct_two"):

        async def published(account: str = account) -> bool:
            return await phase(api, "amp-api-1", account) == "PUBLISHED"

        await until(published)
    inits = recorded(simulator, "video_init")
    assert len(inits) == 2
    assert {i["body"]["post_info"]["privacy_level"] for i in inits} == {"PUBLIC_TO_EVERYONE"}
    assert {i["body"]["post_info"]["brand_content_toggle"] for i in inits} == {True}


async def test_post_for_me_is_draft_reaches_the_inbox_and_root_is_draft_stays_a_system_draft(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    inbox = json.loads((FIXTURES / "post_for_me_tiktok_inbox.json").read_text())["request"]
    held = json.loads((FIXTURES / "post_for_me_system_draft.json").read_text())["request"]
    inbox["media"] = held["media"] = [{"url": video}]
    async with api.http() as http:
        sent = await http.post("/v1/posts", json=inbox)
        assert sent.status_code == 202, sent.text
        kept = await http.post("/v1/posts", json=held, params={"dialect": "post-for-me"})
        assert kept.status_code == 202, kept.text
        assert kept.json()["targets"][0]["state"] == "DRAFT"

    async def delivered() -> bool:
        return await phase(api, "inbox-3", "acct_demo") == "DELIVERED_TO_INBOX"

    await until(delivered)
    assert await phase(api, "wip-7", "acct_demo") == "DRAFT"
    [init] = recorded(simulator, "inbox_video_init")
    assert "post_info" not in init["body"]  # the creator chooses privacy in the app
    assert recorded(simulator, "video_init") == []  # the system draft: TikTok heard nothing

    async with api.http() as http:
        # A batch names its dialect once; its ids are per line, never one header for all.
        lines = "\n".join(json.dumps(r) for r in (inbox, held))
        batch = await http.post(
            "/v1/posts?dialect=post-for-me",
            content=lines,
            headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": "one-for-all"},
        )
        assert batch.status_code == 422
        assert batch.json()["problems"][0]["field"] == "Idempotency-Key"
        again = await http.post(
            "/v1/posts?dialect=post-for-me",
            content=lines,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert [json.loads(line)["status"] for line in again.text.splitlines()] == [200, 200]


async def test_cli_submits_the_ampost_example_against_the_set(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    second_creator: None,
    task_queue: str,
    tmp_path: Path,
    video: str,
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(
        json.dumps(
            {
                "accounts": {
                    "acct_demo": {"access_token": "act.demo", "refresh_token": "rft.demo"},
                    "acct_two": {"access_token": "act.two", "refresh_token": "rft.two"},
                }
            }
        )
    )
    env = cli_env(dev_env, task_queue, TIKTOK_DATA_DIR=str(tmp_path / "data"))
    env.pop("DATABASE_URL", None)
    assert (await run_cli(env, "account", "import", str(tokens))).code == 0
    made = await run_cli(
        env, "platform-set", "create", "launch", "--account", "acct_demo",
        "--account", "acct_two", "--id", "set_uuid",
    )  # fmt: skip
    assert made.code == 0, made.err
    refused = await run_cli(env, "platform-set", "create", "x", "--account", "acct_nobody")
    assert refused.code == 2 and "ACCOUNT_NOT_FOUND" in refused.err

    path = tmp_path / "ampost.json"
    path.write_text(json.dumps(ampost_example(video, post_id=None, privacy="SELF_ONLY")))
    as_is = await run_cli(env, "submit", str(path))
    assert as_is.code == 2
    assert "TT_IDEMPOTENCY_KEY_REQUIRED  postId" in as_is.err
    assert "TT_BRANDED_PRIVATE  content.platformOverrides.tiktok.settings.privacyLevel" in (
        as_is.err
    )

    path.write_text(
        json.dumps(ampost_example(video, post_id="amp-cli-1", privacy="PUBLIC_TO_EVERYONE"))
    )
    async with running_worker(dev_env.client, simulator, tokens, task_queue):
        submitted = await run_cli(env, "submit", str(path), "--dialect", "ampost")
        assert submitted.code == 0, submitted.err
        assert "started: tiktok-post/amp-cli-1/acct_demo" in submitted.out
        assert "started: tiktok-post/amp-cli-1/acct_two" in submitted.out
        for account in ("acct_demo", "acct_two"):
            watched = await run_cli(env, "watch", "amp-cli-1", account, "--interval", "0.2")
            assert watched.code == 0 and "PUBLISHED" in watched.out, watched.out + watched.err
    assert len(recorded(simulator, "video_init")) == 2
