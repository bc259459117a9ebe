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
