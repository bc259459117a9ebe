"""The HTTP server: routing, request recording, fault injection, and the `Simulator` facade.

Built on the standard library (ThreadingHTTPServer with daemon threads) so that the
simulator adds no dependency and each request gets its own thread: a `hang` fault or a slow
chunk upload never blocks other calls. Handlers in simulator.api return `Response` values;
only this module writes to sockets, which is where faults decide what the client sees.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.admin_api import AdminApi
from simulator.api import ApiRequest, TikTokApi, describe_request
from simulator.config import CreatorConfig, SimulatorConfig
from simulator.faults import Fault, FaultAction
from simulator.protocol import (
    ApiError,
    BodyReader,
    OAuthError,
    Response,
    envelope,
    error_response,
    oauth_error_response,
)
from simulator.state import SimulatorState
from simulator.transfer import PullWorker
from simulator.webhooks import WebhookSender

logger = logging.getLogger(__name__)

#: Path -> endpoint name for the JSON endpoints (all POST). Uploads are PUT /upload/<id>.
ROUTES = {
    "/v2/post/publish/creator_info/query/": "creator_info",
    "/v2/post/publish/video/init/": "video_init",
    "/v2/post/publish/inbox/video/init/": "inbox_video_init",
    "/v2/post/publish/content/init/": "content_init",
    "/v2/post/publish/status/fetch/": "status_fetch",
    "/v2/post/publish/cancel/": "cancel",
    "/v2/oauth/token/": "oauth_token",
    "/v2/oauth/revoke/": "oauth_revoke",
    "/v2/user/info/": "user_info",
    "/v2/video/query/": "video_query",
    "/v2/auth/authorize/": "authorize",
}
#: Endpoints read with GET (the rest are POST).
GET_ENDPOINTS = frozenset({"user_info", "authorize"})
#: What GET / answers (TikTok's own hosts serve nothing there; the engine never asks).
_INDEX = {
    "simulator": "a stand-in for TikTok's Content Posting API (README, The TikTok simulator)",
    "endpoints": [
        *sorted(f"{'GET' if n in GET_ENDPOINTS else 'POST'} {p}" for p, n in ROUTES.items()),
        "PUT /upload/{upload_id}",
    ],
}
MAX_JSON_BODY = 10 * 1024 * 1024
#: Unread upload bodies up to this size are drained so the connection stays usable.
MAX_DRAIN = 200 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 60.0


def route(method: str, path: str) -> tuple[str | None, bool]:
    """(endpoint, method_ok) for a TikTok path; (None, False) if the path is unknown."""
    if path.startswith("/upload/") and path.count("/") == 2:
        return "upload", method == "PUT"
    endpoint = ROUTES.get(path)
    expected = "GET" if endpoint in GET_ENDPOINTS else "POST"
    return endpoint, endpoint is not None and method == expected


class _Server(ThreadingHTTPServer):
    """Tracks open connections so that stop() can close idle keep-alive sockets too."""

    daemon_threads = True
    allow_reuse_address = True
    # The standard library listens with a backlog of 5: a burst of connections (100 posts
    # due in the same second) would have its SYNs dropped and retried a second later, a
    # delay TikTok's servers do not add.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like TikTok's edge."""

    protocol_version = "HTTP/1.1"
    server_version = "TikTokSimulator/1.0"
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out without a 40 ms ACK stall
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection without a response: the client sees a transport error."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _finish_body(self, reader: BodyReader) -> bool:
        """Drain what the handler did not read; False means the connection must close."""
        try:
            return reader.drain(MAX_DRAIN)
        except (ConnectionError, OSError):
            return False

    def _dispatch(self) -> None:
        sim = self.server.simulator
        try:
            split = urlsplit(self.path)
            path, query = split.path, parse_qs(split.query, keep_blank_values=True)
            headers = {name.lower(): value for name, value in self.headers.items()}
            raw_length = headers.get("content-length", "0").strip() or "0"
            if not raw_length.isdigit():
                self._send(envelope(400, None, "invalid_params", "Bad Content-Length."), close=True)
                return
            reader = BodyReader(self.rfile, int(raw_length))
            host = headers.get("host") or sim.authority
            base_url = f"http://{host}"
            if path.startswith("/_sim/"):
                self._admin(reader, path, query)
                return
            if path == "/" and self.command == "GET":  # a person opening the printed URL
                self._finish_body(reader)
                self._send(Response.json(200, _INDEX))
                return
            endpoint, method_ok = route(self.command, path)
            if endpoint is None or not method_ok:
                status, code = (404, "not_found") if endpoint is None else (405, "invalid_params")
                closing = not self._finish_body(reader)
                msg = f"{self.command} {path} is not a TikTok endpoint the simulator serves."
                self._send(envelope(status, None, code, msg), close=closing)
                return
            if endpoint != "upload" and reader.remaining > MAX_JSON_BODY:
                self._send(envelope(413, None, "invalid_params", "Body too large."), close=True)
                return
            body = b"" if endpoint == "upload" else reader.read_all()
            req = ApiRequest(self.command, path, query, headers, body, reader, base_url)
            self._tiktok(sim, endpoint, req)
        except (ConnectionError, TimeoutError, OSError) as exc:
            logger.debug("connection problem: %s", exc)
            self.close_connection = True

    def _admin(self, reader: BodyReader, path: str, query: dict[str, list[str]]) -> None:
        if reader.remaining > MAX_JSON_BODY:
            self._send(Response.json(413, {"error": "body too large"}), close=True)
            return
        body = reader.read_all()
        path = unquote(path)
        self._send(self.server.simulator.admin_api.handle(self.command, path, query, body))

    def _tiktok(self, sim: Simulator, endpoint: str, req: ApiRequest) -> None:
        state = sim.state
        seq = state.record_request(describe_request(endpoint, req))
        fault = state.faults.take_transport(endpoint)
        if fault is not None and fault.action is not FaultAction.DROP_AFTER_PROCESSING:
            self._transport_fault(sim, seq, endpoint, req, fault)
            return
        if fault is not None:
            req.pull_delay = fault.pull_delay_seconds
        try:
            response = sim.api.handle(endpoint, req)
        except (ConnectionError, TimeoutError):
            state.complete_request(seq, None, "client_disconnected")
            raise
        except Exception:
            logger.exception("simulator bug handling %s", endpoint)
            response = error_response(ApiError(500, "internal_error", "Simulator error."))
        if fault is not None:  # drop_after_processing: the effect happened, the answer is lost
            if fault.pull_before_answer and req.created_publish_id:
                state.wait_until_pulled(req.created_publish_id, sim.stopping)
            state.complete_request(seq, response.status, FaultAction.DROP_AFTER_PROCESSING.value)
            self._finish_body(req.reader)
            self._drop()
            return
        state.complete_request(seq, response.status, None)
        self._send(response, close=not self._finish_body(req.reader))

    def _transport_fault(
        self, sim: Simulator, seq: int, endpoint: str, req: ApiRequest, fault: Fault
    ) -> None:
        state = sim.state
        drained = self._finish_body(req.reader)
        if fault.action is FaultAction.RESPOND:
            headers = {}
            if fault.retry_after_seconds is not None:
                headers["Retry-After"] = f"{fault.retry_after_seconds:g}"
            if endpoint == "oauth_token":
                response = oauth_error_response(
                    OAuthError(fault.http_status, fault.error_code, fault.message)
                )
                response.headers.update(headers)
            else:
                error = ApiError(fault.http_status, fault.error_code, fault.message)
                response = error_response(error, headers)
            state.complete_request(seq, response.status, FaultAction.RESPOND.value)
            self._send(response, close=not drained)
            return
        state.complete_request(seq, None, fault.action.value if fault.action else None)
        if fault.action is FaultAction.HANG:
            sim.stopping.wait(fault.hang_seconds)
        self._drop()


