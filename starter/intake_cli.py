"""`submit --jsonl` and `validate`: many requests in one process, and checks without Temporal.

Output and exit codes are `submit`'s (0 done, 2 a request was refused and nothing of it was
started); the logic lives in `starter.batch`. Both submits warn on stderr of a target
account with no stored token (`warn_unconnected`), as the HTTP API's answer does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from starter import batch
from starter.api import PostPublisher
from starter.post_text import print_problems
from workflows.request import RequestInvalid

EXIT_OK, EXIT_INVALID = 0, 2  # as in starter.cli


def _read_request(source: str) -> Any:
    return json.loads(_read_text(source))


def is_jsonl(args: argparse.Namespace) -> bool:
    return bool(args.jsonl) or str(args.file).endswith((".jsonl", ".ndjson"))


def _read_text(source: str) -> str:
    return sys.stdin.read() if source == "-" else Path(source).read_text()


def _print_lines(results: list[Any], *, as_json: bool, validating: bool) -> int:
    """One line per request of a JSON Lines batch; exit 2 if any line was refused."""
    for result in results:
        if as_json:
            print(json.dumps(result.as_dict()))
        elif result.unreadable is not None:
            print(f"line {result.line}: unreadable, nothing started: {result.unreadable}")
        elif result.problems:
            print(
                f"line {result.line}: invalid ({len(result.problems)} problem(s)), nothing started:"
            )
            for problem in result.problems:
                print(f"  {problem['code']}  {problem['field']}: {problem['message']}")
        elif validating:
            print(f"line {result.line}: valid")
        else:
            for item in result.submitted:
                verb = "started" if item.created else "already exists (not started again)"
                print(f"line {result.line}: {verb}: {item.workflow_id}")
    refused = sum(1 for r in results if not r.ok)
    if not as_json:
        print(
            f"{len(results) - refused} of {len(results)} request(s) "
            + ("valid" if validating else "accepted"),
            file=sys.stderr,
        )
    return EXIT_INVALID if refused else EXIT_OK


async def submit_jsonl(args: argparse.Namespace) -> int:

    try:
        rows = batch.read_lines(_read_text(args.file))
    except OSError as err:
        print(f"Cannot read the requests: {err}", file=sys.stderr)
        return EXIT_INVALID
    publisher = await PostPublisher.connect()
    results = await batch.submit_lines(publisher, rows, dialect=args.dialect)
    code = _print_lines(results, as_json=args.json, validating=False)
    await warn_unconnected([item.account_id for r in results for item in r.submitted])
    return code


async def validate(args: argparse.Namespace) -> int:

    if is_jsonl(args):
        try:
            rows = batch.read_lines(_read_text(args.file))
        except OSError as err:
            print(f"Cannot read the requests: {err}", file=sys.stderr)
            return EXIT_INVALID
        results = await batch.check_lines(rows, dialect=args.dialect)
        return _print_lines(results, as_json=args.json, validating=True)
    try:
        request = _read_request(args.file)
    except (OSError, json.JSONDecodeError) as err:
        print(f"Cannot read the request: {err}", file=sys.stderr)
        return EXIT_INVALID
    try:
        post = await batch.check_offline(request, dialect=args.dialect)
    except RequestInvalid as err:
        if args.json:
            print(json.dumps({"problems": [p.__dict__ for p in err.problems]}, indent=2))
        else:
            print_problems(err, sys.stderr)
        return EXIT_INVALID
    targets = [{"workflow_id": t.workflow_id, "summary": t.summary()} for t in post.targets]
    if args.json:
        print(json.dumps({"valid": True, "targets": targets}, indent=2))
        return EXIT_OK
    print(f"valid: {len(targets)} target(s); nothing was started")
    for target in targets:
        print(f"  {target['workflow_id']}\n    {target['summary']}")
    return EXIT_OK


def _store_configured(database_url: str, data_dir: str) -> bool:
    """A store the CLI can read without creating one: a server's DATABASE_URL, or an
    SQLite file (DATABASE_URL's, or the embedded default in this directory) that exists."""
    from sqlalchemy.engine import make_url

    from account_store.database import default_url, normalise_url

    url = make_url(normalise_url(database_url.strip() or default_url(data_dir)))
    if url.get_backend_name() != "sqlite":
        return True
    file = url.database
    return file is not None and file not in ("", ":memory:") and Path(file).exists()


async def warn_unconnected(account_ids: list[str]) -> None:
    """On stderr, as the HTTP API's `warnings`: targets whose account has no stored token
    (only where the workers read the account store, not TIKTOK_TOKEN_FILE). Never creates
    a store: with no DATABASE_URL and no embedded store in this directory, the CLI cannot
    know which store the workers read, and says nothing."""
    from account_store.database import open_database
    from account_store.store import AccountStore
    from starter.connected_accounts import ConnectedAccounts, not_connected
    from worker.settings import load_settings

    settings = load_settings()
    if settings.token_file.strip():
        return
    try:
        if not _store_configured(settings.database_url.get_secret_value(), settings.data_dir):
            return
        # Read only: a CLI never migrates the store the workers run on.
        store = AccountStore(open_database(settings=settings, migrate=False))
        missing = await ConnectedAccounts(store).missing(account_ids)
    except Exception as err:  # the posts are submitted; only the check could not be made
        print(f"warning: the account store was not checked ({err})", file=sys.stderr)
        return
    for account in missing:
        connect = f"`tiktok-publisher account connect --account-id {account}`"
        print(f"warning: TOKEN_MISSING: {not_connected(account, connect)}", file=sys.stderr)
