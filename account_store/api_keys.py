"""API keys for the HTTP API and the MCP tools: `ttp_<key id>_<secret>`, stored hashed.

The secret is 256 random bits, so one SHA-256 is enough to make the stored hash useless to a
reader of the database (a slow password hash protects low-entropy secrets, not these).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from account_store.database import Database
from account_store.tables import ApiKey

PREFIX = "ttp"
_KEY = re.compile(r"^ttp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_NAME = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
#: last_used_at is written at most this often per key (not on every request).
_TOUCH_EVERY = timedelta(minutes=1)
#: A key this process verified is trusted this long without asking the database again (an
#: account-store round trip per API request otherwise). A revocation made here takes effect
#: at once; one made by another process (`tiktok-publisher api-key revoke`) within this time.
VERIFIED_FOR_SECONDS = 10.0
_VERIFIED_MAX = 1024
_clock = time.monotonic


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.key_id,
        name=row.name,
        created_at=_utc(row.created_at) or row.created_at,
        revoked_at=_utc(row.revoked_at),
        last_used_at=_utc(row.last_used_at),
    )


class ApiKeys:
    def __init__(self, database: Database) -> None:
        self.database = database
        # SHA-256 of a presented key (never the key) -> (its record, monotonic expiry).
        self._verified: dict[str, tuple[ApiKeyInfo, float]] = {}

    def create(self, name: str) -> tuple[ApiKeyInfo, str]:
        """A new key: (its record, the full key). The full key is shown once, never stored."""
        if not _NAME.match(name):
            raise ApiKeyError(
                "a key name is 1-128 letters, digits or . _ : @ - (e.g. backend-prod)"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = ApiKey(
            key_id=key_id, name=name, secret_hash=_hash(secret), created_at=datetime.now(UTC)
        )

        def work(session: Session) -> ApiKeyInfo:
            session.add(row)
            session.flush()
            return _info(row)

        try:
            info = self.database.run_sync(work)
        except IntegrityError:
            raise ApiKeyError(f"a key named {name} exists already (revoke it first)") from None
        return info, f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> list[ApiKeyInfo]:
        def work(session: Session) -> list[ApiKeyInfo]:
            return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.name))]

        return self.database.run_sync(work)

    def revoke(self, name_or_id: str) -> ApiKeyInfo | None:
        """Revoke by name or key id; None when no such active key exists."""

        def work(session: Session) -> ApiKeyInfo | None:
            row = session.scalars(
                select(ApiKey).where(
                    (ApiKey.name == name_or_id) | (ApiKey.key_id == name_or_id),
                    ApiKey.revoked_at.is_(None),
                )
            ).first()
            if row is None:
                return None
            row.revoked_at = datetime.now(UTC)
            # A revoked key's name may be reused: keep the old row under a distinct name.
            row.name = f"{row.name}~revoked~{row.key_id}"[:128]
            return _info(row)

        revoked = self.database.run_sync(work)
        self._verified.clear()  # committed: no remembered verification outlives it here
        return revoked

    async def verify(self, presented: str) -> ApiKeyInfo | None:
        """The active key behind `presented`, or None (unknown, malformed or revoked). A key
        verified within `VERIFIED_FOR_SECONDS` is answered from memory."""
        match = _KEY.match(presented.strip())
        if match is None:
            return None
        fingerprint = _hash(presented.strip())
        remembered = self._verified.get(fingerprint)
        if remembered is not None and remembered[1] > _clock():
            return remembered[0]
        info = await self._verify(*match.groups())
        if info is None:
            self._verified.pop(fingerprint, None)
        else:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[fingerprint] = (info, _clock() + VERIFIED_FOR_SECONDS)
        return info

    async def _verify(self, key_id: str, secret: str) -> ApiKeyInfo | None:
        def work(session: Session) -> ApiKeyInfo | None:
            row = session.get(ApiKey, key_id)
            if row is None or row.revoked_at is not None:
                return None
            if not secrets.compare_digest(row.secret_hash, _hash(secret)):
                return None
            now = datetime.now(UTC)
            last = _utc(row.last_used_at)
            if last is None or now - last > _TOUCH_EVERY:
                session.execute(
                    update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=now)
                )
            return _info(row)

        return await self.database.run(work)
