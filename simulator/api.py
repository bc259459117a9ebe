"""The TikTok endpoints: auth, rate limits, validation and effects, in TikTok's order.

Each handler takes an `ApiRequest` and returns a `Response`; it never touches the socket.
That separation is what lets the server apply faults such as `drop_after_processing`
(process fully, then send nothing) without the handlers knowing.

Check order for JSON endpoints: access token (401) -> rate limit (429) -> scope (401) ->
body (400) -> account/privacy rules (403) -> URL ownership (403) -> daily caps (403).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from simulator.authorize import Authorizations
from simulator.config import SELF_ONLY
from simulator.protocol import (
    ApiError,
    BodyReader,
    OAuthError,
    Response,
    envelope,
    error_response,
    new_log_id,
    oauth_error_response,
    ok,
    rate_limit_exceeded,
    scope_not_authorized,
)
from simulator.state import (
    MediaRequest,
    Principal,
    SimulatorState,
    UploadRejected,
    token_fingerprint,
)
from simulator.transfer import PullWorker
from simulator.validation import (
    check_urls_verified,
    parse_direct_video,
    parse_inbox_video,
    parse_json_object,
    parse_photo,
    parse_post_mode,
)

UPLOAD_CONTENT_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
AVATAR_TTL_SECONDS = 7200
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_PULL_SCOPES = ("video.upload", "video.publish")


@dataclass
class ApiRequest:
    """One parsed HTTP request. `headers` keys are lower-case; `body` is empty for uploads,
    whose bytes are streamed from `reader` instead."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    reader: BodyReader
    base_url: str
    pull_delay: float = 0.0
    """Simulated seconds before TikTok starts pulling (a fault's `pull_delay_seconds`)."""
    created_publish_id: str = ""
    """Set by an init that created a publish."""

    def bearer_token(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


def describe_request(endpoint: str, req: ApiRequest) -> dict[str, Any]:
    """The request-log entry for a TikTok call. Tokens and secrets appear only as
    fingerprints or `<redacted>`; upload bytes only as a count."""
    entry: dict[str, Any] = {"method": req.method, "path": req.path, "endpoint": endpoint}
    if endpoint == "upload":
        raw_length = req.headers.get("content-length", "")
        entry.update(
            token_fingerprint=None,
            content_range=req.headers.get("content-range"),
            content_type=req.headers.get("content-type"),
            byte_length=int(raw_length) if raw_length.isdigit() else None,
        )
        return entry
    if endpoint in ("oauth_token", "oauth_revoke"):
        form = _form(req.body)
        refresh = form.get("refresh_token")
        body: dict[str, Any] = {}
        for key, value in form.items():
            if key in ("client_secret", "code", "code_verifier", "token"):
                body[key] = "<redacted>"
            elif key == "refresh_token":
                body["refresh_token_fingerprint"] = token_fingerprint(value)
            else:
                body[key] = value
        entry.update(token_fingerprint=token_fingerprint(refresh) if refresh else None, body=body)
        return entry
    token = req.bearer_token()
    try:
        parsed: Any = parse_json_object(req.body, allow_empty=True)
    except ApiError:
        parsed = None
    entry.update(token_fingerprint=token_fingerprint(token) if token else None, body=parsed)
    return entry


def _form(body: bytes) -> dict[str, str]:
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items() if values}


def _upload_response(
    status: int, progress: tuple[int, int] | None, code: str = "", message: str = ""
) -> Response:
    """Chunk PUT answers: empty on 201/206, an error envelope otherwise; always with
    `Content-Range: bytes 0-{uploaded-1}/{total}` when the upload is known (so
    `bytes 0--1/{total}` means nothing is stored yet)."""
    headers = {}
    if progress is not None:
        uploaded, total = progress
        headers["Content-Range"] = f"bytes 0-{uploaded - 1}/{total}"
    if code:
        return envelope(status, None, code, message, headers)
    return Response(status=status, headers={"X-Tt-Logid": new_log_id(), **headers})


