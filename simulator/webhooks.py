"""TikTok's publishing webhooks, as the simulator sends them.

With `webhook_url` set, a background thread watches every publish and, when its status
moves, POSTs TikTok's envelope there, signed the way TikTok signs
(`TikTok-Signature: t=<ts>,s=HMAC-SHA256(client_secret, "<t>.<raw body>")`):

    FAILED               -> post.publish.failed {publish_id, reason, publish_type}
    PUBLISH_COMPLETE     -> post.publish.complete {publish_id, publish_type}
    SEND_TO_USER_INBOX   -> post.publish.inbox_delivered {publish_id, publish_type}
    public post id known -> post.publish.publicly_available {publish_id, post_id}
    remove_authorization -> authorization.removed {reason}

A delivery answered with anything but 2xx (or not at all) is retried with doubling waits,
up to `webhook_max_attempts`. `webhook_faults` makes it misbehave the way at-least-once
delivery over the internet does; each is a probability per event, drawn from a generator
seeded with `webhook_seed` (so a run repeats):

    duplicate  the event is delivered twice
    reorder    the event is held back until the next event has been delivered
    drop       the event is never delivered (lost)
    mis_sign   a forged copy (claiming post.publish.failed, wrong signature) goes first
    delay_seconds  (not a probability) every event waits this long (simulated seconds)

Every attempt is recorded: `Simulator.webhook_deliveries()` / `GET /_sim/webhooks`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.state import SimulatorState

FAULT_KEYS = frozenset({"duplicate", "reorder", "drop", "mis_sign", "delay_seconds"})
TICK_SECONDS = 0.05
#: A reordered event waits at most this long (real seconds) for a later one to overtake it.
REORDER_HOLD_SECONDS = 5.0
DELIVERY_TIMEOUT = 5.0
LOG_LIMIT = 10_000


def signature(secret: str, timestamp: int, raw: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"t={timestamp},s={digest.hexdigest()}"


def check_faults(faults: Any) -> dict[str, float]:
    if not isinstance(faults, dict):
        raise ValueError("webhook_faults must be an object")
    unknown = sorted(set(faults) - FAULT_KEYS)
    if unknown:
        raise ValueError(f"webhook_faults: unknown key(s) {unknown}")
    for key, value in faults.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"webhook_faults.{key} must be a number >= 0")
        if key != "delay_seconds" and value > 1:
            raise ValueError(f"webhook_faults.{key} is a probability (0..1)")
    return {k: float(v) for k, v in faults.items()}


@dataclass
class _Delivery:
    event: str
    publish_id: str
    body: bytes
    due: float
    attempt: int = 0
    forged: bool = False
    held_until: float | None = None  # reordered: waits for a later event (or this time)


class WebhookSender:
    """Watches publishes, queues their events, delivers them with retries and faults."""

    def __init__(self, state: SimulatorState, stopping: threading.Event) -> None:
        self._state = state
        self._stopping = stopping
        self._lock = threading.Lock()
        self._queue: list[_Delivery] = []
        self._emitted: dict[str, set[str]] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._random = random.Random(state.config.webhook_seed)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tiktok-webhooks", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- what tests see ----------------------------------------------------------------------

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._log.clear()
            self._emitted.clear()
            self._random = random.Random(self._state.config.webhook_seed)

    # -- producing events --------------------------------------------------------------------

    def emit(self, event: str, open_id: str, content: dict[str, Any], publish_id: str = "") -> None:
        """Queue one event (with the configured faults applied)."""
        cfg = self._state.config
        if not cfg.webhook_url:
            return
        body = json.dumps(
            {
                "client_key": cfg.client_key,
                "event": event,
                "create_time": int(time.time()),
                "user_openid": open_id,
                "content": json.dumps(content),
            }
        ).encode()
        faults = cfg.webhook_faults
        now = time.monotonic()
        due = now + cfg.scaled(faults.get("delay_seconds", 0.0))
        with self._lock:
            rnd = self._random
            if rnd.random() < faults.get("drop", 0.0):
                self._record(event, publish_id, attempt=0, status=None, outcome="dropped")
                return
            if rnd.random() < faults.get("mis_sign", 0.0):
                forged = json.dumps(
                    {
                        "client_key": cfg.client_key,
                        "event": "post.publish.failed",
                        "create_time": int(time.time()),
                        "user_openid": open_id,
                        "content": json.dumps(
                            {"publish_id": publish_id, "reason": "forged", "publish_type": ""}
                        ),
                    }
                ).encode()
                self._queue.append(
                    _Delivery("post.publish.failed", publish_id, forged, due, forged=True)
                )
            copies = 2 if rnd.random() < faults.get("duplicate", 0.0) else 1
            held = rnd.random() < faults.get("reorder", 0.0)
            for _ in range(copies):
                delivery = _Delivery(event, publish_id, body, due)
                if held:
                    delivery.held_until = now + REORDER_HOLD_SECONDS
                self._queue.append(delivery)
            if not held:
                # A later event has been queued: whatever was held back for it may follow.
                for waiting in self._queue:
                    if waiting.held_until is not None and waiting.event != event:
                        waiting.held_until = None
                        waiting.due = max(waiting.due, due) + 0.01

    def _watch(self) -> None:
        if not self._state.config.webhook_url:
            return
        for view in self._state.publishes_view():
            publish_id = view["publish_id"]
            done = self._emitted.setdefault(publish_id, set())
            for event, content in _events_of(view):
                if event not in done:
                    done.add(event)
                    self.emit(event, view["open_id"], content, publish_id)

    # -- delivering --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self._watch()
                self._deliver_due()
            except Exception:  # the simulator keeps serving whatever one delivery did
                continue

    def _deliver_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [
                d
                for d in self._queue
                if d.due <= now and (d.held_until is None or d.held_until <= now)
            ]
            for d in due:
                self._queue.remove(d)
        for delivery in due:
            self._send(delivery)

    def _send(self, delivery: _Delivery) -> None:
        cfg = self._state.config
        delivery.attempt += 1
        stamp = int(time.time())
        secret = "not-the-client-secret" if delivery.forged else cfg.client_secret
        request = urllib.request.Request(
            cfg.webhook_url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "TikTok-Signature": signature(secret, stamp, delivery.body),
                "User-Agent": "tiktok-simulator-webhooks",
            },
        )
        status: int | None
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        except (OSError, ValueError):
            status = None
        ok = status is not None and 200 <= status < 300
        outcome = "delivered" if ok else "refused" if delivery.forged else "failed"
        with self._lock:
            self._record(
                delivery.event,
                delivery.publish_id,
                attempt=delivery.attempt,
                status=status,
                outcome=outcome,
                forged=delivery.forged,
            )
            if ok or delivery.forged or delivery.attempt >= cfg.webhook_max_attempts:
                return
            wait = cfg.webhook_retry_seconds * 2 ** (delivery.attempt - 1)
            delivery.due = time.monotonic() + wait
            self._queue.append(delivery)

    def _record(
        self,
        event: str,
        publish_id: str,
        *,
        attempt: int,
        status: int | None,
        outcome: str,
        forged: bool = False,
    ) -> None:
        self._log.append(
            {
                "event": event,
                "publish_id": publish_id,
                "attempt": attempt,
                "http_status": status,
                "outcome": outcome,
                "forged": forged,
                "at": time.time(),
            }
        )


def _events_of(view: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events a publish's current state has earned, in TikTok's order."""
    publish_id = view["publish_id"]
    inbox = view["flow"] in ("inbox_video", "inbox_photo")
    kind = "INBOX_SHARE" if inbox else "DIRECT_PUBLISH"
    status = view["status"]
    events: list[tuple[str, dict[str, Any]]] = []
    if status == "FAILED":
        events.append(
            (
                "post.publish.failed",
                {"publish_id": publish_id, "reason": view["fail_reason"], "publish_type": kind},
            )
        )
    elif status == "SEND_TO_USER_INBOX":
        events.append(
            ("post.publish.inbox_delivered", {"publish_id": publish_id, "publish_type": kind})
        )
    elif status == "PUBLISH_COMPLETE":
        events.append(("post.publish.complete", {"publish_id": publish_id, "publish_type": kind}))
        for post_id in view["publicaly_available_post_id"]:
            events.append(
                (
                    "post.publish.publicly_available",
                    {"publish_id": publish_id, "post_id": str(post_id)},
                )
            )
    return events
