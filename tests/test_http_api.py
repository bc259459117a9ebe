"""The HTTP API against a live server: posts, idempotency, actions, errors, accounts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.answer_codes import ANSWER_CODES
from starter.api import NOT_READY, ActionRejected
from starter.media_host import MediaHost, sample_video
from starter.service import ServiceProblem, problem_of
from tests.api_support import LiveApi, live_api
from tests.workflow_support import video_request

PROBLEM = "application/problem+json"


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        yield live


@pytest.fixture
def video(media_host: MediaHost) -> str:
    return media_host.add("api/video.mp4", sample_video(), "video/mp4")


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    doc = response.json()
    assert {"type", "title", "status", "code"} <= set(doc) and doc["status"] == status
    # Whether asking again can help: as the documented table says, else "not now" only.
    documented = ANSWER_CODES.get(doc["code"])
    expected = documented.retryable if documented else status in (429, 503)
    assert doc["retryable"] is expected, doc
    assert "Traceback" not in response.text
    if code:
        assert doc["code"] == code, doc
    return doc


async def until(check: Any, within: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.2)


async def test_create_is_idempotent_and_the_post_is_published(api: LiveApi, video: str) -> None:
    request = video_request("api-post-1", video)
    async with api.http() as http:
        first = await http.post("/v1/posts", json=request)
        assert first.status_code == 202, first.text
        [target] = first.json()["targets"]
        assert target["created"] and target["state"] == "SCHEDULED"
        assert target["workflowId"] == "tiktok-post/api-post-1/acct_demo"
        again = await http.post("/v1/posts", json=request)
        assert again.status_code == 200 and not again.json()["targets"][0]["created"]

        async def published() -> Any:
            answer = await http.get("/v1/posts/api-post-1/targets/acct_demo")
            return answer.json() if answer.json()["phase"] == "PUBLISHED" else None

        state = await until(published)
        assert state["public_post_ids"]

        async def overview() -> Any:
            answer = await http.get("/v1/posts/api-post-1")
            return answer.json() if answer.status_code == 200 else None

        post = await until(overview)
        assert post["status"] == "published" and len(post["targets"]) == 1

        async def listed() -> Any:
            # Filtered to this post: the shared dev server holds other tests' acct_demo posts.
            page = await http.get(
                "/v1/posts", params={"accountId": "acct_demo", "postId": "api-post-1", "limit": 5}
            )
            ids = [i["workflowId"] for i in page.json()["items"]]
            return "tiktok-post/api-post-1/acct_demo" in ids

        await until(listed)


async def test_invalid_requests_list_every_problem(api: LiveApi) -> None:
    async with api.http() as http:
        response = await http.post(
            "/v1/posts",
            json={"postId": "bad", "media": [], "platforms": [{"accountId": "acct_demo"}]},
        )
        doc = assert_problem(response, 422, "REQUEST_INVALID")
        codes = {p["code"] for p in doc["problems"]}
        assert "TT_NO_MEDIA" in codes and all(p["field"] is not None for p in doc["problems"])
        broken = await http.post(
            "/v1/posts", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_problem(broken, 422, "REQUEST_INVALID")
        naive = await http.post(
            "/v1/posts/x/targets/acct_demo/reschedule", json={"at": "2030-01-01T10:00:00"}
        )
        naive_doc = assert_problem(naive, 422)
        assert naive_doc["problems"][0] == {
            "code": "TT_TIMEZONE_REQUIRED",
            "field": "at",
            "message": naive_doc["problems"][0]["message"],
        }


async def test_missing_posts_are_404_and_refusals_409(api: LiveApi, video: str) -> None:
    async with api.http() as http:
        assert_problem(await http.get("/v1/posts/nope/targets/acct_demo"), 404, "POST_NOT_FOUND")
        assert_problem(await http.get("/v1/posts/nope"), 404, "POST_NOT_FOUND")
        later = datetime.now(UTC) + timedelta(days=1)
        request = video_request("api-post-2", video, scheduled_for=later)
        assert (await http.post("/v1/posts", json=request)).status_code == 202
        cancelled = await http.post(
            "/v1/posts/api-post-2/targets/acct_demo/cancel", json={"reason": "changed my mind"}
        )
        assert cancelled.status_code == 200 and cancelled.json()["phase"] == "CANCELLED"
        again = await http.post("/v1/posts/api-post-2/targets/acct_demo/cancel")
        doc = assert_problem(again, 409)
        assert doc["detail"]
        retry = await http.post("/v1/posts/api-post-2/targets/acct_demo/retry", json={})
        refusal = assert_problem(retry, 409, "RETRY_NOT_FAILED")
        assert "errorCode" in refusal  # the failed run's code: none, it was cancelled


async def test_a_post_for_an_account_with_no_token_is_accepted_with_a_warning(
    api: LiveApi, video: str
) -> None:
    """A typo in an accountId, or an account nobody connected, would wait a week in silence:
    the answer says so at once (the target is still started: the creator may connect it)."""
    later = datetime.now(UTC) + timedelta(days=1)
    request = video_request("api-post-typo", video, scheduled_for=later)
    [platform] = request["platforms"]
    request["platforms"] = [platform, {**platform, "accountId": "acct_dmeo"}]
    async with api.http() as http:
        answer = await http.post("/v1/posts", json=request)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert [t["accountId"] for t in body["targets"]] == ["acct_demo", "acct_dmeo"]
        [warning] = body["warnings"]
        assert warning["code"] == "TOKEN_MISSING" and warning["accountId"] == "acct_dmeo"
        assert "connected" in warning["message"] and "cancel" in warning["message"]
        # A connected account's post has none; the typo's target is cancelled as advised.
        ok = await http.post(
            "/v1/posts", json=video_request("api-post-ok", video, scheduled_for=later)
        )
        assert ok.json()["warnings"] == []
        cancelled = await http.post("/v1/posts/api-post-typo/targets/acct_dmeo/cancel")
        assert cancelled.status_code == 200, cancelled.text
        # Submitted again after it ended: it waits for nothing, so nothing is said.
        again = await http.post("/v1/posts", json=request)
        assert again.status_code == 200 and again.json()["warnings"] == []
        for target in ("api-post-typo/targets/acct_demo", "api-post-ok/targets/acct_demo"):
            await http.post(f"/v1/posts/{target}/cancel")


async def test_reschedule_moves_a_scheduled_post(api: LiveApi, video: str) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    async with api.http() as http:
        await http.post("/v1/posts", json=video_request("api-post-3", video, scheduled_for=later))
        new_time = (later + timedelta(hours=2)).isoformat()
        moved = await http.post(
            "/v1/posts/api-post-3/targets/acct_demo/reschedule", json={"at": new_time}
        )
        assert moved.status_code == 200, moved.text
        assert datetime.fromisoformat(moved.json()["scheduled_for"]) == later + timedelta(hours=2)
        await http.post("/v1/posts/api-post-3/targets/acct_demo/cancel")


async def test_every_route_needs_a_valid_key(api: LiveApi) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as anonymous:
        for method, path in [
            ("GET", "/v1/posts"),
            ("POST", "/v1/posts"),
            ("GET", "/v1/accounts"),
            ("DELETE", "/v1/accounts/acct_demo"),
        ]:
            response = await anonymous.request(method, path)
            assert_problem(response, 401, "UNAUTHORIZED")
            assert response.headers["www-authenticate"].startswith("Bearer")
        wrong = await anonymous.get(
            "/v1/posts", headers={"Authorization": "Bearer ttp_000000000000_" + "x" * 40}
        )
        assert_problem(wrong, 401)
    api.service.api_keys.revoke("tests")
    async with api.http() as http:
        assert_problem(await http.get("/v1/posts"), 401)


async def test_batch_submit_answers_line_by_line(
    api: LiveApi, video: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = api.service.submit

    async def flaky(request: Any, **kwargs: Any) -> Any:
        if request.get("postId") == "api-batch-4":
            raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
        if request.get("postId") == "api-batch-5":
            raise KeyError("a bug")
        return await submit(request, **kwargs)

    monkeypatch.setattr(api.service, "submit", flaky)
    deep = b"[" * 100_000 + b"]" * 100_000
    lines = b"\n".join(
        [
            httpx.Request("POST", "/", json=video_request("api-batch-1", video)).content,
            b'{"postId": "api-batch-2"}',
            deep,
            httpx.Request("POST", "/", json=video_request("api-batch-4", video)).content,
            httpx.Request("POST", "/", json=video_request("api-batch-5", video)).content,
            httpx.Request("POST", "/", json=video_request("api-batch-6", video)).content,
        ]
    )
    async with api.http() as http:
        response = await http.post(
            "/v1/posts", content=lines, headers={"Content-Type": "application/x-ndjson"}
        )
        # The same body alone is a 422 too, not a server error.
        assert_problem(await http.post("/v1/posts", content=deep), 422, "REQUEST_INVALID")
    assert response.status_code == 200
    answers = [httpx.Response(200, content=line).json() for line in response.text.splitlines()]
    # One line's failure (Temporal down for it, a bug) is that line's answer; the others
    # still started.
    assert [a["status"] for a in answers] == [202, 422, 422, 503, 500, 202]
    codes = [a["body"].get("code") for a in answers[1:5]]
    assert codes == ["REQUEST_INVALID", "REQUEST_INVALID", "TEMPORAL_UNAVAILABLE", "INTERNAL"]
    assert [a["body"]["retryable"] for a in answers[1:5]] == [False, False, True, False]
    assert "Traceback" not in response.text and "a bug" not in response.text
    # and the document says so, so that a generated client can send one and read the answer
    async with api.http() as http:
        document = (await http.get("/openapi.json")).json()["paths"]["/v1/posts"]["post"]
    assert "application/x-ndjson" in document["requestBody"]["content"]
    assert "application/x-ndjson" in document["responses"]["200"]["content"]


async def test_accounts_creator_info_and_disconnect(api: LiveApi, simulator: Simulator) -> None:
    async with api.http() as http:
        listed = (await http.get("/v1/accounts")).json()["items"]
        assert [a["accountId"] for a in listed] == ["acct_demo"]
        assert listed[0]["entity"] is None, "no account entity runs in this test"
        info = await http.get("/v1/accounts/acct_demo/creator-info")
        assert info.status_code == 200, info.text
        body = info.json()
        assert body["username"] == "demo_creator" and body["maxVideoPostDurationSec"] > 0
        assert "PUBLIC_TO_EVERYONE" in body["privacyLevelOptions"]
        assert_problem(await http.get("/v1/accounts/nobody"), 404, "ACCOUNT_NOT_FOUND")
        assert_problem(await http.get("/v1/accounts/nobody/creator-info"), 404)
        gone = await http.delete("/v1/accounts/acct_demo")
        assert gone.status_code == 200, gone.text
        assert gone.json()["revokedAtTikTok"] is True and gone.json()["entitySignalled"]
        # creator_info went through the account's entity (it paces every TikTok call), which
        # now shows the disconnected account: no tokens, its posts waiting for a reconnect.
        after = (await http.get("/v1/accounts/acct_demo")).json()
        assert after["hasTokens"] is False and after["entity"]["health"] == "NEEDS_RECONNECT"
    assert await api.store.accounts() == []
    [revoke] = [r for r in simulator.requests("oauth_revoke")]
    assert revoke["body"]["token"] == "<redacted>"


async def test_creator_info_of_a_revoked_account_asks_for_a_reconnect(
    api: LiveApi, simulator: Simulator
) -> None:
    """TikTok refusing for good is the account's state (409), not a server error."""
    async with api.http() as http:
        revoked = await http.post(
            f"{simulator.base_url}/v2/oauth/revoke/",
            data={"client_key": "sim-client-key", "client_secret": "sim-client-secret",
                  "token": "act.demo"},
        )  # fmt: skip
        assert revoked.status_code == 200
        doc = assert_problem(await http.get("/v1/accounts/acct_demo/creator-info"), 409)
    assert doc["code"] == "ACCOUNT_NEEDS_RECONNECT", doc


