"""An async client for TikTok's Content Posting API (and the OAuth token endpoint).

It speaks TikTok's wire format to the letter and turns every failure into one error type,
`TikTokApiError`, classified by `workflows.errors`. The base URL is configuration: the same
client talks to open.tiktokapis.com and to the local simulator. Access tokens are arguments
of each call and never appear in an error, a log line or a repr.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import httpx

from activities.http_transport import AiohttpTransport
from workflows.errors import ErrorRule, Retryability, classify_error
from workflows.tiktok import CreatorInfo, Privacy, PublishStatus, TikTokStatus

DEFAULT_BASE_URL = "https://open.tiktokapis.com"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
_PRIVACY_VALUES = frozenset(p.value for p in Privacy)


class Endpoint(StrEnum):
    """The calls we make, named as the simulator records them."""

    CREATOR_INFO = "creator_info"
    VIDEO_INIT = "video_init"
    INBOX_VIDEO_INIT = "inbox_video_init"
    CONTENT_INIT = "content_init"
    STATUS_FETCH = "status_fetch"
    CANCEL = "cancel"
    OAUTH_TOKEN = "oauth_token"
    OAUTH_REVOKE = "oauth_revoke"
    USER_INFO = "user_info"
    VIDEO_QUERY = "video_query"
    UPLOAD = "upload"

    @property
    def creates(self) -> bool:
        """Calls that create something on TikTok and carry no idempotency key."""
        return self in (Endpoint.VIDEO_INIT, Endpoint.INBOX_VIDEO_INIT, Endpoint.CONTENT_INIT)


_PATHS: Mapping[Endpoint, str] = {
    Endpoint.CREATOR_INFO: "/v2/post/publish/creator_info/query/",
    Endpoint.VIDEO_INIT: "/v2/post/publish/video/init/",
    Endpoint.INBOX_VIDEO_INIT: "/v2/post/publish/inbox/video/init/",
    Endpoint.CONTENT_INIT: "/v2/post/publish/content/init/",
    Endpoint.STATUS_FETCH: "/v2/post/publish/status/fetch/",
    Endpoint.CANCEL: "/v2/post/publish/cancel/",
    Endpoint.OAUTH_TOKEN: "/v2/oauth/token/",
    Endpoint.OAUTH_REVOKE: "/v2/oauth/revoke/",
    Endpoint.USER_INFO: "/v2/user/info/",
    Endpoint.VIDEO_QUERY: "/v2/video/query/",
}
VIDEO_QUERY_FIELDS = "id,view_count,like_count,comment_count,share_count"
USER_INFO_FIELDS = "open_id,union_id,avatar_url,display_name,username"
#: user/info with user.info.stats: the follower count analytics records.
FOLLOWER_FIELDS = "open_id,follower_count"


def endpoint_for_path(path: str) -> Endpoint | None:
    """The API call a request path belongs to (upload URLs, on TikTok's upload host, have
    their own paths: None)."""
    return _ENDPOINTS_BY_PATH.get(path)


_ENDPOINTS_BY_PATH: Mapping[str, Endpoint] = {path: ep for ep, path in _PATHS.items()}


class TikTokApiError(Exception):
    """Any failed TikTok call: TikTok's code, HTTP status, log id, and what to do about it."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        rule: ErrorRule,
        http_status: int | None = None,
        log_id: str = "",
        message: str = "",
        retry_after_seconds: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.rule = rule
        self.http_status = http_status
        self.log_id = log_id
        self.tiktok_message = message
        self.retry_after_seconds = (
            retry_after_seconds if retry_after_seconds is not None else rule.delay_seconds
        )
        super().__init__(str(self))

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def retryability(self) -> Retryability:
        return self.rule.retryability

    def __str__(self) -> str:
        parts = [f"{self.endpoint.value}: {self.code}"]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.log_id:
            parts.append(f"log_id {self.log_id}")
        head = " (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else ""
        detail = f" TikTok said: {self.tiktok_message}" if self.tiktok_message else ""
        return f"{parts[0]}{head}: {self.rule.meaning}{detail} {self.rule.remedy}"

    def as_details(self) -> dict[str, Any]:
        """A JSON-safe summary for ApplicationError details and workflow state."""
        return {
            "code": self.code,
            "endpoint": self.endpoint.value,
            "http_status": self.http_status,
            "log_id": self.log_id,
            "retryability": self.retryability.value,
            "retry_after_seconds": self.retry_after_seconds,
            "message": self.tiktok_message,
        }


