"""The post request API in one import, for callers written against it.

The concepts live in their own modules: the normalised post the workflow carries in
`workflows.post`; the caller's wire shapes and their JSON Schema in `workflows.intake_shapes`;
parsing in `workflows.intake`; the rendering of problems in the caller's terms in
`workflows.intake_problems`. This module only re-exports the public names.
"""

from __future__ import annotations

from workflows.dialects import DIALECTS, choose_dialect, parse_request
from workflows.intake import SKINS, RequestInvalid, Skin, parse_post
from workflows.intake_shapes import (
    REQUEST_SCHEMA_ID,
    FlatPostRequest,
    FlatTarget,
    NestedPostRequest,
    NestedTarget,
    RequestMedia,
    RequestTikTokOptions,
    TikTokOptionsEnvelope,
    json_schema,
)
from workflows.post import (
    APPLICABLE_OPTIONS,
    ID_MAX_LENGTH,
    ID_PATTERN,
    PUBLISH_TARGET_SCHEMA_ID,
    MediaItem,
    MediaType,
    Post,
    PublishMode,
    PublishTarget,
    TikTokOptions,
    publish_target_json_schema,
    workflow_id,
)
from workflows.validation import Problem, ValidationPolicy

__all__ = [
    "APPLICABLE_OPTIONS",
    "DIALECTS",
    "ID_MAX_LENGTH",
    "ID_PATTERN",
    "PUBLISH_TARGET_SCHEMA_ID",
    "REQUEST_SCHEMA_ID",
    "SKINS",
    "FlatPostRequest",
    "FlatTarget",
    "MediaItem",
    "MediaType",
    "NestedPostRequest",
    "NestedTarget",
    "Post",
    "Problem",
    "PublishMode",
    "PublishTarget",
    "RequestInvalid",
    "RequestMedia",
    "RequestTikTokOptions",
    "Skin",
    "TikTokOptions",
    "TikTokOptionsEnvelope",
    "ValidationPolicy",
    "choose_dialect",
    "json_schema",
    "parse_post",
    "parse_request",
    "publish_target_json_schema",
    "workflow_id",
]
