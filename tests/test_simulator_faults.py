"""Fault injection, the request log and the admin API (in-process and over HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from simulator import CreatorConfig, Simulator, SimulatorAdmin, SimulatorConfig
from tests.conftest_simulator import (
    TikTok,
    assert_envelope,
    file_source,
    fresh_creator,
    video_post_info,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(time_scale=0.01)) as simulator:
        yield simulator


@pytest.fixture
def admin(sim: Simulator) -> Iterator[SimulatorAdmin]:
    with SimulatorAdmin(sim.base_url) as client:
        client.clear_faults()
        yield client
        client.clear_faults()


@pytest.fixture
def creator(sim: Simulator) -> CreatorConfig:
    return fresh_creator(sim)


@pytest.fixture
def tt(sim: Simulator, creator: CreatorConfig) -> Iterator[TikTok]:
    with TikTok(sim.base_url, creator.access_token) as client:
        yield client


def init_body(size: int = 100) -> dict[str, object]:
    return {"post_info": video_post_info(), "source_info": file_source(size)}


def publishes_of(sim: Simulator, creator: CreatorConfig) -> list[dict[str, object]]:
    return [p for p in sim.publishes() if p["open_id"] == creator.open_id]


# -- respond ---------------------------------------------------------------------------------


def test_respond_fault_answers_without_processing(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok, creator: CreatorConfig
) -> None:
    fault = admin.add_fault(
        "video_init",
        action="respond",
        http_status=503,
        error_code="internal_error",
        message="try later",
        retry_after_seconds=7,
        count=2,
    )
    assert fault["count"] == 2 and fault["action"] == "respond"
    for remaining in (1, 0):
        response = tt.post("video_init", init_body())
        assert_envelope(response, "internal_error", 503)
        assert response.json()["error"]["message"] == "try later"
        assert response.headers["retry-after"] == "7"
        assert len(admin.faults()) == remaining
    assert publishes_of(sim, creator) == []
    assert_envelope(tt.post("video_init", init_body()))
    assert len(publishes_of(sim, creator)) == 1
    recorded = admin.requests("video_init")[-3:]
    assert [r["fault"] for r in recorded] == ["respond", "respond", None]
    assert [r["response_status"] for r in recorded] == [503, 503, 200]


def test_respond_fault_with_200_and_a_cap_code_on_creator_info(
    admin: SimulatorAdmin, tt: TikTok
) -> None:
    admin.add_fault(
        "creator_info",
        action="respond",
        http_status=200,
        error_code="spam_risk_user_banned_from_posting",
    )
    assert_envelope(tt.post("creator_info"), "spam_risk_user_banned_from_posting", 200)
    assert_envelope(tt.post("creator_info"))


def test_respond_fault_on_oauth_is_flat(admin: SimulatorAdmin, sim: Simulator) -> None:
    admin.add_fault("oauth_token", action="respond", http_status=400, error_code="invalid_grant")
    creator = fresh_creator(sim)
    with TikTok(sim.base_url) as tt:
        response = tt.refresh(creator.refresh_token)
        assert response.status_code == 400
        payload = response.json()
        assert payload["error"] == "invalid_grant" and "log_id" in payload
        assert "data" not in payload
        assert tt.refresh(creator.refresh_token).status_code == 200


def test_respond_fault_on_upload(admin: SimulatorAdmin, tt: TikTok) -> None:
    data = assert_envelope(tt.post("video_init", init_body(50)))
    admin.add_fault("upload", action="respond", http_status=503)
    assert tt.put_chunk(data["upload_url"], b"x" * 50, 0, 50).status_code == 503
    assert tt.put_chunk(data["upload_url"], b"x" * 50, 0, 50).status_code == 201


# -- drop / drop_after_processing / hang -----------------------------------------------------


def test_drop_closes_without_processing(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok, creator: CreatorConfig
) -> None:
    admin.add_fault("video_init", action="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        tt.post("video_init", init_body())
    assert publishes_of(sim, creator) == []
    last = admin.requests("video_init")[-1]
    assert (last["fault"], last["response_status"]) == ("drop", None)
    assert_envelope(tt.post("video_init", init_body()))


def test_drop_after_processing_creates_the_publish(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok, creator: CreatorConfig
) -> None:
    """The ambiguous case: TikTok created the publish, the client never heard of it."""
    admin.add_fault("video_init", action="drop_after_processing")
    with pytest.raises(httpx.RemoteProtocolError):
        tt.post("video_init", init_body())
    created = publishes_of(sim, creator)
    assert len(created) == 1 and created[0]["status"] == "PROCESSING_UPLOAD"
    last = admin.requests("video_init")[-1]
    assert (last["fault"], last["response_status"]) == ("drop_after_processing", 200)


def test_drop_after_processing_on_a_chunk_then_resume(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok
) -> None:
    data = assert_envelope(tt.post("video_init", init_body(100)))
    admin.add_fault("upload", action="drop_after_processing")
    with pytest.raises(httpx.RemoteProtocolError):
        tt.put_chunk(data["upload_url"], b"x" * 100, 0, 100)
    retry = tt.put_chunk(data["upload_url"], b"x" * 100, 0, 100)
    assert retry.status_code == 416
    assert retry.headers["content-range"] == "bytes 0-99/100"  # it was stored after all
    assert tt.wait_status(data["publish_id"])["status"] == "PUBLISH_COMPLETE"


def test_hang_then_drop(admin: SimulatorAdmin, tt: TikTok) -> None:
    admin.add_fault("status_fetch", action="hang", hang_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        tt.post("status_fetch", {"publish_id": "x"})
    assert time.monotonic() - started >= 0.25
    last = admin.requests("status_fetch")[-1]
    assert (last["fault"], last["response_status"]) == ("hang", None)


def test_hang_outlasts_client_timeout(admin: SimulatorAdmin, sim: Simulator) -> None:
    admin.add_fault("creator_info", action="hang")  # default 30 s; stop() wakes it
    assert admin.faults()[0]["hang_seconds"] == 30.0
    with TikTok(sim.base_url, fresh_creator(sim).access_token, timeout=0.3) as tt:
        with pytest.raises(httpx.ReadTimeout):
            tt.post("creator_info")
        assert_envelope(tt.post("creator_info"))


# -- outcome faults --------------------------------------------------------------------------


def test_fail_reason_on_init(admin: SimulatorAdmin, tt: TikTok) -> None:
    admin.add_fault("video_init", fail_reason="file_format_check_failed")
    failing = assert_envelope(tt.post("video_init", init_body(10)))
    passing = assert_envelope(tt.post("video_init", init_body(10)))
    for data in (failing, passing):
        assert tt.put_chunk(data["upload_url"], b"x" * 10, 0, 10).status_code == 201
    final = tt.wait_status(failing["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "file_format_check_failed")
    assert tt.wait_status(passing["publish_id"])["status"] == "PUBLISH_COMPLETE"


def test_fail_reason_on_inbox_init(admin: SimulatorAdmin, tt: TikTok) -> None:
    admin.add_fault("inbox_video_init", fail_reason="duration_check_failed")
    data = assert_envelope(tt.post("inbox_video_init", {"source_info": file_source(10)}))
    tt.put_chunk(data["upload_url"], b"x" * 10, 0, 10)
    final = tt.wait_status(data["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "duration_check_failed")


def test_fail_reason_on_status_fetch(admin: SimulatorAdmin, tt: TikTok) -> None:
    data = assert_envelope(tt.post("video_init", init_body(10)))
    admin.add_fault("status_fetch", fail_reason="internal")
    status = tt.status(data["publish_id"])
    assert (status["status"], status["fail_reason"]) == ("FAILED", "internal")
    assert admin.faults() == []


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "nope", "action": "drop"},
        {"endpoint": "video_init", "action": "explode"},
        {"endpoint": "video_init"},
        {"endpoint": "video_init", "action": "drop", "fail_reason": "internal"},
        {"endpoint": "creator_info", "fail_reason": "internal"},
        {"endpoint": "video_init", "action": "drop", "count": 0},
        {"endpoint": "video_init", "action": "respond", "http_status": 99},
        {"endpoint": "video_init", "action": "hang", "hang_seconds": -1},
        {"endpoint": "video_init", "action": "drop", "colour": "red"},
    ],
)
def test_invalid_fault_specs_are_rejected(sim: Simulator, spec: dict[str, object]) -> None:
    response = httpx.post(f"{sim.base_url}/_sim/faults", json=spec, trust_env=False)
    assert response.status_code == 400
    assert "error" in response.json()


def test_fault_list_and_clear(admin: SimulatorAdmin) -> None:
    admin.add_fault("cancel", action="drop", count=3)
    admin.add_fault("video_init", fail_reason="internal")
    listed = admin.faults()
    assert [(f["endpoint"], f["count"]) for f in listed] == [("cancel", 3), ("video_init", 1)]
    admin.clear_faults()
    assert admin.faults() == []


# -- request log -----------------------------------------------------------------------------


def test_request_log_records_in_order_and_filters(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok, creator: CreatorConfig
) -> None:
    admin.clear_requests()
    tt.post("creator_info")
    data = assert_envelope(tt.post("video_init", init_body(10)))
    tt.put_chunk(data["upload_url"], b"x" * 10, 0, 10)
    tt.post("status_fetch", {"publish_id": data["publish_id"]})
    records = admin.requests()
    assert [r["endpoint"] for r in records] == [
        "creator_info",
        "video_init",
        "upload",
        "status_fetch",
    ]
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert all(r["response_status"] in (200, 201) for r in records)
    init = records[1]
    assert init["method"] == "POST" and init["path"] == "/v2/post/publish/video/init/"
    assert init["body"]["source_info"]["video_size"] == 10
    assert init["token_fingerprint"] == records[0]["token_fingerprint"]
    assert len(init["token_fingerprint"]) <= 16
    upload = records[2]
    assert upload["content_range"] == "bytes 0-9/10" and upload["byte_length"] == 10
    assert "body" not in upload and "?" not in upload["path"]
    assert [r["endpoint"] for r in admin.requests("status_fetch")] == ["status_fetch"]
    assert sim.requests("upload") == admin.requests("upload")
    with pytest.raises(httpx.HTTPStatusError):
        admin.requests("bogus")
    admin.clear_requests()
    assert admin.requests() == []


def test_recorded_requests_never_contain_secrets(
    admin: SimulatorAdmin, sim: Simulator, tt: TikTok, creator: CreatorConfig
) -> None:
    tt.post("creator_info")
    data = assert_envelope(tt.post("video_init", init_body(10)))
    tt.put_chunk(data["upload_url"], b"x" * 10, 0, 10)
    grant = tt.refresh(creator.refresh_token).json()
    tt.post("creator_info", token=grant["access_token"])
    upload_token = data["upload_url"].split("upload_token=")[1]
    dumped = json.dumps(admin.requests()) + json.dumps(admin.publishes())
    dumped += json.dumps(admin.creators())
    for secret in (
        creator.access_token,
        creator.refresh_token,
        grant["access_token"],
        grant["refresh_token"],
        "sim-client-secret",
        upload_token,
    ):
        assert secret not in dumped
    oauth = admin.requests("oauth_token")[-1]
    assert oauth["body"]["client_secret"] == "<redacted>"
    assert oauth["body"]["grant_type"] == "refresh_token"


# -- other admin operations ------------------------------------------------------------------


def test_admin_client_operations(admin: SimulatorAdmin, sim: Simulator) -> None:
    assert admin.health() is True
    created = admin.upsert_creator(
        {"access_token": "act.admin-made", "refresh_token": "rft.admin-made", "username": "a"}
    )
    assert created["username"] == "a"
    with TikTok(sim.base_url, "act.admin-made") as tt:
        assert assert_envelope(tt.post("creator_info"))["creator_username"] == "a"
        admin.upsert_creator(
            CreatorConfig(
                access_token="act.admin-made",
                refresh_token="rft.admin-made",
                username="a",
                private_account=True,
            )
        )
        assert assert_envelope(tt.post("creator_info"))["duet_disabled"] is True
        data = assert_envelope(
            tt.post("video_init", {"post_info": video_post_info(), "source_info": file_source(5)})
        )
        view = admin.publish(data["publish_id"])
        assert view["creator_username"] == "a" and view["total_chunk_count"] == 1
        assert any(p["publish_id"] == data["publish_id"] for p in admin.publishes())
        admin.expire_token("act.admin-made")
        assert_envelope(tt.post("creator_info"), "access_token_invalid", 401)
    with pytest.raises(httpx.HTTPStatusError):
        admin.expire_token("act.never-issued")
    with pytest.raises(httpx.HTTPStatusError):
        admin.publish("v_pub_file~v2-1.0")
    assert admin.config()["direct_posts_per_day"] == 15
    with pytest.raises(httpx.HTTPStatusError):
        admin.update_config(port=1)
    with pytest.raises(httpx.HTTPStatusError):
        admin.upsert_creator({"access_token": "act.x"})


def test_reset_restores_the_initial_state() -> None:
    with Simulator(SimulatorConfig(time_scale=0.01)) as sim, SimulatorAdmin(sim.base_url) as admin:
        with TikTok(sim.base_url, "act.demo") as tt:
            grant = tt.refresh("rft.demo").json()
            assert_envelope(tt.post("creator_info"), "access_token_invalid", 401)
            tt.post("video_init", init_body(), token=grant["access_token"])
            admin.add_fault("cancel", action="drop")
            admin.update_config(direct_posts_per_day=1)
            admin.upsert_creator({"access_token": "act.extra", "refresh_token": "rft.extra"})
            admin.reset()
            assert admin.publishes() == [] and admin.faults() == [] and admin.requests() == []
            assert admin.config()["direct_posts_per_day"] == 15
            assert_envelope(tt.post("creator_info"))  # act.demo is valid again
            assert_envelope(
                tt.post("creator_info", token=grant["access_token"]), "access_token_invalid", 401
            )
            assert_envelope(tt.post("creator_info", token="act.extra"), "access_token_invalid", 401)


def test_upserting_a_known_token_updates_its_creator() -> None:
    """Re-posting act.demo with new settings changes the demo creator, not a new one."""
    with Simulator(SimulatorConfig(time_scale=0.01)) as sim, SimulatorAdmin(sim.base_url) as admin:
        with TikTok(sim.base_url, "act.demo") as tt:
            data = assert_envelope(tt.post("video_init", init_body()))
            created = admin.upsert_creator(
                {
                    "access_token": "act.demo",
                    "refresh_token": "rft.demo",
                    "username": "demo_creator",
                    "comment_disabled": True,
                }
            )
            assert created["open_id"] == "open.demo"
            assert assert_envelope(tt.post("creator_info"))["comment_disabled"] is True
            assert_envelope(tt.post("status_fetch", {"publish_id": data["publish_id"]}))
            assert len(admin.creators()) == 1


def test_after_lets_the_first_calls_through() -> None:
    import httpx

    from simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(time_scale=0.01)) as sim:
        headers = {"Authorization": "Bearer act.demo"}
        url = f"{sim.base_url}/v2/post/publish/creator_info/query/"
        httpx.post(f"{sim.base_url}/_sim/faults", json={
            "endpoint": "creator_info", "after": 2, "action": "respond", "http_status": 503,
        })  # fmt: skip
        statuses = [httpx.post(url, headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 200]
