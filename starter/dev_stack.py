"""The local stack's fixed addresses, and the environment another shell needs to use it.

Every part of `tiktok-publisher dev` listens on a documented loopback port (README, "What
`make run` shows"), each one changeable with a flag, so examples and bookmarks keep working
across restarts. `--env-file PATH` writes the stack's environment as `export` lines for
another shell to `source`.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


def _api_port() -> int:
    return int(os.environ.get("TIKTOK_API_PORT", "8000"))


@dataclass(frozen=True)
class DevPorts:
    temporal: int = 7233
    ui: int = 8233
    codec: int = 8234
    api: int = field(default_factory=_api_port)  # TIKTOK_API_PORT, as before the flag
    simulator: int = 8100
    s3: int = 9000
    media: int = 8300

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        defaults = cls()
        for item in fields(cls):
            parser.add_argument(
                f"--{item.name}-port",
                type=int,
                default=None,
                metavar="PORT",
                help=f"the {_WHAT[item.name]}'s port (default {getattr(defaults, item.name)})",
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DevPorts:
        given = {item.name: getattr(args, f"{item.name}_port", None) for item in fields(cls)}
        return cls(**{name: port for name, port in given.items() if port is not None})

    @property
    def media_base_url(self) -> str:
        return f"http://127.0.0.1:{self.media}"


_WHAT = {
    "temporal": "Temporal dev server (gRPC)",
    "ui": "Temporal UI",
    "codec": "codec server (payload decryption for the UI)",
    "api": "HTTP API",
    "simulator": "TikTok simulator",
    "s3": "local S3 (moto)",
    "media": "media host (a stand-in CDN serving the sample files and .temporal/media/)",
}


#: The parts whose port must be free (the Temporal server on a taken port is reused, the
#: codec server moves to any free one).
MUST_BE_FREE = ("media", "simulator", "s3", "api")


def taken_ports_message(ports: DevPorts, is_open: Callable[[int], bool]) -> str | None:
    """Every part whose port is taken, each with the flag that moves it, in one message (a
    fix for the first would otherwise only lead to the next); None when all are free."""
    taken = [
        name for name in MUST_BE_FREE if getattr(ports, name) and is_open(getattr(ports, name))
    ]
    if not taken:
        return None
    lines = [
        f"  {getattr(ports, name)}: the {_WHAT[name]} (move it with --{name}-port PORT)"
        for name in taken
    ]
    head = "Ports taken (another `tiktok-publisher dev`?): stop what uses them, or move them:"
    return "\n".join([head, *lines])


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """`export NAME=value` lines (shell-quoted), readable by `source PATH`."""
    lines = ["# Written by `tiktok-publisher dev`: source it in another shell."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it holds the development API key
