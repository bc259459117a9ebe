"""Give freed heap back to the operating system now and then.

After a burst (thousands of posts staged at once), CPython and glibc keep the freed memory
mapped: the worker's resident size stays at its high-water mark although nothing holds it.
`malloc_trim(0)` returns those pages; a worker calls it every few minutes (cheap: a few
milliseconds). A no-op where the C library has no malloc_trim (musl, macOS).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from collections.abc import Callable

_trim: Callable[[int], int] | None = None


def _load() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Collect garbage and return free heap pages to the OS; False where unsupported."""
    global _trim
    if _trim is None:
        _trim = _load()
    gc.collect()
    if _trim is None:
        return False
    _trim(0)
    return True


async def release_periodically(every_seconds: float) -> None:
    """Run until cancelled."""
    while True:
        await asyncio.sleep(every_seconds)
        await asyncio.to_thread(release_free_memory)
