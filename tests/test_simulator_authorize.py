"""The simulator's authorize step, code exchange (PKCE), user/info and revoke, over HTTP."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from activities.tiktok_client import TikTokApiError, TikTokClient
from simulator import Simulator
from simulator.authorize import s256

REDIRECT = "http://127.0.0.1:9/callback"
APP = {"client_key": "sim-client-key", "client_secret": "sim-client-secret"}


def authorize(sim: Simulator, verifier: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_key": "sim-client-key",
        "scope": "user.info.basic,video.publish,video.upload",
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "response_type": "code",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    response = httpx.get(f"{sim.base_url}/v2/auth/authorize/", params=params)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def test_approve_exchange_and_read_the_creator(simulator: Simulator) -> None:
    verifier = secrets.token_urlsafe(48)
    back = authorize(simulator, verifier)
    assert back["state"] == "st-1" and back["code"]
    async with TikTokClient(simulator.base_url) as client:
        grant = await client.exchange_code(
            **APP, code=back["code"], redirect_uri=REDIRECT, code_verifier=verifier
        )
        user = await client.user_info(grant.access_token)
        creator = await client.query_creator_info(grant.access_token)
    assert user.username == "demo_creator" == creator.username
    assert grant.open_id == user.open_id and grant.refresh_token.startswith("rft.")


async def test_a_code_works_once(simulator: Simulator) -> None:
    verifier = secrets.token_urlsafe(48)
    code = authorize(simulator, verifier)["code"]
    async with TikTokClient(simulator.base_url) as client:
        await client.exchange_code(**APP, code=code, redirect_uri=REDIRECT, code_verifier=verifier)
        with pytest.raises(TikTokApiError) as err:
            await client.exchange_code(
                **APP, code=code, redirect_uri=REDIRECT, code_verifier=verifier
            )
    assert err.value.code == "invalid_grant" and "used" in err.value.tiktok_message


async def test_a_wrong_verifier_is_refused(simulator: Simulator) -> None:
    code = authorize(simulator, secrets.token_urlsafe(48))["code"]
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TikTokApiError) as err:
            await client.exchange_code(
                **APP, code=code, redirect_uri=REDIRECT, code_verifier=secrets.token_urlsafe(48)
            )
    assert err.value.code == "invalid_grant"


def test_a_denied_consent_redirects_with_access_denied(simulator: Simulator) -> None:
    simulator.update_config(authorize_outcome="deny")
    back = authorize(simulator, secrets.token_urlsafe(48))
    assert back == {
        "state": "st-1",
        "error": "access_denied",
        "error_description": "The user denied the request.",
    }


def test_a_foreign_app_gets_an_error_page_not_a_redirect(simulator: Simulator) -> None:
    response = httpx.get(
        f"{simulator.base_url}/v2/auth/authorize/",
        params={"client_key": "other", "redirect_uri": REDIRECT, "response_type": "code"},
    )
    assert response.status_code == 400 and "location" not in response.headers


async def test_revoke_kills_every_token_of_the_creator(simulator: Simulator) -> None:
    async with TikTokClient(simulator.base_url) as client:
        await client.revoke(**APP, access_token="act.demo")
        with pytest.raises(TikTokApiError) as err:
            await client.user_info("act.demo")
        assert err.value.code == "access_token_invalid"
        with pytest.raises(TikTokApiError) as refresh:
            await client.refresh_access_token(**APP, refresh_token="rft.demo")
    assert refresh.value.code == "invalid_grant"
