"""`AccountStore`: connected accounts and their tokens; a `TokenStore` for the worker.

Guarantees (README: The account store):
- `save` returns only after the transaction committed (SQLite: WAL with synchronous=FULL;
  PostgreSQL: a committed transaction). A crash before that leaves the previous pair.
- Access and refresh tokens are stored AES-GCM encrypted, bound to their row and column.
- `refreshing(account_id)` is held across processes and hosts: a PostgreSQL advisory lock
  (session-level, so it is released when a crashed process's connection drops), or for
  SQLite an flock on a file beside the database (released by the OS when a process dies).

What it cannot guarantee: if a process dies after TikTok rotated the refresh token and before
the commit, the new pair is lost with it and the stored refresh token is no longer valid at
TikTok. The next refresh then fails with invalid_grant, the account turns NEEDS_RECONNECT,
and its posts wait for a reconnect instead of failing blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from account_store.database import Database, lock_key
from account_store.keyring import KeyRingError
from account_store.tables import Account, AccountToken
from activities.tokens import StoredToken, TokenError

#: How long `refreshing` waits for another process's refresh before giving up (retryably).
REFRESH_LOCK_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class AccountProfile:
    """Who the account is on TikTok (from user/info), never a secret."""

    open_id: str = ""
    username: str = ""
    display_name: str = ""
    avatar_url: str = ""


@dataclass(frozen=True)
class AccountRecord:
    account_id: str
    profile: AccountProfile
    connected_at: datetime
    updated_at: datetime
    has_tokens: bool
    scope: str = ""
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive: they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AccountStore:
    """Accounts and their tokens in the SQL database (implements `TokenStore`)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self._clock = clock or (lambda: datetime.now(UTC))
        self._locks: dict[str, asyncio.Lock] = {}

    # -- TokenStore ------------------------------------------------------------------------

    async def load(self, account_id: str) -> StoredToken:
        row = await self.database.run(lambda s: s.get(AccountToken, account_id))
        if row is None:
            raise TokenError(
                "TOKEN_MISSING",
                account_id,
                "no token stored for this account; connect it (POST /v1/accounts/connect or "
                "`tiktok-publisher account connect`)",
                retryable=False,
                needs_reconnect=True,
            )
        return self._decrypt(row)

    async def save(self, account_id: str, token: StoredToken) -> None:
        await self.database.run(lambda s: self._save(s, account_id, token, None))

    async def forget(self, account_id: str) -> None:
        def work(session: Session) -> None:
            session.execute(delete(AccountToken).where(AccountToken.account_id == account_id))
            session.execute(delete(Account).where(Account.account_id == account_id))

        await self.database.run(work)

    async def accounts(self) -> list[str]:
        def work(session: Session) -> list[str]:
            rows = session.scalars(select(AccountToken.account_id).order_by("account_id"))
            return list(rows)

        return await self.database.run(work)

    @contextlib.asynccontextmanager
    async def refreshing(self, account_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            if self.database.is_postgres:
                async with self._advisory_lock(account_id):
                    yield
            else:
                async with self._file_lock(account_id):
                    yield

    # -- accounts ----------------------------------------------------------------------------

    async def save_connection(
        self, account_id: str, token: StoredToken, profile: AccountProfile
    ) -> None:
        """A connect (OAuth callback or import): the profile and the new tokens at once."""
        await self.database.run(lambda s: self._save(s, account_id, token, profile))

    async def get(self, account_id: str) -> AccountRecord | None:
        def work(session: Session) -> AccountRecord | None:
            account = session.get(Account, account_id)
            if account is None:
                return None
            return self._record(account, session.get(AccountToken, account_id))

        return await self.database.run(work)

    async def list_accounts(self) -> list[AccountRecord]:
        def work(session: Session) -> list[AccountRecord]:
            tokens = {t.account_id: t for t in session.scalars(select(AccountToken))}
            accounts = session.scalars(select(Account).order_by(Account.account_id))
            return [self._record(a, tokens.get(a.account_id)) for a in accounts]

        return await self.database.run(work)

    async def account_for_open_id(self, open_id: str) -> str | None:
        def work(session: Session) -> str | None:
            found = session.scalars(
                select(Account.account_id).where(Account.open_id == open_id).limit(1)
            ).first()
            return found

        return await self.database.run(work)

    async def import_file(self, path: str | Path, *, keep_existing: bool = False) -> list[str]:
        """Copy every account of a development tokens.json (FileTokenStore format); returns the
        ids copied. `keep_existing`: skip an account the store already has tokens for (a
        seed that runs at every start must not put back tokens the worker has since
        refreshed)."""
        data = json.loads(await asyncio.to_thread(Path(path).read_text))
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(accounts, dict):
            raise ValueError(f'{path} needs an "accounts" object')
        imported = []
        existing = set(await self.accounts()) if keep_existing else set()
        for account_id, raw in sorted(accounts.items()):
            if not isinstance(raw, dict) or "access_token" not in raw:
                raise ValueError(f"{path}: account {account_id} has no access_token")
            if account_id in existing:
                continue
            token = StoredToken.from_json(raw)
            await self.save_connection(account_id, token, AccountProfile(open_id=token.open_id))
            imported.append(account_id)
        return imported

    async def rotate_keys(self) -> int:
        """Re-encrypt every token with the primary key; returns how many rows changed."""

        def work(session: Session) -> int:
            changed = 0
            for row in session.scalars(select(AccountToken).with_for_update()):
                if row.key_id == self.database.keys.primary:
                    continue
                token = self._decrypt(row)
                self._encrypt_into(row, row.account_id, token)
                changed += 1
            return changed

        return await self.database.run(work)

    # -- internals -----------------------------------------------------------------------

    def _save(
        self,
        session: Session,
        account_id: str,
        token: StoredToken,
        profile: AccountProfile | None,
    ) -> None:
        now = self._clock()
        account = session.get(Account, account_id)
        if account is None:
            account = Account(
                account_id=account_id,
                open_id=token.open_id,
                username="",
                display_name="",
                avatar_url="",
                connected_at=now,
                updated_at=now,
            )
            session.add(account)
        if profile is not None:
            account.open_id = profile.open_id or token.open_id or account.open_id
            account.username = profile.username or account.username
            account.display_name = profile.display_name or account.display_name
            account.avatar_url = profile.avatar_url or account.avatar_url
            account.connected_at = now
        elif token.open_id and not account.open_id:
            account.open_id = token.open_id
        account.updated_at = now
        session.flush()
        row = session.get(AccountToken, account_id, with_for_update=self.database.is_postgres)
        if row is None:
            row = AccountToken(account_id=account_id, generation=0)
            session.add(row)
        self._encrypt_into(row, account_id, token)
        row.expires_at = token.expires_at
        row.refresh_expires_at = token.refresh_expires_at
        row.open_id = token.open_id
        row.scope = token.scope
        row.generation = (row.generation or 0) + 1
        row.updated_at = now

    def _encrypt_into(self, row: AccountToken, account_id: str, token: StoredToken) -> None:
        keys = self.database.keys
        key_id, access = keys.encrypt(token.access_token, _context(account_id, "access_token"))
        _, refresh = keys.encrypt(token.refresh_token, _context(account_id, "refresh_token"))
        row.key_id, row.access_token, row.refresh_token = key_id, access, refresh

    def _decrypt(self, row: AccountToken) -> StoredToken:
        keys = self.database.keys
        try:
            access = keys.decrypt(
                row.key_id, row.access_token, _context(row.account_id, "access_token")
            )
            refresh = keys.decrypt(
                row.key_id, row.refresh_token, _context(row.account_id, "refresh_token")
            )
        except KeyRingError as err:
            raise TokenError(
                "TOKEN_STORE_INVALID", row.account_id, str(err), retryable=False
            ) from None
        return StoredToken(
            access_token=access,
            refresh_token=refresh,
            expires_at=_utc(row.expires_at),
            refresh_expires_at=_utc(row.refresh_expires_at),
            open_id=row.open_id,
            scope=row.scope,
        )

    @staticmethod
    def _record(account: Account, token: AccountToken | None) -> AccountRecord:
        return AccountRecord(
            account_id=account.account_id,
            profile=AccountProfile(
                open_id=account.open_id,
                username=account.username,
                display_name=account.display_name,
                avatar_url=account.avatar_url,
            ),
            connected_at=_utc(account.connected_at) or account.connected_at,
            updated_at=_utc(account.updated_at) or account.updated_at,
            has_tokens=token is not None,
            scope=token.scope if token else "",
            expires_at=_utc(token.expires_at) if token else None,
            refresh_expires_at=_utc(token.refresh_expires_at) if token else None,
        )

    @contextlib.asynccontextmanager
    async def _advisory_lock(self, account_id: str) -> AsyncIterator[None]:
        key = lock_key(f"tiktok-refresh:{account_id}")
        conn = await asyncio.to_thread(self.database.engine.connect)
        try:

            def try_lock() -> bool:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                conn.commit()
                return bool(got)

            await _poll(try_lock, account_id)
            try:
                yield
            finally:

                def unlock() -> None:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

                try:
                    await asyncio.shield(asyncio.to_thread(unlock))
                except Exception:
                    # Never hand a connection that may still hold the lock back to the pool.
                    conn.invalidate()
                    raise
        finally:
            await asyncio.to_thread(conn.close)

    @contextlib.asynccontextmanager
    async def _file_lock(self, account_id: str) -> AsyncIterator[None]:
        db_file = self.database.sqlite_path
        if db_file is None:  # an in-memory database lives in one process: the asyncio lock
            yield
            return
        folder = db_file.with_name(db_file.name + ".locks")
        folder.mkdir(exist_ok=True)
        name = hashlib.sha256(account_id.encode()).hexdigest()[:24]
        handle = await asyncio.to_thread(open, folder / f"{name}.refresh.lock", "a")
        with handle:

            def try_lock() -> bool:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            await _poll(try_lock, account_id)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


async def _poll(try_lock: Callable[[], bool], account_id: str) -> None:
    deadline = time.monotonic() + REFRESH_LOCK_WAIT_SECONDS
    while not await asyncio.to_thread(try_lock):
        if time.monotonic() > deadline:
            raise TokenError(
                "TOKEN_REFRESH_FAILED",
                account_id,
                f"another process has been refreshing this account's token for over "
                f"{REFRESH_LOCK_WAIT_SECONDS:.0f} s",
                retryable=True,
            )
        await asyncio.sleep(_POLL_SECONDS)


def _context(account_id: str, column: str) -> str:
    return f"account_tokens:{account_id}:{column}"


def describe(record: AccountRecord) -> dict[str, Any]:
    """A JSON-safe view of an account (no secret)."""
    return {
        "accountId": record.account_id,
        "openId": record.profile.open_id,
        "username": record.profile.username,
        "displayName": record.profile.display_name,
        "avatarUrl": record.profile.avatar_url,
        "connectedAt": record.connected_at.isoformat(),
        "hasTokens": record.has_tokens,
        "scope": record.scope,
        "tokenExpiresAt": record.expires_at.isoformat() if record.expires_at else None,
    }
