"""The search attributes every PublishPost run carries: one registry, used everywhere.

Operators find posts with them in the Temporal UI and CLI, for example::

    temporal workflow list --query "TikTokErrorCode = 'url_ownership_unverified'"
    temporal workflow list --query "TikTokPostState = 'FAILED' AND TikTokAccountId = 'acct_1'"

The local stack and the tests register them on the dev server; `tiktok-publisher setup`
registers them on any other cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

POST_STATE = SearchAttributeKey.for_keyword("TikTokPostState")
"""The post's phase: DRAFT, SCHEDULED, PUBLISHING, PUBLISHED, DELIVERED_TO_INBOX, ..."""
ACCOUNT_ID = SearchAttributeKey.for_keyword("TikTokAccountId")
POST_ID = SearchAttributeKey.for_keyword("TikTokPostId")
"""The caller's post id (postId)."""
SCHEDULED_FOR = SearchAttributeKey.for_datetime("TikTokScheduledFor")
MODE = SearchAttributeKey.for_keyword("TikTokMode")
"""video_direct, video_inbox, photo_direct or photo_inbox."""
ERROR_CODE = SearchAttributeKey.for_keyword("TikTokErrorCode")
"""The stable code of a FAILED post (TikTok's own code where there is one)."""
WAITING_FOR = SearchAttributeKey.for_keyword("TikTokWaitingFor")
"""What a post waits for before its next TikTok call (daily_post_cap, needs_reconnect, ...);
empty while it waits for nothing."""
PUBLISH_ID = SearchAttributeKey.for_keyword("TikTokPublishId")
"""TikTok's publish_id of the post's current upload, set when init returns (not a secret):
how TikTok's webhooks, which name only the publish_id, find their post."""
STAGING_ERROR = SearchAttributeKey.for_keyword("TikTokStagingError")
"""While Temporal retries a failing media copy: the last attempt's code (TT_SOURCE_UNREACHABLE,
TT_STORAGE_ERROR, ...). Unset once staging succeeds or ends. Find such posts with
`TikTokStagingError IS NOT NULL`."""
ACCOUNT_HEALTH = SearchAttributeKey.for_keyword("TikTokAccountHealth")
"""On TikTokAccount entities: ACTIVE, NEEDS_RECONNECT, BANNED or PAUSED."""

ALL: Sequence[SearchAttributeKey[str] | SearchAttributeKey[datetime]] = (
    POST_STATE,
    ACCOUNT_ID,
    POST_ID,
    SCHEDULED_FOR,
    MODE,
    ERROR_CODE,
    WAITING_FOR,
    ACCOUNT_HEALTH,
    PUBLISH_ID,
    STAGING_ERROR,
)


def initial(
    *, post_id: str, account_id: str, mode: str, state: str, scheduled_for: datetime | None
) -> TypedSearchAttributes:
    """What a run is started with, so it is findable before its first task runs."""
    pairs: list[SearchAttributePair[str] | SearchAttributePair[datetime]] = [
        SearchAttributePair(POST_STATE, state),
        SearchAttributePair(ACCOUNT_ID, account_id),
        SearchAttributePair(POST_ID, post_id),
        SearchAttributePair(MODE, mode),
    ]
    if scheduled_for is not None:
        pairs.append(SearchAttributePair(SCHEDULED_FOR, scheduled_for))
    return TypedSearchAttributes(pairs)


def scheduled_for_update(at: datetime | None) -> SearchAttributeUpdate[datetime]:
    return SCHEDULED_FOR.value_set(at) if at is not None else SCHEDULED_FOR.value_unset()
