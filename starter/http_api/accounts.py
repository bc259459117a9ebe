"""/v1/accounts and the connect flow (/v1/accounts/connect, /v1/oauth/tiktok/callback)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request

from starter.http_api.oauth_privacy import hide_in_request_spans
from starter.http_api.services import CALLER_CHECKS, ServiceDep
from starter.service_models import (
    AccountList,
    AccountOut,
    ConnectBody,
    ConnectedResponse,
    ConnectResponse,
    CreatorInfoOut,
    DisconnectResponse,
)
from workflows.request import ID_PATTERN

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], dependencies=CALLER_CHECKS)
oauth = APIRouter(prefix="/v1/oauth", tags=["accounts"])

AccountId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("", response_model=AccountList, summary="Connected accounts")
async def list_accounts(svc: ServiceDep) -> AccountList:
    return await svc.accounts()


@router.post(
    "/connect",
    status_code=201,
    response_model=ConnectResponse,
    summary="Start connecting a TikTok account (OAuth with PKCE)",
    description="Returns TikTok's authorize URL for the creator's browser. TikTok redirects "
    "to TIKTOK_REDIRECT_URI (this API's /v1/oauth/tiktok/callback), which stores the tokens.",
)
async def connect(
    svc: ServiceDep, body: Annotated[ConnectBody | None, Body()] = None
) -> ConnectResponse:
    return await svc.connect(body.accountId if body else None)


@router.get("/{accountId}", response_model=AccountOut, summary="One account")
async def get_account(accountId: AccountId, svc: ServiceDep) -> AccountOut:
    return await svc.account(accountId)


@router.get(
    "/{accountId}/creator-info",
    response_model=CreatorInfoOut,
    summary="Live creator_info (through the worker)",
    description="What a composer needs to follow TikTok's Direct Post UX rules: nickname, "
    "avatar, privacy options, disabled interactions, maximum video duration.",
)
async def creator_info(accountId: AccountId, svc: ServiceDep) -> CreatorInfoOut:
    return await svc.creator_info(accountId)


@router.delete(
    "/{accountId}",
    response_model=DisconnectResponse,
    summary="Disconnect: revoke at TikTok and forget the tokens",
)
async def disconnect(accountId: AccountId, svc: ServiceDep) -> DisconnectResponse:
    return await svc.disconnect(accountId)


@oauth.get(
    "/tiktok/callback",
    response_model=ConnectedResponse,
    summary="TikTok's redirect after the creator answered (no API key: the browser calls it)",
)
async def callback(
    request: Request,
    svc: ServiceDep,
    state: Annotated[str, Query(max_length=256)] = "",
    code: Annotated[str, Query(max_length=2048)] = "",
    error: Annotated[str, Query(max_length=256)] = "",
    error_description: Annotated[str, Query(max_length=2048)] = "",
) -> ConnectedResponse:
    hide_in_request_spans(request.scope)
    return await svc.connect_callback(
        state=state, code=code, error=error, error_description=error_description
    )