@dataclass(frozen=True)
class PullFromUrl:
    """TikTok downloads the video itself; the host must be verified for the app."""

    video_url: str

    def source_info(self) -> dict[str, Any]:
        return {"source": "PULL_FROM_URL", "video_url": self.video_url}


@dataclass(frozen=True)
class FileUpload:
    """We PUT the bytes in chunks to the upload_url TikTok returns."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def source_info(self) -> dict[str, Any]:
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


VideoSource = PullFromUrl | FileUpload


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str | None = None
    log_id: str = ""


@dataclass(frozen=True)
class ChunkAck:
    """TikTok's answer to one chunk: how many bytes it holds now, and whether it is complete."""

    uploaded_bytes: int
    total_bytes: int
    complete: bool


@dataclass(frozen=True)
class TokenGrant:
    """A fresh token pair. The secrets are hidden from repr so they cannot leak into logs."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    refresh_expires_in: int
    open_id: str
    scope: str
    token_type: str = "Bearer"


@dataclass(frozen=True)
class UserInfo:
    """Who a token belongs to (user/info with user.info.basic; username needs
    user.info.profile, so it may be empty)."""

    open_id: str
    union_id: str = ""
    username: str = ""
    display_name: str = ""
    avatar_url: str = ""
    follower_count: int | None = None
    """Only when asked for (FOLLOWER_FIELDS; scope user.info.stats)."""


@dataclass(frozen=True)
class VideoStats:
    """One public post's numbers from video/query (Display API, scope video.list)."""

    video_id: str
    views: int
    likes: int
    comments: int
    shares: int


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw)
        return max(0.0, parsed.timestamp() - time.time())


