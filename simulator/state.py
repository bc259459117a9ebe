"""Everything the simulator remembers, behind one lock.

Request handlers run on many threads (ThreadingHTTPServer) and URL pulls on more, so every
read and write of shared data goes through a method here that holds `self._lock`. Methods
return copies or plain values, never live objects, so callers cannot race the lock.
Wall-clock time (`time.time()`) is only shown to humans; all deadlines use `time.monotonic()`.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from simulator.config import CreatorConfig, SimulatorConfig, derive_open_id
from simulator.faults import FaultRegistry
from simulator.protocol import ApiError, OAuthError, access_token_invalid
from simulator.publishes import (
    FAILED,
    PROCESSING_DOWNLOAD,
    PROCESSING_UPLOAD,
    ChunkPlan,
    Flow,
    Hasher,
    Publish,
    publish_id_prefix,
)

DAY_SECONDS = 24 * 3600.0
REQUEST_LOG_LIMIT = 50_000


def token_fingerprint(token: str) -> str:
    """A short, stable, one-way tag for a token: lets logs correlate calls without leaking it."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the presented access token and the creator it belongs to."""

    access_token: str
    creator: CreatorConfig


@dataclass
class _AccessToken:
    open_id: str
    expires_mono: float


@dataclass
class _RefreshToken:
    open_id: str
    access_token: str
    expires_mono: float


@dataclass(frozen=True)
class MediaRequest:
    """A validated init: what to create. Built by simulator.validation."""

    flow: Flow
    source: str
    privacy_level: str | None
    title: str
    description: str
    post_info: dict[str, Any]
    media_urls: list[str]
    photo_cover_index: int | None
    plan: ChunkPlan | None


@dataclass(frozen=True)
class Created:
    """What an init returns to the handler."""

    publish_id: str
    upload_id: str
    upload_token: str


@dataclass(frozen=True)
class ChunkTicket:
    """Permission to stream one chunk into a publish; see begin_chunk/commit_chunk."""

    publish_id: str
    first: int
    length: int
    hasher: Hasher


class UploadRejected(Exception):
    """A chunk PUT refused before or after streaming; `progress` feeds Content-Range."""

    def __init__(
        self, http_status: int, code: str, message: str, progress: tuple[int, int] | None
    ) -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message
        self.progress = progress


