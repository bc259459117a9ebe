"""FastAPI dependencies: the process's `Service`, and the API key every route but the OAuth
callback requires."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from account_store.api_keys import ApiKeyInfo
from starter.service import Service, ServiceProblem, invalid
from workflows.dialects.common import did_you_mean
from workflows.validation import Problem


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


async def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not take: a misspelt filter
    (`?stat=FAILED`) would otherwise be ignored and answer every post, which a bulk action
    reading that list would act on."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route)
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        problems = []
        for name in unknown:
            hint = did_you_mean(name, allowed)
            takes = ", ".join(sorted(allowed)) or "none"
            problems.append(
                Problem(
                    "TT_UNKNOWN_FIELD",
                    name,
                    f"{name} is not a query parameter of this route{hint}; it takes: {takes}.",
                )
            )
        raise invalid(problems, f"{len(problems)} unknown query parameter(s); nothing was done.")


def _declared_query(dependant: Dependant) -> Iterator[str]:
    yield from (field.alias for field in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _declared_query(sub)


_QUERY_NAMES: dict[tuple[str, frozenset[str]], frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters `route` declares, its documented extras (`openapi_extra`) too."""
    key = (route.path_format, frozenset(route.methods or ()))
    found = _QUERY_NAMES.get(key)
    if found is None:
        declared = set(_declared_query(route.dependant))
        extra: Any = (route.openapi_extra or {}).get("parameters", [])
        declared |= {p["name"] for p in extra if isinstance(p, dict) and p.get("in") == "query"}
        found = _QUERY_NAMES[key] = frozenset(declared)
    return found


CALLER_CHECKS = [Depends(api_key), Depends(known_query)]
"""What every route a caller (not TikTok, not a browser) uses depends on."""