class TikTokApi:
    """Handlers for the Content Posting and OAuth endpoints, keyed by endpoint name."""

    def __init__(self, state: SimulatorState, pulls: PullWorker) -> None:
        self._state = state
        self._pulls = pulls
        self._handlers: dict[str, Callable[[ApiRequest], Response]] = {
            "creator_info": self.creator_info,
            "video_init": self.video_init,
            "inbox_video_init": self.inbox_video_init,
            "content_init": self.content_init,
            "status_fetch": self.status_fetch,
            "cancel": self.cancel,
            "oauth_token": self.oauth_token,
            "oauth_revoke": self.oauth_revoke,
            "user_info": self.user_info,
            "video_query": self.video_query,
            "authorize": self.authorize,
            "upload": self.upload,
        }
        self.authorizations = Authorizations(state)

    def handle(self, endpoint: str, req: ApiRequest) -> Response:
        try:
            return self._handlers[endpoint](req)
        except ApiError as exc:
            return error_response(exc)
        except OAuthError as exc:
            return oauth_error_response(exc)

    # -- shared steps ------------------------------------------------------------------------

    def _auth(self, req: ApiRequest, endpoint: str, scopes: tuple[str, ...] = ()) -> Principal:
        principal = self._state.authenticate(req.bearer_token())
        if not self._state.allow_request(endpoint, principal.access_token):
            raise rate_limit_exceeded()
        if scopes:
            self._require_scope(principal, scopes)
        return principal

    @staticmethod
    def _require_scope(principal: Principal, scopes: tuple[str, ...]) -> None:
        if not any(scope in principal.creator.scopes for scope in scopes):
            raise scope_not_authorized(" or ".join(scopes))

    def _create(
        self, principal: Principal, request: MediaRequest, endpoint: str, req: ApiRequest
    ) -> Response:
        check_urls_verified(request.media_urls, self._state.config.verified_url_prefixes)
        created = self._state.create_publish(principal, request, endpoint)
        data: dict[str, Any] = {"publish_id": created.publish_id}
        req.created_publish_id = created.publish_id
        if request.source == "PULL_FROM_URL":
            self._pulls.start(
                created.publish_id, request.media_urls, request.flow.is_photo, req.pull_delay
            )
        elif endpoint != "content_init":
            token = quote(created.upload_token, safe="")
            data["upload_url"] = f"{req.base_url}/upload/{created.upload_id}?upload_token={token}"
        return ok(data)

    # -- endpoints ---------------------------------------------------------------------------

    def creator_info(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "creator_info", ("video.publish",))
        creator = principal.creator
        if self._state.direct_post_cap_reached(creator.open_id):
            # Posting caps surface here with HTTP 200 (tiktok-api.md, creator_info).
            return envelope(
                200,
                None,
                "spam_risk_too_many_posts",
                "The user has reached the daily post limit.",
            )
        options = list(creator.privacy_level_options) if creator.app_audited else [SELF_ONLY]
        expires = int(time.time()) + AVATAR_TTL_SECONDS
        return ok(
            {
                "creator_avatar_url": (
                    f"{req.base_url}/_sim/avatars/{quote(creator.open_id)}?x-expires={expires}"
                ),
                "creator_username": creator.username,
                "creator_nickname": creator.nickname,
                "privacy_level_options": options,
                "comment_disabled": creator.comment_disabled,
                "duet_disabled": creator.duet_disabled or creator.private_account,
                "stitch_disabled": creator.stitch_disabled or creator.private_account,
                "max_video_post_duration_sec": creator.max_video_post_duration_sec,
            }
        )

    def video_init(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "video_init", ("video.publish",))
        request = parse_direct_video(parse_json_object(req.body), principal.creator)
        return self._create(principal, request, "video_init", req)

    def inbox_video_init(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "inbox_video_init", ("video.upload",))
        request = parse_inbox_video(parse_json_object(req.body))
        return self._create(principal, request, "inbox_video_init", req)

    def content_init(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "content_init")
        body = parse_json_object(req.body)
        post_mode = parse_post_mode(body)
        scope = "video.publish" if post_mode == "DIRECT_POST" else "video.upload"
        self._require_scope(principal, (scope,))
        request = parse_photo(body, principal.creator, post_mode)
        return self._create(principal, request, "content_init", req)

    def _publish_id(self, req: ApiRequest) -> str:
        publish_id = parse_json_object(req.body).get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise ApiError(400, "invalid_params", "publish_id is required.")
        return publish_id

    def status_fetch(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "status_fetch", _PULL_SCOPES)
        publish_id = self._publish_id(req)
        return ok(self._state.publish_status(publish_id, principal.creator.open_id))

    def cancel(self, req: ApiRequest) -> Response:
        principal = self._auth(req, "cancel", _PULL_SCOPES)
        self._state.cancel(self._publish_id(req), principal.creator.open_id)
        return ok({})

    def oauth_token(self, req: ApiRequest) -> Response:
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "The body must be form-encoded.")
        form = _form(req.body)
        grant_type = form.get("grant_type", "")
        client_key, client_secret = form.get("client_key", ""), form.get("client_secret", "")
        if not grant_type or not client_key or not client_secret:
            raise OAuthError(
                400, "invalid_request", "client_key, client_secret and grant_type are required."
            )
        if grant_type not in ("refresh_token", "authorization_code"):
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant: {grant_type}.")
        if grant_type == "authorization_code":
            if not form.get("code") or not form.get("redirect_uri"):
                raise OAuthError(400, "invalid_request", "code and redirect_uri are required.")
            grant = self.authorizations.exchange(form)
            return Response.json(200, grant, {"X-Tt-Logid": new_log_id()})
        refresh_token = form.get("refresh_token", "")
        if not refresh_token:
            raise OAuthError(400, "invalid_request", "refresh_token is required.")
        grant = self._state.refresh(client_key, client_secret, refresh_token)
        return Response.json(200, grant, {"X-Tt-Logid": new_log_id()})

    def oauth_revoke(self, req: ApiRequest) -> Response:
        return self.authorizations.revoke(_form(req.body))

    def user_info(self, req: ApiRequest) -> Response:
        fields = ",".join(req.query.get("fields", [])).split(",")
        return self.authorizations.user_info(req.bearer_token(), stats="follower_count" in fields)

    def video_query(self, req: ApiRequest) -> Response:
        """Display API video/query: the numbers of the creator's public posts, growing with
        (simulated) time since each went public."""
        principal = self._auth(req, "video_query")
        filters = parse_json_object(req.body).get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
            raise ApiError(400, "invalid_params", "filters.video_ids must list 1-20 ids.")
        videos = self._state.video_stats(principal.creator.open_id, [str(i) for i in ids])
        return ok({"videos": videos, "cursor": 0, "has_more": False})

    def authorize(self, req: ApiRequest) -> Response:
        return self.authorizations.authorize(req.query)

    def upload(self, req: ApiRequest) -> Response:
        parts = req.path.split("/")
        upload_id = parts[2] if len(parts) == 3 else ""
        upload_token = (req.query.get("upload_token") or [""])[0]
        try:
            progress = self._state.upload_progress(upload_id, upload_token)
            first, length = _chunk_headers(req.headers, progress)
            ticket = self._state.begin_chunk(upload_id, upload_token, first, length)
        except UploadRejected as exc:
            return _upload_response(exc.http_status, exc.progress, exc.code, exc.message)
        hasher = ticket.hasher
        received = 0
        try:
            while received < length:
                piece = req.reader.read(min(1 << 20, length - received))
                hasher.update(piece)
                received += len(piece)
        except BaseException:
            self._state.abort_chunk(ticket)
            raise
        try:
            uploaded, total = self._state.commit_chunk(ticket, hasher)
        except UploadRejected as exc:
            return _upload_response(exc.http_status, exc.progress, exc.code, exc.message)
        return _upload_response(201 if uploaded == total else 206, (uploaded, total))