class SimulatorState:
    """Creators, tokens, publishes, uploads, the request log, rate windows and faults."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._lock = threading.RLock()
        self._initial = copy.deepcopy(config)
        self.faults = FaultRegistry()
        self._ids = 0
        self._started_mono = time.monotonic()
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the initial config: forget publishes, requests, faults, windows, tokens."""
        with self._lock:
            self._config = copy.deepcopy(self._initial)
            self._creators: dict[str, CreatorConfig] = {}
            self._access: dict[str, _AccessToken] = {}
            self._refresh: dict[str, _RefreshToken] = {}
            self._publishes: dict[str, Publish] = {}
            self._uploads: dict[str, str] = {}
            self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
            self._request_seq = 0
            self._windows: dict[tuple[str, str], deque[float]] = {}
            self.faults.clear()
            for creator in self._config.creators:
                self._register(creator)

    @property
    def config(self) -> SimulatorConfig:
        """The current config. Replaced wholesale on change, so a reference stays coherent."""
        return self._config

    def update_config(self, patch: dict[str, Any]) -> SimulatorConfig:
        with self._lock:
            self._config = self._config.with_runtime_patch(patch)
            return self._config

    def _next_number(self) -> int:
        """A unique 19-digit number, shaped like TikTok's int64 ids."""
        self._ids += 1
        return 7_300_000_000_000_000_000 + self._ids * 10_007 + secrets.randbelow(10_007)

    # -- creators and tokens -----------------------------------------------------------------

    def _register(self, creator: CreatorConfig) -> None:
        now = time.monotonic()
        cfg = self._config
        self._creators[creator.open_id] = creator
        self._access[creator.access_token] = _AccessToken(
            creator.open_id, now + cfg.access_token_ttl_seconds
        )
        self._refresh[creator.refresh_token] = _RefreshToken(
            creator.open_id, creator.access_token, now + cfg.refresh_token_ttl_seconds
        )

    def upsert_creator(self, creator: CreatorConfig) -> str:
        """Add or replace a creator (by open_id) and make its token pair valid.

        Without an explicit open_id, a known access token keeps the creator it belongs to
        (so re-posting `act.demo` with new settings updates the demo creator). Tokens issued
        earlier for the same creator stay valid: an upsert changes settings, it does not log
        anyone out.
        """
        with self._lock:
            record = self._access.get(creator.access_token)
            derived = creator.open_id == derive_open_id(creator.access_token)
            if record is not None and derived and record.open_id != creator.open_id:
                creator = replace(creator, open_id=record.open_id)
            self._register(creator)
            return creator.open_id

    def creators_view(self) -> list[dict[str, Any]]:
        """Creators without their tokens (fingerprints instead)."""
        with self._lock:
            views = []
            for creator in self._creators.values():
                data = creator.to_dict()
                data["access_token_fingerprint"] = token_fingerprint(data.pop("access_token"))
                data["refresh_token_fingerprint"] = token_fingerprint(data.pop("refresh_token"))
                data["live_token_fingerprints"] = sorted(
                    token_fingerprint(t)
                    for t, rec in self._access.items()
                    if rec.open_id == creator.open_id
                )
                views.append(data)
            return views

    def authenticate(self, access_token: str | None) -> Principal:
        """The creator behind a live access token, else 401 access_token_invalid."""
        with self._lock:
            if not access_token:
                raise access_token_invalid("The access token is missing.")
            record = self._access.get(access_token)
            if record is None or time.monotonic() >= record.expires_mono:
                raise access_token_invalid()
            creator = self._creators.get(record.open_id)
            if creator is None:
                raise access_token_invalid()
            return Principal(access_token, creator)

    def expire_access_token(self, access_token: str) -> bool:
        """Make a token invalid now (its refresh token keeps working). False if unknown."""
        with self._lock:
            record = self._access.get(access_token)
            if record is None:
                return False
            record.expires_mono = time.monotonic()
            return True

    def check_client(self, client_key: str, client_secret: str) -> None:
        """401 invalid_client unless the app credentials match the config."""
        cfg = self._config
        key_ok = secrets.compare_digest(client_key.encode(), cfg.client_key.encode())
        secret_ok = secrets.compare_digest(client_secret.encode(), cfg.client_secret.encode())
        if not (key_ok and secret_ok):
            raise OAuthError(401, "invalid_client", "Client key or secret is incorrect.")

    def refresh(self, client_key: str, client_secret: str, refresh_token: str) -> dict[str, Any]:
        """grant_type=refresh_token with strict rotation: both old tokens die."""
        with self._lock:
            cfg = self._config
            self.check_client(client_key, client_secret)
            now = time.monotonic()
            record = self._refresh.get(refresh_token)
            if record is None or now >= record.expires_mono:
                raise OAuthError(400, "invalid_grant", "Refresh token is invalid or expired.")
            creator = self._creators.get(record.open_id)
            if creator is None:
                raise OAuthError(400, "invalid_grant", "Refresh token is invalid or expired.")
            del self._refresh[refresh_token]
            self._access.pop(record.access_token, None)
            new_access = f"act.{secrets.token_urlsafe(32)}"
            new_refresh = f"rft.{secrets.token_urlsafe(32)}"
            self._access[new_access] = _AccessToken(
                creator.open_id, now + cfg.access_token_ttl_seconds
            )
            self._refresh[new_refresh] = _RefreshToken(
                creator.open_id, new_access, now + cfg.refresh_token_ttl_seconds
            )
            return {
                "access_token": new_access,
                "expires_in": int(cfg.access_token_ttl_seconds),
                "open_id": creator.open_id,
                "refresh_token": new_refresh,
                "refresh_expires_in": int(cfg.refresh_token_ttl_seconds),
                "scope": ",".join(sorted(creator.scopes)),
                "token_type": "Bearer",
            }

    def creator(self, open_id: str) -> CreatorConfig | None:
        with self._lock:
            return self._creators.get(open_id)

    def first_creator(self) -> CreatorConfig | None:
        with self._lock:
            return next(iter(self._creators.values()), None)

    def issue_tokens(self, open_id: str) -> dict[str, Any]:
        """A new token pair for a creator (an authorization_code grant); earlier pairs stay."""
        with self._lock:
            cfg = self._config
            creator = self._creators[open_id]
            now = time.monotonic()
            access = f"act.{secrets.token_urlsafe(32)}"
            refresh = f"rft.{secrets.token_urlsafe(32)}"
            self._access[access] = _AccessToken(open_id, now + cfg.access_token_ttl_seconds)
            self._refresh[refresh] = _RefreshToken(
                open_id, access, now + cfg.refresh_token_ttl_seconds
            )
            return {
                "access_token": access,
                "expires_in": int(cfg.access_token_ttl_seconds),
                "open_id": open_id,
                "refresh_token": refresh,
                "refresh_expires_in": int(cfg.refresh_token_ttl_seconds),
                "scope": ",".join(sorted(creator.scopes)),
                "token_type": "Bearer",
            }

    def revoke_creator(self, access_token: str) -> None:
        """/v2/oauth/revoke/: the creator withdraws the app; every token of theirs dies."""
        with self._lock:
            record = self._access.get(access_token)
            if record is None:
                raise OAuthError(400, "invalid_request", "The token is invalid or revoked.")
            open_id = record.open_id
            for token in [t for t, r in self._access.items() if r.open_id == open_id]:
                del self._access[token]
            for token in [t for t, r in self._refresh.items() if r.open_id == open_id]:
                del self._refresh[token]

    # -- analytics (Display API) ---------------------------------------------------------

    def _simulated_since(self, mono: float) -> float:
        scale = self._config.time_scale
        elapsed = max(0.0, time.monotonic() - mono)
        return elapsed / scale if scale > 0 else elapsed

    def video_stats(self, open_id: str, video_ids: list[str]) -> list[dict[str, Any]]:
        """video/query for the creator's public posts: views grow ~1 per simulated second
        since the post went public, likes, comments and shares with them."""
        with self._lock:
            found = []
            now = time.monotonic()
            for publish in self._publishes.values():
                publish.advance(now)
                if publish.open_id != open_id or publish.public_mono is None:
                    continue
                for post_id in publish.public_post_ids:
                    if str(post_id) in video_ids:
                        views = int(self._simulated_since(publish.public_mono))
                        found.append(
                            {
                                "id": str(post_id),
                                "view_count": views,
                                "like_count": views // 10,
                                "comment_count": views // 50,
                                "share_count": views // 100,
                            }
                        )
            return found

    def follower_count(self, open_id: str) -> int:
        """Grows by one per simulated minute since the simulator started."""
        return 1000 + int(self._simulated_since(self._started_mono) // 60)

    def revoke_open_id(self, open_id: str) -> None:
        """The creator removed the app in TikTok (authorization.removed): tokens die."""
        with self._lock:
            for token in [t for t, r in self._access.items() if r.open_id == open_id]:
                del self._access[token]
            for token in [t for t, r in self._refresh.items() if r.open_id == open_id]:
                del self._refresh[token]

    def allow_request(self, endpoint: str, access_token: str) -> bool:
        """Sliding-window rate limit per endpoint per token; rejected calls do not count."""
        with self._lock:
            cfg = self._config
            limit = cfg.rate_limits.get(endpoint, 0)
            if limit <= 0:
                return True
            now = time.monotonic()
            window = self._windows.setdefault((endpoint, access_token), deque())
            while window and now - window[0] >= cfg.rate_limit_window_seconds:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    # -- request log -------------------------------------------------------------------------

    def record_request(self, entry: dict[str, Any]) -> int:
        """Append a request (seq and time are added here); returns its seq."""
        with self._lock:
            self._request_seq += 1
            entry = {"seq": self._request_seq, "time": time.time(), **entry}
            entry.setdefault("response_status", None)
            entry.setdefault("fault", None)
            self._requests.append(entry)
            return self._request_seq

    def complete_request(self, seq: int, response_status: int | None, fault: str | None) -> None:
        with self._lock:
            for entry in reversed(self._requests):
                if entry["seq"] == seq:
                    entry["response_status"] = response_status
                    entry["fault"] = fault
                    return

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._requests
                if endpoint is None or e["endpoint"] == endpoint
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- publishes ---------------------------------------------------------------------------

    def _count_recent(self, open_id: str, inbox: bool) -> int:
        """Publishes of one kind created in the last 24 h that have not FAILED."""
        now = time.monotonic()
        count = 0
        for publish in self._publishes.values():
            if publish.open_id != open_id or publish.flow.is_inbox != inbox:
                continue
            if now - publish.created_mono >= DAY_SECONDS:
                continue
            publish.advance(now)
            if publish.status != FAILED:
                count += 1
        return count

    def direct_post_cap_reached(self, open_id: str) -> bool:
        with self._lock:
            cap = self._config.direct_posts_per_day
            return cap > 0 and self._count_recent(open_id, inbox=False) >= cap

    def create_publish(self, principal: Principal, request: MediaRequest, endpoint: str) -> Created:
        """Check the daily caps and create the publish atomically."""
        with self._lock:
            cfg = self._config
            creator = principal.creator
            if request.flow.is_inbox:
                cap = cfg.pending_inbox_shares_per_day
                if cap > 0 and self._count_recent(creator.open_id, inbox=True) >= cap:
                    raise ApiError(
                        403,
                        "spam_risk_too_many_pending_share",
                        "The user has too many pending inbox shares in the last 24 hours.",
                    )
            else:
                cap = cfg.direct_posts_per_day
                if cap > 0 and self._count_recent(creator.open_id, inbox=False) >= cap:
                    raise ApiError(
                        403,
                        "spam_risk_too_many_posts",
                        "The user has reached the daily post limit.",
                    )
            number = self._next_number()
            publish_id = f"{publish_id_prefix(request.flow, request.source)}{number}"
            publish = Publish(
                publish_id=publish_id,
                flow=request.flow,
                source=request.source,
                open_id=creator.open_id,
                username=creator.username,
                created_at=time.time(),
                created_mono=time.monotonic(),
                privacy_level=request.privacy_level,
                title=request.title,
                description=request.description,
                post_info=copy.deepcopy(request.post_info),
                media_urls=list(request.media_urls),
                photo_cover_index=request.photo_cover_index,
                plan=request.plan,
                status=PROCESSING_UPLOAD
                if request.source == "FILE_UPLOAD"
                else PROCESSING_DOWNLOAD,
                forced_fail_reason=self.faults.take_outcome(endpoint),
            )
            if request.source == "FILE_UPLOAD":
                publish.upload_id = f"{number}"
                publish.upload_token = secrets.token_urlsafe(24)
                publish.upload_expires_mono = publish.created_mono + cfg.upload_url_ttl_seconds
                self._uploads[publish.upload_id] = publish_id
            self._publishes[publish_id] = publish
            return Created(publish_id, publish.upload_id, publish.upload_token)

    def _owned(self, publish_id: str, open_id: str) -> Publish:
        publish = self._publishes.get(publish_id)
        if publish is None:
            raise ApiError(400, "invalid_publish_id", "The publish_id does not exist.")
        if publish.open_id != open_id:
            raise ApiError(
                400,
                "token_not_authorized_for_specified_publish_id",
                "The access token is not authorized for this publish_id.",
            )
        publish.advance(time.monotonic())
        return publish

    def publish_status(self, publish_id: str, open_id: str) -> dict[str, Any]:
        """status/fetch data; a pending status_fetch fail_reason fault fails it right away."""
        with self._lock:
            publish = self._owned(publish_id, open_id)
            if not publish.is_terminal:
                reason = self.faults.take_outcome("status_fetch")
                if reason:
                    publish.fail(reason)
            return publish.status_data()

    def cancel(self, publish_id: str, open_id: str) -> None:
        """Only a URL pull that is still PROCESSING_DOWNLOAD can be cancelled."""
        with self._lock:
            publish = self._owned(publish_id, open_id)
            if publish.status != PROCESSING_DOWNLOAD:
                raise ApiError(
                    400,
                    "publish_not_cancellable",
                    f"The publish is {publish.status} and can no longer be cancelled.",
                )
            publish.cancelled = True
            publish.fail("publish_cancelled")

    def publishes_view(self) -> list[dict[str, Any]]:
        with self._lock:
            now = time.monotonic()
            views = []
            for publish in self._publishes.values():
                publish.advance(now)
                views.append(publish.admin_view())
            return views

    def _transferred(self, publish: Publish) -> None:
        cfg = self._config
        post_ids = [self._next_number()] if publish.privacy_level else []
        publish.mark_transferred(
            time.monotonic(),
            cfg.scaled(cfg.processing_seconds),
            cfg.scaled(cfg.moderation_seconds),
            post_ids,
        )

    # -- URL pulls (called from simulator.transfer threads) ----------------------------------

    def _pulling(self, publish_id: str) -> Publish | None:
        publish = self._publishes.get(publish_id)
        if publish is None or publish.cancelled or not publish.transferring:
            return None
        return publish

    def wait_until_pulled(
        self, publish_id: str, stopping: threading.Event, limit: float = 30.0
    ) -> None:
        """Block (a request thread) until the publish's pull is over, or `limit` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not stopping.is_set():
            with self._lock:
                publish = self._publishes.get(publish_id)
                if publish is None or not publish.transferring:
                    return
            stopping.wait(0.01)

    def add_downloaded(self, publish_id: str, nbytes: int) -> bool:
        """Count pulled bytes; False tells the puller to stop (cancelled, reset, failed)."""
        with self._lock:
            publish = self._pulling(publish_id)
            if publish is None:
                return False
            publish.downloaded_bytes += nbytes
            return True

    def finish_pull(self, publish_id: str, empty: bool) -> None:
        """Every URL was downloaded: processing starts. Empty media fails its format check."""
        with self._lock:
            publish = self._pulling(publish_id)
            if publish is None:
                return
            if empty and not publish.forced_fail_reason:
                publish.forced_fail_reason = "file_format_check_failed"
            self._transferred(publish)

    def fail_pull(self, publish_id: str, reason: str) -> None:
        with self._lock:
            publish = self._pulling(publish_id)
            if publish is not None:
                publish.fail(reason)

    # -- chunk uploads -----------------------------------------------------------------------

    def _upload(self, upload_id: str, upload_token: str) -> Publish:
        publish_id = self._uploads.get(upload_id)
        publish = self._publishes.get(publish_id) if publish_id else None
        if (
            publish is None
            or publish.plan is None
            or not secrets.compare_digest(publish.upload_token, upload_token)
        ):
            raise UploadRejected(404, "upload_not_found", "No such upload.", None)
        progress = (publish.uploaded_bytes, publish.plan.video_size)
        if time.monotonic() >= publish.upload_expires_mono:
            raise UploadRejected(403, "upload_url_expired", "The upload URL expired.", progress)
        if publish.status == FAILED:
            raise UploadRejected(403, "upload_closed", "The publish has failed.", progress)
        return publish

    def upload_progress(self, upload_id: str, upload_token: str) -> tuple[int, int]:
        """(uploaded, total) of a live upload, else UploadRejected 404/403."""
        with self._lock:
            publish = self._upload(upload_id, upload_token)
            assert publish.plan is not None
            return publish.uploaded_bytes, publish.plan.video_size

    def begin_chunk(
        self, upload_id: str, upload_token: str, first: int, length: int
    ) -> ChunkTicket:
        """Check a chunk against the progress and the plan, and reserve the upload for it."""
        with self._lock:
            publish = self._upload(upload_id, upload_token)
            plan = publish.plan
            assert plan is not None
            progress = (publish.uploaded_bytes, plan.video_size)
            if publish.chunk_in_flight or first != publish.uploaded_bytes:
                raise UploadRejected(
                    416,
                    "range_not_satisfiable",
                    f"Expected a chunk starting at byte {publish.uploaded_bytes}.",
                    progress,
                )
            expected = plan.chunk_length(publish.chunks_received)
            if length != expected:
                raise UploadRejected(
                    400,
                    "invalid_file_upload",
                    f"Chunk {publish.chunks_received} must be {expected} bytes, got {length}.",
                    progress,
                )
            publish.chunk_in_flight = True
            return ChunkTicket(publish.publish_id, first, length, publish.hasher.copy())

    def abort_chunk(self, ticket: ChunkTicket) -> None:
        """The client went away mid-chunk: nothing of it counts."""
        with self._lock:
            publish = self._publishes.get(ticket.publish_id)
            if publish is not None:
                publish.chunk_in_flight = False

    def commit_chunk(self, ticket: ChunkTicket, hasher: Hasher) -> tuple[int, int]:
        """The chunk arrived whole: advance progress; the last one starts processing."""
        with self._lock:
            publish = self._publishes.get(ticket.publish_id)
            if publish is None or publish.plan is None:
                raise UploadRejected(404, "upload_not_found", "No such upload.", None)
            publish.chunk_in_flight = False
            publish.uploaded_bytes += ticket.length
            publish.chunks_received += 1
            publish.hasher = hasher
            if publish.uploaded_bytes == publish.plan.video_size:
                self._transferred(publish)
            return publish.uploaded_bytes, publish.plan.video_size
