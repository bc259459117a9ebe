"""Access tokens: resolved inside activities, refreshed before they expire, never exported.

Workflows only ever carry an account id. The store hands an activity a usable access token,
refreshing it through TikTok's OAuth endpoint when it is close to expiry or when TikTok just
rejected it. TikTok rotates refresh tokens, so two refreshes of one account at once would
burn a token: refreshes are serialised per account inside the process (asyncio lock) and
across worker processes sharing the file (an exclusive flock on a sidecar lock file).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from activities.tiktok_client import TikTokApiError, TikTokClient
from workflows.errors import Retryability


class TokenError(Exception):
    """No usable token for an account. Carries a stable code, never the token itself."""

    def __init__(self, code: str, account_id: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: account {account_id}: {message}")
        self.code = code
        self.account_id = account_id
        self.retryable = retryable


class TokenStore(Protocol):
    """Where access tokens live. Production stores wrap a secret manager or an HTTP endpoint."""

    async def access_token(self, account_id: str) -> str:
        """A token valid for at least the refresh margin."""
        ...

    async def refresh_after_rejection(self, account_id: str, rejected_token: str) -> str:
        """TikTok rejected `rejected_token`: refresh unless another caller already did."""
        ...


@dataclass
class StoredToken:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime | None = None
    open_id: str = ""
    scope: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StoredToken:
        expires = raw.get("expires_at")
        return cls(
            access_token=str(raw["access_token"]),
            refresh_token=str(raw.get("refresh_token", "")),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            open_id=str(raw.get("open_id", "")),
            scope=str(raw.get("scope", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "open_id": self.open_id,
            "scope": self.scope,
        }


class FileTokenStore:
    """Tokens in a local JSON file (development and single-host deployments).

    Format: ``{"accounts": {"<account_id>": {"access_token": "...", "refresh_token": "...",
    "expires_at": "2026-11-22T15:00:00+00:00", "open_id": "...", "scope": "..."}}}``.
    ``expires_at`` may be null (then the token is used until TikTok rejects it).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        client: TikTokClient,
        *,
        client_key: str,
        client_secret: str,
        refresh_margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._path = Path(path)
        self._client = client
        self._client_key = client_key
        self._client_secret = client_secret
        self._margin = refresh_margin
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    async def access_token(self, account_id: str) -> str:
        token = self._read(account_id)
        if not self._expiring(token):
            return token.access_token
        async with self._exclusive(account_id):
            token = self._read(account_id)  # someone may have refreshed while we waited
            if not self._expiring(token):
                return token.access_token
            return (await self._refresh(account_id, token)).access_token

    async def refresh_after_rejection(self, account_id: str, rejected_token: str) -> str:
        async with self._exclusive(account_id):
            token = self._read(account_id)
            if token.access_token != rejected_token:
                return token.access_token
            return (await self._refresh(account_id, token)).access_token

    # -- internals -----------------------------------------------------------------------

    def _expiring(self, token: StoredToken) -> bool:
        return token.expires_at is not None and token.expires_at - self._margin <= self._clock()

    async def _refresh(self, account_id: str, token: StoredToken) -> StoredToken:
        if not token.refresh_token:
            raise TokenError(
                "TOKEN_REFRESH_FAILED", account_id, "no refresh token is stored", retryable=False
            )
        try:
            grant = await self._client.refresh_access_token(
                client_key=self._client_key,
                client_secret=self._client_secret,
                refresh_token=token.refresh_token,
            )
        except TikTokApiError as err:
            retryable = err.retryability is not Retryability.NON_RETRYABLE
            raise TokenError(
                "TOKEN_REFRESH_FAILED",
                account_id,
                f"TikTok refused the refresh ({err.code}); {err.rule.remedy}",
                retryable=retryable,
            ) from None
        fresh = StoredToken(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=self._clock() + timedelta(seconds=grant.expires_in),
            open_id=grant.open_id or token.open_id,
            scope=grant.scope or token.scope,
        )
        self._write(account_id, fresh)
        return fresh

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {"accounts": {}}
        except json.JSONDecodeError as err:
            raise TokenError(
                "TOKEN_STORE_INVALID",
                "*",
                f"{self._path} is not valid JSON ({err.msg})",
                retryable=False,
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
            raise TokenError(
                "TOKEN_STORE_INVALID",
                "*",
                f'{self._path} needs an "accounts" object',
                retryable=False,
            )
        return data

    def _read(self, account_id: str) -> StoredToken:
        raw = self._load()["accounts"].get(account_id)
        if not isinstance(raw, dict) or "access_token" not in raw:
            raise TokenError(
                "TOKEN_MISSING", account_id, f"no token stored in {self._path}", retryable=False
            )
        return StoredToken.from_json(raw)

    def _write(self, account_id: str, token: StoredToken) -> None:
        data = self._load()
        data["accounts"][account_id] = token.to_json()
        # Write-then-rename so a crash never leaves a half-written file (and lost tokens).
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".tokens-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._path)

    @contextlib.asynccontextmanager
    async def _exclusive(self, account_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            lock_path = self._path.with_name(self._path.name + ".lock")
            handle = await asyncio.to_thread(open, lock_path, "a")
            try:
                await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                handle.close()
