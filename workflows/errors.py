"""The one table that says what every failure means and whether retrying can help.

Every TikTok `error.code`, every `fail_reason` of status/fetch, every HTTP status we can
see without an envelope, and the engine's own lifecycle codes map here to an `ErrorRule`:
a stable code, a retry class, how long to wait, and a sentence telling a person what to do.
Workflows and activities both read it, so it is pure data (safe in workflow code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Retryability(StrEnum):
    """Whether trying the same call again can help."""

    RETRYABLE = "retryable"
    """Nothing took effect, or the call is a read: try again after `delay_seconds`."""
    NON_RETRYABLE = "non_retryable"
    """Retrying changes nothing until a person fixes the request, the media or the account."""
    AMBIGUOUS = "ambiguous"
    """The request may have taken effect (sent, no answer). Never retry a create blindly."""
    LATER = "later"
    """A posting cap: the same call can succeed, but only hours from now."""


@dataclass(frozen=True)
class ErrorRule:
    code: str
    retryability: Retryability
    meaning: str
    remedy: str
    delay_seconds: float | None = None
    refresh_token: bool = False
    """The access token is the problem: refresh it once, then retry."""

    @property
    def retryable(self) -> bool:
        return self.retryability is Retryability.RETRYABLE


R, N, A, L = (
    Retryability.RETRYABLE,
    Retryability.NON_RETRYABLE,
    Retryability.AMBIGUOUS,
    Retryability.LATER,
)

_DAY = 24 * 3600.0


def _rules(*rules: ErrorRule) -> Mapping[str, ErrorRule]:
    return {rule.code: rule for rule in rules}


# fmt: off
TIKTOK_ERROR_CODES: Mapping[str, ErrorRule] = _rules(
    ErrorRule("invalid_param", N, "TikTok rejected a field of the request.",
              "Read TikTok's message, fix the post (caption, privacy, media) and retry it."),
    ErrorRule("invalid_params", N, "TikTok rejected a field of the request.",
              "Read TikTok's message, fix the post (caption, privacy, media) and retry it."),
    ErrorRule("app_version_check_failed", N,
              "The creator's TikTok app is too old for this upload (photo inbox needs 31.8+).",
              "Ask the creator to update the TikTok app, then retry the post."),
    ErrorRule("invalid_publish_id", N, "TikTok does not know this publish_id.",
              "Check on TikTok whether the post is live before retrying it."),
    ErrorRule("token_not_authorized_for_specified_publish_id", N,
              "The publish_id belongs to another account or app.",
              "Check that the post's account id maps to the account that started the upload."),
    ErrorRule("publish_not_cancellable", N, "TikTok can only cancel a URL pull in progress.",
              "Nothing to do on TikTok's side; delete the post in the TikTok app if needed."),
    ErrorRule("invalid_file_upload", N, "TikTok rejected the uploaded file.",
              "Check the video's format and size against TikTok's limits, then retry."),
    ErrorRule("scope_permission_missed", N, "The account did not grant the scope this call needs.",
              "Ask the creator to reconnect the account granting video.publish and video.upload."),
    ErrorRule("access_token_invalid", R, "The access token expired or was revoked.",
              "The account entity renews the token; if a post still ended with this, ask the "
              "creator to reconnect the account, then retry the post.",
              delay_seconds=0, refresh_token=True),
    ErrorRule("scope_not_authorized", N, "The account did not authorise this scope.",
              "Ask the creator to reconnect the account granting video.publish and video.upload."),
    ErrorRule("spam_risk_too_many_posts", L,
              "The creator reached TikTok's daily post limit (about 15 direct posts a day).",
              "Run `tiktok-publisher retry POST_ID ACCOUNT_ID --at` a time at least 24 hours "
              "after the creator's last posts.",
              delay_seconds=_DAY),
    ErrorRule("spam_risk_user_banned_from_posting", N, "TikTok banned this creator from posting.",
              "Nothing the engine can do; the creator must resolve it with TikTok."),
    ErrorRule("reached_active_user_cap", L,
              "The app reached TikTok's daily cap of active posting creators.",
              "Retry the post tomorrow, or ask TikTok to raise the app's cap.",
              delay_seconds=_DAY),
    ErrorRule("spam_risk_too_many_pending_share", L,
              "The creator has too many unopened inbox drafts (5 per 24 h).",
              "Ask the creator to post or delete drafts in the TikTok inbox, then retry.",
              delay_seconds=_DAY),
    ErrorRule("unaudited_client_can_only_post_to_private_accounts", N,
              "Unaudited TikTok apps can post only to private accounts, as SELF_ONLY.",
              "Make the account private and use SELF_ONLY, or pass TikTok's app audit."),
    ErrorRule("url_ownership_unverified", N,
              "TikTok refused to pull media from a host not verified for the app.",
              "Verify the media host's domain or URL prefix in the TikTok developer portal "
              "(or serve media from the verified bucket URL), then retry the post."),
    ErrorRule("privacy_level_option_mismatch", N,
              "The chosen privacy is not one the creator can use now.",
              "Pick a privacy from the creator's current options and retry with --privacy."),
    ErrorRule("rate_limit_exceeded", R, "Too many calls with this token in the last minute.",
              "The account entity paces calls and waits out a 429; a post that still ended with "
              "this can be retried once TikTok accepts calls again.", delay_seconds=10),
    ErrorRule("internal_error", R, "TikTok had an internal error.",
              "The engine's retries did not get through; retry the post later.",
              delay_seconds=2),
)
"""Every `error.code` of TikTok's envelope. Our code is TikTok's own code."""


OAUTH_ERROR_CODES: Mapping[str, ErrorRule] = _rules(
    ErrorRule("access_denied", N, "The creator refused or revoked the app's access.",
              "Ask the creator to reconnect the account."),
    ErrorRule("invalid_client", N, "The app's client key or secret is wrong.",
              "Fix TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET in the worker's configuration."),
    ErrorRule("invalid_grant", N, "The refresh token is expired, revoked or already rotated.",
              "Ask the creator to reconnect the account to issue new tokens."),
    ErrorRule("invalid_request", N, "The token request was malformed.",
              "Report a bug: the engine built a bad OAuth request."),
    ErrorRule("invalid_scope", N, "The requested scopes are not allowed for the app.",
              "Check the app's scopes in the TikTok developer portal."),
    ErrorRule("unauthorized_client", N, "The app may not use this grant type.",
              "Check the app's settings in the TikTok developer portal."),
    ErrorRule("unsupported_grant_type", N, "TikTok does not support this grant type.",
              "Report a bug: the engine built a bad OAuth request."),
    ErrorRule("server_error", R, "TikTok's OAuth server failed.",
              "The account entity tries the renewal again by itself; nothing to do unless "
              "it persists (then check TikTok's status).", delay_seconds=2),
    ErrorRule("temporarily_unavailable", R, "TikTok's OAuth server is busy.",
              "The account entity tries the renewal again by itself; nothing to do unless "
              "it persists (then check TikTok's status).", delay_seconds=5),
)
"""Errors of /v2/oauth/token/, which answers flat JSON rather than the envelope."""


FAIL_REASONS: Mapping[str, ErrorRule] = _rules(
    ErrorRule("file_format_check_failed", N, "TikTok could not read the media's format.",
              "Re-encode the video as MP4 (H.264) or photos as JPEG/WebP and retry."),
    ErrorRule("duration_check_failed", N, "The video is too short or too long for this creator.",
              "Trim the video to 3 s - the creator's maximum and retry."),
    ErrorRule("frame_rate_check_failed", N, "The video's frame rate is outside 23-60 fps.",
              "Re-encode the video at 23-60 fps and retry."),
    ErrorRule("picture_size_check_failed", N, "The media's dimensions are outside TikTok's limits.",
              "Resize (video sides 360-4096 px, photos up to 1080p) and retry."),
    ErrorRule("internal", R, "TikTok failed while processing the upload.",
              "The failed upload did not go live; the engine's new uploads failed too: retry "
              "the post later.", delay_seconds=30),
    ErrorRule("video_pull_failed", R, "TikTok could not download the video from its URL.",
              "Check the media URL is reachable over https without redirects, then retry the post.",
              delay_seconds=30),
    ErrorRule("photo_pull_failed", R, "TikTok could not download a photo from its URL.",
              "Check the photo URLs are reachable over https without redirects, then retry the "
              "post.",
              delay_seconds=30),
    ErrorRule("publish_cancelled", N, "The upload was cancelled.",
              "Nothing to do unless the cancel was a mistake: then retry the post."),
    ErrorRule("auth_removed", N, "The creator removed the app's access during the upload.",
              "Ask the creator to reconnect the account, then retry the post."),
    ErrorRule("spam_risk_too_many_posts", L, "The creator reached TikTok's daily post limit.",
              "Run `tiktok-publisher retry POST_ID ACCOUNT_ID --at` a time at least 24 hours "
              "later.", delay_seconds=_DAY),
    ErrorRule("spam_risk_user_banned_from_posting", N, "TikTok banned this creator from posting.",
              "Nothing the engine can do; the creator must resolve it with TikTok."),
    ErrorRule("spam_risk_text", N, "TikTok flagged the caption as spam.",
              "Rewrite the caption (fewer links, hashtags, mentions) and retry with --caption."),
    ErrorRule("spam_risk", N, "TikTok flagged the post as spam.",
              "Review the post's content; retrying unchanged will fail again."),
    ErrorRule("user_cancel", N, "The creator cancelled the upload in the app.",
              "Nothing to do unless the creator wants it posted: then retry the post."),
    ErrorRule("privacy_level_check_failed", N, "TikTok refused the post's privacy level.",
              "Pick a privacy from the creator's current options and retry with --privacy."),
    ErrorRule("video_bitrate_check_failed", N, "The video's bitrate is outside TikTok's limits.",
              "Re-encode the video at a standard bitrate and retry."),
    ErrorRule("video_format_not_supported", N, "TikTok does not support the video's codec.",
              "Re-encode as MP4 with H.264 or H.265 and retry."),
)
"""Every `fail_reason` of a FAILED publish (the unconfirmed extras included)."""


STAGING_CODES: Mapping[str, ErrorRule] = _rules(
    ErrorRule("TT_SOURCE_UNREACHABLE", R, "The media source could not be reached or failed.",
              "Check that the source URL works from the worker's network, then run "
              "`tiktok-publisher retry POST_ID ACCOUNT_ID`.",
              delay_seconds=10),
    ErrorRule("TT_SOURCE_NOT_FOUND", N, "The media source answered 404 or 410.",
              "Put the file back at its URL and run `tiktok-publisher retry POST_ID "
              "ACCOUNT_ID`, or fix the URL and submit the post under a new postId."),
    ErrorRule("TT_SOURCE_HTTP_ERROR", N, "The media source refused the download.",
              "Make the URL downloadable without a login (a public or signed link) and "
              "submit the post under a new postId; if the same URL now works, run "
              "`tiktok-publisher retry POST_ID ACCOUNT_ID`."),
    ErrorRule("TT_SOURCE_FORBIDDEN", N,
              "The media host is, or resolves to, an address the engine never fetches from "
              "(loopback, private, link-local, metadata, reserved).",
              "Host the media on a public host name and submit the post under a new postId "
              "(`retry` keeps the old URL)."),
    ErrorRule("TT_SOURCE_URL_INVALID", N, "The media URL is not a valid http(s) URL.",
              "Fix the media URL and submit the post under a new postId."),
    ErrorRule("TT_SOURCE_EMPTY", N, "The media source sent an empty file.",
              "Put the real file at the source and run `tiktok-publisher retry POST_ID "
              "ACCOUNT_ID`."),
    ErrorRule("TT_SOURCE_IS_WEBPAGE", N,
              "The media URL returned a web page, not the file (typical of share links).",
              "Use a direct download link to the file (the error says how for Google Drive, "
              "Dropbox, OneDrive and iCloud) and submit the post under a new postId."),
    ErrorRule("TT_SIZE_MISMATCH", N, "The file's size differs from the sizeBytes declared.",
              "Correct sizeBytes (or leave it out) and submit the post under a new postId; "
              "if the source served the wrong file, fix it and run `tiktok-publisher retry "
              "POST_ID ACCOUNT_ID`."),
    ErrorRule("TT_MEDIA_TYPE_MISMATCH", N,
              "The file's real content is not the declared type (e.g. a photo that is a video).",
              "Fix the file at its source and run `tiktok-publisher retry POST_ID "
              "ACCOUNT_ID`, or fix the media item's type and submit under a new postId."),
    ErrorRule("TT_MEDIA_CORRUPT", N, "The file's header could not be read as its format.",
              "Re-export the media file, put it at its source URL and run "
              "`tiktok-publisher retry POST_ID ACCOUNT_ID`."),
    ErrorRule("TT_MEDIA_EMPTY", N, "The staged file is empty.",
              "Put the real file at the source and run `tiktok-publisher retry POST_ID "
              "ACCOUNT_ID`."),
    ErrorRule("TT_CHUNK_PLAN_INVALID", N, "No valid TikTok chunk plan exists for this size.",
              "Check the video's size against TikTok's limits."),
    ErrorRule("TT_UPLOAD_OFFSET_INVALID", N, "TikTok reported upload progress that is not on a "
              "chunk boundary.",
              "Run `tiktok-publisher retry POST_ID ACCOUNT_ID`: a new upload starts."),
    ErrorRule("TT_STORAGE_ERROR", R, "The media bucket failed or refused a request.",
              "Check the bucket's configuration and credentials (MEDIA_* settings), then "
              "run `tiktok-publisher retry POST_ID ACCOUNT_ID`.",
              delay_seconds=10),
    ErrorRule("TT_STORAGE_MISCONFIGURED", N, "The media bucket settings are incomplete.",
              "Set MEDIA_PUBLIC_BASE_URL (or MEDIA_PHOTO_URLS=presigned) on the worker."),
    ErrorRule("TT_STAGED_OBJECT_MISSING", N, "The staged copy of the media is gone.",
              "Run `tiktok-publisher retry POST_ID ACCOUNT_ID`: the new run copies the media "
              "from its source URL again (a bucket lifecycle rule may have removed the copy; "
              "submitting the same postId again starts nothing)."),
    ErrorRule("TT_STAGED_OBJECT_CHANGED", R, "The staged copy changed while it was being read.",
              "Something else writes to the bucket's staging prefix: stop it, then run "
              "`tiktok-publisher retry POST_ID ACCOUNT_ID`."),
)
"""Taking custody of the media: copying it into our bucket and reading it back."""


ENGINE_CODES: Mapping[str, ErrorRule] = _rules(
    ErrorRule("AMBIGUOUS_INIT", N,
              "TikTok may or may not have created the post: the upload request was sent and "
              "no answer came back.",
              "Check the creator's TikTok profile and inbox. If the post is not there, retry "
              "with --confirm-not-posted; if it is, do nothing."),
    ErrorRule("PUBLISH_TIMEOUT", N, "TikTok did not finish processing within the deadline.",
              "Open the creator's TikTok profile (and inbox, for drafts): the post may still "
              "appear. If it is not there, run `tiktok-publisher retry POST_ID ACCOUNT_ID "
              "--confirm-not-posted`."),
    ErrorRule("TOKEN_MISSING", N, "No token is stored for this account.",
              "Connect the account (add it to the token store), then retry the post."),
    ErrorRule("TOKEN_STORE_INVALID", N, "The token store cannot be read.",
              "Fix the token file (see README: token store format) and restart the worker."),
    ErrorRule("TOKEN_REFRESH_FAILED", N, "The account's token could not be refreshed.",
              "Ask the creator to reconnect the account, then retry the post."),
    ErrorRule("ACCOUNT_NEEDS_RECONNECT", N,
              "The account's tokens could not be renewed, and it was not connected again "
              "within the longest reconnect wait.",
              "Reconnect the account (see README: Accounts), then retry the post."),
    ErrorRule("QUOTA_WAIT_EXCEEDED", N,
              "A TikTok posting cap did not reopen within the longest quota wait.",
              "Check the account's caps with `tiktok-publisher account show ACCOUNT_ID`, "
              "then run `tiktok-publisher retry POST_ID ACCOUNT_ID --at` a time after the "
              "cap reopens (a retry keeps the failed run's settings)."),
    ErrorRule("PUBLISH_UNCONFIRMED", N,
              "TikTok has this publish but gave no final word before the deadline: the post "
              "may be live.",
              "Open the creator's TikTok profile (and inbox, for drafts). If the post is "
              "there, nothing is needed; if it is not, run `tiktok-publisher retry POST_ID "
              "ACCOUNT_ID --confirm-not-posted`."),
    ErrorRule("INIT_ANSWERS_LOST", N,
              "TikTok's answer to every upload start of this video was lost. None of those "
              "publishes can go live: a FILE_UPLOAD publish only goes live once its bytes reach "
              "the upload URL that was in the lost answer.",
              "Check that the worker reaches TIKTOK_API_BASE_URL reliably, then run "
              "`tiktok-publisher retry POST_ID ACCOUNT_ID` (no confirmation needed)."),
    ErrorRule("RUN_ENDED_OUTSIDE_ENGINE", N,
              "The engine did not end this post: an operator or Temporal stopped its run, so "
              "whatever step it was in was cut short.",
              "Check the creator's TikTok profile (and inbox, for drafts); if the post is not "
              "there, run `tiktok-publisher retry POST_ID ACCOUNT_ID --confirm-not-posted`."),
    ErrorRule("ACTIVITY_FAILED", R,
              "An engine step (an activity) failed with an error the engine has no code for, "
              "after its own retries; the failure message says which step and why.",
              "Check the worker's logs; retry the post once the cause is fixed."),
    ErrorRule("INPUT_INVALID", N,
              "The run was started with an input that is not a PublishPostInput (a starter "
              "outside Python sent a wrong or unknown key, or a value of the wrong type). "
              "Nothing was staged or sent to TikTok.",
              "Fix what the starter sends (schema/publish-post-input.schema.json; the "
              "failure names each field and why), then start the post again."),
    ErrorRule("CONNECT_FAILED", R, "TikTok could not be reached; nothing was sent.",
              "Check that the worker reaches TIKTOK_API_BASE_URL, then retry the post.",
              delay_seconds=2),
    ErrorRule("INIT_NOT_SENT", R,
              "The worker stopped while the upload start waited for the due time; nothing "
              "was sent.",
              "Check why the worker stopped (its logs), then retry the post.",
              delay_seconds=1),
    ErrorRule("NO_RESPONSE", A,
              "The request was sent but no answer came back; it may have taken effect.",
              "Check the creator's profile before retrying: see the runbook, AMBIGUOUS_INIT."),
    ErrorRule("BAD_RESPONSE", R, "TikTok answered with something that is not its JSON envelope.",
              "Check TIKTOK_API_BASE_URL points at TikTok, then retry the post.",
              delay_seconds=5),
    ErrorRule("UPLOAD_URL_EXPIRED", N, "TikTok's upload URL expired (valid one hour).",
              "Retry the post: a new upload starts."),
    ErrorRule("UPLOAD_URL_LOST", N,
              "The worker-side copy of TikTok's upload URL is gone (or cannot be decrypted), "
              "so the upload cannot go on.",
              "Retry the post: a new upload starts (the unfinished one never goes live). "
              "Check TIKTOK_PAYLOAD_KEYS still lists the key it was sealed with."),
    ErrorRule("UPLOAD_REJECTED", N, "TikTok refused an uploaded chunk.",
              "Retry the post; if it repeats, report a bug with the log id."),
    ErrorRule("CANCELLED", N, "The post was cancelled before it was published.",
              "Nothing to do; to publish it after all, submit it under a new postId (the "
              "same postId is not started again)."),
    ErrorRule("INVALID_PHASE", N, "The post refused the action in its current phase (for "
              "example cancel after publishing began).",
              "Read the refusal and the post's state: once an init of it may have reached "
              "TikTok it can no longer be stopped (a post its account holds before that still "
              "takes a cancel)."),
    ErrorRule("ACCOUNT_BUSY", N, "The account's entity holds TikTok calls for now (its "
              "per-minute budget, a cap or a pause), so a creator_info lookup got no slot in "
              "time. The lookup is not tried again by itself; the API answers 503 with "
              "Retry-After (retryable).",
              "See `tiktok-publisher account show ACCOUNT_ID`, then ask again later."),
    ErrorRule("POST_CLOSED", N, "The post's run has already ended.",
              "Use retry for a FAILED post; a published or cancelled post cannot be changed."),
    ErrorRule("TIME_IN_PAST", N, "A reschedule or schedule named a time already passed.",
              "Give a future time (with a UTC offset), or use publish-now."),
    ErrorRule("ANALYTICS_SKIPPED", N,
              "A metrics or follower refresh got no slot from its account within an hour "
              "(the account is paused, rate limited or needs reconnecting): it was skipped.",
              "Nothing to do: the next scheduled refresh asks again. See `tiktok-publisher "
              "account show ACCOUNT_ID` for what holds the account."),
    ErrorRule("FOLLOWERS_UNAVAILABLE", N,
              "TikTok's user/info answer carried no follower count.",
              "Reconnect the account with the user.info.stats scope."),
)
"""Failures the engine itself names (no TikTok code exists for them)."""
# fmt: on


def _http_rule(status: int) -> ErrorRule:
    code = f"http_{status}"
    if status == 429:
        return ErrorRule(
            code,
            R,
            "TikTok is rate limiting this token.",
            "The account entity paces calls and waits out a 429; retry a post that still "
            "ended with this.",
            delay_seconds=10,
        )
    if status == 401:
        return ErrorRule(
            code,
            R,
            "TikTok did not accept the access token.",
            "The account entity renews the token; if a post still ended with this, ask the "
            "creator to reconnect the account.",
            delay_seconds=0,
            refresh_token=True,
        )
    if status in (500, 502, 503, 504):
        # Without TikTok's envelope we cannot tell whether TikTok acted on the request:
        # a gateway may have timed out after forwarding it.
        return ErrorRule(
            code,
            A,
            f"TikTok answered HTTP {status} without an error envelope.",
            "Check the creator's profile before retrying: see the runbook, AMBIGUOUS_INIT.",
            delay_seconds=5,
        )
    if status >= 500:
        return ErrorRule(
            code,
            A,
            f"TikTok answered HTTP {status}.",
            "Check the creator's profile before retrying: see the runbook, AMBIGUOUS_INIT.",
            delay_seconds=5,
        )
    return ErrorRule(
        code,
        N,
        f"TikTok answered HTTP {status} without an error envelope.",
        "Check TIKTOK_API_BASE_URL and the request; report a bug if it repeats.",
    )


def classify_error(code: str | None, http_status: int | None = None) -> ErrorRule:
    """The rule for a failed call: TikTok's code first, then what the HTTP status implies."""
    if code:
        for table in (TIKTOK_ERROR_CODES, OAUTH_ERROR_CODES, STAGING_CODES, ENGINE_CODES):
            if code in table:
                return table[code]
        # A code TikTok added after this table was written: trust the HTTP class.
        if http_status is not None and (http_status == 429 or http_status >= 500):
            base = _http_rule(http_status)
            return ErrorRule(code, base.retryability, base.meaning, base.remedy, base.delay_seconds)
        return ErrorRule(
            code,
            N,
            f"TikTok answered '{code}', which this engine does not know.",
            "Read TikTok's message and log id; report it so the table learns it.",
        )
    if http_status is not None:
        return _http_rule(http_status)
    return ENGINE_CODES["BAD_RESPONSE"]


def classify_fail_reason(reason: str) -> ErrorRule:
    """The rule for a publish that TikTok reports FAILED with `fail_reason`."""
    if reason in FAIL_REASONS:
        return FAIL_REASONS[reason]
    return ErrorRule(
        reason or "unknown",
        N,
        f"TikTok failed the post with '{reason or 'no reason'}'.",
        "Check the post in the TikTok app; report the reason so the table learns it.",
    )


def rule_for(code: str) -> ErrorRule | None:
    """Look a stable code up in every table (for docs, the runbook and `describe`)."""
    for table in (TIKTOK_ERROR_CODES, OAUTH_ERROR_CODES, FAIL_REASONS, STAGING_CODES, ENGINE_CODES):
        if code in table:
            return table[code]
    return None
