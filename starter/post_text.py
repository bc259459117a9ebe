"""Posts as an operator reads them in a terminal: the state, what failed and what to do, and
the problems of a refused request. The CLI prints these; tests read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from workflows.contracts import PostState
from workflows.request import RequestInvalid


def print_problems(err: RequestInvalid, out: TextIO) -> None:
    print(
        f"The request is invalid ({len(err.problems)} problem(s)); nothing was started:", file=out
    )
    for problem in err.problems:
        print(f"  {problem.code}  {problem.field}: {problem.message}", file=out)


def render_state(state: PostState) -> str:
    lines = [
        f"{state.workflow_id}: {state.phase.value}",
        f"  {state.summary}",
    ]
    if state.scheduled_for and state.phase.value in ("DRAFT", "SCHEDULED"):
        lines.append(f"  scheduled for {state.scheduled_for.isoformat()}")
    armed = state.armed_init_at(datetime.now(UTC))
    if armed is not None:
        lines.append(
            f"  armed: a worker sends the init at {armed.isoformat()} "
            "(cancel and reschedule no longer work)"
        )
    if state.publish_id:
        lines.append(
            f"  publish_id {state.publish_id}  TikTok status {state.tiktok_status or '-'}"
            f"  (inits {state.init_attempts}, polls {state.polls})"
        )
    if state.waiting_for:
        until = f" until {state.waiting_until.isoformat()}" if state.waiting_until else ""
        lines.append(
            f"  waiting for {state.waiting_for}{until} "
            f"(see: tiktok-publisher account show {state.account_id})"
        )
    if state.staging_error:
        then = (
            f"next attempt about {state.next_staging_attempt_at.isoformat()}"
            if state.next_staging_attempt_at
            else "no further attempt"
        )
        lines.append(
            f"  staging failing: attempt {state.staging_failures} ended {state.staging_error}"
        )
        lines.append(f"  {then} (Temporal retries the copy; cancel or reschedule still work)")
    if state.public_post_ids:
        lines.append(f"  public post ids: {', '.join(state.public_post_ids)}")
    if state.error:
        lines.extend(f"  {line}" for line in failure_lines(state))
    return "\n".join(lines)


def failure_lines(state: PostState) -> list[str]:
    """What failed and what to do, with this post's ids in the commands to run."""
    error = state.error
    if error is None:
        return []
    ids = f"{state.post_id} {state.account_id}"
    message = error.message.removeprefix(f"{error.code}: ")
    lines = [f"error {error.code}: {message}"]
    if error.remedy:
        lines.append(f"what to do: {error.remedy.replace('POST_ID ACCOUNT_ID', ids)}")
    if error.may_be_live and "--confirm-not-posted" not in error.remedy:
        lines.append(
            "TikTok may have this post (the upload was sent and TikTok never said it failed), "
            "so a plain `retry` refuses. Check the creator's TikTok profile (and inbox, for "
            "drafts): if the post is there, nothing is needed; if it is not, run "
            f"`tiktok-publisher retry {ids} --confirm-not-posted`."
        )
    return lines