class Simulator:
    """A TikTok Content Posting API on loopback, plus in-process admin accessors.

    >>> with Simulator(SimulatorConfig(time_scale=0.01)) as sim:
    ...     sim.base_url  # doctest: +SKIP
    'http://127.0.0.1:54321'

    The accessors (`requests`, `add_fault`, `publishes`, ...) mirror the /_sim/ admin API
    one to one, so tests can use either.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.state = SimulatorState(config if config is not None else SimulatorConfig())
        self.stopping = threading.Event()
        self.api = TikTokApi(self.state, PullWorker(self.state, self.stopping))
        self.webhooks = WebhookSender(self.state, self.stopping)
        self.admin_api = AdminApi(self.state, self.webhooks)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SimulatorConfig:
        """The current config (including run-time changes made through update_config)."""
        return self.state.config

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve on a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self.stopping.clear()
        host = self.config.host
        server_cls = _Server6 if ":" in host else _Server
        self._server = server_cls((host, self.config.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="tiktok-simulator",
            daemon=True,
        )
        self._thread.start()
        self.webhooks.start()

    def stop(self) -> None:
        """Stop serving, wake hung requests, stop URL pulls, close every connection."""
        self.stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        self.webhooks.join()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def authority(self) -> str:
        """host:port a client can connect to (wildcard binds map to loopback)."""
        host = self.config.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:54321 — give this to the TikTok client as its base URL."""
        return f"http://{self.authority}"

    # -- in-process admin (mirrors /_sim/) ---------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """GET /_sim/requests[?endpoint=...]"""
        return self.state.requests(endpoint)

    def clear_requests(self) -> None:
        """DELETE /_sim/requests"""
        self.state.clear_requests()

    def add_fault(self, endpoint: str, **spec: Any) -> dict[str, Any]:
        """POST /_sim/faults, e.g. add_fault("video_init", action="drop", count=1)."""
        return self.state.faults.add({"endpoint": endpoint, **spec}).to_dict()

    def faults(self) -> list[dict[str, Any]]:
        """GET /_sim/faults"""
        return self.state.faults.pending()

    def clear_faults(self) -> None:
        """DELETE /_sim/faults"""
        self.state.faults.clear()

    def upsert_creator(self, creator: CreatorConfig) -> str:
        """POST /_sim/creators; returns the creator's open_id."""
        return self.state.upsert_creator(creator)

    def expire_token(self, access_token: str) -> bool:
        """POST /_sim/tokens/expire; False if the token is unknown."""
        return self.state.expire_access_token(access_token)

    def publishes(self) -> list[dict[str, Any]]:
        """GET /_sim/publishes"""
        return self.state.publishes_view()

    def publish(self, publish_id: str) -> dict[str, Any] | None:
        """GET /_sim/publishes/<publish_id>; None if unknown."""
        return next((p for p in self.publishes() if p["publish_id"] == publish_id), None)

    def reset(self) -> None:
        """POST /_sim/reset"""
        self.state.reset()
        self.webhooks.reset()

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """GET /_sim/webhooks: every webhook delivery attempt (simulator/webhooks.py)."""
        return self.webhooks.deliveries()

    def remove_authorization(self, open_id: str, reason: int = 1) -> None:
        """POST /_sim/authorization/remove: the creator removes the app; its tokens die and
        `authorization.removed` is sent to `webhook_url`."""
        self.state.revoke_open_id(open_id)
        self.webhooks.emit("authorization.removed", open_id, {"reason": reason})

    def update_config(self, **patch: Any) -> SimulatorConfig:
        """POST /_sim/config, e.g. update_config(direct_posts_per_day=1)."""
        return self.state.update_config(patch)
