"""Withdrawing the app's access to an account at TikTok (a disconnect)."""

from __future__ import annotations

from temporalio import activity

from activities.failures import engine_error, to_application_error
from activities.tiktok_client import TikTokApiError, TikTokClient
from activities.tokens import TokenError, TokenStore
from workflows.creator_info_lookup import RevokeOutcome
from workflows.errors import Retryability


class RevocationActivities:
    def __init__(
        self, client: TikTokClient, store: TokenStore, *, client_key: str, client_secret: str
    ) -> None:
        self._client = client
        self._store = store
        self._client_key = client_key
        self._client_secret = client_secret

    @activity.defn(name="revoke_access")
    async def revoke_access(self, account_id: str) -> RevokeOutcome:
        """Revoke the stored token at TikTok. A token TikTok no longer accepts is an answer
        (already revoked), not a failure; only a retryable error is raised for a retry."""
        try:
            token = await self._store.load(account_id)
        except TokenError as err:
            raise engine_error(err.code, str(err), retryable=err.retryable) from None
        try:
            await self._client.revoke(
                client_key=self._client_key,
                client_secret=self._client_secret,
                access_token=token.access_token,
            )
        except TikTokApiError as err:
            if err.retryability is Retryability.RETRYABLE:
                raise to_application_error(err) from None
            return RevokeOutcome(revoked=False, code=err.code, message=err.rule.meaning)
        return RevokeOutcome(revoked=True)
