"""The engine's own Prometheus series, and the one place that records them.

Temporal's SDK exports its own series (`temporal_*`: task latencies, poll counts, sticky cache
size, ...) through its Rust runtime; `telemetry.http` serves both on one `/metrics`.

Every series here is labelled with a bounded set of values (endpoint names, HTTP statuses,
error codes, phases): never a post id, account id or URL.
"""

from __future__ import annotations

import re

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# No `*_created` twin of every series: one timestamp per label set that nobody charts.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
"""The engine's registry (not prometheus_client's global one, so tests and embedding
applications do not collide with series of their own)."""

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_WAIT_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)

POSTS_FINISHED = Counter(
    "tiktok_posts_finished",
    "Post targets that reached a terminal phase, by outcome (PUBLISHED, DELIVERED_TO_INBOX, "
    "CANCELLED, FAILED) and error code (empty unless FAILED).",
    ["outcome", "code"],
    registry=REGISTRY,
)
POSTS_SUBMITTED = Counter(
    "tiktok_posts_submitted",
    "Post targets submitted through the starter API, by whether a new workflow was started "
    "(created=false: it already existed and nothing was started).",
    ["created"],
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "tiktok_api_requests",
    "HTTP requests to TikTok, by endpoint and HTTP status (`error` when no response came).",
    ["endpoint", "status"],
    registry=REGISTRY,
)
API_LATENCY = Histogram(
    "tiktok_api_request_seconds",
    "Time from sending a request to TikTok to its response headers, by endpoint.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
API_RATE_LIMITED = Counter(
    "tiktok_api_rate_limited",
    "TikTok answers with HTTP 429 (rate_limit_exceeded), by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "tiktok_token_refreshes",
    "Access-token refreshes through TikTok's OAuth endpoint, by result (`ok` or TikTok's code).",
    ["result"],
    registry=REGISTRY,
)
STAGED_BYTES = Counter(
    "tiktok_staged_bytes",
    "Bytes copied from source URLs into the media bucket (media already staged by an earlier "
    "attempt is not counted again).",
    registry=REGISTRY,
)
STAGING_SECONDS = Histogram(
    "tiktok_staging_seconds",
    "Duration of one staging attempt (all media of a post target), by result (`ok` or code).",
    ["result"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPLOADED_BYTES = Counter(
    "tiktok_uploaded_bytes",
    "Video bytes sent to TikTok in FILE_UPLOAD chunks.",
    registry=REGISTRY,
)
WAITS = Histogram(
    "tiktok_pacing_wait_seconds",
    "How long a post waited for its account before a TikTok call, by reason (the "
    "TikTokWaitingFor values: `pacing`, `rate_limited`, `daily_post_cap`, `inbox_share_cap`, "
    "`active_user_cap`, `token_refresh`, `needs_reconnect`, `paused`). Observed when the wait "
    "ends (granted, reason changed, or the post ended waiting).",
    ["reason"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
WAITS_STARTED = Counter(
    "tiktok_pacing_waits_started",
    "Posts that began waiting for their account before a TikTok call, by reason.",
    ["reason"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "tiktok_webhook_deliveries",
    "Webhook deliveries the engine sent to registered endpoints and callbackUrls, one per "
    "attempt, by event type and result (`delivered`: a 2xx, `failed`: another status or no "
    "answer, retried; `refused`: the URL is not allowed).",
    ["event", "result"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "tiktok_webhook_delivery_seconds",
    "Time of one outgoing webhook delivery attempt (to its answer or failure).",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
WEBHOOK_RECEIVED = Counter(
    "tiktok_webhook_events_received",
    "Webhook deliveries from TikTok to `POST /v1/webhooks/tiktok`, by event and result "
    "(`accepted`, `duplicate`, `rejected`: signature missing, wrong or stale, `invalid`: not "
    "an event envelope). The event is `unknown` when the delivery was not verified.",
    ["event", "result"],
    registry=REGISTRY,
)
WEBHOOK_ROUTED = Counter(
    "tiktok_webhook_events_routed",
    "Accepted TikTok webhook events after routing, by event and result (`routed` to a post "
    "or account, `unrouted`: nobody found, `ignored`: an event the engine does not use, "
    "`failed`).",
    ["event", "result"],
    registry=REGISTRY,
)
WEBHOOK_SECONDS = Histogram(
    "tiktok_webhook_route_seconds",
    "Time from accepting a TikTok webhook event to its routing result.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "tiktok_publisher_build_info",
    "1, labelled with this process's role, package version and worker build id.",
    ["role", "version", "build_id"],
    registry=REGISTRY,
)


# -- recording helpers: the only calls other modules make ------------------------------------


def record_post_finished(outcome: str, code: str = "") -> None:
    POSTS_FINISHED.labels(outcome=outcome, code=code).inc()


def record_submitted(*, created: bool) -> None:
    POSTS_SUBMITTED.labels(created="true" if created else "false").inc()


def record_api_call(endpoint: str, status: int | None, seconds: float) -> None:
    """One HTTP request to TikTok; `status` None when no response came (timeout, reset)."""
    API_REQUESTS.labels(endpoint=endpoint, status=str(status) if status else "error").inc()
    API_LATENCY.labels(endpoint=endpoint).observe(seconds)
    if status == 429:
        API_RATE_LIMITED.labels(endpoint=endpoint).inc()


def record_token_refresh(result: str) -> None:
    TOKEN_REFRESHES.labels(result=result).inc()


def record_staging(result: str, seconds: float, staged_bytes: int = 0) -> None:
    STAGING_SECONDS.labels(result=result).observe(seconds)
    if staged_bytes:
        STAGED_BYTES.inc(staged_bytes)


def record_uploaded(nbytes: int) -> None:
    if nbytes > 0:
        UPLOADED_BYTES.inc(nbytes)


def record_wait(reason: str, seconds: float) -> None:
    """A post waited `seconds` for its account (pacing, 429 pause, a cap, a reconnect).

    Fed by `telemetry.instrument` from the entity's answers a post receives, outside replay;
    never call it from workflow code directly (a replayed run would count twice)."""
    WAITS.labels(reason=reason).observe(max(0.0, seconds))


def record_wait_started(reason: str) -> None:
    WAITS_STARTED.labels(reason=reason).inc()


WEBHOOK_DELIVERY_RESULTS = frozenset({"delivered", "failed", "refused"})
WEBHOOK_RECEIVED_RESULTS = frozenset({"accepted", "duplicate", "rejected", "invalid"})
WEBHOOK_ROUTE_RESULTS = frozenset({"routed", "unrouted", "ignored", "failed"})
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_.]{0,63}")


def _event_label(event: str | None) -> str:
    """TikTok's event names (`post.publish.complete`, `authorization.removed`, ...); anything
    else is `other`, so a caller's typo or a crafted body cannot grow the label set much."""
    if not event:
        return "unknown"
    return event if _EVENT_NAME.fullmatch(event) else "other"


def _checked(result: str, allowed: frozenset[str], what: str) -> str:
    if result not in allowed:
        raise ValueError(f"{what} result {result!r}: one of {sorted(allowed)}")
    return result


def record_webhook_delivery(event: str, result: str, seconds: float) -> None:
    """One outgoing delivery attempt: `delivered`, `failed` or `refused`, after `seconds`."""
    result = _checked(result, WEBHOOK_DELIVERY_RESULTS, "webhook delivery")
    WEBHOOK_DELIVERIES.labels(event=_event_label(event), result=result).inc()
    WEBHOOK_DELIVERY_SECONDS.observe(max(0.0, seconds))


def record_webhook_received(event: str | None, result: str) -> None:
    """One delivery from TikTok, as answered: `accepted`, `duplicate`, `rejected`
    (signature) or `invalid` (body). `event` None before verification."""
    result = _checked(result, WEBHOOK_RECEIVED_RESULTS, "webhook receipt")
    WEBHOOK_RECEIVED.labels(event=_event_label(event), result=result).inc()


def record_webhook_routed(event: str, result: str, seconds: float) -> None:
    """An accepted event's routing: `routed`, `unrouted`, `ignored` or `failed`, `seconds`
    after it was accepted."""
    result = _checked(result, WEBHOOK_ROUTE_RESULTS, "webhook route")
    WEBHOOK_ROUTED.labels(event=_event_label(event), result=result).inc()
    WEBHOOK_SECONDS.observe(max(0.0, seconds))


def record_build(role: str, version: str, build_id: str) -> None:
    BUILD_INFO.labels(role=role, version=version, build_id=build_id).set(1)
