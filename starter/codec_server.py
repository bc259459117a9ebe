"""`tiktok-publisher codec-server`: lets the Temporal UI (and `temporal` CLI) show decrypted
payloads to the operators who may see them.

Temporal's remote codec protocol: `POST /decode` (and `/encode`) with
`{"payloads": [{"metadata": {k: base64}, "data": base64}, ...]}`, answered in the same shape.
The keys never leave this process: the UI sends ciphertext and gets plain payloads back.

Who may call it:

* **CORS**: a browser page may call it only from the origins in `TIKTOK_CODEC_CORS_ORIGINS`
  (the Temporal UI's, `http://localhost:8233` by default); a request from any other origin is
  refused.
* **Auth**: with `TIKTOK_CODEC_AUTH_TOKEN` set, every call must carry
  `Authorization: Bearer <token>` (the Temporal UI forwards its user's access token when
  "pass access token" is on; put the same secret there, or front the server with your SSO
  proxy). Without a token the server refuses to listen anywhere but loopback.

Stdlib HTTP server (one thread per request): a handful of operators, small bodies.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import os
import threading
from collections.abc import MutableMapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload

from starter.local_http import LocalHTTPServer
from worker.codec import EncryptionCodec, PayloadKeys
from worker.custody import CustodySettings

MAX_BODY_BYTES = 8 * 1024 * 1024


class CodecServerError(ValueError):
    """The codec server cannot start as configured."""


def _payloads_from_json(body: Any) -> list[Payload]:
    # Protobuf's JSON leaves an empty list out: the `temporal` CLI sends {} for no payloads.
    if not isinstance(body, dict) or not isinstance(body.get("payloads", []), list):
        raise ValueError('expected {"payloads": [...]}')
    out: list[Payload] = []
    for item in body.get("payloads", []):
        metadata = {k: base64.b64decode(v) for k, v in (item.get("metadata") or {}).items()}
        out.append(Payload(metadata=metadata, data=base64.b64decode(item.get("data") or "")))
    return out


def _payloads_to_json(payloads: list[Payload]) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


class CodecServer:
    """The codec endpoint on `host:port` (port 0 picks a free one); a context manager."""

    def __init__(
        self,
        keys: PayloadKeys,
        *,
        host: str = "127.0.0.1",
        port: int = 8234,
        allowed_origins: tuple[str, ...] = ("http://localhost:8233",),
        auth_token: str = "",
    ) -> None:
        if not auth_token and not _is_loopback(host):
            raise CodecServerError(
                f"the codec server decrypts payloads for whoever calls it: set "
                f"TIKTOK_CODEC_AUTH_TOKEN to listen on {host}, or listen on 127.0.0.1"
            )
        codec = EncryptionCodec(keys)
        origins = frozenset(o.rstrip("/") for o in allowed_origins)
        expected = f"Bearer {auth_token}".encode() if auth_token else None

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> bool:
                origin = self.headers.get("Origin")
                if origin is None:
                    return True  # not a browser (the temporal CLI, curl): auth decides
                if origin.rstrip("/") not in origins:
                    return False
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
                self.send_header("Access-Control-Allow-Credentials", "true")
                return True

            def do_OPTIONS(self) -> None:
                origin_ok = self.headers.get("Origin", "").rstrip("/") in origins
                self.send_response(204 if origin_ok else 403)
                if origin_ok:
                    self._cors()
                    self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                    self.send_header(
                        "Access-Control-Allow-Headers",
                        "Content-Type, X-Namespace, Authorization",
                    )
                    self.send_header("Access-Control-Max-Age", "600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                # A person opening the printed URL: what this endpoint is for.
                self._reply(
                    200 if self.path.split("?", 1)[0] == "/" else 404,
                    {
                        "codec": "decrypts the engine's payloads for the Temporal UI and CLI",
                        "endpoints": ["POST /decode", "POST /encode"],
                    },
                )

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                if path not in ("/decode", "/encode"):
                    self._reply(404, {"error": "POST /decode or /encode"})
                    return
                if self.headers.get("Origin") and self.headers["Origin"].rstrip("/") not in origins:
                    self._reply(403, {"error": "origin not allowed"}, cors=False)
                    return
                if expected is not None:
                    given = self.headers.get("Authorization", "").encode()
                    if not hmac.compare_digest(given, expected):
                        self._reply(401, {"error": "missing or wrong bearer token"})
                        return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(413, {"error": "body too large"})
                    return
                try:
                    payloads = _payloads_from_json(json.loads(self.rfile.read(length)))
                    if path == "/decode":
                        result = [codec.decrypt(p) for p in payloads]
                    else:
                        result = [codec.encrypt(p) for p in payloads]
                except ValueError as err:
                    self._reply(400, {"error": str(err)})
                    return
                self._reply(200, _payloads_to_json(result))

            def _reply(self, status: int, body: dict[str, Any], *, cors: bool = True) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if cors:
                    self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = LocalHTTPServer((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    @property
    def url(self) -> str:
        raw_host, port = self._server.server_address[:2]
        host = raw_host.decode() if isinstance(raw_host, bytes) else str(raw_host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> CodecServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CodecServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_settings(custody: CustodySettings, *, host: str, port: int) -> CodecServer:
    keys = custody.keys()
    if keys is None:
        raise CodecServerError("TIKTOK_PAYLOAD_KEYS is not set: there is nothing to decode with")
    return CodecServer(
        keys,
        host=host,
        port=port,
        allowed_origins=custody.codec_cors_origins,
        auth_token=custody.codec_auth_token,
    )


DEV_KEY_FILE = "payload-keys"
DEV_UI_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")


def local_stack_keys(state_dir: Path, env: MutableMapping[str, str]) -> PayloadKeys | None:
    """The local stack encrypts by default with a key kept beside its Temporal database
    (`<state_dir>/payload-keys`, mode 0600, made on first use). An explicit
    TIKTOK_PAYLOAD_KEYS wins; set it empty to run without encryption."""
    if "TIKTOK_PAYLOAD_KEYS" not in env:
        path = state_dir / DEV_KEY_FILE
        if not path.exists():
            path.write_text(PayloadKeys.generate("dev1") + "\n")
            os.chmod(path, 0o600)
        env["TIKTOK_PAYLOAD_KEYS"] = path.read_text().strip()
    return PayloadKeys.from_text(env["TIKTOK_PAYLOAD_KEYS"])
