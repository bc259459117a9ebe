"""OAuth `state` values and PKCE verifiers of connects in progress.

A state is single-use and expires (10 minutes by default): the callback consumes it
atomically, so a replayed or forged callback finds nothing to consume. The PKCE verifier
(RFC 7636, S256) never leaves the server: TikTok sees only its SHA-256 challenge.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from account_store.database import Database
from account_store.tables import OAuthState

STATE_TTL = timedelta(minutes=10)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PendingConnect:
    state: str
    code_challenge: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsumedState:
    state: str
    account_id: str
    redirect_uri: str
    code_verifier: str


@dataclass(frozen=True)
class ConnectOutcome:
    """'' while pending; 'connected' or an error code once the callback ran."""

    outcome: str
    detail: str
    account_id: str
    expired: bool


class StateRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class OAuthStates:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def begin(self, *, account_id: str, redirect_uri: str) -> PendingConnect:
        state = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
        now = datetime.now(UTC)
        key_id, sealed = self.database.keys.encrypt(verifier, f"oauth_states:{state}")
        row = OAuthState(
            state=state,
            account_id=account_id,
            redirect_uri=redirect_uri,
            key_id=key_id,
            code_verifier=sealed,
            created_at=now,
            expires_at=now + STATE_TTL,
            outcome="",
            outcome_detail="",
            connected_account_id="",
        )
        await self.database.run(lambda s: s.add(row))
        return PendingConnect(state, code_challenge(verifier), row.expires_at)

    async def consume(self, state: str) -> ConsumedState:
        """Take the state once; StateRejected(OAUTH_STATE_INVALID | _EXPIRED | _USED)."""
        now = datetime.now(UTC)

        def work(session: Session) -> ConsumedState | StateRejected:
            row = session.get(OAuthState, state) if state else None
            if row is None:
                raise StateRejected(
                    "OAUTH_STATE_INVALID",
                    "This callback's state was not issued by this service (start the connect "
                    "again).",
                )
            taken = session.execute(
                update(OAuthState)
                .where(OAuthState.state == state, OAuthState.consumed_at.is_(None))
                .values(consumed_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise StateRejected(
                    "OAUTH_STATE_USED", "This connect link was used already; start a new one."
                )
            if _utc(row.expires_at) < now:
                row.outcome, row.outcome_detail = "OAUTH_STATE_EXPIRED", "the link expired"
                # Returned, not raised: the consumption and the outcome must be committed.
                return StateRejected(
                    "OAUTH_STATE_EXPIRED",
                    "This connect link expired (10 minutes); start a new one.",
                )
            verifier = self.database.keys.decrypt(
                row.key_id, row.code_verifier, f"oauth_states:{state}"
            )
            return ConsumedState(state, row.account_id, row.redirect_uri, verifier)

        result = await self.database.run(work)
        if isinstance(result, StateRejected):
            raise result
        return result

    async def finish(self, state: str, outcome: str, detail: str, account_id: str = "") -> None:
        def work(session: Session) -> None:
            session.execute(
                update(OAuthState)
                .where(OAuthState.state == state)
                .values(outcome=outcome, outcome_detail=detail, connected_account_id=account_id)
            )

        await self.database.run(work)

    async def outcome(self, state: str) -> ConnectOutcome | None:
        def work(session: Session) -> ConnectOutcome | None:
            row = session.get(OAuthState, state)
            if row is None:
                return None
            return ConnectOutcome(
                outcome=row.outcome,
                detail=row.outcome_detail,
                account_id=row.connected_account_id,
                expired=_utc(row.expires_at) < datetime.now(UTC) and not row.outcome,
            )

        return await self.database.run(work)
