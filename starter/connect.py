"""Connecting a TikTok account: OAuth 2.0 authorization code with PKCE (S256) and state.

    flow.begin(account_id)  -> the authorize URL for the creator's browser
    (TikTok redirects to TIKTOK_REDIRECT_URI, served by the HTTP API)
    flow.complete(...)      -> checks state, exchanges the code, reads the creator, stores
                               the tokens, wakes the account's entity

The HTTP API serves both halves; `tiktok-publisher account connect` calls `begin` and waits
for the API's callback to record the outcome in the store.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client

from account_store.oauth_states import ConnectOutcome, ConsumedState, OAuthStates, StateRejected
from account_store.store import AccountProfile, AccountStore
from activities.tiktok_client import TikTokApiError
from activities.tokens import StoredToken
from starter.account_entity import signal_account
from starter.followers import start_followers_schedule
from starter.tiktok_oauth import OAuthSettings, exchange_and_identify
from workflows.errors import Retryability
from workflows.post import is_identifier

log = structlog.get_logger(__name__)


class ConnectFailed(Exception):
    """The connect did not complete; `code` is stable, `status` the HTTP status to show."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ConnectStart:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    account_id: str
    open_id: str
    username: str
    display_name: str
    entity_woken: bool
    followers_scheduled: bool = False


def derived_account_id(username: str, open_id: str) -> str:
    """The id of an account connected without one: its username, else part of its open_id."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "", username)[:128]
    return cleaned or "tt_" + re.sub(r"[^A-Za-z0-9._-]", "", open_id)[:64]


class ConnectFlow:
    def __init__(
        self,
        store: AccountStore,
        states: OAuthStates,
        settings: OAuthSettings,
        temporal: Client | None = None,
        *,
        task_queue: str | None = None,
    ) -> None:
        self.store = store
        self.states = states
        self.settings = settings
        self.temporal = temporal
        self.task_queue = task_queue
        """Where the account's follower schedule runs its refreshes (None: no schedule)."""

    async def begin(self, account_id: str = "") -> ConnectStart:
        if account_id and not is_identifier(account_id):
            raise ConnectFailed(
                "TT_FIELD_INVALID",
                "accountId may use letters, digits and . _ : - (1-128 characters)",
                status=422,
            )
        if not self.settings.client_key:
            raise ConnectFailed(
                "OAUTH_NOT_CONFIGURED",
                "TIKTOK_CLIENT_KEY is not set: the service has no TikTok app to connect with",
                status=503,
            )
        pending = await self.states.begin(
            account_id=account_id, redirect_uri=self.settings.redirect_uri
        )
        url = self.settings.authorize_link(pending.state, pending.code_challenge)
        return ConnectStart(url, pending.state, pending.expires_at)

    async def complete(
        self, *, state: str, code: str = "", error: str = "", error_description: str = ""
    ) -> Connected:
        try:
            consumed = await self.states.consume(state)
        except StateRejected as err:
            raise ConnectFailed(err.code, str(err)) from None
        try:
            connected = await self._complete(consumed, code, error)
        except ConnectFailed as err:
            await self.states.finish(state, err.code, str(err))
            raise
        await self.states.finish(state, "connected", "", connected.account_id)
        return connected

    async def _complete(self, consumed: ConsumedState, code: str, error: str) -> Connected:
        if error:
            raise ConnectFailed(
                "OAUTH_DENIED",
                f"TikTok did not grant access ({error}): the creator declined or the app is "
                "not allowed; start the connect again",
            )
        if not code:
            raise ConnectFailed("OAUTH_CODE_MISSING", "TikTok's redirect carried no code")
        try:
            grant, user = await exchange_and_identify(
                self.settings,
                code=code,
                code_verifier=consumed.code_verifier,
                redirect_uri=consumed.redirect_uri,
            )
        except TikTokApiError as err:
            retryable = err.retryability is Retryability.RETRYABLE
            raise ConnectFailed(
                "OAUTH_EXCHANGE_FAILED",
                f"TikTok refused the code exchange ({err.code}): {err.rule.meaning} "
                "Start the connect again.",
                status=502 if retryable else 400,
            ) from None
        open_id = user.open_id or grant.open_id
        account_id = consumed.account_id or await self.store.account_for_open_id(open_id) or ""
        account_id = account_id or derived_account_id(user.username, open_id)
        existing = await self.store.get(account_id)
        if existing is not None and existing.profile.open_id not in ("", open_id):
            raise ConnectFailed(
                "ACCOUNT_ID_TAKEN",
                f"account id {account_id} belongs to another TikTok creator; connect with "
                "another accountId, or disconnect that account first",
                status=409,
            )
        now = datetime.now(UTC)
        token = StoredToken(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=now + timedelta(seconds=grant.expires_in) if grant.expires_in else None,
            refresh_expires_at=(
                now + timedelta(seconds=grant.refresh_expires_in)
                if grant.refresh_expires_in
                else None
            ),
            open_id=open_id,
            scope=grant.scope,
        )
        profile = AccountProfile(
            open_id=open_id,
            username=user.username,
            display_name=user.display_name,
            avatar_url=user.avatar_url,
        )
        await self.store.save_connection(account_id, token, profile)
        woken = False
        if self.temporal is not None:
            # Posts waiting in NEEDS_RECONNECT continue at once (the entity also polls).
            woken = await signal_account(self.temporal, account_id, "reconnected")
        scheduled = await self._schedule_followers(account_id)
        return Connected(account_id, open_id, user.username, user.display_name, woken, scheduled)

    async def _schedule_followers(self, account_id: str) -> bool:
        """The account's daily follower refresh (its first one now). A failure here never
        undoes the connect: `account followers ACCOUNT_ID --start` creates it later."""
        if self.temporal is None or self.task_queue is None:
            return False
        try:
            await start_followers_schedule(self.temporal, account_id, self.task_queue)
        except Exception as err:  # the tokens are stored: the connect itself succeeded
            log.warning("connect.followers_schedule_failed", account_id=account_id, error=str(err))
            return False
        return True

    async def wait(self, state: str, *, within: float, interval: float = 0.5) -> ConnectOutcome:
        """Until the callback has recorded an outcome, the state expired, or `within` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            outcome = await self.states.outcome(state)
            if outcome is None or outcome.outcome or outcome.expired:
                return outcome or ConnectOutcome("OAUTH_STATE_INVALID", "", "", False)
            if asyncio.get_running_loop().time() > deadline:
                return outcome
            await asyncio.sleep(interval)
