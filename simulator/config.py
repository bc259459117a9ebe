"""Simulator configuration: the creators it knows, its limits and its timings.

Everything here is plain data so that a config can come from Python (tests), from a JSON file
(the CLI) or from the admin API (`POST /_sim/config`, `POST /_sim/creators`). Validation
happens once, on construction, so the server never has to second-guess its own settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from simulator.webhooks import check_faults

PUBLIC_TO_EVERYONE = "PUBLIC_TO_EVERYONE"
MUTUAL_FOLLOW_FRIENDS = "MUTUAL_FOLLOW_FRIENDS"
FOLLOWER_OF_CREATOR = "FOLLOWER_OF_CREATOR"
SELF_ONLY = "SELF_ONLY"
PRIVACY_LEVELS = frozenset(
    {PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR, SELF_ONLY}
)
PUBLIC_ACCOUNT_PRIVACY = (PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY)
PRIVATE_ACCOUNT_PRIVACY = (FOLLOWER_OF_CREATOR, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY)

DEFAULT_SCOPES = frozenset({"user.info.basic", "video.publish", "video.upload"})

#: Names under which requests are recorded, rate limited and targeted by faults.
ENDPOINTS = (
    "creator_info",
    "video_init",
    "inbox_video_init",
    "content_init",
    "status_fetch",
    "cancel",
    "oauth_token",
    "upload",
    "authorize",
    "user_info",
    "oauth_revoke",
    "video_query",
)
INIT_ENDPOINTS = ("video_init", "inbox_video_init", "content_init")

#: tiktok-api.md "Host, auth, endpoints": requests per access token per sliding minute.
DEFAULT_RATE_LIMITS: dict[str, int] = {
    "creator_info": 20,
    "video_init": 6,
    "inbox_video_init": 6,
    "content_init": 6,
    "status_fetch": 30,
}

#: Loopback is "verified" by default so that tests and `make run` can serve media locally.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

DEMO_ACCESS_TOKEN = "act.demo"
DEMO_REFRESH_TOKEN = "rft.demo"


def derive_open_id(access_token: str) -> str:
    """The open_id a creator gets when none is configured: stable for a given token."""
    return "open." + hashlib.sha256(access_token.encode()).hexdigest()[:24]


def _check_keys(cls_name: str, data: dict[str, Any], allowed: set[str]) -> None:
    """Reject unknown keys: a typo in a config file should fail loudly, not be ignored."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{cls_name}: unknown key(s) {', '.join(unknown)}")


