"""How activity failures look to the workflow: an ApplicationError whose type is the stable
code and whose details say whether retrying helps, what it means and what to do."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.exceptions import ApplicationError

from activities.tiktok_client import TikTokApiError
from activities.tokens import TokenError
from workflows.errors import Retryability, classify_error

log = structlog.get_logger(__name__)


def to_application_error(err: TikTokApiError) -> ApplicationError:
    """The activity failure for a TikTok error: type = stable code, details say what to do."""
    rule = err.rule
    delay = err.retry_after_seconds
    log.warning(
        "tiktok.call_failed",
        endpoint=err.endpoint.value,
        code=err.code,
        http_status=err.http_status,
        log_id=err.log_id,
        retryability=rule.retryability.value,
    )
    details = err.as_details() | {"meaning": rule.meaning, "remedy": rule.remedy}
    return ApplicationError(
        str(err),
        details,
        type=err.code,
        non_retryable=rule.retryability is not Retryability.RETRYABLE,
        next_retry_delay=timedelta(seconds=delay) if delay else None,
    )


def engine_error(code: str, message: str, *, retryable: bool) -> ApplicationError:
    """Our own failures (tokens, staging, storage), in the same shape as TikTok's: the code
    as type, and details saying whether retrying helps, what it means and what to do."""
    rule = classify_error(code)
    # Errors whose str() is "CODE: message" must not show the code twice ("X: X: ...").
    message = message.removeprefix(f"{code}: ")
    log.warning("activity.failed", code=code, retryable=retryable)
    return ApplicationError(
        message,
        {
            "code": code,
            "retryability": "retryable" if retryable else "non_retryable",
            "meaning": message,
            "remedy": rule.remedy,
        },
        type=code,
        non_retryable=not retryable,
        next_retry_delay=timedelta(seconds=rule.delay_seconds) if rule.delay_seconds else None,
    )


def token_error(err: TokenError) -> ApplicationError:
    """A token problem (missing, not renewable) as the workflow expects it: the code, and
    whether the account must be reconnected."""
    failure = engine_error(err.code, str(err), retryable=err.retryable)
    if failure.details and err.needs_reconnect:
        failure.details[0]["needs_reconnect"] = True
    return failure
