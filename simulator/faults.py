"""Injected faults: what the next N calls to an endpoint should suffer.

Two kinds, kept in separate queues because they are consumed at different moments:

* transport faults (`action`): taken when a request for the endpoint arrives, before any
  processing — `respond`, `hang`, `drop`, `drop_after_processing`;
* outcome faults (`fail_reason`): taken when an init endpoint creates a publish (the publish
  ends FAILED with that reason after processing), or when status_fetch queries a publish that
  is not terminal yet (it fails right away).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from simulator.config import ENDPOINTS, INIT_ENDPOINTS

DEFAULT_HANG_SECONDS = 30.0
OUTCOME_ENDPOINTS = (*INIT_ENDPOINTS, "status_fetch")


class FaultAction(StrEnum):
    RESPOND = "respond"
    HANG = "hang"
    DROP = "drop"
    DROP_AFTER_PROCESSING = "drop_after_processing"


@dataclass
class Fault:
    """One pending fault; `remaining` counts down as calls consume it."""

    fault_id: int
    endpoint: str
    remaining: int
    action: FaultAction | None = None
    http_status: int = 500
    error_code: str = "internal_error"
    message: str = "injected by the simulator"
    hang_seconds: float = DEFAULT_HANG_SECONDS
    retry_after_seconds: float | None = None
    fail_reason: str | None = None
    after: int = 0
    """Let this many matching calls through untouched first (e.g. fail only the 2nd chunk)."""
    pull_delay_seconds: float = 0.0
    """Init of pulled media: TikTok starts pulling this long (simulated) after the init."""
    pull_before_answer: bool = False
    """drop_after_processing on a pulled init: the answer is lost only once TikTok has
    pulled everything (the ghost is on its way to going live before anyone knows)."""

    @classmethod
    def from_dict(cls, fault_id: int, data: dict[str, Any]) -> Fault:
        """Validate a `POST /_sim/faults` body; raises ValueError with a readable reason."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        allowed = {
            "endpoint",
            "count",
            "action",
            "http_status",
            "error_code",
            "message",
            "hang_seconds",
            "retry_after_seconds",
            "fail_reason",
            "after",
            "pull_delay_seconds",
            "pull_before_answer",
        }
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown fault key(s): {', '.join(unknown)}")
        endpoint = data.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        action_raw, fail_reason = data.get("action"), data.get("fail_reason")
        if (action_raw is None) == (fail_reason is None):
            raise ValueError("give exactly one of action or fail_reason")
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError("after must be a non-negative integer")
        if fail_reason is not None:
            if endpoint not in OUTCOME_ENDPOINTS:
                raise ValueError(f"fail_reason applies to {', '.join(OUTCOME_ENDPOINTS)} only")
            if not isinstance(fail_reason, str) or not fail_reason:
                raise ValueError("fail_reason must be a non-empty string")
            return cls(fault_id, endpoint, count, fail_reason=fail_reason, after=after)
        try:
            action = FaultAction(str(action_raw))
        except ValueError:
            choices = ", ".join(a.value for a in FaultAction)
            raise ValueError(f"action must be one of {choices}") from None
        fault = cls(fault_id, endpoint, count, action=action, after=after)
        if "http_status" in data:
            status = data["http_status"]
            if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
                raise ValueError("http_status must be an integer in 200..599")
            fault.http_status = status
        for key in ("error_code", "message"):
            if key in data:
                if not isinstance(data[key], str):
                    raise ValueError(f"{key} must be a string")
                setattr(fault, key, data[key])
        if "pull_delay_seconds" in data or "pull_before_answer" in data:
            if endpoint not in INIT_ENDPOINTS:
                raise ValueError("pull_delay_seconds and pull_before_answer apply to inits only")
        if "pull_before_answer" in data:
            if not isinstance(data["pull_before_answer"], bool):
                raise ValueError("pull_before_answer must be true or false")
            if action is not FaultAction.DROP_AFTER_PROCESSING:
                raise ValueError("pull_before_answer applies to drop_after_processing only")
            fault.pull_before_answer = data["pull_before_answer"]
        for key in ("hang_seconds", "retry_after_seconds", "pull_delay_seconds"):
            if key in data and data[key] is not None:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                setattr(fault, key, float(value))
        return fault

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.fault_id,
            "endpoint": self.endpoint,
            "count": self.remaining,
        }
        if self.after:
            data["after"] = self.after
        if self.fail_reason is not None:
            data["fail_reason"] = self.fail_reason
            return data
        assert self.action is not None
        data["action"] = self.action.value
        if self.action is FaultAction.RESPOND:
            data.update(
                http_status=self.http_status,
                error_code=self.error_code,
                message=self.message,
                retry_after_seconds=self.retry_after_seconds,
            )
        elif self.action is FaultAction.HANG:
            data["hang_seconds"] = self.hang_seconds
        if self.pull_delay_seconds:
            data["pull_delay_seconds"] = self.pull_delay_seconds
        if self.pull_before_answer:
            data["pull_before_answer"] = True
        return data


class FaultRegistry:
    """Thread-safe FIFO of faults. It never calls back into the state, so the lock order
    (state lock, then this one) cannot deadlock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, data: dict[str, Any]) -> Fault:
        with self._lock:
            fault = Fault.from_dict(next(self._ids), data)
            self._faults.append(fault)
            return replace(fault)

    def _take(self, endpoint: str, outcome: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == endpoint and (fault.fail_reason is not None) == outcome:
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return replace(fault)
            return None

    def take_transport(self, endpoint: str) -> Fault | None:
        """Consume one transport fault for a request that just arrived, if any."""
        return self._take(endpoint, outcome=False)

    def take_outcome(self, endpoint: str) -> str | None:
        """Consume one fail_reason fault, if any, and return the reason."""
        fault = self._take(endpoint, outcome=True)
        return fault.fail_reason if fault else None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
