"""The one place the starter side talks to TikTok: the OAuth code exchange and user/info of
a connect, in the API process that receives TikTok's redirect.

Why here and not on the worker: the callback must answer the creator's browser within one
request, and these two calls belong to Login Kit (TikTok's OAuth), not to the Content
Posting API, which stays worker-only. Everything else about an account (creator_info,
revoke, refresh) goes through the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from activities.tiktok_client import DEFAULT_BASE_URL, TikTokClient, TokenGrant, UserInfo
from worker.settings import Settings, load_settings

DEFAULT_AUTHORIZE_URL: str = Settings.model_fields["authorize_url"].default
#: What the engine needs: who the creator is, and posting (direct and inbox).
DEFAULT_SCOPES: str = Settings.model_fields["scopes"].default
DEFAULT_REDIRECT_URI: str = Settings.model_fields["redirect_uri"].default


@dataclass(frozen=True)
class OAuthSettings:
    client_key: str = ""
    client_secret: str = field(default="", repr=False)
    api_base_url: str = DEFAULT_BASE_URL
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: str = DEFAULT_SCOPES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OAuthSettings:
        """From the settings model (`worker.settings`, group Connecting accounts)."""
        s = load_settings(env)
        return cls(
            client_key=s.client_key,
            client_secret=s.client_secret.get_secret_value(),
            api_base_url=s.tiktok_base_url,
            authorize_url=s.authorize_url,
            redirect_uri=s.redirect_uri,
            scopes=s.scopes,
        )

    def authorize_link(self, state: str, code_challenge: str) -> str:
        query = urlencode(
            {
                "client_key": self.client_key,
                "scope": self.scopes,
                "redirect_uri": self.redirect_uri,
                "state": state,
                "response_type": "code",
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.authorize_url}?{query}"


async def exchange_and_identify(
    settings: OAuthSettings, *, code: str, code_verifier: str, redirect_uri: str
) -> tuple[TokenGrant, UserInfo]:
    """The first token pair for a code, and who it belongs to."""
    async with TikTokClient(settings.api_base_url) as client:
        grant = await client.exchange_code(
            client_key=settings.client_key,
            client_secret=settings.client_secret,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        user = await client.user_info(grant.access_token)
    return grant, user
