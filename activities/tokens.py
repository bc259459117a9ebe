"""Access tokens: where they live (a `TokenStore`) and how they are renewed (`AccountTokens`).

Workflows only ever carry an account id, and the account entity knows only token *facts*
(expiry times and a fingerprint, see `TokenFacts`). The store holds the secrets. Any store
works that keeps the `TokenStore` protocol: the JSON file here (development and one host),
the SQL account store (production), or a secret manager.

Who refreshes: the `TikTokAccount` workflow orders every refresh of its account (ahead of
expiry, or after TikTok rejected a token), so one account is refreshed once across every
worker and host; the store's `refreshing()` lock is a second line of defence. TikTok rotates
refresh tokens, so the new pair is stored durably before anything uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from activities.tiktok_client import TikTokApiError, TikTokClient
from workflows.account_contracts import TokenFacts
from workflows.errors import Retryability

#: OAuth answers that mean the creator must connect the account again.
RECONNECT_CODES = frozenset(
    {"invalid_grant", "access_denied", "scope_not_authorized", "auth_removed"}
)


class TokenError(Exception):
    """No usable token for an account. Carries a stable code, never the token itself."""

    def __init__(
        self,
        code: str,
        account_id: str,
        message: str,
        *,
        retryable: bool,
        needs_reconnect: bool = False,
    ) -> None:
        super().__init__(f"account {account_id}: {message}")
        self.code = code
        self.account_id = account_id
        self.retryable = retryable
        self.needs_reconnect = needs_reconnect


@dataclass
class StoredToken:
    """One account's credentials as a store keeps them."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    open_id: str = ""
    scope: str = ""

    @property
    def fingerprint(self) -> str:
        """Names this generation of the credentials without revealing them (a truncated
        one-way hash): how the account entity notices that an account was reconnected."""
        digest = hashlib.sha256(f"{self.access_token}\n{self.refresh_token}".encode())
        return digest.hexdigest()[:16]

    def facts(self) -> TokenFacts:
        return TokenFacts(
            expires_at=self.expires_at,
            refresh_expires_at=self.refresh_expires_at,
            fingerprint=self.fingerprint,
            open_id=self.open_id,
            scope=self.scope,
        )

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StoredToken:
        def when(key: str) -> datetime | None:
            value = raw.get(key)
            return datetime.fromisoformat(value) if value else None

        return cls(
            access_token=str(raw["access_token"]),
            refresh_token=str(raw.get("refresh_token", "")),
            expires_at=when("expires_at"),
            refresh_expires_at=when("refresh_expires_at"),
            open_id=str(raw.get("open_id", "")),
            scope=str(raw.get("scope", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_expires_at": (
                self.refresh_expires_at.isoformat() if self.refresh_expires_at else None
            ),
            "open_id": self.open_id,
            "scope": self.scope,
        }


class TokenStore(Protocol):
    """Where an account's tokens live. Every implementation keeps these promises."""

    async def load(self, account_id: str) -> StoredToken:
        """The account's current tokens; `TokenError("TOKEN_MISSING")` when none are stored."""
        ...

    async def save(self, account_id: str, token: StoredToken) -> None:
        """Store durably (fsync, or a committed transaction) before returning."""
        ...

    async def forget(self, account_id: str) -> None:
        """Remove the account's tokens (disconnect). Missing accounts are not an error."""
        ...

    async def accounts(self) -> list[str]:
        """Ids of every account with stored tokens."""
        ...

    def refreshing(self, account_id: str) -> AbstractAsyncContextManager[None]:
        """Held around a refresh, so that no other process refreshes the account at once."""
        ...


class AccountTokens:
    """The one place that reads tokens for calls and renews them (with TikTok's OAuth)."""

    def __init__(
        self,
        store: TokenStore,
        client: TikTokClient,
        *,
        client_key: str,
        client_secret: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._client = client
        self._client_key = client_key
        self._client_secret = client_secret
        self._clock = clock

    async def access_token(self, account_id: str) -> str:
        """The stored access token as it is: renewing it is the account entity's job."""
        return (await self.store.load(account_id)).access_token

    async def facts(self, account_id: str) -> TokenFacts:
        return (await self.store.load(account_id)).facts()

    async def refresh(
        self, account_id: str, *, unless_changed_from: str | None = None
    ) -> TokenFacts:
        """Renew the account's tokens and store them before returning their facts.

        `unless_changed_from` is the fingerprint the caller saw: if the stored credentials no
        longer match it, someone already renewed (or reconnected) them and nothing is sent.
        """
        async with self.store.refreshing(account_id):
            token = await self.store.load(account_id)
            if unless_changed_from is not None and token.fingerprint != unless_changed_from:
                return token.facts()
            if not token.refresh_token:
                raise TokenError(
                    "TOKEN_REFRESH_FAILED",
                    account_id,
                    "no refresh token is stored; connect the account again",
                    retryable=False,
                    needs_reconnect=True,
                )
            try:
                grant = await self._client.refresh_access_token(
                    client_key=self._client_key,
                    client_secret=self._client_secret,
                    refresh_token=token.refresh_token,
                )
            except TikTokApiError as err:
                # A lost answer may be tried again: if TikTok did rotate, the old refresh
                # token now fails with invalid_grant, which asks for a reconnect.
                retryable = err.retryability in (Retryability.RETRYABLE, Retryability.AMBIGUOUS)
                raise TokenError(
                    "TOKEN_REFRESH_FAILED",
                    account_id,
                    f"TikTok refused the refresh ({err.code}); {err.rule.remedy}",
                    retryable=retryable,
                    needs_reconnect=err.code in RECONNECT_CODES,
                ) from None
            now = self._clock()
            fresh = StoredToken(
                access_token=grant.access_token,
                refresh_token=grant.refresh_token,
                expires_at=now + timedelta(seconds=grant.expires_in),
                refresh_expires_at=(
                    now + timedelta(seconds=grant.refresh_expires_in)
                    if grant.refresh_expires_in
                    else token.refresh_expires_at
                ),
                open_id=grant.open_id or token.open_id,
                scope=grant.scope or token.scope,
            )
            await self.store.save(account_id, fresh)
            return fresh.facts()


class FileTokenStore:
    """Tokens in a local JSON file (development and single-host deployments).

    Format: ``{"accounts": {"<account_id>": {"access_token": "...", "refresh_token": "...",
    "expires_at": "2026-11-22T15:00:00+00:00", "open_id": "...", "scope": "..."}}}``.
    ``expires_at`` may be null (then the token is used until TikTok rejects it). Writes go to a
    temporary file that is fsynced and renamed over the old one (then the folder is fsynced),
    so a crash leaves either the old or the new tokens, never half of them.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._locks: dict[str, asyncio.Lock] = {}
        self._parsed: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    async def load(self, account_id: str) -> StoredToken:
        raw = self._load()["accounts"].get(account_id)
        if not isinstance(raw, dict) or "access_token" not in raw:
            raise TokenError(
                "TOKEN_MISSING",
                account_id,
                f"no token stored in {self._path}",
                retryable=False,
                needs_reconnect=True,
            )
        return StoredToken.from_json(raw)

    async def save(self, account_id: str, token: StoredToken) -> None:
        async with self._file_lock():
            data = self._load()
            data["accounts"][account_id] = token.to_json()
            self._write(data)

    async def forget(self, account_id: str) -> None:
        async with self._file_lock():
            data = self._load()
            if data["accounts"].pop(account_id, None) is not None:
                self._write(data)

    async def accounts(self) -> list[str]:
        return sorted(self._load()["accounts"])

    @contextlib.asynccontextmanager
    async def refreshing(self, account_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock, self._flock(f".{account_id}.refresh.lock"):
            yield

    # -- internals -----------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        """The file's contents, parsed again only when it changed (every write renames a
        new file into place, so its inode, time or size differs); a deep copy, since
        callers modify what they get."""
        try:
            info = self._path.stat()
        except FileNotFoundError:
            return {"accounts": {}}
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._parsed is None or self._parsed[0] != version:
            self._parsed = (version, self._read())
        return copy.deepcopy(self._parsed[1])

    def _read(self) -> dict[str, Any]:
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

    def _write(self, data: dict[str, Any]) -> None:
        folder = self._path.parent
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tokens-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _file_lock(self) -> AbstractAsyncContextManager[None]:
        return self._flock(".write.lock")

    @contextlib.asynccontextmanager
    async def _flock(self, suffix: str) -> AsyncIterator[None]:
        lock_path = self._path.with_name(self._path.name + suffix)
        handle = await asyncio.to_thread(open, lock_path, "a")
        try:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()
