"""Platform sets: named sets of connected accounts, kept in the account store.

Ampost's requests name their accounts by `platformSetId`; a migrating team creates the same
sets here (keeping their ids if they like: `create(..., set_id=...)`) and sends its requests
unchanged. At submit the starter resolves the set into its accounts (`members`), and the
intake makes one target per account (workflows/dialects/ampost.py).

A set lists only accounts the store knows when they are added; an account forgotten later
stays in its sets (its posts then wait for a reconnect, visibly, instead of the set
shrinking silently).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from account_store.database import Database
from account_store.tables import Account, PlatformSet, PlatformSetMember
from workflows.post import is_identifier

_NAME = re.compile(r"^[^\x00-\x1f]{1,128}$")


class PlatformSetError(ValueError):
    """A refused change: `code` is PLATFORM_SET_NOT_FOUND, PLATFORM_SET_EXISTS,
    ACCOUNT_NOT_FOUND or TT_FIELD_INVALID."""

    def __init__(self, code: str, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class PlatformSetRecord:
    set_id: str
    name: str
    account_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_id(value: str, field: str) -> None:
    if not is_identifier(value):
        raise PlatformSetError(
            "TT_FIELD_INVALID",
            f"{value!r} is not a usable id: 1-128 letters, digits, '.', '_', ':' or '-'.",
            field=field,
        )


class PlatformSets:
    """Create, list, change and delete platform sets."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self._clock = clock or (lambda: datetime.now(UTC))

    async def create(
        self, name: str, account_ids: Sequence[str], *, set_id: str | None = None
    ) -> PlatformSetRecord:
        set_id = set_id or str(uuid.uuid4())
        _check_id(set_id, "setId")
        self._check_name(name)

        def work(session: Session) -> PlatformSetRecord:
            if session.get(PlatformSet, set_id) is not None:
                raise PlatformSetError(
                    "PLATFORM_SET_EXISTS", f"A platform set with id {set_id} exists.", field="setId"
                )
            named = session.scalars(select(PlatformSet).where(PlatformSet.name == set_id)).first()
            if named is not None:  # the id would be read as that set's name, or hide it
                raise PlatformSetError(
                    "PLATFORM_SET_EXISTS",
                    f"Platform set {named.set_id} is named {set_id!r}: a set is found by id or "
                    "name, so choose another id.",
                    field="setId",
                )
            self._name_free(session, name, None)
            now = self._clock()
            session.add(PlatformSet(set_id=set_id, name=name, created_at=now, updated_at=now))
            session.flush()
            self._replace(session, set_id, account_ids)
            return self._record(session, set_id)

        return await self.database.run(work)

    async def list_sets(self) -> list[PlatformSetRecord]:
        def work(session: Session) -> list[PlatformSetRecord]:
            ids = session.scalars(select(PlatformSet.set_id).order_by(PlatformSet.name))
            return [self._record(session, set_id) for set_id in list(ids)]

        return await self.database.run(work)

    async def get(self, set_id_or_name: str) -> PlatformSetRecord | None:
        def work(session: Session) -> PlatformSetRecord | None:
            found = self._find(session, set_id_or_name)
            return self._record(session, found.set_id) if found else None

        return await self.database.run(work)

    async def members(self, set_id: str) -> list[str] | None:
        """The set's account ids in order, or None when there is no such set (by id)."""

        def work(session: Session) -> list[str] | None:
            if session.get(PlatformSet, set_id) is None:
                return None
            return self._accounts(session, set_id)

        return await self.database.run(work)

    async def update(
        self,
        set_id_or_name: str,
        *,
        name: str | None = None,
        account_ids: Sequence[str] | None = None,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> PlatformSetRecord:
        """Rename, replace the accounts, or add / remove some, in one transaction."""
        if name is not None:
            self._check_name(name)

        def work(session: Session) -> PlatformSetRecord:
            found = self._require(session, set_id_or_name)
            if name is not None and name != found.name:
                self._name_free(session, name, found.set_id)
                found.name = name
            accounts = list(account_ids) if account_ids is not None else None
            if accounts is None and (add or remove):
                accounts = self._accounts(session, found.set_id)
            if accounts is not None:
                accounts += [a for a in add if a not in accounts]
                unknown = [a for a in remove if a not in accounts]
                if unknown:
                    raise PlatformSetError(
                        "ACCOUNT_NOT_FOUND",
                        f"Not in platform set {found.name}: {', '.join(unknown)}.",
                        field="remove",
                    )
                accounts = [a for a in accounts if a not in remove]
                self._replace(session, found.set_id, accounts)
            found.updated_at = self._clock()
            return self._record(session, found.set_id)

        return await self._run_on_existing(work, set_id_or_name)

    async def delete(self, set_id_or_name: str) -> PlatformSetRecord:
        def work(session: Session) -> PlatformSetRecord:
            found = self._require(session, set_id_or_name)
            record = self._record(session, found.set_id)
            session.execute(
                delete(PlatformSetMember).where(PlatformSetMember.set_id == found.set_id)
            )
            gone = session.execute(delete(PlatformSet).where(PlatformSet.set_id == found.set_id))
            if getattr(gone, "rowcount", 1) == 0:  # a concurrent request deleted it first
                raise StaleDataError()
            return record

        return await self._run_on_existing(work, set_id_or_name)

    # -- internals -----------------------------------------------------------------------

    async def _run_on_existing(
        self, work: Callable[[Session], PlatformSetRecord], set_id_or_name: str
    ) -> PlatformSetRecord:
        """Run a change to one set; a set deleted by a concurrent request between our read
        and our write is the same answer as a set that was never there."""
        try:
            return await self.database.run(work)
        except StaleDataError:
            raise PlatformSetError(
                "PLATFORM_SET_NOT_FOUND",
                f"No platform set with id or name {set_id_or_name!r} (deleted meanwhile).",
            ) from None

    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME.fullmatch(name) or not name.strip():
            raise PlatformSetError(
                "TT_FIELD_INVALID", "A set's name is 1-128 printable characters.", field="name"
            )

    @staticmethod
    def _name_free(session: Session, name: str, own_id: str | None) -> None:
        """Refuse a name another set has, or that is another set's id: a set is found by id
        or name, so either would make a lookup (and a delete) reach the wrong set."""
        other = session.scalars(select(PlatformSet).where(PlatformSet.name == name)).first()
        if other is not None and other.set_id != own_id:
            raise PlatformSetError(
                "PLATFORM_SET_EXISTS",
                f"Another platform set is named {name!r} ({other.set_id}).",
                field="name",
            )
        if name != own_id and session.get(PlatformSet, name) is not None:
            raise PlatformSetError(
                "PLATFORM_SET_EXISTS",
                f"{name!r} is another platform set's id: a set is found by id or name, so "
                "choose another name.",
                field="name",
            )

    @staticmethod
    def _find(session: Session, set_id_or_name: str) -> PlatformSet | None:
        found = session.get(PlatformSet, set_id_or_name)
        if found is None:
            found = session.scalars(
                select(PlatformSet).where(PlatformSet.name == set_id_or_name)
            ).first()
        return found

    def _require(self, session: Session, set_id_or_name: str) -> PlatformSet:
        found = self._find(session, set_id_or_name)
        if found is None:
            raise PlatformSetError(
                "PLATFORM_SET_NOT_FOUND", f"No platform set with id or name {set_id_or_name!r}."
            )
        return found

    @staticmethod
    def _accounts(session: Session, set_id: str) -> list[str]:
        rows = session.scalars(
            select(PlatformSetMember.account_id)
            .where(PlatformSetMember.set_id == set_id)
            .order_by(PlatformSetMember.position, PlatformSetMember.account_id)
        )
        return list(rows)

    def _replace(self, session: Session, set_id: str, account_ids: Sequence[str]) -> None:
        accounts: list[str] = []
        for account in account_ids:
            _check_id(account, "accountIds")
            if account not in accounts:
                accounts.append(account)
        known = set(
            session.scalars(select(Account.account_id).where(Account.account_id.in_(accounts)))
        )
        unknown = [a for a in accounts if a not in known]
        if unknown:
            raise PlatformSetError(
                "ACCOUNT_NOT_FOUND",
                f"Not connected accounts: {', '.join(unknown)} (connect them first: "
                "`tiktok-publisher account connect` or `account import`).",
                field="accountIds",
            )
        session.execute(delete(PlatformSetMember).where(PlatformSetMember.set_id == set_id))
        for position, account in enumerate(accounts):
            session.add(PlatformSetMember(set_id=set_id, account_id=account, position=position))
        session.flush()

    def _record(self, session: Session, set_id: str) -> PlatformSetRecord:
        row = session.get(PlatformSet, set_id)
        assert row is not None
        return PlatformSetRecord(
            set_id=row.set_id,
            name=row.name,
            account_ids=tuple(self._accounts(session, set_id)),
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
        )
