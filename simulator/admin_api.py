"""Server side of the admin API under /_sim/ (no auth; loopback test tool).

Plain JSON, no TikTok envelope, so nobody mistakes an admin answer for TikTok's.
Errors are `{"error": "<reason>"}` with 400 (bad input), 404 (unknown thing) or 405.
Every route is documented in simulator/README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from simulator.config import ENDPOINTS, CreatorConfig
from simulator.protocol import Response
from simulator.state import SimulatorState
from simulator.webhooks import WebhookSender

_AVATAR_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<circle cx="32" cy="32" r="32" fill="#fe2c55"/></svg>'
)


class AdminError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise AdminError(400, "the body is not valid JSON") from None


def _object(body: bytes) -> dict[str, Any]:
    value = _json_body(body)
    if not isinstance(value, dict):
        raise AdminError(400, "the body must be a JSON object")
    return value


Handler = Callable[[dict[str, list[str]], bytes], Response]


class AdminApi:
    """Dispatches /_sim/ requests to the state."""

    def __init__(self, state: SimulatorState, webhooks: WebhookSender | None = None) -> None:
        self._state = state
        self._webhooks = webhooks
        self._routes: dict[str, dict[str, Handler]] = {
            "/_sim/health": {"GET": self._health},
            "/_sim/requests": {"GET": self._requests, "DELETE": self._clear_requests},
            "/_sim/faults": {
                "GET": self._faults,
                "POST": self._add_fault,
                "DELETE": self._clear_faults,
            },
            "/_sim/creators": {"GET": self._creators, "POST": self._upsert_creator},
            "/_sim/tokens/expire": {"POST": self._expire_token},
            "/_sim/publishes": {"GET": self._publishes},
            "/_sim/reset": {"POST": self._reset},
            "/_sim/config": {"GET": self._config, "POST": self._update_config},
            "/_sim/webhooks": {"GET": self._webhook_deliveries},
            "/_sim/authorization/remove": {"POST": self._remove_authorization},
        }

    @property
    def paths(self) -> list[str]:
        """Every admin path (prefix routes end with '/'); the README must document each."""
        return sorted([*self._routes, "/_sim/publishes/", "/_sim/avatars/"])

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Response:
        try:
            if path.startswith("/_sim/publishes/") and method == "GET":
                return self._publish(path.removeprefix("/_sim/publishes/"))
            if path.startswith("/_sim/avatars/") and method == "GET":
                return Response(200, _AVATAR_SVG, {"Content-Type": "image/svg+xml"})
            routes = self._routes.get(path)
            if routes is None:
                raise AdminError(404, f"no admin route {path}")
            handler = routes.get(method)
            if handler is None:
                raise AdminError(405, f"{method} not allowed on {path}")
            return handler(query, body)
        except AdminError as exc:
            return Response.json(exc.status, {"error": exc.reason})
        except ValueError as exc:
            return Response.json(400, {"error": str(exc)})

    def _health(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        return Response.json(200, {"ok": True})

    def _requests(self, query: dict[str, list[str]], _body: bytes) -> Response:
        values = query.get("endpoint")
        endpoint = values[0] if values else None
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise AdminError(400, f"endpoint must be one of {', '.join(ENDPOINTS)}")
        return Response.json(200, {"requests": self._state.requests(endpoint)})

    def _clear_requests(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        self._state.clear_requests()
        return Response.json(200, {"cleared": True})

    def _faults(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        return Response.json(200, {"faults": self._state.faults.pending()})

    def _add_fault(self, _query: dict[str, list[str]], body: bytes) -> Response:
        fault = self._state.faults.add(_object(body))
        return Response.json(200, {"fault": fault.to_dict()})

    def _clear_faults(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        self._state.faults.clear()
        return Response.json(200, {"cleared": True})

    def _creators(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        return Response.json(200, {"creators": self._state.creators_view()})

    def _upsert_creator(self, _query: dict[str, list[str]], body: bytes) -> Response:
        creator = CreatorConfig.from_dict(_object(body))
        open_id = self._state.upsert_creator(creator)
        return Response.json(200, {"open_id": open_id, "username": creator.username})

    def _expire_token(self, _query: dict[str, list[str]], body: bytes) -> Response:
        token = _object(body).get("access_token")
        if not isinstance(token, str) or not token:
            raise AdminError(400, "access_token is required")
        if not self._state.expire_access_token(token):
            raise AdminError(404, "unknown access token")
        return Response.json(200, {"expired": True})

    def _publishes(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        return Response.json(200, {"publishes": self._state.publishes_view()})

    def _publish(self, publish_id: str) -> Response:
        for view in self._state.publishes_view():
            if view["publish_id"] == publish_id:
                return Response.json(200, {"publish": view})
        raise AdminError(404, "unknown publish_id")

    def _reset(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        self._state.reset()
        if self._webhooks is not None:
            self._webhooks.reset()
        return Response.json(200, {"reset": True})

    def _config(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        return Response.json(200, {"config": self._state.config.to_dict(include_creators=False)})

    def _update_config(self, _query: dict[str, list[str]], body: bytes) -> Response:
        config = self._state.update_config(_object(body))
        return Response.json(200, {"config": config.to_dict(include_creators=False)})

    def _webhook_deliveries(self, _query: dict[str, list[str]], _body: bytes) -> Response:
        found = self._webhooks.deliveries() if self._webhooks is not None else []
        return Response.json(200, {"deliveries": found})

    def _remove_authorization(self, _query: dict[str, list[str]], body: bytes) -> Response:
        data = _object(body)
        open_id = data.get("open_id")
        if not isinstance(open_id, str) or self._state.creator(open_id) is None:
            raise AdminError(400, "open_id must name a creator")
        reason = data.get("reason", 1)
        if isinstance(reason, bool) or not isinstance(reason, int) or not 0 <= reason <= 5:
            raise AdminError(400, "reason must be an integer 0..5")
        self._state.revoke_open_id(open_id)
        if self._webhooks is not None:
            self._webhooks.emit("authorization.removed", open_id, {"reason": reason})
        return Response.json(200, {"removed": True})
