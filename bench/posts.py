"""The post requests the benchmarks submit, and the one memory reading they take."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any


def photo_post(
    post_id: str,
    url: str,
    *,
    account: str = "acct_demo",
    at: datetime | None = None,
    privacy: str = "PUBLIC_TO_EVERYONE",
    content: str = "bench",
) -> dict[str, Any]:
    """One photo post (Ampost shape) for one account; `at`: scheduled, else now."""
    request: dict[str, Any] = {
        "postId": post_id,
        "content": content,
        "media": [{"url": url, "type": "photo", "mimeType": "image/jpeg"}],
        "platforms": [{"accountId": account, "platformOptions": {"tiktok": {"privacy": privacy}}}],
    }
    if at is not None:
        request["scheduledFor"] = at.isoformat()
    return request


def rss_mib(pid: int | str = "self") -> float:
    """A process's resident memory (VmRSS) in MiB; 0 if it is gone."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def rss_parts(pid: int | str = "self") -> str:
    """Where a process's resident memory is: anonymous (heap, arenas, stacks: what the
    process allocated) and file-backed (code and data pages of its libraries, shared and
    reclaimable by the kernel), from /proc/PID/status; empty if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""
    parts = {
        name: int(found.group(1)) / 1024
        for name in ("RssAnon", "RssFile", "RssShmem")
        if (found := re.search(rf"{name}:\s+(\d+) kB", text))
    }
    return ", ".join(f"{name[3:].lower()} {mib:.1f}" for name, mib in parts.items())


def allocator_env(pid: int | str = "self") -> str:
    """The allocator variables a running process was started (or re-executed) with."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    wanted = (b"PYTHONMALLOC=", b"MALLOC_ARENA_MAX=")
    found = [item.decode() for item in raw if item.startswith(wanted)]
    return " ".join(sorted(found)) or "the interpreter's defaults"
