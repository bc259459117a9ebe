"""`tiktok-publisher`: the project's one command line.

Exit codes: 0 done; 1 unexpected failure; 2 the request or arguments are invalid (nothing
was started); 3 no such post; 4 the post refused the action (for example cancel once an
init may have reached TikTok).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.service import RPCError

from starter import accounts_cli, generated, intake_cli, platform_sets_cli
from starter.api import ActionRejected, PostNotFound, PostPublisher
from starter.operations import (
    BulkStopped,
    Fixes,
    Operations,
    Outcome,
    render,
    render_row,
    render_summary,
)
from starter.post_text import print_problems, render_state
from telemetry import tracing
from worker.codec import PayloadKeyError, unreadable_encrypted_payload
from worker.config import ConfigError
from worker.custody import CustodySettings
from workflows.request import RequestInvalid, parse_request, workflow_id
from workflows.tiktok import Privacy
from workflows.validation import ValidationPolicy

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_REJECTED = 0, 1, 2, 3, 4


def _parse_time(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{raw}' is not a time; write it in ISO 8601 with a UTC offset, like "
            "2026-12-01T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"'{raw}' has no UTC offset; write it like 2026-12-01T09:00:00Z"
        )
    return value.astimezone(UTC)


def _read_request(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    return json.loads(text)


async def _submit(args: argparse.Namespace) -> int:
    if intake_cli.is_jsonl(args):
        return await intake_cli.submit_jsonl(args)
    try:
        request = _read_request(args.file)
    except (OSError, json.JSONDecodeError) as err:
        print(f"Cannot read the request: {err}", file=sys.stderr)
        return EXIT_INVALID
    try:
        # What is wrong with the request itself is said even with Temporal down.
        sets = await platform_sets_cli.resolve(request, args.dialect)
        parse_request(
            request,
            dialect=args.dialect,
            platform_sets=sets,
            policy=ValidationPolicy(source_rule=CustodySettings.from_env().source_rule),
        )
        publisher = await PostPublisher.connect()
        submitted = await publisher.submit(request, dialect=args.dialect, platform_sets=sets)
    except RequestInvalid as err:
        if args.json:
            print(json.dumps({"problems": [p.__dict__ for p in err.problems]}, indent=2))
        else:
            print_problems(err, sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps([s.__dict__ for s in submitted], indent=2))
    else:
        for item in submitted:
            verb = "started" if item.created else "already exists (not started again)"
            print(f"{verb}: {item.workflow_id}\n  {item.summary}\n  UI: {item.ui_url}")
    await intake_cli.warn_unconnected([item.account_id for item in submitted])
    return EXIT_OK


async def _status(args: argparse.Namespace) -> int:
    publisher = await PostPublisher.connect()
    state = await publisher.state(args.post_id, args.account_id)
    print(state.model_dump_json(indent=2) if args.json else render_state(state))
    return EXIT_OK


async def _watch(args: argparse.Namespace) -> int:
    publisher = await PostPublisher.connect()
    seen = 0
    async for state in publisher.watch(args.post_id, args.account_id, interval=args.interval):
        for line in state.history[seen:]:
            print(f"  {line}")
        seen = len(state.history)
        if state.phase.terminal:
            print(render_state(state))
            return EXIT_OK if state.phase.value != "FAILED" else EXIT_FAILED
    return EXIT_OK


async def _list(args: argparse.Namespace) -> int:
    from starter import post_list

    try:
        query = post_list.filters_query(
            state=args.state, account_id=args.account, post_id=args.post, query=args.query
        )
    except post_list.FilterInvalid as err:
        raise UsageError(str(err)) from None
    publisher = await PostPublisher.connect()
    limit = None if args.count else args.limit
    rows = await post_list.list_post_targets(
        publisher.client, query, limit=limit, all_runs=args.all_runs
    )
    if args.count:
        print(len({row.workflow_id for row in rows}))
    elif args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2, default=str))
    elif not rows:
        print("No posts match.")
    else:
        print(post_list.render_rows(rows, all_runs=args.all_runs))
    return EXIT_OK


def _one_or_query(args: argparse.Namespace) -> str | None:
    """Commands act on one post (POST_ID ACCOUNT_ID) or on every post --query matches."""
    one = args.post_id is not None
    if one == (args.query is not None) or (one and args.account_id is None):
        raise UsageError("give either POST_ID ACCOUNT_ID, or --query, not both")
    if one and args.dry_run:
        raise UsageError("--dry-run goes with --query (use status to look at one post)")
    return None if one else str(args.query)


async def _reschedule(args: argparse.Namespace) -> int:
    query = _one_or_query(args)
    publisher = await PostPublisher.connect()
    if query is None:
        print(render_state(await publisher.reschedule(args.post_id, args.account_id, args.at)))
        return EXIT_OK
    ops = Operations(publisher)
    return await _bulk(
        lambda shown: ops.reschedule_matching(
            query, args.at, dry_run=args.dry_run, on_outcome=shown
        )
    )


async def _schedule(args: argparse.Namespace) -> int:
    publisher = await PostPublisher.connect()
    print(render_state(await publisher.schedule(args.post_id, args.account_id, args.at)))
    return EXIT_OK


async def _cancel(args: argparse.Namespace) -> int:
    query = _one_or_query(args)
    publisher = await PostPublisher.connect()
    if query is None:
        print(render_state(await publisher.cancel(args.post_id, args.account_id, args.reason)))
        return EXIT_OK
    ops = Operations(publisher)
    return await _bulk(
        lambda shown: ops.cancel_matching(
            query, reason=args.reason, dry_run=args.dry_run, on_outcome=shown
        )
    )


async def _retry(args: argparse.Namespace) -> int:
    query = _one_or_query(args)
    publisher = await PostPublisher.connect()
    ops = Operations(publisher)
    fixes = Fixes(privacy=args.privacy, at=args.at, caption=args.caption)
    options: dict[str, Any] = {"fixes": fixes, "confirm_not_posted": args.confirm_not_posted}
    if query is None:
        outcome = await ops.retry(workflow_id(args.post_id, args.account_id), **options)
        print(render([outcome]))
        return EXIT_OK if outcome.ok else EXIT_REJECTED
    if args.confirm_not_posted:
        raise UsageError("--confirm-not-posted is a per-post decision: retry such posts one by one")
    if args.caption is not None:
        raise UsageError("--caption is one post's text: retry such posts one by one")
    return await _bulk(
        lambda shown: ops.retry_matching(query, dry_run=args.dry_run, fixes=fixes, on_outcome=shown)
    )


async def _describe(args: argparse.Namespace) -> int:
    publisher = await PostPublisher.connect()
    wf_id = workflow_id(args.post_id, args.account_id)
    for line in await Operations(publisher).describe(wf_id):
        print(line)
    print(f"UI: {publisher.workflow_url(wf_id)}")
    return EXIT_OK


async def _bulk(
    run: Callable[[Callable[[Outcome], None]], Awaitable[list[Outcome]]], limit: int = 1000
) -> int:
    """Run a bulk action, printing each post's line as it is decided (a long run shows its
    progress, and an interrupted one what it did), then the summary."""

    def shown(outcome: Outcome) -> None:
        print(render_row(outcome), flush=True)

    try:
        outcomes = await run(shown)
    except BulkStopped as stopped:
        print(render_summary(stopped.outcomes))
        print(str(stopped), file=sys.stderr)
        return EXIT_REJECTED
    print(render_summary(outcomes))
    if sum(o.ok for o in outcomes) >= limit:
        print(f"Stopped at {limit} posts: run the command again for the rest.", file=sys.stderr)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_REJECTED


async def _publish_now(args: argparse.Namespace) -> int:
    publisher = await PostPublisher.connect()
    print(render_state(await publisher.publish_now(args.post_id, args.account_id)))
    return EXIT_OK


async def _setup(args: argparse.Namespace) -> int:
    from starter.setup import register_search_attributes

    publisher = await PostPublisher.connect()
    added = await register_search_attributes(publisher.client)
    namespace = publisher.client.namespace
    if added:
        print(f"Registered search attributes in namespace {namespace}: {', '.join(added)}")
    else:
        print(f"Namespace {namespace} already has every search attribute the engine uses.")
    return EXIT_OK


async def _worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    await run_worker()
    return EXIT_OK


async def _dev(args: argparse.Namespace) -> int:
    from starter.dev import run_dev
    from starter.dev_stack import DevPorts

    if args.metrics_port is not None:  # the worker's /metrics, /healthz, /readyz
        os.environ["WORKER_HTTP_ADDRESS"] = f"127.0.0.1:{args.metrics_port}"
    return await run_dev(
        keep_running=not args.exit_when_done,
        samples=not args.no_samples,
        env_file=Path(args.env_file or ".temporal/stack.env"),
        ports=DevPorts.from_args(args),
    )


def _simulator(argv: list[str]) -> int:
    import simulator

    return simulator.main(argv)


def _schema(args: argparse.Namespace) -> int:
    if args.workflow_input:
        schema = generated.workflow_input_schema()
    elif args.dialect and args.dialect != "native":
        schema = generated.dialect_schema(args.dialect)
    else:
        schema = generated.request_schema()
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    if not args.check:
        for path in generated.write():
            print(f"wrote {path.relative_to(generated.ROOT)}")
        return EXIT_OK
    stale = generated.stale()
    for path in stale:
        rel = path.relative_to(generated.ROOT)
        print(f"{rel} is stale: run `make generate` and commit it.", file=sys.stderr)
    if not stale:
        print("Generated files are up to date.")
    return EXIT_FAILED if stale else EXIT_OK


def _codec_server(args: argparse.Namespace) -> int:
    from starter.codec_server import CodecServerError, from_settings
    from worker.codec import PayloadKeys

    if args.new_key:
        print(PayloadKeys.generate(args.new_key))
        return EXIT_OK
    try:
        server = from_settings(CustodySettings.from_env(), host=args.host, port=args.port)
    except (CodecServerError, PayloadKeyError) as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(f"Codec server on {server.url} (POST /decode, /encode); Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _post_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("post_id", help="the caller's post id (postId)")
    parser.add_argument("account_id", help="the TikTok account id of the target")


def _one_or_many_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("post_id", nargs="?", help="the caller's post id (postId)")
    parser.add_argument("account_id", nargs="?", help="the TikTok account id of the target")
    parser.add_argument(
        "--query",
        help="a Temporal visibility query, e.g. \"TikTokErrorCode = 'internal'\"",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --query: list what would change, change nothing",
    )


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiktok-publisher",
        description="Durable TikTok publishing on Temporal. Temporal connection settings come "
        "from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_PROFILE.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("dev", help="run the whole local stack and the sample posts")
    p.add_argument(
        "--exit-when-done",
        action="store_true",
        help="stop once every sample post has finished (default: keep serving until Ctrl-C)",
    )
    p.add_argument("--no-samples", action="store_true", help="start the stack without demo posts")
    p.add_argument(
        "--env-file",
        metavar="PATH",
        help="where to write the stack's environment (Temporal address, simulator, bucket, "
        "media host, API URL and key) for another shell to `source` (default "
        ".temporal/stack.env)",
    )
    from starter.dev_stack import DevPorts

    DevPorts.add_arguments(p)
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="the worker's metrics and probes (default 9464; WORKER_HTTP_ADDRESS= turns them off)",
    )
    p.set_defaults(run=_dev)

    p = sub.add_parser("setup", help="register the engine's search attributes on a namespace")
    p.set_defaults(run=_setup)

    p = sub.add_parser("worker", help="run a worker (configuration from the environment)")
    p.set_defaults(run=_worker)

    sub.add_parser("simulator", help="run the TikTok API simulator (see --help)", add_help=False)

    for name, run, what in (
        ("submit", _submit, "validate a post request and start its workflows"),
        (
            "validate",
            intake_cli.validate,
            "check a post request offline (no Temporal), as submit would",
        ),
    ):
        p = sub.add_parser(name, help=what)
        p.add_argument("file", help="request JSON file, or - for standard input")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument(
            "--jsonl",
            action="store_true",
            help="one request per line (JSON Lines; implied by a .jsonl or .ndjson file)",
        )
        platform_sets_cli.add_dialect_argument(p)
        p.set_defaults(run=run)

    p = sub.add_parser("status", help="show a post target's state")
    _post_args(p)
    p.add_argument("--json", action="store_true", help="the full state query as JSON")
    p.set_defaults(run=_status)

    p = sub.add_parser("watch", help="follow a post target until it finishes")
    _post_args(p)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
    p.set_defaults(run=_watch)

    p = sub.add_parser(
        "list", help="list post targets (latest run each), filtered like the HTTP API"
    )
    p.add_argument(
        "--state", type=str.upper, help="the post's state, e.g. FAILED (TikTokPostState)"
    )
    p.add_argument("--account", metavar="ACCOUNT_ID", help="only this account's posts")
    p.add_argument("--post", metavar="POST_ID", help="only this post's targets")
    p.add_argument("--query", help="a visibility query, e.g. \"TikTokErrorCode = 'internal'\"")
    p.add_argument("--limit", type=int, default=100, help="at most this many rows")
    p.add_argument(
        "--all-runs", action="store_true", help="every run, older runs of retried posts too"
    )
    p.add_argument("--count", action="store_true", help="print only how many post targets match")
    p.add_argument("--json", action="store_true", help="machine-readable rows")
    p.set_defaults(run=_list)

    p = sub.add_parser("reschedule", help="move a scheduled post (or every post --query matches)")
    _one_or_many_args(p)
    p.add_argument("--at", type=_parse_time, required=True, help="ISO-8601 time with offset")
    p.set_defaults(run=_reschedule)

    p = sub.add_parser("schedule", help="put a system draft on the schedule")
    _post_args(p)
    p.add_argument("--at", type=_parse_time, default=None, help="omit to publish now")
    p.set_defaults(run=_schedule)

    p = sub.add_parser(
        "cancel",
        help="cancel posts that have not started publishing, or that their account holds "
        "before any init",
    )
    _one_or_many_args(p)
    p.add_argument("--reason", default=None)
    p.set_defaults(run=_cancel)

    p = sub.add_parser(
        "retry", help="start a FAILED post again from its request (one, or all --query matches)"
    )
    _one_or_many_args(p)
    p.add_argument("--privacy", type=Privacy, choices=list(Privacy), help="fix the privacy")
    p.add_argument("--at", type=_parse_time, default=None, help="publish at this time instead")
    p.add_argument("--caption", default=None, help="replace the caption")
    p.add_argument(
        "--confirm-not-posted",
        action="store_true",
        help="for AMBIGUOUS_INIT: you checked TikTok and the post is not there",
    )
    p.set_defaults(run=_retry)

    p = sub.add_parser("describe", help="a post's timeline, from its history")
    _post_args(p)
    p.set_defaults(run=_describe)

    p = sub.add_parser("publish-now", help="publish a draft or scheduled post immediately")
    _post_args(p)
    p.set_defaults(run=_publish_now)

    p = sub.add_parser("schema", help="print the JSON Schema of the request")
    p.add_argument(
        "--workflow-input", action="store_true", help="the PublishPost workflow input instead"
    )
    platform_sets_cli.add_dialect_argument(p)
    p.set_defaults(run=_schema, sync=True)

    account_actions = accounts_cli.register(sub)
    platform_sets_cli.register(sub)

    p = sub.add_parser(
        "codec-server", help="decrypt payloads for the Temporal UI (TIKTOK_PAYLOAD_KEYS)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8234)
    p.add_argument("--new-key", metavar="KEY_ID", help="print a new id:base64key entry and exit")
    p.set_defaults(run=_codec_server, sync=True)

    p = sub.add_parser(
        "generate",
        help="write the JSON Schemas, the OpenAPI document, docs/error-codes.md and "
        "docs/settings.md",
    )
    p.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    p.set_defaults(run=_generate, sync=True)

    from starter import edge_cli

    edge_cli.add_commands(sub, account=account_actions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulator"]:
        return _simulator(args_list[1:])
    args = build_parser().parse_args(args_list)
    run: Callable[[argparse.Namespace], Any] = args.run
    try:
        if getattr(args, "sync", False):
            return int(run(args))
        coro: Coroutine[Any, Any, int] = run(args)
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except UsageError as err:
        print(f"tiktok-publisher {args.command}: {err}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except PayloadKeyError as err:
        print(f"Cannot decrypt the workflow's payloads: {err}", file=sys.stderr)
        return EXIT_FAILED
    except RequestInvalid as err:
        print_problems(err, sys.stderr)
        return EXIT_INVALID
    except PostNotFound as err:
        print(str(err), file=sys.stderr)
        return EXIT_NOT_FOUND
    except ActionRejected as err:
        print(f"Refused ({err.code}): {err}", file=sys.stderr)
        return EXIT_REJECTED
    except RPCError as err:
        print(f"Temporal refused the request ({err.status.name}): {err.message}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as err:
        if "Failed client connect" in str(err) or "connect" in str(err).lower():
            print(
                f"Cannot reach Temporal ({err}). Is the server up? "
                "Set TEMPORAL_ADDRESS, or run `tiktok-publisher dev`.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        raise
    except Exception as err:
        if not unreadable_encrypted_payload(err):
            raise
        print(
            "PAYLOADS_ENCRYPTED: Temporal holds this post's data encrypted, and this shell has "
            "no key to read it. Set TIKTOK_PAYLOAD_KEYS (the local stack: `source "
            ".temporal/stack.env`) and run the command again. If it was an action (cancel, "
            "reschedule, ...), the post may have taken it: read its state before asking again.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def console_main() -> None:
    """The `tiktok-publisher` executable.

    Skips interpreter teardown once output is flushed: the Temporal client's Rust threads can
    outlive the event loop and abort a finishing process ("PyGILState_Release ... finalizing",
    temporalio/sdk-python#300), which would turn a successful command into exit 134.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `tiktok-publisher list | head`: the reader left; not an error
        code = EXIT_OK
    try:
        tracing.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    console_main()
