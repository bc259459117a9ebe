"""Posts, not runs: what `tiktok-publisher list` shows and counts.

Temporal's visibility lists runs. A post that failed and was retried has two runs (the
FAILED one and the new one), so a query like `TikTokPostState = 'FAILED'` matches the old
run of a post that is PUBLISHED now. Here every post target counts once, as its latest run;
`all_runs` shows the history instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from workflows import search_attributes as sa
from workflows.contracts import WORKFLOW_TYPE, Phase
from workflows.request import ID_PATTERN

#: Ids resolved to their latest run per visibility query (keeps each query short).
_BATCH = 50


class FilterInvalid(ValueError):
    """A filter value that must not reach a visibility query."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def filters_query(
    *,
    state: Phase | str | None = None,
    account_id: str | None = None,
    post_id: str | None = None,
    query: str | None = None,
) -> str:
    """The visibility query for the API's filters (state, accountId, postId) plus an
    operator's own query; values are checked before they enter it."""
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if state is not None:
        try:
            phase = Phase(state)
        except ValueError:
            names = ", ".join(p.value for p in Phase)
            raise FilterInvalid("state", f"one of {names}") from None
        clauses.append(f"{sa.POST_STATE.name} = '{phase.value}'")
    for name, value in (("accountId", account_id), ("postId", post_id)):
        if value is not None and not re.fullmatch(ID_PATTERN, value):
            raise FilterInvalid(name, "letters, digits and . _ : - only (1-128)")
    if account_id is not None:
        clauses.append(f"{sa.ACCOUNT_ID.name} = '{account_id}'")
    if post_id is not None:
        clauses.append(f"{sa.POST_ID.name} = '{post_id}'")
    if query:
        clauses.append(f"({query})")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class PostRow:
    """One run of one post target, as visibility knows it."""

    post_id: str
    account_id: str
    workflow_id: str
    run_id: str
    run_status: str
    state: str | None
    started_at: datetime | None
    closed_at: datetime | None
    scheduled_for: datetime | None
    error_code: str | None
    waiting_for: str | None
    staging_error: str | None
    latest: bool = True
    """False for an older run of a post that was retried (shown with `all_runs` only)."""

    @classmethod
    def of(cls, execution: WorkflowExecution, *, latest: bool = True) -> PostRow:
        attrs = execution.typed_search_attributes
        parts = execution.id.split("/", 2)
        status = execution.status
        return cls(
            post_id=attrs.get(sa.POST_ID) or (parts[1] if len(parts) == 3 else ""),
            account_id=attrs.get(sa.ACCOUNT_ID) or (parts[2] if len(parts) == 3 else ""),
            workflow_id=execution.id,
            run_id=execution.run_id,
            run_status=status.name if isinstance(status, WorkflowExecutionStatus) else "",
            state=attrs.get(sa.POST_STATE),
            started_at=execution.start_time,
            closed_at=execution.close_time,
            scheduled_for=attrs.get(sa.SCHEDULED_FOR),
            error_code=attrs.get(sa.ERROR_CODE),
            waiting_for=attrs.get(sa.WAITING_FOR),
            staging_error=attrs.get(sa.STAGING_ERROR),
            latest=latest,
        )

    @property
    def detail(self) -> str:
        """What an operator wants next to the state: why it failed or what it waits for."""
        if self.error_code:
            return self.error_code
        if self.staging_error:
            return f"staging failing ({self.staging_error})"
        if self.waiting_for:
            return f"waiting for {self.waiting_for}"
        return ""


async def latest_runs(client: Client, workflow_ids: Sequence[str]) -> dict[str, str]:
    """The run id of each post target's newest run (by start time)."""
    newest: dict[str, tuple[datetime, str]] = {}
    for first in range(0, len(workflow_ids), _BATCH):
        batch = workflow_ids[first : first + _BATCH]
        listed = ", ".join(f"'{_quoted(wf_id)}'" for wf_id in batch)
        query = f"WorkflowType = '{WORKFLOW_TYPE}' AND WorkflowId IN ({listed})"
        async for execution in client.list_workflows(query):
            started = execution.start_time
            known = newest.get(execution.id)
            if known is None or started > known[0]:
                newest[execution.id] = (started, execution.run_id)
    return {wf_id: run_id for wf_id, (_, run_id) in newest.items()}


async def list_post_targets(
    client: Client, query: str, *, limit: int | None = 100, all_runs: bool = False
) -> list[PostRow]:
    """Rows for `query` (a full visibility query): one per post target, its latest run,
    unless `all_runs` (then every matching run, the older ones marked `latest=False`)."""
    rows: list[PostRow] = []
    pending: list[WorkflowExecution] = []

    async def settle() -> None:
        latest = await latest_runs(client, list(dict.fromkeys(e.id for e in pending)))
        for execution in pending:
            is_latest = latest.get(execution.id, execution.run_id) == execution.run_id
            if is_latest or all_runs:
                rows.append(PostRow.of(execution, latest=is_latest))
        pending.clear()

    seen: set[tuple[str, str]] = set()
    async for execution in client.list_workflows(query):
        key = (execution.id, execution.run_id)
        if key in seen:
            continue
        seen.add(key)
        pending.append(execution)
        if len(pending) >= _BATCH:
            await settle()
            if limit is not None and len(rows) >= limit:
                break
    if pending:
        await settle()
    return rows if limit is None else rows[:limit]


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


HEADER = ("POST_ID", "ACCOUNT_ID", "STATE", "RUN", "STARTED", "SCHEDULED_FOR", "DETAIL")


def render_rows(rows: Sequence[PostRow], *, all_runs: bool = False) -> str:
    """A table with a header; the first two columns are what the other commands take."""
    table: list[tuple[str, ...]] = [HEADER + (("RUN_ID",) if all_runs else ())]
    for row in rows:
        cells: tuple[str, ...] = (
            row.post_id,
            row.account_id,
            row.state or "-",
            row.run_status or "-",
            _time(row.started_at),
            _time(row.scheduled_for),
            row.detail or "-",
        )
        if all_runs:
            cells += (row.run_id + ("" if row.latest else " (older run)"),)
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    posts = len({row.workflow_id for row in rows})
    runs = f" ({len(rows)} runs)" if all_runs else ""
    lines.append(f"{posts} post target(s){runs}")
    return "\n".join(lines)


def _time(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"
