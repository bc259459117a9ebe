"""/v1/platform-sets: named sets of accounts (Ampost's `platformSetId`), kept in the account
store. A post naming a set gets one target per account in it (docs/dialects.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from account_store.platform_sets import PlatformSetError, PlatformSetRecord
from starter.http_api.services import CALLER_CHECKS, ServiceDep
from starter.service import ServiceProblem, invalid, not_found
from workflows.request import ID_PATTERN
from workflows.validation import Problem

router = APIRouter(
    prefix="/v1/platform-sets",
    tags=["platform sets"],
    dependencies=CALLER_CHECKS,
)
SetId = Annotated[str, Path(max_length=128, description="The set's id, or its name.")]
AccountIds = list[Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlatformSetCreate(_Body):
    name: str = Field(min_length=1, max_length=128, description="A name for people.")
    accountIds: AccountIds = Field(
        default_factory=list, max_length=1000, description="Connected accounts, in order."
    )
    setId: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        max_length=128,
        description="Keep an id your requests already use (e.g. Ampost's); default: a UUID.",
    )


class PlatformSetChange(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    accountIds: AccountIds | None = Field(
        default=None, max_length=1000, description="Replace the accounts."
    )
    add: AccountIds = Field(default_factory=list, max_length=1000)
    remove: AccountIds = Field(default_factory=list, max_length=1000)


class PlatformSetOut(BaseModel):
    setId: str
    name: str
    accountIds: list[str]
    createdAt: datetime
    updatedAt: datetime


class PlatformSetList(BaseModel):
    items: list[PlatformSetOut]


def _out(record: PlatformSetRecord) -> PlatformSetOut:
    return PlatformSetOut(
        setId=record.set_id,
        name=record.name,
        accountIds=list(record.account_ids),
        createdAt=record.created_at,
        updatedAt=record.updated_at,
    )


def _problem(err: PlatformSetError) -> ServiceProblem:
    if err.code == "PLATFORM_SET_NOT_FOUND":
        return not_found(err.code, str(err))
    if err.code == "PLATFORM_SET_EXISTS":
        return ServiceProblem(409, err.code, "The set exists", str(err), kind="conflict")
    code = "TT_FIELD_INVALID"
    return invalid([Problem(code, err.field, str(err))], f"{err.code}: {err}")


@router.get("", response_model=PlatformSetList, summary="Platform sets")
async def list_sets(svc: ServiceDep) -> PlatformSetList:
    return PlatformSetList(items=[_out(r) for r in await svc.platform_sets.list_sets()])


@router.post("", status_code=201, response_model=PlatformSetOut, summary="Create a platform set")
async def create_set(body: PlatformSetCreate, svc: ServiceDep) -> PlatformSetOut:
    try:
        record = await svc.platform_sets.create(body.name, body.accountIds, set_id=body.setId)
    except PlatformSetError as err:
        raise _problem(err) from None
    return _out(record)


@router.get("/{setId}", response_model=PlatformSetOut, summary="One platform set")
async def get_set(setId: SetId, svc: ServiceDep) -> PlatformSetOut:
    record = await svc.platform_sets.get(setId)
    if record is None:
        raise not_found("PLATFORM_SET_NOT_FOUND", f"No platform set with id or name {setId!r}.")
    return _out(record)


@router.patch(
    "/{setId}",
    response_model=PlatformSetOut,
    summary="Rename a set, replace its accounts, or add / remove some",
)
async def change_set(setId: SetId, body: PlatformSetChange, svc: ServiceDep) -> PlatformSetOut:
    try:
        record = await svc.platform_sets.update(
            setId, name=body.name, account_ids=body.accountIds, add=body.add, remove=body.remove
        )
    except PlatformSetError as err:
        raise _problem(err) from None
    return _out(record)


@router.delete("/{setId}", status_code=204, summary="Delete a platform set (not its accounts)")
async def delete_set(setId: SetId, svc: ServiceDep) -> Response:
    try:
        await svc.platform_sets.delete(setId)
    except PlatformSetError as err:
        raise _problem(err) from None
    return Response(status_code=204)