class TikTokClient:
    """One client per worker process; share it across activities (it pools connections)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout or httpx.Timeout(30.0, connect=10.0),
            # httpx's API over aiohttp's connections (activities/http_transport.py).
            transport=transport if transport is not None else AiohttpTransport(),
            follow_redirects=False,
        )

    async def __aenter__(self) -> TikTokClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- Content Posting API ---------------------------------------------------------------

    async def query_creator_info(self, access_token: str) -> CreatorInfo:
        data = await self._post_json(Endpoint.CREATOR_INFO, access_token, None)
        return CreatorInfo(
            username=str(data.get("creator_username", "")),
            nickname=str(data.get("creator_nickname", "")),
            privacy_level_options=tuple(
                Privacy(p) for p in data.get("privacy_level_options", []) if p in _PRIVACY_VALUES
            ),
            comment_disabled=bool(data.get("comment_disabled", False)),
            duet_disabled=bool(data.get("duet_disabled", False)),
            stitch_disabled=bool(data.get("stitch_disabled", False)),
            max_video_post_duration_sec=int(data.get("max_video_post_duration_sec", 0) or 0),
            avatar_url=str(data.get("creator_avatar_url", "")),
        )

    async def init_direct_video(
        self, access_token: str, post_info: Mapping[str, Any], source: VideoSource
    ) -> InitResult:
        body = {"post_info": dict(post_info), "source_info": source.source_info()}
        return await self._init(Endpoint.VIDEO_INIT, access_token, body)

    async def init_inbox_video(self, access_token: str, source: VideoSource) -> InitResult:
        body = {"source_info": source.source_info()}
        return await self._init(Endpoint.INBOX_VIDEO_INIT, access_token, body)

    async def init_photo(
        self,
        access_token: str,
        *,
        post_mode: Literal["DIRECT_POST", "MEDIA_UPLOAD"],
        post_info: Mapping[str, Any],
        photo_urls: list[str],
        cover_index: int = 0,
    ) -> InitResult:
        body = {
            "media_type": "PHOTO",
            "post_mode": post_mode,
            "post_info": dict(post_info),
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": list(photo_urls),
                "photo_cover_index": cover_index,
            },
        }
        return await self._init(Endpoint.CONTENT_INIT, access_token, body)

    async def fetch_status(self, access_token: str, publish_id: str) -> PublishStatus:
        data = await self._post_json(
            Endpoint.STATUS_FETCH, access_token, {"publish_id": publish_id}
        )
        raw_ids = data.get("publicaly_available_post_id") or data.get("publicly_available_post_id")
        raw_status = str(data.get("status", ""))
        try:
            status = TikTokStatus.parse(raw_status)
        except ValueError:
            # A status TikTok added after this client was written: not an answer we can act
            # on, and not a failure of the post. Reads retry, so polling carries on.
            raise TikTokApiError(
                endpoint=Endpoint.STATUS_FETCH,
                rule=self._for_endpoint(Endpoint.STATUS_FETCH, classify_error("BAD_RESPONSE")),
                message=f"unknown publish status {raw_status!r}",
            ) from None
        return PublishStatus(
            status=status,
            fail_reason=str(data.get("fail_reason") or ""),
            # TikTok documents int64 ids; keep them as strings so no JSON layer rounds them.
            public_post_ids=tuple(str(i) for i in (raw_ids or [])),
            uploaded_bytes=int(data.get("uploaded_bytes") or 0),
            downloaded_bytes=int(data.get("downloaded_bytes") or 0),
        )

    async def cancel(self, access_token: str, publish_id: str) -> None:
        await self._post_json(Endpoint.CANCEL, access_token, {"publish_id": publish_id})

    async def upload_chunk(
        self,
        upload_url: str,
        chunk: bytes,
        *,
        first_byte: int,
        total_bytes: int,
        content_type: str = "video/mp4",
    ) -> ChunkAck:
        """PUT one chunk. A 416 is not an error: TikTok tells us where it really is."""
        last_byte = first_byte + len(chunk) - 1
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(chunk)),
            "Content-Range": f"bytes {first_byte}-{last_byte}/{total_bytes}",
        }
        try:
            response = await self._http.put(upload_url, content=chunk, headers=headers)
        except httpx.HTTPError as exc:
            raise self._transport_error(Endpoint.UPLOAD, exc) from None
        uploaded = _uploaded_bytes(response.headers.get("content-range"))
        if response.status_code in (200, 201, 206) or (
            response.status_code == 416 and uploaded is not None
        ):
            if uploaded is None:
                uploaded = last_byte + 1
            complete = response.status_code in (200, 201) or uploaded >= total_bytes
            return ChunkAck(uploaded_bytes=uploaded, total_bytes=total_bytes, complete=complete)
        if response.status_code == 416:
            # Out of step and TikTok does not say where it is: resending blindly would loop.
            rule = classify_error("UPLOAD_REJECTED")
        elif response.status_code == 429:
            rule = classify_error("rate_limit_exceeded")
        elif response.status_code == 403:
            rule = classify_error("UPLOAD_URL_EXPIRED")
        elif response.status_code >= 500:
            # A chunk PUT is safe to repeat: TikTok answers 416 with its progress if it has it.
            rule = classify_error("internal_error")
        else:
            rule = classify_error("UPLOAD_REJECTED")
        raise TikTokApiError(endpoint=Endpoint.UPLOAD, rule=rule, http_status=response.status_code)

    # -- OAuth -----------------------------------------------------------------------------

    async def refresh_access_token(
        self, *, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        payload = await self._oauth_form(Endpoint.OAUTH_TOKEN, form)
        if not payload.get("access_token"):
            raise self._oauth_error(Endpoint.OAUTH_TOKEN, payload, 200)
        return _grant(payload, refresh_token)

    async def exchange_code(
        self,
        *,
        client_key: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> TokenGrant:
        """grant_type=authorization_code (with the PKCE verifier): a connect's first pair."""
        form = {
            "client_key": client_key,
            "client_secret": client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        payload = await self._oauth_form(Endpoint.OAUTH_TOKEN, form)
        if not payload.get("access_token"):
            raise self._oauth_error(Endpoint.OAUTH_TOKEN, payload, 200)
        return _grant(payload, "")

    async def revoke(self, *, client_key: str, client_secret: str, access_token: str) -> None:
        """Withdraw the app's access to the creator's account (every token of it dies)."""
        form = {"client_key": client_key, "client_secret": client_secret, "token": access_token}
        await self._oauth_form(Endpoint.OAUTH_REVOKE, form)

    async def video_query(self, access_token: str, video_ids: list[str]) -> list[VideoStats]:
        """The numbers of up to 20 of the creator's public posts (unknown ids are left out)."""
        data = await self._post_json(
            Endpoint.VIDEO_QUERY,
            access_token,
            {"filters": {"video_ids": video_ids}},
            params={"fields": VIDEO_QUERY_FIELDS},
        )
        found = []
        for video in data.get("videos") or []:
            if isinstance(video, dict):
                found.append(
                    VideoStats(
                        video_id=str(video.get("id", "")),
                        views=int(video.get("view_count") or 0),
                        likes=int(video.get("like_count") or 0),
                        comments=int(video.get("comment_count") or 0),
                        shares=int(video.get("share_count") or 0),
                    )
                )
        return found

    async def user_info(self, access_token: str, *, fields: str = USER_INFO_FIELDS) -> UserInfo:
        headers = {"Authorization": f"Bearer {access_token}"}
        try:
            response = await self._http.get(
                _PATHS[Endpoint.USER_INFO], params={"fields": fields}, headers=headers
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(Endpoint.USER_INFO, exc) from None
        payload = _json_or_none(response)
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or not isinstance(error, dict):
            raise self._status_error(Endpoint.USER_INFO, response)
        code = str(error.get("code", ""))
        data = payload.get("data")
        user = data.get("user") if isinstance(data, dict) else None
        if code != "ok" or not response.is_success or not isinstance(user, dict):
            raise TikTokApiError(
                endpoint=Endpoint.USER_INFO,
                rule=self._for_endpoint(
                    Endpoint.USER_INFO,
                    classify_error(code if code != "ok" else None, response.status_code),
                ),
                http_status=response.status_code,
                log_id=str(error.get("log_id", "")),
                message=str(error.get("message", "")),
            )
        return UserInfo(
            open_id=str(user.get("open_id", "")),
            union_id=str(user.get("union_id", "")),
            username=str(user.get("username", "")),
            display_name=str(user.get("display_name", "")),
            avatar_url=str(user.get("avatar_url", "")),
            follower_count=(
                int(user["follower_count"]) if user.get("follower_count") is not None else None
            ),
        )

    async def _oauth_form(self, endpoint: Endpoint, form: Mapping[str, str]) -> dict[str, Any]:
        """POST a form to an OAuth endpoint; the flat JSON answer, or a TikTokApiError."""
        try:
            response = await self._http.post(
                _PATHS[endpoint],
                data=dict(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(endpoint, exc) from None
        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise self._status_error(endpoint, response)
        error = payload.get("error")
        if isinstance(error, dict) and error.get("code") == "ok":
            error = None
        if not response.is_success or error:
            raise self._oauth_error(endpoint, payload, response.status_code)
        return payload

    def _oauth_error(
        self, endpoint: Endpoint, payload: dict[str, Any], status: int
    ) -> TikTokApiError:
        # OAuth errors are flat; some deployments wrap them in the usual envelope.
        error = payload.get("error")
        if isinstance(error, dict):
            code, message = str(error.get("code", "")), str(error.get("message", ""))
            log_id = str(error.get("log_id", payload.get("log_id", "")))
            if code == "ok":
                code = ""
        else:
            code, message = str(error or ""), str(payload.get("error_description", ""))
            log_id = str(payload.get("log_id", ""))
        return TikTokApiError(
            endpoint=endpoint,
            rule=classify_error(code or ("BAD_RESPONSE" if status < 400 else None), status),
            http_status=status,
            log_id=log_id,
            message=message,
        )

    # -- plumbing --------------------------------------------------------------------------

    async def _post_json(
        self,
        endpoint: Endpoint,
        access_token: str,
        body: Mapping[str, Any] | None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": JSON_CONTENT_TYPE}
        try:
            response = await self._http.post(
                _PATHS[endpoint],
                json=dict(body) if body is not None else None,
                headers=headers,
                params=params,
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(endpoint, exc) from None
        payload = _json_or_none(response)
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or not isinstance(error, dict):
            raise self._status_error(endpoint, response)
        code = str(error.get("code", ""))
        if code == "ok" and response.is_success:
            data = payload.get("data")
            return data if isinstance(data, dict) else {}
        rule = classify_error(code if code != "ok" else None, response.status_code)
        raise TikTokApiError(
            endpoint=endpoint,
            rule=self._for_endpoint(endpoint, rule),
            http_status=response.status_code,
            log_id=str(error.get("log_id", "")),
            message=str(error.get("message", "")),
            retry_after_seconds=_retry_after(response),
        )

    def _status_error(self, endpoint: Endpoint, response: httpx.Response) -> TikTokApiError:
        """A response without TikTok's envelope: the HTTP status is all we know."""
        if response.is_success:
            rule = classify_error("BAD_RESPONSE")
        else:
            rule = classify_error(None, response.status_code)
        return TikTokApiError(
            endpoint=endpoint,
            rule=self._for_endpoint(endpoint, rule),
            http_status=response.status_code,
            retry_after_seconds=_retry_after(response),
        )

    def _transport_error(self, endpoint: Endpoint, exc: httpx.HTTPError) -> TikTokApiError:
        # Only failures before the request left this process prove nothing happened.
        not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        rule = classify_error("CONNECT_FAILED" if not_sent else "NO_RESPONSE")
        return TikTokApiError(
            endpoint=endpoint,
            rule=self._for_endpoint(endpoint, rule),
            message=type(exc).__name__,
        )

    @staticmethod
    def _for_endpoint(endpoint: Endpoint, rule: ErrorRule) -> ErrorRule:
        """Reads and chunk PUTs are safe to repeat; only creates stay ambiguous.

        A success status without an envelope from a create is ambiguous as well: TikTok may
        have created the publish and we could not read its id.
        """
        if endpoint.creates:
            if rule.code == "BAD_RESPONSE":
                return ErrorRule(
                    "NO_RESPONSE",
                    Retryability.AMBIGUOUS,
                    "TikTok answered the upload init with something unreadable.",
                    classify_error("NO_RESPONSE").remedy,
                )
            return rule
        if rule.retryability is Retryability.AMBIGUOUS:
            return ErrorRule(
                rule.code,
                Retryability.RETRYABLE,
                rule.meaning,
                "This call is safe to repeat: retry the post once TikTok answers again.",
                rule.delay_seconds if rule.delay_seconds is not None else 2.0,
            )
        return rule

    async def _init(
        self, endpoint: Endpoint, access_token: str, body: Mapping[str, Any]
    ) -> InitResult:
        data = await self._post_json(endpoint, access_token, body)
        publish_id = str(data.get("publish_id", ""))
        if not publish_id:
            # An ok envelope without an id: something may exist on TikTok we cannot name.
            raise TikTokApiError(
                endpoint=endpoint,
                rule=ErrorRule(
                    "NO_RESPONSE",
                    Retryability.AMBIGUOUS,
                    "TikTok accepted the upload init but returned no publish_id.",
                    classify_error("NO_RESPONSE").remedy,
                ),
            )
        upload_url = data.get("upload_url")
        return InitResult(publish_id=publish_id, upload_url=str(upload_url) if upload_url else None)


def _grant(payload: dict[str, Any], previous_refresh_token: str) -> TokenGrant:
    return TokenGrant(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload.get("refresh_token", previous_refresh_token)),
        expires_in=int(payload.get("expires_in", 0)),
        refresh_expires_in=int(payload.get("refresh_expires_in", 0)),
        open_id=str(payload.get("open_id", "")),
        scope=str(payload.get("scope", "")),
        token_type=str(payload.get("token_type", "Bearer")),
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _uploaded_bytes(content_range: str | None) -> int | None:
    """Parse TikTok's `bytes 0-{last}/{total}` progress header into a byte count."""
    if not content_range:
        return None
    try:
        span = content_range.split(" ", 1)[1].split("/", 1)[0]
        _first, last = span.split("-", 1)
        return int(last) + 1
    except (IndexError, ValueError):
        return None
