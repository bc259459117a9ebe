"""TikTok's authorize step (Login Kit for Web) and what follows it: the consent page that
redirects back with a code, the authorization_code grant (with PKCE), user/info and revoke.

The "browser" is whoever follows the authorize URL: the simulator logs in as the configured
creator (`authorize_open_id`, default the first) and approves or denies
(`authorize_outcome`) at once, then answers 302 to the redirect_uri like TikTok does.
Codes are single use and expire; a reused code is invalid_grant, as is a wrong verifier.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from simulator.protocol import OAuthError, Response, envelope, new_log_id
from simulator.state import SimulatorState

AUTHORIZE_PATH = "/v2/auth/authorize/"


@dataclass
class _Code:
    open_id: str
    client_key: str
    redirect_uri: str
    code_challenge: str
    expires_mono: float
    used: bool = False


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Authorizations:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._codes.clear()

    def authorize(self, query: dict[str, list[str]]) -> Response:
        """GET /v2/auth/authorize/: a bad request is a page (no redirect); else 302 back."""
        q = {key: values[0] for key, values in query.items() if values}
        cfg = self._state.config
        redirect_uri = q.get("redirect_uri", "")
        split = urlsplit(redirect_uri)
        if q.get("client_key") != cfg.client_key:
            return _page(400, "invalid client_key: this app is not registered")
        if split.scheme not in ("http", "https") or not split.netloc:
            return _page(400, "redirect_uri must be an absolute http(s) URL")
        if q.get("response_type") != "code" or not q.get("scope"):
            return _page(400, "response_type=code and scope are required")
        challenge, method = q.get("code_challenge", ""), q.get("code_challenge_method", "")
        if challenge and method != "S256":
            return _page(400, "code_challenge_method must be S256")
        back: dict[str, str] = {}
        if "state" in q:
            back["state"] = q["state"]
        creator = (
            self._state.creator(cfg.authorize_open_id)
            if cfg.authorize_open_id
            else self._state.first_creator()
        )
        if cfg.authorize_outcome == "deny" or creator is None:
            back.update(error="access_denied", error_description="The user denied the request.")
            return _redirect(redirect_uri, back)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                open_id=creator.open_id,
                client_key=cfg.client_key,
                redirect_uri=redirect_uri,
                code_challenge=challenge,
                expires_mono=time.monotonic() + cfg.authorization_code_ttl_seconds,
            )
        granted = [s for s in q["scope"].split(",") if s in creator.scopes]
        back.update(code=code, scopes=",".join(granted))
        return _redirect(redirect_uri, back)

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """grant_type=authorization_code: the code once, with the verifier of its challenge."""
        self._state.check_client(form.get("client_key", ""), form.get("client_secret", ""))
        code = form.get("code", "")
        with self._lock:
            record = self._codes.get(code)
            if record is None or time.monotonic() >= record.expires_mono:
                raise OAuthError(400, "invalid_grant", "Authorization code is invalid or expired.")
            if record.used:
                raise OAuthError(400, "invalid_grant", "Authorization code has been used.")
            record.used = True  # even a failed exchange below spends the code, as TikTok does
        if form.get("redirect_uri") != record.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorize.")
        if record.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or s256(verifier) != record.code_challenge:
                raise OAuthError(400, "invalid_grant", "code_verifier does not match.")
        return self._state.issue_tokens(record.open_id)

    def revoke(self, form: dict[str, str]) -> Response:
        self._state.check_client(form.get("client_key", ""), form.get("client_secret", ""))
        token = form.get("token", "")
        if not token:
            raise OAuthError(400, "invalid_request", "token is required.")
        self._state.revoke_creator(token)
        return Response.json(200, {}, {"X-Tt-Logid": new_log_id()})

    def user_info(self, access_token: str | None, *, stats: bool = False) -> Response:
        principal = self._state.authenticate(access_token)
        creator = principal.creator
        user: dict[str, object] = {
            "open_id": creator.open_id,
            "union_id": f"union-{creator.open_id}",
            "username": creator.username,
            "display_name": creator.nickname,
            "avatar_url": f"https://p16-sign.tiktokcdn.example/{creator.open_id}.jpeg",
        }
        if stats:  # user.info.stats
            user["follower_count"] = self._state.follower_count(creator.open_id)
        return envelope(200, {"user": user}, "ok", "")


def _redirect(redirect_uri: str, params: dict[str, str]) -> Response:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    location = f"{redirect_uri}{joiner}{urlencode(params)}"
    return Response(status=302, headers={"Location": location}, body=b"")


def _page(status: int, message: str) -> Response:
    body = f"<!doctype html><title>TikTok</title><p>{message}</p>".encode()
    return Response(status=status, headers={"Content-Type": "text/html; charset=utf-8"}, body=body)