async def test_a_body_over_the_limit_is_refused_before_it_is_buffered(api: LiveApi) -> None:
    from worker.settings import Settings

    limit = Settings().api_max_body_bytes
    oversized = b" " * (limit + 1)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(oversized), 1 << 20):
            yield oversized[start : start + (1 << 20)]

    async with api.http() as http:
        declared = await http.post("/v1/posts", content=oversized)
        streamed = await http.post(
            "/v1/posts", content=chunks(), headers={"Content-Type": "application/x-ndjson"}
        )
        for refused in (declared, streamed):
            doc = assert_problem(refused, 413, "BODY_TOO_LARGE")
            assert "API_MAX_BODY_BYTES" in doc["detail"]
        # A route whose body FastAPI reads itself says the same.
        body_route = await http.post(
            "/v1/webhooks", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert_problem(body_route, 413, "BODY_TOO_LARGE")
        # At the limit it is read (and is then just not JSON).
        assert_problem(await http.post("/v1/posts", content=b" " * limit), 422)


async def test_an_unknown_query_parameter_is_refused_not_ignored(api: LiveApi) -> None:
    async with api.http() as http:
        misspelt = await http.get("/v1/posts", params={"stat": "FAILED"})
        doc = assert_problem(misspelt, 422, "REQUEST_INVALID")
        [problem] = doc["problems"]
        assert problem["field"] == "stat" and problem["code"] == "TT_UNKNOWN_FIELD"
        assert "did you mean state?" in problem["message"]
        assert (await http.get("/v1/posts", params={"state": "FAILED"})).status_code == 200
        # A route's documented extras count: POST /v1/posts takes ?dialect=.
        submitted = await http.post("/v1/posts", params={"dialect": "native"}, json={})
        assert submitted.status_code == 422
        assert all(p["field"] != "dialect" for p in submitted.json()["problems"]), submitted.text
        assert_problem(await http.get("/v1/accounts", params={"x": "1"}), 422)


def test_every_error_says_whether_asking_again_can_help() -> None:
    def of(err: Exception) -> Any:
        problem = problem_of(err)
        assert problem is not None
        return problem

    busy = of(RPCError("busy", RPCStatusCode.UNAVAILABLE, b""))
    assert (busy.status, busy.code, busy.retryable) == (503, "TEMPORAL_UNAVAILABLE", True)
    assert busy.headers["Retry-After"]
    # The API's own Temporal settings are wrong: no "try again" that cannot succeed.
    denied = of(RPCError("no", RPCStatusCode.PERMISSION_DENIED, b""))
    assert (denied.status, denied.code, denied.retryable) == (502, "TEMPORAL_REFUSED", False)
    assert "try again" not in denied.detail and "will not help" in denied.detail
    # No worker took the action: not now, not no.
    waiting = of(ActionRejected(NOT_READY, "no worker took the cancel within 30 s"))
    assert (waiting.status, waiting.retryable) == (503, True) and waiting.headers["Retry-After"]
    no = of(ActionRejected("INVALID_PHASE", "it is publishing"))
    assert (no.status, no.retryable) == (409, False)
    assert no.document()["retryable"] is False
    # A documented code says it itself (error-codes.md): a 503 that asking again cannot fix;
    # an undocumented one goes by its status.
    assert ServiceProblem(503, "OAUTH_NOT_CONFIGURED", "No TikTok app").retryable is False
    assert ServiceProblem(503, "SOMETHING_TRANSIENT", "Not now").retryable is True


async def test_the_docs_pages_load_nothing_from_a_cdn(api: LiveApi) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as anonymous:
        for page in ("/docs", "/redoc"):
            html = (await anonymous.get(page)).text
            assert "cdn.jsdelivr" not in html and "/static-offline-docs/" in html, html[:300]
        script = await anonymous.get("/static-offline-docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
