"""Activities of the TikTokAccount entity, and the one a post uses to reach it first.

The entity decides when tokens are read or renewed; these do the I/O: the token store and
TikTok's OAuth endpoint (through `AccountTokens`), and Temporal itself for signal-with-start.
What they return is `TokenFacts`: times and a fingerprint, never a secret.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy

from activities.failures import token_error
from activities.tokens import AccountTokens, TokenError
from workflows.account_contracts import (
    ACCOUNT_WORKFLOW_TYPE,
    REQUEST_SLOT,
    AccountSettings,
    AccountSlotInput,
    RefreshRequest,
    TokenFacts,
    account_workflow_id,
)
from workflows.pacing import AccountInput

log = structlog.get_logger(__name__)


class AccountActivities:
    """Bound to the worker's token custody and its pacing settings."""

    def __init__(self, tokens: AccountTokens, settings: AccountSettings) -> None:
        self._tokens = tokens
        self._settings = settings

    @activity.defn(name="load_account_settings")
    async def load_account_settings(self) -> AccountSettings:
        """The deployment's pacing settings, read at every start of an account entity."""
        return self._settings

    @activity.defn(name="inspect_account_token")
    async def inspect_account_token(self, account_id: str) -> TokenFacts:
        """Expiry times and fingerprint of the stored tokens (TOKEN_MISSING if none)."""
        try:
            return await self._tokens.facts(account_id)
        except TokenError as err:
            raise token_error(err) from None

    @activity.defn(name="refresh_account_token")
    async def refresh_account_token(self, request: RefreshRequest) -> TokenFacts:
        """Renew the tokens (stored durably before this returns), unless they changed."""
        try:
            facts = await self._tokens.refresh(
                request.account_id, unless_changed_from=request.unless_changed_from
            )
        except TokenError as err:
            log.warning("account.refresh_failed", account_id=request.account_id, code=err.code)
            raise token_error(err) from None
        log.info("account.token_renewed", account_id=request.account_id)
        return facts

    @activity.defn(name="wake_account_entity")
    async def wake_account_entity(self, account_id: str) -> None:
        """Start the account's entity if it is not running, well before a scheduled post
        needs it: its start (settings, token inspection) is then over by the due time."""
        await activity.client().start_workflow(
            ACCOUNT_WORKFLOW_TYPE,
            AccountInput(account_id=account_id),
            id=account_workflow_id(account_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"TikTok account {account_id}",
        )

    @activity.defn(name="request_account_slot")
    async def request_account_slot(self, request: AccountSlotInput) -> None:
        """Signal-with-start: deliver the post's slot request, starting the account's entity
        if it is not running yet (first use)."""
        info = activity.info()
        await activity.client().start_workflow(
            ACCOUNT_WORKFLOW_TYPE,
            AccountInput(account_id=request.account_id),
            id=account_workflow_id(request.account_id),
            task_queue=info.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=REQUEST_SLOT,
            start_signal_args=[request.slot],
            static_summary=f"TikTok account {request.account_id}",
        )
