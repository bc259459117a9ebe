"""The codes the front doors answer with themselves (HTTP API, MCP tools, the Python API's
exceptions), beside the engine's and TikTok's codes of `workflows.errors`: what each means,
its HTTP status, whether asking again can help (a problem document's `retryable`, which
`ServiceProblem` takes from here for the codes listed), and what to do.
docs/error-codes.md is generated from this table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerCode:
    code: str
    status: int
    retryable: bool
    """Whether the same request, sent again unchanged, can succeed."""
    meaning: str
    remedy: str


ANSWER_CODES = {
    rule.code: rule
    for rule in (
        AnswerCode("REQUEST_INVALID", 422, False,
                   "The request is invalid; `problems` lists every problem (TT_* codes).",
                   "Fix each listed field; nothing was started."),
        AnswerCode("UNAUTHORIZED", 401, False, "No valid API key (missing, unknown, revoked).",
                   "Send `Authorization: Bearer ttp_…` with a key from `api-key create`."),
        AnswerCode("POST_NOT_FOUND", 404, False, "No such post target.",
                   "Check the postId and accountId (`GET /v1/posts?postId=`)."),
        AnswerCode("ACCOUNT_NOT_FOUND", 404, False, "No such connected account.",
                   "Connect it (`POST /v1/accounts/connect`) or check the id."),
        AnswerCode("BODY_TOO_LARGE", 413, False, "The body is over API_MAX_BODY_BYTES.",
                   "Split the batch into smaller requests."),
        AnswerCode("POST_NOT_READY", 503, True,
                   "No worker answered for the post in time: its state, or an action no "
                   "worker took within 30 s. Temporal may still hand the action over when a "
                   "worker comes.",
                   "Check that a worker polls the task queue; read the post's state before "
                   "asking again (`describe` reads the history without a worker)."),
        AnswerCode("WORKER_UNAVAILABLE", 503, True,
                   "No worker finished a creator_info or revoke call within 30 s.",
                   "Check that a worker polls the task queue, then ask again."),
        AnswerCode("TEMPORAL_UNAVAILABLE", 503, True,
                   "Temporal was unreachable, busy or slow (UNAVAILABLE, DEADLINE_EXCEEDED, "
                   "RESOURCE_EXHAUSTED, ...).",
                   "Ask again after Retry-After; check the Temporal server if it persists."),
        AnswerCode("TEMPORAL_REFUSED", 502, False,
                   "Temporal refused the request (PERMISSION_DENIED, NOT_FOUND for the "
                   "namespace, ...): the server's own Temporal settings are wrong.",
                   "Fix TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the API key or TLS of the "
                   "API process; asking again will not help."),
        AnswerCode("RETRY_NEEDS_CONFIRMATION", 409, False,
                   "Not retried: TikTok may already have the post (its run failed after the "
                   "upload was sent, or was stopped in Temporal).",
                   "Check the creator's profile and inbox; if the post is not there, retry "
                   "this one post with confirmNotPosted (`--confirm-not-posted`)."),
        AnswerCode("RETRY_NOT_ALLOWED", 409, False,
                   "Not retried: the post had been published, delivered or cancelled before "
                   "its run was stopped.",
                   "Nothing to retry; to post again, submit under a new postId."),
        AnswerCode("RETRY_NOT_FAILED", 409, False,
                   "Not retried: the post is running, finished without failing, or was "
                   "retried meanwhile.",
                   "Read its state; reschedule or cancel a running post instead."),
        AnswerCode("NOT_FOUND", 404, False, "No such route.", "Check the path (docs/api.md)."),
        AnswerCode("METHOD_NOT_ALLOWED", 405, False, "The route has no such method.",
                   "Check the method (docs/api.md)."),
        AnswerCode("PLATFORM_SET_NOT_FOUND", 404, False, "No platform set with that id or name.",
                   "List the sets (`GET /v1/platform-sets`)."),
        AnswerCode("PLATFORM_SET_EXISTS", 409, False,
                   "A platform set already has this id or name (an id may not be another "
                   "set's name, nor the other way round).", "Choose another id or name."),
        AnswerCode("WEBHOOK_NOT_FOUND", 404, False, "No such webhook endpoint.",
                   "List the endpoints (`GET /v1/webhooks`)."),
        AnswerCode("WEBHOOK_SIGNATURE_INVALID", 401, False,
                   "A TikTok webhook with a missing, wrong or stale TikTok-Signature; nothing "
                   "changed.", "Check TIKTOK_CLIENT_SECRET is the app's secret."),
        AnswerCode("WEBHOOK_BODY_INVALID", 400, False,
                   "A correctly signed TikTok webhook whose body is not TikTok's envelope.",
                   "Nothing to do on the engine's side; report the body's shape."),
        AnswerCode("OAUTH_NOT_CONFIGURED", 503, False,
                   "The service has no TikTok app (TIKTOK_CLIENT_KEY is not set).",
                   "Set TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET and TIKTOK_REDIRECT_URI."),
        AnswerCode("OAUTH_DENIED", 400, False,
                   "TikTok did not grant access: the creator declined, or the app is not "
                   "allowed.", "Start the connect again."),
        AnswerCode("OAUTH_CODE_MISSING", 400, False, "TikTok's redirect carried no code.",
                   "Start the connect again."),
        AnswerCode("OAUTH_STATE_INVALID", 400, False,
                   "The callback's state was not issued by this service.",
                   "Start the connect again from this service."),
        AnswerCode("OAUTH_STATE_USED", 400, False, "The connect link was used already.",
                   "Start a new connect."),
        AnswerCode("OAUTH_STATE_EXPIRED", 400, False, "The connect link expired (10 minutes).",
                   "Start a new connect."),
        AnswerCode("OAUTH_EXCHANGE_FAILED", 400, False,
                   "TikTok refused the code exchange (502 when TikTok's failure may pass).",
                   "Start the connect again; the detail has TikTok's code."),
        AnswerCode("ACCOUNT_ID_TAKEN", 409, False,
                   "The account id belongs to another TikTok creator.",
                   "Connect with another accountId, or disconnect that account first."),
        AnswerCode("TOOL_NOT_FOUND", 404, False, "The MCP client called a tool that does not "
                   "exist.", "List the tools (`tools/list`) and call one of them."),
        AnswerCode("INTERNAL", 500, False,
                   "A bug: the detail names the id under which the server logged it.",
                   "Report the id; the request may or may not have taken effect, so read "
                   "the post's state before sending it again."),
    )
}  # fmt: skip
