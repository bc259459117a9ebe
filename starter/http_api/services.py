"""FastAPI dependencies: the process's `Service`, and the API key every route but the OAuth
callback requires."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from account_store.api_keys import ApiKeyInfo
from starter.service import Service, ServiceProblem


async def service(request: Request) -> Service:
    """The process's Service. A coroutine on purpose: FastAPI runs a plain `def` dependency
    in its thread pool, a hand-off per request for one attribute read."""
    found: Service = request.app.state.service
    return found


_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `tiktok-publisher api-key create NAME`: "
    "`Authorization: Bearer ttp_…`.",
)


def unauthorized(detail: str) -> ServiceProblem:
    return ServiceProblem(
        401,
        "UNAUTHORIZED",
        "A valid API key is required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="tiktok-publisher"'},
    )


async def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKeyInfo:
    if credentials is None:
        raise unauthorized("Send Authorization: Bearer <API key>.")
    info = await (await service(request)).api_keys.verify(credentials.credentials)
    if info is None:
        raise unauthorized("The API key is unknown or revoked.")
    return info


ServiceDep = Annotated[Service, Depends(service)]
