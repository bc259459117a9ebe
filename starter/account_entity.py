"""The starter's view of a TikTokAccount entity workflow (`tiktok-account/<account_id>`):
read its state, send it a signal. A missing entity is an answer (None / False), not an error,
because accounts that have never posted have no entity yet."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from starter.accounts import AccountDesk
from workflows.account_contracts import AccountState, account_workflow_id

QUERY_SECONDS = 5.0


class EntityUnavailable(Exception):
    """The entity exists but did not answer (no worker polling, or the query failed)."""


async def account_state(client: Client, account_id: str) -> AccountState | None:
    """The `state` query of the account's entity (through `AccountDesk`), or None when
    there is no running entity."""
    try:
        return await asyncio.wait_for(AccountDesk(client).state(account_id), QUERY_SECONDS)
    except (RPCError, WorkflowQueryFailedError, TimeoutError) as err:
        raise EntityUnavailable(f"{account_workflow_id(account_id)}: {err}") from None


async def signal_account(client: Client, account_id: str, signal: str, *args: Any) -> bool:
    """Signal the account's entity; False when it does not exist (nothing to wake)."""
    handle = client.get_workflow_handle(account_workflow_id(account_id))
    try:
        await handle.signal(signal, args=list(args))
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
