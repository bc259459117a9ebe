"""The simulator's TikTok endpoints: happy paths, envelope, validation, status machine.

Talks raw HTTP (httpx) so that it tests the wire format the production client will see.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from simulator import Simulator, SimulatorConfig
from simulator.validation import is_url_verified
from tests.conftest_simulator import (
    MediaServer,
    OpenApi,
    TikTok,
    assert_envelope,
    file_source,
    fresh_creator,
    load_openapi,
    video_post_info,
    wait_for,
)

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40  # ~10 KB of "mp4"
PHOTO = b"\xff\xd8\xff\xe0" + b"\x10" * 2000  # ~2 KB of "jpeg"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(time_scale=0.01)) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def media() -> Iterator[MediaServer]:
    server = MediaServer()
    server.add("/video.mp4", VIDEO)
    server.add("/empty.mp4", b"")
    server.add("/photo1.jpg", PHOTO, content_type="image/jpeg")
    server.add("/photo2.jpg", PHOTO * 2, content_type="image/jpeg")
    server.add("/moved.mp4", b"", status=302, headers={"Location": "/video.mp4"})
    server.add("/error.mp4", b"boom", status=500)
    yield server
    server.close()


@pytest.fixture(scope="module")
def openapi() -> OpenApi:
    return load_openapi()


@pytest.fixture
def tt(sim: Simulator) -> Iterator[TikTok]:
    """A client bound to a brand-new creator (own rate windows and caps)."""
    with TikTok(sim.base_url, fresh_creator(sim).access_token) as client:
        yield client


def pull_body(url: str, privacy: str = "PUBLIC_TO_EVERYONE") -> dict[str, Any]:
    return {
        "post_info": video_post_info(privacy),
        "source_info": {"source": "PULL_FROM_URL", "video_url": url},
    }


def photo_body(
    urls: list[str], mode: str = "DIRECT_POST", privacy: str = "PUBLIC_TO_EVERYONE", **post: Any
) -> dict[str, Any]:
    post_info: dict[str, Any] = {
        "title": "photos",
        "description": "a few simulated photos",
        "disable_comment": False,
        "auto_add_music": True,
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
        **post,
    }
    if mode == "DIRECT_POST":
        post_info["privacy_level"] = privacy
    return {
        "media_type": "PHOTO",
        "post_mode": mode,
        "post_info": post_info,
        "source_info": {"source": "PULL_FROM_URL", "photo_images": urls, "photo_cover_index": 0},
    }


# -- creator_info ----------------------------------------------------------------------------


def test_creator_info_default_demo_creator(sim: Simulator, openapi: OpenApi) -> None:
    with TikTok(sim.base_url, "act.demo") as tt:
        response = tt.post("creator_info")
    data = assert_envelope(response)
    assert openapi.validate(response)
    assert data["creator_username"] == "demo_creator"
    assert data["creator_nickname"] == "Demo Creator"
    assert data["privacy_level_options"] == [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert data["comment_disabled"] is False
    assert data["duet_disabled"] is False
    assert data["stitch_disabled"] is False
    assert data["max_video_post_duration_sec"] == 600
    assert data["creator_avatar_url"].startswith(sim.base_url)
    with TikTok(sim.base_url) as tt:
        assert tt.http.get(data["creator_avatar_url"]).status_code == 200


def test_creator_info_private_account_disables_duet_and_stitch(sim: Simulator) -> None:
    creator = fresh_creator(sim, private_account=True, comment_disabled=True)
    with TikTok(sim.base_url, creator.access_token) as tt:
        data = assert_envelope(tt.post("creator_info"))
    assert data["privacy_level_options"] == [
        "FOLLOWER_OF_CREATOR",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert data["comment_disabled"] is True
    assert data["duet_disabled"] is True
    assert data["stitch_disabled"] is True


def test_creator_info_unaudited_app_offers_only_self_only(sim: Simulator) -> None:
    creator = fresh_creator(sim, app_audited=False, max_video_post_duration_sec=180)
    with TikTok(sim.base_url, creator.access_token) as tt:
        data = assert_envelope(tt.post("creator_info"))
    assert data["privacy_level_options"] == ["SELF_ONLY"]
    assert data["max_video_post_duration_sec"] == 180


def test_log_ids_are_unique(tt: TikTok) -> None:
    ids = {tt.post("creator_info").json()["error"]["log_id"] for _ in range(5)}
    assert len(ids) == 5


# -- auth and scopes -------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "act.unknown", ""])
def test_unknown_or_missing_token_is_access_token_invalid(
    sim: Simulator, token: str | None
) -> None:
    with TikTok(sim.base_url) as tt:
        for endpoint in ("creator_info", "video_init", "status_fetch"):
            response = tt.post(endpoint, {}, token=token)
            assert_envelope(response, "access_token_invalid", 401)


def test_upload_only_scope(sim: Simulator, media: MediaServer) -> None:
    creator = fresh_creator(sim, scopes={"user.info.basic", "video.upload"})
    url = media.url("/video.mp4")
    photos = [media.url("/photo1.jpg")]
    with TikTok(sim.base_url, creator.access_token) as tt:
        assert_envelope(tt.post("creator_info"), "scope_not_authorized", 401)
        assert_envelope(tt.post("video_init", pull_body(url)), "scope_not_authorized", 401)
        response = tt.post("content_init", photo_body(photos))
        assert_envelope(response, "scope_not_authorized", 401)
        assert_envelope(tt.post("content_init", photo_body(photos, "MEDIA_UPLOAD")))
        inbox = {"source_info": {"source": "PULL_FROM_URL", "video_url": url}}
        data = assert_envelope(tt.post("inbox_video_init", inbox))
        assert_envelope(tt.post("status_fetch", {"publish_id": data["publish_id"]}))


def test_publish_only_scope_cannot_use_inbox(sim: Simulator, media: MediaServer) -> None:
    creator = fresh_creator(sim, scopes={"video.publish"})
    inbox = {"source_info": {"source": "PULL_FROM_URL", "video_url": media.url("/video.mp4")}}
    with TikTok(sim.base_url, creator.access_token) as tt:
        assert_envelope(tt.post("inbox_video_init", inbox), "scope_not_authorized", 401)
        photos = photo_body([media.url("/photo1.jpg")], "MEDIA_UPLOAD")
        assert_envelope(tt.post("content_init", photos), "scope_not_authorized", 401)


# -- direct video ----------------------------------------------------------------------------


def test_direct_pull_reaches_publish_complete_then_public_id(
    tt: TikTok, sim: Simulator, media: MediaServer, openapi: OpenApi
) -> None:
    response = tt.post("video_init", pull_body(media.url("/video.mp4")))
    data = assert_envelope(response)
    assert openapi.validate(response)
    publish_id = data["publish_id"]
    assert publish_id.startswith("v_pub_url~v2.") and len(publish_id) <= 64
    assert "upload_url" not in data
    final = tt.wait_status(publish_id, ("PUBLISH_COMPLETE", "FAILED"))
    assert final["status"] == "PUBLISH_COMPLETE", final
    assert final["downloaded_bytes"] == len(VIDEO)
    assert final["fail_reason"] == ""
    public = wait_for(
        lambda: tt.poll_status(publish_id), lambda d: bool(d["publicaly_available_post_id"])
    )
    ids = public["publicaly_available_post_id"]
    assert len(ids) == 1 and isinstance(ids[0], int) and ids[0] > 2**62
    status_response = tt.post("status_fetch", {"publish_id": publish_id})
    assert openapi.validate(status_response)
    view = sim.publish(publish_id)
    assert view is not None
    assert view["source"] == "PULL_FROM_URL"
    assert view["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert view["title"] == "a simulated post #test"


@pytest.mark.parametrize("privacy", ["SELF_ONLY", "MUTUAL_FOLLOW_FRIENDS"])
def test_non_public_direct_post_never_gets_a_public_id(
    tt: TikTok, media: MediaServer, privacy: str
) -> None:
    url = media.url("/video.mp4")
    private_id = assert_envelope(tt.post("video_init", pull_body(url, privacy)))["publish_id"]
    assert tt.wait_status(private_id)["status"] == "PUBLISH_COMPLETE"
    public_id = assert_envelope(tt.post("video_init", pull_body(url)))["publish_id"]
    # The public post, finished later, passing moderation proves enough time has gone by.
    wait_for(lambda: tt.poll_status(public_id), lambda d: bool(d["publicaly_available_post_id"]))
    assert tt.status(private_id)["publicaly_available_post_id"] == []


def test_direct_file_upload_id_shape(tt: TikTok, openapi: OpenApi) -> None:
    body = {"post_info": video_post_info(), "source_info": file_source(len(VIDEO))}
    response = tt.post("video_init", body)
    data = assert_envelope(response)
    assert openapi.validate(response)
    assert data["publish_id"].startswith("v_pub_file~v2-1.")
    assert data["upload_url"].startswith(tt.http.base_url.scheme + "://")
    assert "/upload/" in data["upload_url"] and "upload_token=" in data["upload_url"]
    assert tt.status(data["publish_id"])["status"] == "PROCESSING_UPLOAD"


# -- inbox video -----------------------------------------------------------------------------


def test_inbox_pull_reaches_send_to_user_inbox(
    tt: TikTok, media: MediaServer, openapi: OpenApi
) -> None:
    body = {"source_info": {"source": "PULL_FROM_URL", "video_url": media.url("/video.mp4")}}
    response = tt.post("inbox_video_init", body)
    data = assert_envelope(response)
    assert openapi.validate(response)
    assert data["publish_id"].startswith("v_inbox_url~v2.")
    final = tt.wait_status(data["publish_id"])
    assert final["status"] == "SEND_TO_USER_INBOX"
    assert final["publicaly_available_post_id"] == []
    status_response = tt.post("status_fetch", {"publish_id": data["publish_id"]})
    assert openapi.validate(status_response)


def test_inbox_file_upload_reaches_send_to_user_inbox(tt: TikTok) -> None:
    data = assert_envelope(tt.post("inbox_video_init", {"source_info": file_source(len(VIDEO))}))
    assert data["publish_id"].startswith("v_inbox_file~v2.")
    assert tt.put_chunk(data["upload_url"], VIDEO, 0, len(VIDEO)).status_code == 201
    final = tt.wait_status(data["publish_id"])
    assert final["status"] == "SEND_TO_USER_INBOX"
    assert final["uploaded_bytes"] == len(VIDEO)


def test_openapi_file_misspells_the_inbox_status(tt: TikTok, openapi: OpenApi) -> None:
    """The reference file says SENDING_TO_USER_INBOX; TikTok (tiktok-api.md) says
    SEND_TO_USER_INBOX and the simulator follows TikTok. Pin the discrepancy down so the
    special case in OpenApi.response_schema stays justified."""
    data = assert_envelope(tt.post("inbox_video_init", {"source_info": file_source(100)}))
    tt.put_chunk(data["upload_url"], b"x" * 100, 0, 100)
    tt.wait_status(data["publish_id"])
    response = tt.post("status_fetch", {"publish_id": data["publish_id"]})
    assert response.json()["data"]["status"] == "SEND_TO_USER_INBOX"
    assert openapi.validate(response)
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate(response, faithful=False)


# -- photos ----------------------------------------------------------------------------------


def test_photo_direct_post(tt: TikTok, media: MediaServer, sim: Simulator) -> None:
    urls = [media.url("/photo1.jpg"), media.url("/photo2.jpg")]
    data = assert_envelope(tt.post("content_init", photo_body(urls)))
    assert set(data) == {"publish_id"}
    assert data["publish_id"].startswith("p_pub_url~v2.")
    final = tt.wait_status(data["publish_id"])
    assert final["status"] == "PUBLISH_COMPLETE"
    assert final["downloaded_bytes"] == len(PHOTO) * 3
    view = sim.publish(data["publish_id"])
    assert view is not None and view["media_urls"] == urls and view["flow"] == "direct_photo"


def test_photo_media_upload_goes_to_inbox(tt: TikTok, media: MediaServer) -> None:
    body = photo_body([media.url("/photo1.jpg")], "MEDIA_UPLOAD")
    data = assert_envelope(tt.post("content_init", body))
    assert tt.wait_status(data["publish_id"])["status"] == "SEND_TO_USER_INBOX"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b.update(media_type="VIDEO"), id="media-type"),
        pytest.param(lambda b: b.update(post_mode="DRAFT"), id="post-mode"),
        pytest.param(lambda b: b["source_info"].update(photo_images=[]), id="no-photos"),
        pytest.param(lambda b: b["source_info"].update(photo_images=["x"] * 36), id="36-photos"),
        pytest.param(lambda b: b["source_info"].update(photo_cover_index=1), id="cover-range"),
        pytest.param(lambda b: b["source_info"].update(photo_cover_index=-1), id="cover-neg"),
        pytest.param(lambda b: b["source_info"].pop("photo_cover_index"), id="cover-missing"),
        pytest.param(lambda b: b["source_info"].update(source="FILE_UPLOAD"), id="file-upload"),
        pytest.param(lambda b: b["post_info"].update(title="t" * 91), id="title-91"),
        pytest.param(lambda b: b["post_info"].update(description="d" * 4001), id="desc-4001"),
        pytest.param(lambda b: b["post_info"].pop("privacy_level"), id="no-privacy"),
        pytest.param(lambda b: b["post_info"].update(auto_add_music="yes"), id="bad-bool"),
    ],
)
def test_photo_invalid_params(tt: TikTok, media: MediaServer, mutate: Any) -> None:
    body = photo_body([media.url("/photo1.jpg")])
    mutate(body)
    assert_envelope(tt.post("content_init", body), "invalid_params", 400)


def test_photo_limits_are_inclusive(tt: TikTok, media: MediaServer) -> None:
    urls = [media.url("/photo1.jpg")] * 35
    body = photo_body(urls, title="t" * 90, description="d" * 4000)
    body["source_info"]["photo_cover_index"] = 34
    data = assert_envelope(tt.post("content_init", body))
    assert tt.wait_status(data["publish_id"])["status"] == "PUBLISH_COMPLETE"


# -- video validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b["post_info"].pop("privacy_level"), id="no-privacy"),
        pytest.param(lambda b: b["post_info"].update(privacy_level="FRIENDS"), id="bad-privacy"),
        pytest.param(lambda b: b["post_info"].update(title="t" * 2201), id="title-2201"),
        # 1100 emoji = 2200 UTF-16 units, +1 ASCII = 2201 although len() is only 1101
        pytest.param(lambda b: b["post_info"].update(title="😀" * 1100 + "x"), id="title-utf16"),
        pytest.param(lambda b: b.pop("post_info"), id="no-post-info"),
        pytest.param(lambda b: b.update(post_info=[]), id="post-info-list"),
        pytest.param(lambda b: b.pop("source_info"), id="no-source-info"),
        pytest.param(lambda b: b["source_info"].update(source="URL"), id="bad-source"),
        pytest.param(lambda b: b["source_info"].pop("video_url"), id="no-url"),
        pytest.param(lambda b: b["source_info"].update(video_url="ftp://x/y"), id="ftp-url"),
        pytest.param(lambda b: b["post_info"].update(disable_duet="no"), id="bad-bool"),
        pytest.param(lambda b: b["post_info"].update(video_cover_timestamp_ms=-1), id="cover"),
        pytest.param(
            lambda b: b["post_info"].update(privacy_level="SELF_ONLY", brand_content_toggle=True),
            id="branded-self-only",
        ),
    ],
)
def test_video_init_invalid_params(tt: TikTok, media: MediaServer, mutate: Any) -> None:
    body = pull_body(media.url("/video.mp4"))
    mutate(body)
    assert_envelope(tt.post("video_init", body), "invalid_params", 400)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
def test_init_body_must_be_a_json_object(tt: TikTok, raw: bytes) -> None:
    assert_envelope(tt.post("video_init", raw=raw), "invalid_params", 400)


def test_title_of_exactly_2200_utf16_units_is_accepted(tt: TikTok, media: MediaServer) -> None:
    body = pull_body(media.url("/video.mp4"))
    body["post_info"]["title"] = "😀" * 1100
    assert_envelope(tt.post("video_init", body))


def test_privacy_not_in_options_is_a_mismatch(tt: TikTok, media: MediaServer) -> None:
    body = pull_body(media.url("/video.mp4"), "FOLLOWER_OF_CREATOR")
    assert_envelope(tt.post("video_init", body), "privacy_level_option_mismatch", 403)


def test_unaudited_app_rules(sim: Simulator, media: MediaServer) -> None:
    url = media.url("/video.mp4")
    public = fresh_creator(sim, app_audited=False)
    with TikTok(sim.base_url, public.access_token) as tt:
        response = tt.post("video_init", pull_body(url, "SELF_ONLY"))
        assert_envelope(response, "unaudited_client_can_only_post_to_private_accounts", 403)
        photo = photo_body([media.url("/photo1.jpg")], privacy="SELF_ONLY")
        response = tt.post("content_init", photo)
        assert_envelope(response, "unaudited_client_can_only_post_to_private_accounts", 403)
    private = fresh_creator(sim, app_audited=False, private_account=True)
    with TikTok(sim.base_url, private.access_token) as tt:
        response = tt.post("video_init", pull_body(url, "FOLLOWER_OF_CREATOR"))
        assert_envelope(response, "privacy_level_option_mismatch", 403)
        data = assert_envelope(tt.post("video_init", pull_body(url, "SELF_ONLY")))
        assert tt.wait_status(data["publish_id"])["status"] == "PUBLISH_COMPLETE"


def test_unverified_url_is_refused_before_any_download(tt: TikTok, sim: Simulator) -> None:
    before = len(sim.publishes())
    body = pull_body("https://media.example.com/video.mp4")
    assert_envelope(tt.post("video_init", body), "url_ownership_unverified", 403)
    inbox = {
        "source_info": {"source": "PULL_FROM_URL", "video_url": body["source_info"]["video_url"]}
    }
    assert_envelope(tt.post("inbox_video_init", inbox), "url_ownership_unverified", 403)
    photos = photo_body(["https://cdn.example.org/a.jpg"])
    assert_envelope(tt.post("content_init", photos), "url_ownership_unverified", 403)
    assert len(sim.publishes()) == before


def test_verified_url_matching() -> None:
    verified = ["example.com", "https://cdn.other.net/media/", "::1"]
    assert is_url_verified("https://example.com/a.mp4", verified)
    assert is_url_verified("https://v16.cdn.example.com/a.mp4", verified)
    assert not is_url_verified("https://badexample.com/a.mp4", verified)
    assert not is_url_verified("https://example.com.evil.io/a.mp4", verified)
    assert is_url_verified("https://cdn.other.net/media/x/a.mp4", verified)
    assert not is_url_verified("https://cdn.other.net/private/a.mp4", verified)
    assert not is_url_verified("http://cdn.other.net/media/a.mp4", verified)
    assert is_url_verified("http://[::1]:8000/a.mp4", verified)


# -- pulls that fail -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/missing.mp4", "/moved.mp4", "/error.mp4"])
def test_video_pull_failures(tt: TikTok, media: MediaServer, path: str) -> None:
    data = assert_envelope(tt.post("video_init", pull_body(media.url(path))))
    final = tt.wait_status(data["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "video_pull_failed")


def test_unreachable_url_fails_the_pull(tt: TikTok) -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test environment.
    data = assert_envelope(tt.post("video_init", pull_body("http://127.0.0.1:9/video.mp4")))
    final = tt.wait_status(data["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "video_pull_failed")


def test_photo_pull_failure(tt: TikTok, media: MediaServer) -> None:
    urls = [media.url("/photo1.jpg"), media.url("/missing.jpg")]
    data = assert_envelope(tt.post("content_init", photo_body(urls)))
    final = tt.wait_status(data["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "photo_pull_failed")


def test_empty_media_fails_the_format_check(tt: TikTok, media: MediaServer) -> None:
    data = assert_envelope(tt.post("video_init", pull_body(media.url("/empty.mp4"))))
    final = tt.wait_status(data["publish_id"])
    assert (final["status"], final["fail_reason"]) == ("FAILED", "file_format_check_failed")


# -- status fetch and cancel -----------------------------------------------------------------


def test_status_fetch_errors(sim: Simulator, tt: TikTok, media: MediaServer) -> None:
    assert_envelope(
        tt.post("status_fetch", {"publish_id": "v_pub_url~v2.1"}), "invalid_publish_id", 400
    )
    assert_envelope(tt.post("status_fetch", {}), "invalid_params", 400)
    publish_id = assert_envelope(tt.post("video_init", pull_body(media.url("/video.mp4"))))[
        "publish_id"
    ]
    other = fresh_creator(sim)
    response = tt.post("status_fetch", {"publish_id": publish_id}, token=other.access_token)
    assert_envelope(response, "token_not_authorized_for_specified_publish_id", 400)
    response = tt.post("cancel", {"publish_id": publish_id}, token=other.access_token)
    assert_envelope(response, "token_not_authorized_for_specified_publish_id", 400)


def test_cancel_during_download(tt: TikTok, media: MediaServer, sim: Simulator) -> None:
    media.release.clear()
    media.slow_started.clear()
    try:
        data = assert_envelope(tt.post("video_init", pull_body(media.url("/slow/200000"))))
        publish_id = data["publish_id"]
        assert media.slow_started.wait(10)
        status = wait_for(lambda: tt.poll_status(publish_id), lambda d: d["downloaded_bytes"] > 0)
        assert status["status"] == "PROCESSING_DOWNLOAD"
        assert_envelope(tt.post("cancel", {"publish_id": publish_id}))
        final = tt.status(publish_id)
        assert (final["status"], final["fail_reason"]) == ("FAILED", "publish_cancelled")
        response = tt.post("cancel", {"publish_id": publish_id})
        assert_envelope(response, "publish_not_cancellable", 400)
    finally:
        media.release.set()
    # The download thread notices the cancel and stops; the publish stays cancelled.
    assert tt.status(publish_id)["status"] == "FAILED"
    view = sim.publish(publish_id)
    assert view is not None and view["cancelled"] is True


def test_cancel_is_refused_after_download_or_for_uploads(tt: TikTok, media: MediaServer) -> None:
    publish_id = assert_envelope(tt.post("video_init", pull_body(media.url("/video.mp4"))))[
        "publish_id"
    ]
    tt.wait_status(publish_id)
    assert_envelope(tt.post("cancel", {"publish_id": publish_id}), "publish_not_cancellable", 400)
    body = {"post_info": video_post_info(), "source_info": file_source(100)}
    upload_id = assert_envelope(tt.post("video_init", body))["publish_id"]
    assert_envelope(tt.post("cancel", {"publish_id": upload_id}), "publish_not_cancellable", 400)
    assert_envelope(tt.post("cancel", {"publish_id": "nope"}), "invalid_publish_id", 400)


def test_unknown_path_and_wrong_method(sim: Simulator) -> None:
    with TikTok(sim.base_url, "act.demo") as tt:
        assert tt.http.post("/v2/post/publish/nothing/").status_code == 404
        assert tt.http.get("/v2/post/publish/video/init/").status_code == 405
        assert tt.http.get("/upload/123").status_code == 405
