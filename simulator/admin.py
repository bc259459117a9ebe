"""`SimulatorAdmin`: a small synchronous client for the /_sim/ admin API.

For tests that talk to a simulator over HTTP (e.g. one started by `tiktok-publisher
simulator` or another process). In-process tests can call the same operations on
`Simulator` directly. Every method raises `httpx.HTTPStatusError` on a non-2xx answer.

    admin = SimulatorAdmin("http://127.0.0.1:8765")
    admin.add_fault("video_init", action="drop_after_processing")
    ...
    assert admin.requests("video_init")[-1]["fault"] == "drop_after_processing"
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from simulator.config import CreatorConfig


class SimulatorAdmin:
    """Synchronous admin client; usable as a context manager (closes its connections)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self._http.request(method, f"/_sim/{path}", json=json, params=params)
        response.raise_for_status()
        payload: dict[str, Any] = response.json()
        return payload

    def health(self) -> bool:
        """True once the simulator answers."""
        return bool(self._call("GET", "health").get("ok"))

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Recorded TikTok calls in arrival order, optionally for one endpoint name."""
        params = {"endpoint": endpoint} if endpoint else None
        result: list[dict[str, Any]] = self._call("GET", "requests", params=params)["requests"]
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def add_fault(self, endpoint: str, **spec: Any) -> dict[str, Any]:
        """E.g. add_fault("status_fetch", action="respond", http_status=503,
        error_code="internal_error", count=2) or add_fault("video_init",
        fail_reason="file_format_check_failed")."""
        fault: dict[str, Any] = self._call("POST", "faults", json={"endpoint": endpoint, **spec})[
            "fault"
        ]
        return fault

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def upsert_creator(self, creator: CreatorConfig | dict[str, Any]) -> dict[str, Any]:
        """Add or update a creator; returns its open_id and username."""
        body = creator.to_dict() if isinstance(creator, CreatorConfig) else creator
        return self._call("POST", "creators", json=body)

    def creators(self) -> list[dict[str, Any]]:
        """Creators with token fingerprints instead of tokens."""
        result: list[dict[str, Any]] = self._call("GET", "creators")["creators"]
        return result

    def expire_token(self, access_token: str) -> None:
        """Make an access token invalid now; its refresh token keeps working."""
        self._call("POST", "tokens/expire", json={"access_token": access_token})

    def publishes(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "publishes")["publishes"]
        return result

    def publish(self, publish_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"publishes/{quote(publish_id, safe='')}")[
            "publish"
        ]
        return result

    def reset(self) -> None:
        """Back to the initial config; forgets publishes, requests, faults, rotated tokens."""
        self._call("POST", "reset")

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "config")["config"]
        return result

    def update_config(self, **patch: Any) -> dict[str, Any]:
        """Change run-time settings, e.g. update_config(direct_posts_per_day=1)."""
        result: dict[str, Any] = self._call("POST", "config", json=patch)["config"]
        return result
