"""`tiktok-publisher platform-set ...` and `submit --dialect`: named sets of accounts in the
account store (Ampost's platformSetId), and the request dialects (docs/dialects.md).
Registered by `starter.cli.build_parser`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from workflows.dialects import DIALECTS, platform_set_references


def _sets() -> Any:
    from account_store.database import open_database
    from account_store.platform_sets import PlatformSets

    return PlatformSets(open_database())


async def resolve(request: Any, dialect: str | None) -> dict[str, Sequence[str] | None]:
    """The platform sets a request names, from the account store (only opened when needed)."""
    references = platform_set_references(request, dialect)
    if not references:
        return {}
    sets = _sets()
    return {set_id: await sets.members(set_id) for set_id in references}


def add_dialect_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default=None,
        help="the request's dialect (default: detected from its keys; docs/dialects.md)",
    )


def _print(record: Any, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "setId": record.set_id,
                    "name": record.name,
                    "accountIds": list(record.account_ids),
                    "createdAt": record.created_at.isoformat(),
                    "updatedAt": record.updated_at.isoformat(),
                },
                indent=2,
            )
        )
        return
    accounts = ", ".join(record.account_ids) or "(no accounts)"
    print(f"{record.set_id}  {record.name}: {accounts}")


async def _guarded(args: argparse.Namespace, work: Any) -> int:
    from account_store.platform_sets import PlatformSetError

    try:
        record = await work(_sets())
    except PlatformSetError as err:
        print(f"Refused ({err.code}): {err}", file=sys.stderr)
        return 3 if err.code == "PLATFORM_SET_NOT_FOUND" else 2
    _print(record, args.json)
    return 0


async def _create(args: argparse.Namespace) -> int:
    return await _guarded(
        args, lambda sets: sets.create(args.name, args.account, set_id=args.id or None)
    )


async def _list(args: argparse.Namespace) -> int:
    records = await _sets().list_sets()
    if args.json:
        print(
            json.dumps(
                [
                    {"setId": r.set_id, "name": r.name, "accountIds": list(r.account_ids)}
                    for r in records
                ],
                indent=2,
            )
        )
        return 0
    for record in records:
        _print(record, False)
    if not records:
        print("No platform sets (create one with `tiktok-publisher platform-set create NAME`).")
    return 0


async def _show(args: argparse.Namespace) -> int:
    record = await _sets().get(args.set)
    if record is None:
        print(f"No platform set with id or name {args.set!r}.", file=sys.stderr)
        return 3
    _print(record, args.json)
    return 0


async def _change(args: argparse.Namespace) -> int:
    return await _guarded(
        args,
        lambda sets: sets.update(
            args.set,
            name=args.rename,
            account_ids=args.accounts.split(",") if args.accounts is not None else None,
            add=args.add,
            remove=args.remove,
        ),
    )


async def _delete(args: argparse.Namespace) -> int:
    code = await _guarded(args, lambda sets: sets.delete(args.set))
    if code == 0:
        print("Deleted (its accounts stay connected).", file=sys.stderr)
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("platform-set", help="named sets of accounts (Ampost's platformSetId)")
    actions = p.add_subparsers(dest="platform_set_command", required=True, metavar="ACTION")

    a = actions.add_parser("create", help="create a set of connected accounts")
    a.add_argument("name", help="a name for people, e.g. launch-team")
    a.add_argument("--account", action="append", default=[], help="an account id (repeat)")
    a.add_argument("--id", default="", help="keep an id your requests use (default: a UUID)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_create)

    a = actions.add_parser("list", help="every set and its accounts")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_list)

    a = actions.add_parser("show", help="one set, by id or name")
    a.add_argument("set")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_show)

    a = actions.add_parser("change", help="rename a set, replace its accounts, or add/remove some")
    a.add_argument("set", help="the set's id or name")
    a.add_argument("--rename", default=None, help="a new name")
    a.add_argument("--accounts", default=None, help="replace the accounts: a,b,c")
    a.add_argument("--add", action="append", default=[], help="add an account (repeat)")
    a.add_argument("--remove", action="append", default=[], help="remove an account (repeat)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_change)

    a = actions.add_parser("delete", help="delete a set (its accounts stay connected)")
    a.add_argument("set")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_delete)