def _chunk_headers(headers: dict[str, str], progress: tuple[int, int]) -> tuple[int, int]:
    """(first byte, length) from Content-Type/Length/Range, else 400 invalid_file_upload."""

    def reject(message: str) -> UploadRejected:
        return UploadRejected(400, "invalid_file_upload", message, progress)

    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in UPLOAD_CONTENT_TYPES:
        raise reject(f"Content-Type must be one of {', '.join(sorted(UPLOAD_CONTENT_TYPES))}.")
    if "transfer-encoding" in headers:
        raise reject("Chunked transfer encoding is not supported; send Content-Length.")
    raw_length = headers.get("content-length", "")
    if not raw_length.isdigit():
        raise reject("Content-Length is required.")
    match = _CONTENT_RANGE.fullmatch(headers.get("content-range", "").strip())
    if match is None:
        raise reject("Content-Range must be 'bytes {first}-{last}/{total}'.")
    first, last, total = (int(g) for g in match.groups())
    if total != progress[1]:
        raise reject(f"Content-Range total must be the declared video_size {progress[1]}.")
    if last < first or last >= total:
        raise reject("Content-Range is not a valid inclusive byte range.")
    if int(raw_length) != last - first + 1:
        raise reject("Content-Length does not match Content-Range.")
    return first, last - first + 1
