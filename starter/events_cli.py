"""`tiktok-publisher webhook ...` (callers' webhook endpoints and their delivery log) and
`tiktok-publisher metrics` (a post's analytics): read and written in the account store, the
same rows the HTTP API serves."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _endpoints() -> Any:
    from account_store.database import open_database
    from account_store.webhook_endpoints import WebhookEndpoints

    return WebhookEndpoints(open_database())


async def _add(args: argparse.Namespace) -> int:
    from starter.webhook_registry import EndpointInvalid, check_endpoint

    try:
        events = check_endpoint(args.url, args.event or [])
    except EndpointInvalid as err:
        print(f"Cannot add the endpoint ({err.field}): {err}", file=sys.stderr)
        return 2
    info, secret = await _endpoints().create(
        args.url, account_id=args.account_id or "", events=events
    )
    print(secret)
    scope = f"account {info.account_id}" if info.account_id else "every account"
    print(
        f"Webhook endpoint {info.endpoint_id} added for {scope}. The secret above is shown "
        "only now: verify X-TikTok-Publisher-Signature with it (README, Webhooks out).",
        file=sys.stderr,
    )
    return 0


async def _list(args: argparse.Namespace) -> int:
    found = await _endpoints().all()
    for e in found:
        scope = e.account_id or "(all accounts)"
        events = ",".join(e.events) or "(all events)"
        rotating = (
            f"  rotating until {e.rotating_until:%Y-%m-%d %H:%M}Z" if e.rotating_until else ""
        )
        print(f"{e.endpoint_id}  {scope:<20} {events:<30} {e.url}{rotating}")
    if not found:
        print("No webhook endpoints (add one with `tiktok-publisher webhook add URL`).")
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    rotated = await _endpoints().rotate(args.endpoint_id)
    if rotated is None:
        print(f"No webhook endpoint {args.endpoint_id}.", file=sys.stderr)
        return 3
    info, secret = rotated
    print(secret)
    print(
        f"New secret for {info.endpoint_id}; the previous one keeps signing until "
        f"{info.rotating_until:%Y-%m-%d %H:%M}Z.",
        file=sys.stderr,
    )
    return 0


async def _remove(args: argparse.Namespace) -> int:
    if not await _endpoints().remove(args.endpoint_id):
        print(f"No webhook endpoint {args.endpoint_id}.", file=sys.stderr)
        return 3
    print(f"Removed webhook endpoint {args.endpoint_id}.")
    return 0


async def _log(args: argparse.Namespace) -> int:
    from workflows.request import workflow_id

    attempts = await _endpoints().deliveries(workflow_id(args.post_id, args.account_id))
    for a in attempts:
        status = a.http_status if a.http_status is not None else "-"
        print(
            f"{a.at:%Y-%m-%d %H:%M:%S}Z  {a.event_type:<26} {a.endpoint_id}  try {a.attempt}  "
            f"{status}  {a.outcome}{'  ' + a.detail if a.detail else ''}"
        )
    if not attempts:
        print("No webhook deliveries for this post target.")
    return 0


async def _metrics(args: argparse.Namespace) -> int:
    from account_store.analytics import Analytics
    from account_store.database import open_database
    from starter.post_metrics import post_metrics

    found = await post_metrics(Analytics(open_database()), args.post_id, args.account_id)
    if args.json:
        print(found.model_dump_json(indent=2))
        return 0
    if not found.history:
        print("No metrics yet (refreshed from +1 h after the post is live; ANALYTICS=true).")
        return 0
    print("FETCHED              VIDEO                 VIEWS   LIKES  COMMENTS  SHARES")
    for p in found.history:
        print(
            f"{p.fetchedAt:%Y-%m-%d %H:%M:%S}Z  {p.videoId:<20} {p.views:>7} {p.likes:>7} "
            f"{p.comments:>9} {p.shares:>7}"
        )
    if found.followerCount is not None:
        print(f"followers: {found.followerCount} (at {found.followersFetchedAt:%Y-%m-%d %H:%M}Z)")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("webhook", help="webhook endpoints for the engine's signed events")
    hooks = p.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    h = hooks.add_parser("add", help="register an endpoint and print its secret (once)")
    h.add_argument("url")
    h.add_argument("--account-id", default="", help="only this account's events")
    h.add_argument("--event", action="append", help="an event type wanted (repeatable)")
    h.set_defaults(run=_add)
    h = hooks.add_parser("list", help="registered endpoints (never their secrets)")
    h.set_defaults(run=_list)
    h = hooks.add_parser("rotate", help="a new secret; the previous one signs for 24 h more")
    h.add_argument("endpoint_id")
    h.set_defaults(run=_rotate)
    h = hooks.add_parser("remove", help="remove an endpoint")
    h.add_argument("endpoint_id")
    h.set_defaults(run=_remove)
    h = hooks.add_parser("log", help="the delivery log of one post target")
    h.add_argument("post_id")
    h.add_argument("account_id")
    h.set_defaults(run=_log)

    p = sub.add_parser("metrics", help="a live post's analytics (views, likes, followers)")
    p.add_argument("post_id")
    p.add_argument("account_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_metrics)
