"""`tiktok-publisher accounts` and `tiktok-publisher account
show|pause|resume|reconnected|followers`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starter.accounts import AccountDesk, AccountNotFound
from starter.followers import FollowersOut
from worker.config import connect
from worker.settings import load_settings
from workflows.account_contracts import AccountState
from workflows.followers import followers_schedule_id

EXIT_OK, EXIT_NOT_FOUND = 0, 3


def register(sub: Any) -> Any:
    """Add `accounts` and `account`; returns the `account` actions for other commands."""
    p = sub.add_parser("accounts", help="one line per TikTok account: health, queue, caps")
    p.set_defaults(run=_accounts)
    p = sub.add_parser("account", help="show, pause, resume an account, or announce new tokens")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("show", help="the account entity's whole state")
    a.add_argument("account_id")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_show)
    a = actions.add_parser("pause", help="hold every post of the account until resume")
    a.add_argument("account_id")
    a.add_argument("--reason")
    a.set_defaults(run=_pause)
    a = actions.add_parser("resume", help="end a pause (or a ban TikTok lifted)")
    a.add_argument("account_id")
    a.set_defaults(run=_resume)
    a = actions.add_parser(
        "reconnected", help="new tokens are stored: posts waiting in NEEDS_RECONNECT continue"
    )
    a.add_argument("account_id")
    a.set_defaults(run=_reconnected)
    a = actions.add_parser(
        "followers",
        help="the follower count and its daily schedule; start, refresh, pause, resume, stop it",
    )
    a.add_argument("account_id")
    what = a.add_mutually_exclusive_group()
    what.add_argument("--start", action="store_true", help="create the schedule (and refresh)")
    what.add_argument("--refresh", action="store_true", help="refresh now (the schedule runs)")
    what.add_argument("--pause", action="store_true", help="no refreshes until --resume")
    what.add_argument("--resume", action="store_true")
    what.add_argument("--stop", action="store_true", help="delete the schedule")
    a.add_argument("--reason", help="with --pause: a note shown on the schedule")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=_followers)
    return actions


async def _desk() -> AccountDesk:
    settings = load_settings()  # a bad setting is a one-line ConfigError, before connecting
    client = await connect()
    return AccountDesk(client, task_queue=settings.task_queue)


def _when(at: datetime | None) -> str:
    if at is None:
        return "-"
    now = datetime.now(UTC)
    return "now" if at <= now else at.strftime("%Y-%m-%d %H:%M:%SZ")


def line(state: AccountState) -> str:
    caps = ", ".join(f"{c.reason.value} until {_when(c.until)}" for c in state.caps) or "-"
    return (
        f"{state.account_id:<24} {state.health.value:<16} {state.queued:>6}  "
        f"{_when(state.next_free_slot.get('init')):<21} {state.posts_last_24h:>8}  {caps}"
    )


HEADER = (
    f"{'ACCOUNT':<24} {'HEALTH':<16} {'QUEUED':>6}  {'NEXT INIT SLOT':<21} {'LAST 24H':>8}  CAPS"
)


def render(state: AccountState) -> str:
    lines = [f"{state.account_id}: {state.health.value}"]
    if state.health_reason:
        lines.append(f"  reason: {state.health_reason}")
    waits = ", ".join(f"{k} {v}" for k, v in sorted(state.queued_by_reason.items()))
    lines.append(f"  posts queued: {state.queued}{' (' + waits + ')' if waits else ''}")
    slots = ", ".join(f"{k} {_when(v)}" for k, v in sorted(state.next_free_slot.items()))
    lines.append(f"  next free slot: {slots or '-'}")
    learned = f" (daily cap learned: {state.learned_daily_cap})" if state.learned_daily_cap else ""
    lines.append(
        f"  last 24 h: {state.posts_last_24h} direct post(s), "
        f"{state.inbox_shares_last_24h} inbox share(s){learned}"
    )
    for cap in state.caps:
        lines.append(f"  cap: {cap.reason.value} ({cap.code}) until {_when(cap.until)}")
    if state.paused_until:
        lines.append(f"  paused after a 429 until {_when(state.paused_until)}")
    if state.token:
        lines.append(
            f"  token valid until {_when(state.token.expires_at)}; "
            f"next renewal {_when(state.next_refresh_at)}"
        )
    lines.append(f"  429s seen: {state.rate_limited_answers}")
    lines.extend(f"  {entry}" for entry in state.history[-10:])
    return "\n".join(lines)


async def _accounts(args: argparse.Namespace) -> int:
    states = await (await _desk()).list()
    if not states:
        print("No account entities yet (each starts with its account's first post).")
        return EXIT_OK
    print(HEADER)
    for state in states:
        print(line(state))
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    state = await (await _desk()).state(args.account_id)
    if state is None:
        print(str(AccountNotFound(args.account_id)), file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.json:
        print(state.model_dump_json(indent=2))
        return EXIT_OK
    print(render(state))
    followers = await _followers_line(args.account_id)
    if followers:
        print(followers)
    return EXIT_OK


async def _followers_line(account_id: str) -> str | None:
    """The follower count and its schedule, when the account store and Temporal can tell."""
    from account_store.analytics import Analytics
    from account_store.database import DEFAULT_DATA_DIR, open_database
    from starter import followers as schedules

    settings = load_settings()
    stored = Path(settings.data_dir or DEFAULT_DATA_DIR) / "accounts.db"
    if not settings.database_url.get_secret_value().strip() and not stored.exists():
        return None  # no account store here: never create one just to show an account
    try:
        database = open_database(settings=settings, migrate=False)
        found = await schedules.followers(await connect(), Analytics(database), account_id)
    except Exception:  # the store or Temporal cannot tell: the entity's view stands alone
        return None
    count = found.followerCount if found.followerCount is not None else "-"
    schedule = found.schedule
    plan = (
        "no schedule"
        if schedule is None
        else "schedule paused"
        if schedule.paused
        else f"next refresh {_when(schedule.nextRunAt)}"
    )
    return f"  followers: {count} (fetched {_when(found.fetchedAt)}; {plan})"


async def _pause(args: argparse.Namespace) -> int:
    print(render(await (await _desk()).pause(args.account_id, args.reason)))
    return EXIT_OK


async def _resume(args: argparse.Namespace) -> int:
    try:
        state = await (await _desk()).resume(args.account_id)
    except AccountNotFound as err:
        print(str(err), file=sys.stderr)
        return EXIT_NOT_FOUND
    print(render(state))
    return EXIT_OK


async def _reconnected(args: argparse.Namespace) -> int:
    print(render(await (await _desk()).reconnected(args.account_id)))
    return EXIT_OK


def render_followers(account_id: str, found: FollowersOut) -> str:
    count = found.followerCount if found.followerCount is not None else "-"
    lines = [f"{account_id}: {count} followers (fetched {_when(found.fetchedAt)})"]
    schedule = found.schedule
    if schedule is None:
        lines.append("  no follower schedule (--start creates it)")
        return "\n".join(lines)
    every = f"every {schedule.everySeconds / 3600:g} h" if schedule.everySeconds else "-"
    state = (
        "PAUSED" + (f" ({schedule.note})" if schedule.note else "") if schedule.paused else every
    )
    lines.append(f"  schedule {schedule.scheduleId}: {state}; task queue {schedule.taskQueue}")
    lines.append(f"  last run {_when(schedule.lastRunAt)}; next run {_when(schedule.nextRunAt)}")
    return "\n".join(lines)


async def _followers(args: argparse.Namespace) -> int:
    from account_store.analytics import Analytics
    from account_store.database import open_database
    from starter import followers as schedules

    settings = load_settings()
    client = await connect()
    handle = client.get_schedule_handle(followers_schedule_id(args.account_id))
    exists = await schedules.follower_schedule(client, args.account_id) is not None
    if (args.refresh or args.pause or args.resume or args.stop) and not exists:
        print(f"{args.account_id} has no follower schedule (--start creates it)", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.start:
        await schedules.start_followers_schedule(client, args.account_id, settings.task_queue)
    elif args.refresh:
        await handle.trigger()
    elif args.pause:
        await handle.pause(note=args.reason or "paused by an operator")
    elif args.resume:
        await handle.unpause(note="")
    elif args.stop:
        await schedules.stop_followers_schedule(client, args.account_id)
    found = await schedules.followers(client, Analytics(open_database()), args.account_id)
    print(
        found.model_dump_json(indent=2) if args.json else render_followers(args.account_id, found)
    )
    return EXIT_OK
