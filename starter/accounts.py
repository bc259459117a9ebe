"""The Python API for TikTok accounts: their entities' state, pause, resume, reconnect.

    desk = AccountDesk(publisher.client)
    for account in await desk.list():             # every account entity, with its state
        print(account.account_id, account.health, account.queued)
    await desk.pause("acct_1", "brand review")    # its posts wait, visibly, until resume

Like the rest of the starter side it talks to Temporal only, never to TikTok: the account
entities (`tiktok-account/<account_id>`) hold pacing, caps and health.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from workflows.account import TikTokAccount
from workflows.account_contracts import ACCOUNT_WORKFLOW_TYPE, AccountState, account_workflow_id
from workflows.contracts import TASK_QUEUE
from workflows.pacing import AccountInput


class AccountNotFound(LookupError):
    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"No account entity for {account_id}: it starts with the account's first post "
            "(or with `account pause`/`account reconnected`)."
        )
        self.account_id = account_id


class AccountDesk:
    def __init__(self, client: Client, *, task_queue: str = TASK_QUEUE) -> None:
        self.client = client
        self.task_queue = task_queue

    async def list(self) -> list[AccountState]:
        """Every running account entity's state, by account id."""
        query = f"WorkflowType = '{ACCOUNT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
        states: list[AccountState] = []
        async for execution in self.client.list_workflows(query):
            handle = self.client.get_workflow_handle(execution.id)
            try:
                states.append(await handle.query(TikTokAccount.state))
            except RPCError:
                continue  # it ended between the listing and the query
        return sorted(states, key=lambda s: s.account_id)

    async def state(self, account_id: str) -> AccountState | None:
        """The entity's state, or None when the account has no entity (yet)."""
        handle = self.client.get_workflow_handle(account_workflow_id(account_id))
        try:
            described = await handle.describe()
            if described.status != WorkflowExecutionStatus.RUNNING:
                return None
            return await handle.query(TikTokAccount.state)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def pause(self, account_id: str, reason: str | None = None) -> AccountState:
        handle = await self._ensure(account_id)
        await handle.signal(TikTokAccount.pause, reason)
        return await handle.query(TikTokAccount.state)

    async def resume(self, account_id: str) -> AccountState:
        if await self.state(account_id) is None:
            raise AccountNotFound(account_id)
        handle = self.client.get_workflow_handle(account_workflow_id(account_id))
        await handle.signal(TikTokAccount.resume)
        return await handle.query(TikTokAccount.state)

    async def reconnected(self, account_id: str) -> AccountState:
        """Tell the entity new tokens were stored: its waiting posts continue at once."""
        handle = await self._ensure(account_id)
        await handle.signal(TikTokAccount.reconnected)
        return await handle.query(TikTokAccount.state)

    async def _ensure(self, account_id: str) -> WorkflowHandle[TikTokAccount, None]:
        return await self.client.start_workflow(
            TikTokAccount.run,
            AccountInput(account_id=account_id),
            id=account_workflow_id(account_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"TikTok account {account_id}",
        )
