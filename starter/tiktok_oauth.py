"""The one place the starter side talks to TikTok: the OAuth code exchange and user/info of
a connect, in the API process that receives TikTok's redirect.

Why here and not on the worker: the callback must answer the creator's browser within one
request, and these two calls belong to Login Kit (TikTok's OAuth), not to the Content
Posting API, which stays worker-only. Everything else about an account (creator_info,
revoke, refresh) goes through the worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from activities.tiktok_client import DEFAULT_BASE_URL, TikTokClient, TokenGrant, UserInfo

DEFAULT_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
#: What the engine needs: who the creator is, and posting (direct and inbox).
DEFAULT_SCOPES = "user.info.basic,video.publish,video.upload"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/v1/oauth/tiktok/callback"


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
        env = os.environ if env is None else env
        return cls(
            client_key=env.get("TIKTOK_CLIENT_KEY", ""),
            client_secret=env.get("TIKTOK_CLIENT_SECRET", ""),
            api_base_url=env.get("TIKTOK_API_BASE_URL", DEFAULT_BASE_URL),
            authorize_url=env.get("TIKTOK_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
            redirect_uri=env.get("TIKTOK_REDIRECT_URI", DEFAULT_REDIRECT_URI),
            scopes=env.get("TIKTOK_SCOPES", DEFAULT_SCOPES),
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
