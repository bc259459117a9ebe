"""Short workflows the service edge runs on the worker, so the starter side (HTTP API, MCP,
CLI) never calls TikTok itself: a live creator_info for a composer, and revoking an
account's access at TikTok when it is disconnected."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.tiktok import CreatorInfo

CREATOR_INFO_LOOKUP_TYPE = "CreatorInfoLookup"
REVOKE_ACCESS_TYPE = "RevokeAccess"
#: A caller is waiting: a few quick tries, then the error goes back to it.
_QUICK = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
)


class RevokeOutcome(BaseModel):
    revoked: bool
    """True when TikTok confirmed; False when it refused (the code says why)."""
    code: str | None = None
    message: str = ""


@workflow.defn(name=CREATOR_INFO_LOOKUP_TYPE)
class CreatorInfoLookup:
    @workflow.run
    async def run(self, account_id: str) -> CreatorInfo:
        info: CreatorInfo = await workflow.execute_activity(
            "query_creator_info",
            account_id,
            result_type=CreatorInfo,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=_QUICK,
            summary=f"creator_info for {account_id}",
        )
        return info


@workflow.defn(name=REVOKE_ACCESS_TYPE)
class RevokeAccess:
    @workflow.run
    async def run(self, account_id: str) -> RevokeOutcome:
        outcome: RevokeOutcome = await workflow.execute_activity(
            "revoke_access",
            account_id,
            result_type=RevokeOutcome,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=_QUICK,
            summary=f"revoke TikTok access of {account_id}",
        )
        return outcome
