"""Worker configuration, all from the environment (twelve-factor), documented in README."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile

from workflows.contracts import TASK_QUEUE


@dataclass(frozen=True)
class WorkerSettings:
    tiktok_base_url: str = "https://open.tiktokapis.com"
    client_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    token_file: str = "tokens.json"
    task_queue: str = TASK_QUEUE
    log_format: str = "json"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        return cls(
            tiktok_base_url=env.get("TIKTOK_API_BASE_URL", cls.tiktok_base_url),
            client_key=env.get("TIKTOK_CLIENT_KEY", ""),
            client_secret=env.get("TIKTOK_CLIENT_SECRET", ""),
            token_file=env.get("TIKTOK_TOKEN_FILE", cls.token_file),
            task_queue=env.get("TIKTOK_TASK_QUEUE", cls.task_queue),
            log_format=env.get("LOG_FORMAT", cls.log_format),
            log_level=env.get("LOG_LEVEL", cls.log_level),
        )


def temporal_connect_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Temporal's own envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
    TEMPORAL_TLS*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE (a TOML profile file), exactly
    as the `temporal` CLI reads them, so one setup serves the CLI, the worker and the starter.
    """
    profile = ClientConfigProfile.load(override_env_vars=env)
    config: dict[str, Any] = dict(profile.to_client_connect_config())
    config.setdefault("target_host", "localhost:7233")
    return config


async def connect(env: Mapping[str, str] | None = None) -> Client:
    """A client that speaks our pydantic contracts on the wire."""
    config = temporal_connect_config(env)
    target = config.pop("target_host")
    return await Client.connect(target, data_converter=pydantic_data_converter, **config)
