"""The TikTok client against the running simulator: every endpoint, every error-table row."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

from activities.tiktok_client import (
    Endpoint,
    FileUpload,
    PullFromUrl,
    TikTokApiError,
    TikTokClient,
)
from simulator import Simulator
from starter.media_host import MediaHost, sample_jpeg, sample_video
from workflows.errors import (
    ENGINE_CODES,
    FAIL_REASONS,
    OAUTH_ERROR_CODES,
    TIKTOK_ERROR_CODES,
    Retryability,
    classify_error,
    classify_fail_reason,
)
from workflows.tiktok import Privacy, TikTokStatus

TOKEN = "act.demo"
POST_INFO = {
    "privacy_level": "PUBLIC_TO_EVERYONE",
    "title": "hello #test",
    "disable_comment": False,
    "disable_duet": False,
    "disable_stitch": False,
    "brand_content_toggle": False,
    "brand_organic_toggle": False,
}

# The HTTP status TikTok documents for each error.code (tiktok-api.md, "error.code").
DOCUMENTED_STATUS = {
    "invalid_param": 400,
    "invalid_params": 400,
    "app_version_check_failed": 400,
    "invalid_publish_id": 400,
    "token_not_authorized_for_specified_publish_id": 400,
    "publish_not_cancellable": 400,
    "invalid_file_upload": 400,
    "scope_permission_missed": 400,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "spam_risk_too_many_posts": 403,
    "spam_risk_user_banned_from_posting": 403,
    "reached_active_user_cap": 403,
    "spam_risk_too_many_pending_share": 403,
    "unaudited_client_can_only_post_to_private_accounts": 403,
    "url_ownership_unverified": 403,
    "privacy_level_option_mismatch": 403,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}


def admin(sim: Simulator, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{sim.base_url}/_sim/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def fault(sim: Simulator, endpoint: str, **spec: Any) -> None:
    admin(sim, "POST", "faults", json={"endpoint": endpoint, "count": 1, **spec})


async def wait_status(
    client: TikTokClient, publish_id: str, *, until: set[TikTokStatus], within: float = 20
) -> Any:
    deadline = time.monotonic() + within
    while True:
        status = await client.fetch_status(TOKEN, publish_id)
        if status.status in until:
            return status
        assert time.monotonic() < deadline, f"still {status.status} after {within}s"
        await asyncio.sleep(0.05)


@pytest.fixture
async def client(simulator: Simulator) -> Any:
    async with TikTokClient(simulator.base_url, timeout=httpx.Timeout(5.0)) as c:
        yield c


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("client/video.mp4", sample_video(64 * 1024), "video/mp4")


def test_every_documented_error_code_has_a_row() -> None:
    assert set(DOCUMENTED_STATUS) == set(TIKTOK_ERROR_CODES)
    for rule in [*TIKTOK_ERROR_CODES.values(), *FAIL_REASONS.values(), *ENGINE_CODES.values()]:
        assert rule.meaning.endswith(".") and rule.remedy, rule.code


async def test_creator_info(client: TikTokClient) -> None:
    creator = await client.query_creator_info(TOKEN)
    assert creator.username == "demo_creator"
    assert Privacy.PUBLIC_TO_EVERYONE in creator.privacy_level_options
    assert creator.max_video_post_duration_sec > 0


async def test_direct_video_from_url_reaches_publish_complete(
    client: TikTokClient, simulator: Simulator, video_url: str
) -> None:
    init = await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    assert init.publish_id.startswith("v_pub_url~")
    assert init.upload_url is None
    status = await wait_status(
        client, init.publish_id, until={TikTokStatus.PUBLISH_COMPLETE, TikTokStatus.FAILED}
    )
    assert status.status is TikTokStatus.PUBLISH_COMPLETE
    assert status.downloaded_bytes == 64 * 1024
    recorded = admin(simulator, "GET", "requests", params={"endpoint": "video_init"})["requests"]
    assert recorded[-1]["body"]["post_info"] == POST_INFO


async def test_file_upload_in_chunks(client: TikTokClient) -> None:
    size = 12_000_000
    plan = FileUpload(video_size=size, chunk_size=5_000_000, total_chunk_count=2)
    init = await client.init_direct_video(TOKEN, POST_INFO, plan)
    assert init.upload_url
    first = await client.upload_chunk(
        init.upload_url, b"\0" * 5_000_000, first_byte=0, total_bytes=size
    )
    assert (first.uploaded_bytes, first.complete) == (5_000_000, False)
    # The last chunk carries the remainder (7 MB), as TikTok's chunk rules say.
    last = await client.upload_chunk(
        init.upload_url, b"\0" * 7_000_000, first_byte=5_000_000, total_bytes=size
    )
    assert last.complete and last.uploaded_bytes == size
    status = await wait_status(
        client, init.publish_id, until={TikTokStatus.PUBLISH_COMPLETE, TikTokStatus.FAILED}
    )
    assert status.status is TikTokStatus.PUBLISH_COMPLETE


async def test_chunk_out_of_order_reports_progress_instead_of_failing(
    client: TikTokClient,
) -> None:
    size = 10_000_000
    init = await client.init_direct_video(
        TOKEN, POST_INFO, FileUpload(video_size=size, chunk_size=5_000_000, total_chunk_count=2)
    )
    assert init.upload_url
    ack = await client.upload_chunk(
        init.upload_url, b"\0" * 5_000_000, first_byte=5_000_000, total_bytes=size
    )
    assert ack.uploaded_bytes == 0 and not ack.complete


async def test_inbox_video_ends_in_the_inbox(client: TikTokClient, video_url: str) -> None:
    init = await client.init_inbox_video(TOKEN, PullFromUrl(video_url))
    assert init.publish_id.startswith("v_inbox_url~")
    status = await wait_status(
        client, init.publish_id, until={TikTokStatus.SEND_TO_USER_INBOX, TikTokStatus.FAILED}
    )
    assert status.status is TikTokStatus.SEND_TO_USER_INBOX


@pytest.mark.parametrize("mode", ["DIRECT_POST", "MEDIA_UPLOAD"])
async def test_photo_init(client: TikTokClient, media_host: MediaHost, mode: str) -> None:
    urls = [media_host.add(f"client/p{i}.jpg", sample_jpeg(), "image/jpeg") for i in range(2)]
    init = await client.init_photo(
        TOKEN,
        post_mode=mode,  # type: ignore[arg-type]
        post_info={"title": "t", "description": "d", "privacy_level": "PUBLIC_TO_EVERYONE"},
        photo_urls=urls,
        cover_index=1,
    )
    assert init.publish_id.startswith("p_pub_url~")
    final = {TikTokStatus.PUBLISH_COMPLETE, TikTokStatus.SEND_TO_USER_INBOX, TikTokStatus.FAILED}
    status = await wait_status(client, init.publish_id, until=final)
    expected = (
        TikTokStatus.PUBLISH_COMPLETE if mode == "DIRECT_POST" else TikTokStatus.SEND_TO_USER_INBOX
    )
    assert status.status is expected


async def test_token_refresh_rotates(client: TikTokClient, simulator: Simulator) -> None:
    grant = await client.refresh_access_token(
        client_key="sim-client-key", client_secret="sim-client-secret", refresh_token="rft.demo"
    )
    assert grant.access_token != TOKEN and grant.expires_in > 0
    assert "rft.demo" not in repr(grant) and grant.access_token not in repr(grant)
    creator = await client.query_creator_info(grant.access_token)
    assert creator.username == "demo_creator"
    with pytest.raises(TikTokApiError) as reused:
        await client.refresh_access_token(
            client_key="sim-client-key", client_secret="sim-client-secret", refresh_token="rft.demo"
        )
    assert reused.value.code == "invalid_grant"
    assert reused.value.retryability is Retryability.NON_RETRYABLE


async def test_wrong_client_secret_is_invalid_client(client: TikTokClient) -> None:
    with pytest.raises(TikTokApiError) as err:
        await client.refresh_access_token(
            client_key="sim-client-key", client_secret="nope", refresh_token="rft.demo"
        )
    assert err.value.code == "invalid_client"
    assert "nope" not in str(err.value)


@pytest.mark.parametrize("code", sorted(DOCUMENTED_STATUS))
async def test_error_table_row(
    client: TikTokClient, simulator: Simulator, video_url: str, code: str
) -> None:
    """Each TikTok code, answered by the simulator, comes out classified as the table says."""
    http_status = DOCUMENTED_STATUS[code]
    fault(simulator, "video_init", action="respond", http_status=http_status, error_code=code,
          message=f"simulated {code}")  # fmt: skip
    with pytest.raises(TikTokApiError) as err:
        await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    rule = TIKTOK_ERROR_CODES[code]
    assert err.value.code == code
    assert err.value.http_status == http_status
    assert err.value.retryability is rule.retryability
    assert err.value.log_id
    assert err.value.tiktok_message == f"simulated {code}"
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize("code", sorted(OAUTH_ERROR_CODES))
async def test_oauth_error_row(client: TikTokClient, simulator: Simulator, code: str) -> None:
    http_status = 401 if code == "invalid_client" else 400
    fault(simulator, "oauth_token", action="respond", http_status=http_status, error_code=code)
    with pytest.raises(TikTokApiError) as err:
        await client.refresh_access_token(
            client_key="sim-client-key", client_secret="sim-client-secret", refresh_token="rft.demo"
        )
    assert err.value.code == code
    assert err.value.retryability is OAUTH_ERROR_CODES[code].retryability


@pytest.mark.parametrize("reason", sorted(FAIL_REASONS))
async def test_fail_reason_row(
    client: TikTokClient, simulator: Simulator, video_url: str, reason: str
) -> None:
    fault(simulator, "video_init", fail_reason=reason)
    init = await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    status = await wait_status(
        client, init.publish_id, until={TikTokStatus.PUBLISH_COMPLETE, TikTokStatus.FAILED}
    )
    assert status.status is TikTokStatus.FAILED
    assert status.fail_reason == reason
    assert classify_fail_reason(status.fail_reason) is FAIL_REASONS[reason]


async def test_unknown_fail_reason_is_non_retryable_and_named() -> None:
    rule = classify_fail_reason("brand_new_reason")
    assert rule.code == "brand_new_reason"
    assert rule.retryability is Retryability.NON_RETRYABLE


async def test_real_url_ownership_rejection(client: TikTokClient, media_host: MediaHost) -> None:
    """Not injected: the simulator refuses a host outside its verified list, as TikTok does."""
    url = media_host.url("client/video.mp4", host="unverified.example")
    with pytest.raises(TikTokApiError) as err:
        await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(url))
    assert err.value.code == "url_ownership_unverified"
    assert err.value.http_status == 403
    assert "developer portal" in str(err.value)


async def test_privacy_mismatch_is_real(
    simulator: Simulator, client: TikTokClient, video_url: str
) -> None:
    admin(simulator, "POST", "creators", json={
        "access_token": "act.private", "refresh_token": "rft.private", "username": "priv",
        "private_account": True,
    })  # fmt: skip
    with pytest.raises(TikTokApiError) as err:
        await client.init_direct_video("act.private", POST_INFO, PullFromUrl(video_url))
    assert err.value.code == "privacy_level_option_mismatch"


async def test_expired_token_is_access_token_invalid(
    simulator: Simulator, client: TikTokClient
) -> None:
    admin(simulator, "POST", "tokens/expire", json={"access_token": TOKEN})
    with pytest.raises(TikTokApiError) as err:
        await client.query_creator_info(TOKEN)
    assert err.value.code == "access_token_invalid"
    assert err.value.rule.refresh_token


async def test_posting_cap_on_creator_info_comes_with_http_200(
    simulator: Simulator, client: TikTokClient
) -> None:
    fault(simulator, "creator_info", action="respond", http_status=200,
          error_code="spam_risk_too_many_posts")  # fmt: skip
    with pytest.raises(TikTokApiError) as err:
        await client.query_creator_info(TOKEN)
    assert err.value.code == "spam_risk_too_many_posts"
    assert err.value.http_status == 200
    assert err.value.retryability is Retryability.LATER


async def test_status_of_unknown_publish_id(client: TikTokClient) -> None:
    with pytest.raises(TikTokApiError) as err:
        await client.fetch_status(TOKEN, "v_pub_url~v2.nope")
    assert err.value.code == "invalid_publish_id"


async def test_cancel_after_processing_is_not_cancellable(
    client: TikTokClient, video_url: str
) -> None:
    init = await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    await wait_status(client, init.publish_id, until={TikTokStatus.PUBLISH_COMPLETE})
    with pytest.raises(TikTokApiError) as err:
        await client.cancel(TOKEN, init.publish_id)
    assert err.value.code == "publish_not_cancellable"


# -- transport failures: what provably did not happen vs what may have -------------------


async def test_dropped_init_after_processing_is_ambiguous(
    client: TikTokClient, simulator: Simulator, video_url: str
) -> None:
    fault(simulator, "video_init", action="drop_after_processing")
    with pytest.raises(TikTokApiError) as err:
        await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    assert err.value.code == "NO_RESPONSE"
    assert err.value.retryability is Retryability.AMBIGUOUS
    publishes = admin(simulator, "GET", "publishes")["publishes"]
    assert len(publishes) == 1, "the simulator did create the publish"


async def test_dropped_read_is_retryable(client: TikTokClient, simulator: Simulator) -> None:
    fault(simulator, "creator_info", action="drop")
    with pytest.raises(TikTokApiError) as err:
        await client.query_creator_info(TOKEN)
    assert err.value.code == "NO_RESPONSE"
    assert err.value.retryability is Retryability.RETRYABLE


async def test_hanging_init_times_out_as_ambiguous(simulator: Simulator, video_url: str) -> None:
    fault(simulator, "video_init", action="hang", hang_seconds=3)
    async with TikTokClient(simulator.base_url, timeout=httpx.Timeout(0.5)) as client:
        with pytest.raises(TikTokApiError) as err:
            await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    assert err.value.retryability is Retryability.AMBIGUOUS


async def test_connection_refused_is_retryable_even_for_init(video_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with TikTokClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(TikTokApiError) as err:
            await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    assert err.value.code == "CONNECT_FAILED"
    assert err.value.retryability is Retryability.RETRYABLE


async def test_5xx_without_envelope_on_init_is_ambiguous(
    client: TikTokClient, simulator: Simulator, video_url: str
) -> None:
    fault(simulator, "video_init", action="respond", http_status=502, error_code="")
    with pytest.raises(TikTokApiError) as err:
        await client.init_direct_video(TOKEN, POST_INFO, PullFromUrl(video_url))
    assert err.value.http_status == 502
    assert err.value.retryability is Retryability.AMBIGUOUS


def test_inbox_status_spellings() -> None:
    assert TikTokStatus.parse("SENDING_TO_USER_INBOX") is TikTokStatus.SEND_TO_USER_INBOX
    assert TikTokStatus.parse("SEND_TO_USER_INBOX") is TikTokStatus.SEND_TO_USER_INBOX


def test_unknown_code_trusts_http_class() -> None:
    assert classify_error("new_code", 503).retryability is Retryability.AMBIGUOUS
    assert classify_error("new_code", 400).retryability is Retryability.NON_RETRYABLE
    assert classify_error(None, 429).retryability is Retryability.RETRYABLE
    assert Endpoint.VIDEO_INIT.creates and not Endpoint.STATUS_FETCH.creates


async def test_chunk_rate_limit_is_retryable(client: TikTokClient, simulator: Simulator) -> None:
    size = 6_000_000
    init = await client.init_direct_video(
        TOKEN, POST_INFO, FileUpload(video_size=size, chunk_size=size, total_chunk_count=1)
    )
    assert init.upload_url
    fault(simulator, "upload", action="respond", http_status=429, error_code="")
    with pytest.raises(TikTokApiError) as err:
        await client.upload_chunk(init.upload_url, b"\0" * size, first_byte=0, total_bytes=size)
    assert err.value.code == "rate_limit_exceeded"
    assert err.value.retryability is Retryability.RETRYABLE
