"""Tokens (refresh rotation, expiry), per-token rate limits, and the daily posting caps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import Simulator, SimulatorConfig
from simulator.config import DEFAULT_RATE_LIMITS
from tests.conftest_simulator import (
    TikTok,
    assert_envelope,
    file_source,
    fresh_creator,
    video_post_info,
    wait_for,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(time_scale=0.01)) as simulator:
        yield simulator


@pytest.fixture
def tt(sim: Simulator) -> Iterator[TikTok]:
    with TikTok(sim.base_url) as client:
        yield client


def direct_body(size: int = 10) -> dict[str, object]:
    return {"post_info": video_post_info(), "source_info": file_source(size)}


# -- OAuth -----------------------------------------------------------------------------------


def test_refresh_rotates_both_tokens(sim: Simulator, tt: TikTok) -> None:
    creator = fresh_creator(sim, scopes={"video.publish", "user.info.basic"})
    response = tt.refresh(creator.refresh_token)
    assert response.status_code == 200
    grant = response.json()
    assert set(grant) == {
        "access_token",
        "expires_in",
        "open_id",
        "refresh_token",
        "refresh_expires_in",
        "scope",
        "token_type",
    }
    assert grant["token_type"] == "Bearer"
    assert grant["open_id"] == creator.open_id
    assert grant["scope"] == "user.info.basic,video.publish"
    assert grant["expires_in"] == 86400 and grant["refresh_expires_in"] > 86400
    assert grant["access_token"].startswith("act.") and grant["refresh_token"].startswith("rft.")
    assert grant["access_token"] != creator.access_token
    # New access token works, the old one is dead.
    data = assert_envelope(tt.post("creator_info", token=grant["access_token"]))
    assert data["creator_username"] == creator.username
    assert_envelope(
        tt.post("creator_info", token=creator.access_token), "access_token_invalid", 401
    )
    # The old refresh token is spent; the new one rotates again.
    stale = tt.refresh(creator.refresh_token)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert set(stale.json()) == {"error", "error_description", "log_id"}
    assert tt.refresh(grant["refresh_token"]).status_code == 200


def test_publishes_survive_rotation(sim: Simulator, tt: TikTok) -> None:
    creator = fresh_creator(sim)
    publish_id = assert_envelope(tt.post("video_init", direct_body(), token=creator.access_token))[
        "publish_id"
    ]
    grant = tt.refresh(creator.refresh_token).json()
    response = tt.post("status_fetch", {"publish_id": publish_id}, token=grant["access_token"])
    assert assert_envelope(response)["status"] == "PROCESSING_UPLOAD"


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_key": "other-app"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"refresh_token": ""}, 400, "invalid_request"),
        ({"refresh_token": "rft.never-issued"}, 400, "invalid_grant"),
        (
            {"grant_type": "authorization_code", "code": "abc", "redirect_uri": "https://x/cb"},
            400,
            "invalid_grant",
        ),
    ],
)
def test_oauth_errors(
    sim: Simulator, tt: TikTok, overrides: dict[str, str], status: int, error: str
) -> None:
    creator = fresh_creator(sim)
    response = tt.refresh(creator.refresh_token, **overrides)
    assert response.status_code == status
    payload = response.json()
    assert payload["error"] == error and payload["error_description"] and payload["log_id"]
    # A failed attempt never spends the refresh token.
    assert tt.refresh(creator.refresh_token).status_code == 200


def test_oauth_needs_a_form_body(sim: Simulator, tt: TikTok) -> None:
    creator = fresh_creator(sim)
    response = tt.http.post(
        "/v2/oauth/token/",
        json={
            "client_key": "sim-client-key",
            "client_secret": "sim-client-secret",
            "grant_type": "refresh_token",
            "refresh_token": creator.refresh_token,
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_expired_access_token_can_still_be_refreshed(sim: Simulator, tt: TikTok) -> None:
    creator = fresh_creator(sim)
    assert sim.expire_token(creator.access_token) is True
    assert_envelope(
        tt.post("creator_info", token=creator.access_token), "access_token_invalid", 401
    )
    grant = tt.refresh(creator.refresh_token).json()
    assert_envelope(tt.post("creator_info", token=grant["access_token"]))


def test_access_tokens_expire_after_their_ttl() -> None:
    config = SimulatorConfig(time_scale=0.01, access_token_ttl_seconds=0.3)
    with Simulator(config) as sim, TikTok(sim.base_url) as tt:
        grant = tt.refresh("rft.demo").json()
        assert grant["expires_in"] == 0  # int(0.3): schedule refreshes from this
        wait_for(
            lambda: tt.post("creator_info", token=grant["access_token"]).status_code,
            lambda status: status == 401,
        )
        assert tt.refresh(grant["refresh_token"]).status_code == 200


# -- rate limits -----------------------------------------------------------------------------


def test_default_rate_limits_follow_the_docs() -> None:
    assert DEFAULT_RATE_LIMITS == {
        "creator_info": 20,
        "video_init": 6,
        "inbox_video_init": 6,
        "content_init": 6,
        "status_fetch": 30,
    }
    assert SimulatorConfig().rate_limit_window_seconds == 60.0


def test_video_init_limit_is_six_per_minute(sim: Simulator, tt: TikTok) -> None:
    creator = fresh_creator(sim)
    for _ in range(6):
        assert_envelope(tt.post("video_init", direct_body(), token=creator.access_token))
    response = tt.post("video_init", direct_body(), token=creator.access_token)
    assert_envelope(response, "rate_limit_exceeded", 429)
    assert "retry-after" not in response.headers  # TikTok documents none
    # Per endpoint: the inbox init has its own window.
    inbox = {"source_info": file_source(10)}
    assert_envelope(tt.post("inbox_video_init", inbox, token=creator.access_token))


def test_sliding_window_per_token() -> None:
    config = SimulatorConfig(
        # 4 s: the first four calls must land in one window even on a busy machine
        time_scale=0.01,
        rate_limits={"status_fetch": 3},
        rate_limit_window_seconds=4.0,
    )
    with Simulator(config) as sim, TikTok(sim.base_url) as tt:
        first, second = fresh_creator(sim), fresh_creator(sim)
        body = {"publish_id": "v_pub_url~v2.1"}
        for _ in range(3):
            response = tt.post("status_fetch", body, token=first.access_token)
            assert_envelope(response, "invalid_publish_id", 400)  # counted, though it failed
        limited = tt.post("status_fetch", body, token=first.access_token)
        assert_envelope(limited, "rate_limit_exceeded", 429)
        other = tt.post("status_fetch", body, token=second.access_token)
        assert_envelope(other, "invalid_publish_id", 400)
        assert_envelope(tt.post("creator_info", token=first.access_token))
        wait_for(
            lambda: tt.post("status_fetch", body, token=first.access_token).status_code,
            lambda status: status == 400,
            timeout=20.0,
            interval=0.1,
        )
        recorded = sim.requests("status_fetch")
        assert 429 in [r["response_status"] for r in recorded]


def test_rate_limit_can_be_disabled(sim: Simulator) -> None:
    config = SimulatorConfig(rate_limits={"creator_info": 0})
    with Simulator(config) as other, TikTok(other.base_url, "act.demo") as tt:
        for _ in range(25):
            assert_envelope(tt.post("creator_info"))
    assert sim.config.rate_limits["creator_info"] == 20


# -- daily caps ------------------------------------------------------------------------------


def test_direct_post_cap() -> None:
    config = SimulatorConfig(time_scale=0.01, direct_posts_per_day=2)
    with Simulator(config) as sim:
        creator = fresh_creator(sim)
        token = creator.access_token
        tt = TikTok(sim.base_url, token)
        failing = sim.add_fault("video_init", fail_reason="internal")
        assert failing["count"] == 1
        doomed = assert_envelope(tt.post("video_init", direct_body(), token=token))
        tt.put_chunk(doomed["upload_url"], b"x" * 10, 0, 10)
        assert tt.wait_status(doomed["publish_id"], ("FAILED",)) is not None
        # A FAILED publish does not count towards the cap.
        for _ in range(2):
            assert_envelope(tt.post("video_init", direct_body(), token=token))
        capped = tt.post("video_init", direct_body(), token=token)
        assert_envelope(capped, "spam_risk_too_many_posts", 403)
        # creator_info reports the cap with HTTP 200, as TikTok does.
        assert_envelope(tt.post("creator_info", token=token), "spam_risk_too_many_posts", 200)
        photo = {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": ["http://127.0.0.1:9/a.jpg"],
                "photo_cover_index": 0,
            },
        }
        assert_envelope(
            tt.post("content_init", photo, token=token), "spam_risk_too_many_posts", 403
        )
        # Inbox uploads are a separate budget; other creators are unaffected.
        assert_envelope(tt.post("inbox_video_init", {"source_info": file_source(10)}, token=token))
        other = fresh_creator(sim)
        assert_envelope(tt.post("creator_info", token=other.access_token))


def test_pending_inbox_share_cap() -> None:
    config = SimulatorConfig(time_scale=0.01, pending_inbox_shares_per_day=1)
    with Simulator(config) as sim, TikTok(sim.base_url) as tt:
        token = fresh_creator(sim).access_token
        body = {"source_info": file_source(10)}
        assert_envelope(tt.post("inbox_video_init", body, token=token))
        response = tt.post("inbox_video_init", body, token=token)
        assert_envelope(response, "spam_risk_too_many_pending_share", 403)
        photo = {
            "media_type": "PHOTO",
            "post_mode": "MEDIA_UPLOAD",
            "post_info": {},
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": ["http://127.0.0.1:9/a.jpg"],
                "photo_cover_index": 0,
            },
        }
        response = tt.post("content_init", photo, token=token)
        assert_envelope(response, "spam_risk_too_many_pending_share", 403)
        assert_envelope(tt.post("video_init", direct_body(), token=token))


def test_caps_can_be_changed_at_run_time(sim: Simulator, tt: TikTok) -> None:
    with Simulator(SimulatorConfig(time_scale=0.01)) as other, TikTok(other.base_url) as client:
        token = "act.demo"
        assert_envelope(client.post("video_init", direct_body(), token=token))
        other.update_config(direct_posts_per_day=1)
        response = client.post("video_init", direct_body(), token=token)
        assert_envelope(response, "spam_risk_too_many_posts", 403)