@dataclass
class CreatorConfig:
    """One TikTok account the simulator knows, with the token pair it starts with.

    `privacy_level_options` left empty means "TikTok's default for this kind of account"
    (public: PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY; private:
    FOLLOWER_OF_CREATOR, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY). `open_id` left empty is derived
    from the access token, so upserting the same token twice updates the same creator.
    """

    access_token: str
    refresh_token: str
    open_id: str = ""
    username: str = "creator"
    nickname: str = ""
    privacy_level_options: list[str] = field(default_factory=list)
    private_account: bool = False
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    app_audited: bool = True
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_SCOPES))

    def __post_init__(self) -> None:
        if not self.access_token or not self.refresh_token:
            raise ValueError("CreatorConfig needs a non-empty access_token and refresh_token")
        if self.access_token == self.refresh_token:
            raise ValueError("CreatorConfig: access_token and refresh_token must differ")
        if not self.open_id:
            self.open_id = derive_open_id(self.access_token)
        if not self.nickname:
            self.nickname = self.username
        if not self.privacy_level_options:
            defaults = PRIVATE_ACCOUNT_PRIVACY if self.private_account else PUBLIC_ACCOUNT_PRIVACY
            self.privacy_level_options = list(defaults)
        unknown = [p for p in self.privacy_level_options if p not in PRIVACY_LEVELS]
        if unknown:
            raise ValueError(f"CreatorConfig: unknown privacy level(s) {unknown}")
        if self.max_video_post_duration_sec <= 0:
            raise ValueError("CreatorConfig: max_video_post_duration_sec must be positive")
        self.scopes = set(self.scopes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CreatorConfig:
        """Build from JSON-shaped data (scopes as a list)."""
        if not isinstance(data, dict):
            raise ValueError("a creator must be a JSON object")
        _check_keys("CreatorConfig", data, {f.name for f in fields(cls)})
        values = dict(data)
        if "scopes" in values:
            scopes = values["scopes"]
            if isinstance(scopes, str):
                scopes = [s for s in scopes.replace(" ", ",").split(",") if s]
            values["scopes"] = set(scopes)
        if "privacy_level_options" in values:
            values["privacy_level_options"] = list(values["privacy_level_options"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"CreatorConfig: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped copy (scopes sorted). Contains the tokens: never log it."""
        data = asdict(self)
        data["scopes"] = sorted(self.scopes)
        return data


def demo_creator() -> CreatorConfig:
    """The creator of the default config: `act.demo` / `rft.demo`, public, audited app."""
    return CreatorConfig(
        access_token=DEMO_ACCESS_TOKEN,
        refresh_token=DEMO_REFRESH_TOKEN,
        open_id="open.demo",
        username="demo_creator",
        nickname="Demo Creator",
    )


#: Fields that `POST /_sim/config` may change at run time (not the socket, not creators).
RUNTIME_FIELDS = frozenset(
    {
        "time_scale",
        "verified_url_prefixes",
        "client_key",
        "client_secret",
        "rate_limits",
        "rate_limit_window_seconds",
        "direct_posts_per_day",
        "pending_inbox_shares_per_day",
        "access_token_ttl_seconds",
        "refresh_token_ttl_seconds",
        "upload_url_ttl_seconds",
        "processing_seconds",
        "moderation_seconds",
        "download_timeout_seconds",
        "authorize_open_id",
        "authorize_outcome",
        "webhook_url",
        "webhook_faults",
        "webhook_retry_seconds",
        "webhook_max_attempts",
    }
)
AUTHORIZE_OUTCOMES = ("approve", "deny")


@dataclass
class SimulatorConfig:
    """How the simulator behaves. Durations named *_seconds are real seconds unless noted.

    `time_scale` multiplies the *simulated* durations only (processing, moderation, the
    download timeout): 0.01 makes a publish finish 100x faster. Rate-limit windows, token
    lifetimes, upload URL lifetimes and the 24 h posting caps are real time, because they are
    what a client's own timers and backoff must cope with.

    `rate_limits` is merged over the defaults; a limit <= 0 disables that limit.
    """

    host: str = "127.0.0.1"
    port: int = 0
    time_scale: float = 1.0
    creators: list[CreatorConfig] = field(default_factory=lambda: [demo_creator()])
    verified_url_prefixes: list[str] = field(default_factory=lambda: list(LOOPBACK_HOSTS))
    client_key: str = "sim-client-key"
    client_secret: str = "sim-client-secret"
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    rate_limit_window_seconds: float = 60.0
    direct_posts_per_day: int = 15
    pending_inbox_shares_per_day: int = 5
    access_token_ttl_seconds: float = 86400.0
    refresh_token_ttl_seconds: float = 31_536_000.0
    upload_url_ttl_seconds: float = 3600.0
    processing_seconds: float = 2.0  # simulated: multiplied by time_scale
    moderation_seconds: float = 3.0  # simulated: multiplied by time_scale
    download_timeout_seconds: float = 3600.0  # simulated: multiplied by time_scale
    authorize_open_id: str = ""
    """Who logs in on the authorize page: a creator's open_id; empty means the first creator."""
    authorize_outcome: str = "approve"
    """What that creator clicks on the consent screen: approve, or deny (access_denied)."""
    authorization_code_ttl_seconds: float = 300.0
    webhook_url: str = ""
    """Where TikTok's publishing webhooks go (simulator/webhooks.py); empty sends none."""
    webhook_faults: dict[str, float] = field(default_factory=dict)
    """duplicate / reorder / drop / mis_sign (probabilities 0..1), delay_seconds (simulated)."""
    webhook_seed: int = 0
    webhook_retry_seconds: float = 1.0  # real: first wait before a failed delivery is retried
    webhook_max_attempts: int = 6

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", "int") and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"{f.name} must be a number")
        self.rate_limits = {**DEFAULT_RATE_LIMITS, **self.rate_limits}
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in self.rate_limits.values()
        ):
            raise ValueError("rate_limits values must be integers")
        unknown = sorted(set(self.rate_limits) - set(ENDPOINTS))
        if unknown:
            raise ValueError(f"rate_limits: unknown endpoint(s) {unknown}")
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be in 0..65535")
        for name in (
            "rate_limit_window_seconds",
            "access_token_ttl_seconds",
            "refresh_token_ttl_seconds",
            "upload_url_ttl_seconds",
            "processing_seconds",
            "moderation_seconds",
            "download_timeout_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        self.creators = [
            c if isinstance(c, CreatorConfig) else CreatorConfig.from_dict(c) for c in self.creators
        ]
        for attr in ("access_token", "refresh_token", "open_id"):
            values = [getattr(c, attr) for c in self.creators]
            if len(values) != len(set(values)):
                raise ValueError(f"creators: duplicate {attr}")
        self.verified_url_prefixes = [str(p) for p in self.verified_url_prefixes]
        self.webhook_faults = check_faults(self.webhook_faults)
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be >= 1")
        if self.webhook_retry_seconds < 0:
            raise ValueError("webhook_retry_seconds must be >= 0")
        if self.authorize_outcome not in AUTHORIZE_OUTCOMES:
            raise ValueError(f"authorize_outcome must be one of {', '.join(AUTHORIZE_OUTCOMES)}")

    def scaled(self, simulated_seconds: float) -> float:
        """Real seconds that a simulated duration lasts under `time_scale`."""
        return simulated_seconds * self.time_scale

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulatorConfig:
        """Build from JSON-shaped data; unknown keys are an error (see simulator/README.md)."""
        if not isinstance(data, dict):
            raise ValueError("the simulator config must be a JSON object")
        _check_keys("SimulatorConfig", data, {f.name for f in fields(cls)})
        values = dict(data)
        if "creators" in values:
            values["creators"] = [CreatorConfig.from_dict(c) for c in values["creators"]]
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"SimulatorConfig: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> SimulatorConfig:
        """Load the JSON format documented in simulator/README.md."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    def to_dict(self, *, include_creators: bool = True) -> dict[str, Any]:
        """JSON-shaped copy. With creators it contains tokens: keep it off logs."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "creators":
                continue
            value = getattr(self, f.name)
            data[f.name] = dict(value) if isinstance(value, dict) else value
        data["verified_url_prefixes"] = list(self.verified_url_prefixes)
        if include_creators:
            data["creators"] = [c.to_dict() for c in self.creators]
        return data

    def with_runtime_patch(self, patch: dict[str, Any]) -> SimulatorConfig:
        """A copy with some run-time settings changed (`POST /_sim/config`)."""
        if not isinstance(patch, dict):
            raise ValueError("the config patch must be a JSON object")
        unknown = sorted(set(patch) - RUNTIME_FIELDS)
        if unknown:
            raise ValueError(f"cannot change at run time: {', '.join(unknown)}")
        values = dict(patch)
        if "rate_limits" in values:
            if not isinstance(values["rate_limits"], dict):
                raise ValueError("rate_limits must be an object")
            values["rate_limits"] = {**self.rate_limits, **values["rate_limits"]}
        try:
            return replace(self, **values)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
