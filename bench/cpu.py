"""CPU seconds spent by this process and its child processes (Linux `/proc`), by program.

A load-independent figure beside the wall-clock ones: on a shared machine the seconds a
burst takes move with everyone else's work, the CPU it costs the worker and the Temporal
server much less.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(program name, parent pid, CPU seconds) of one process; None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def snapshot() -> dict[str, float]:
    """CPU seconds so far: `this process` and each descendant's program name (summed).
    Empty where there is no /proc."""
    if not Path("/proc/self/stat").exists():
        return {}
    me = os.getpid()
    stats: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    totals: dict[str, float] = {"this process": stats[me][2] if me in stats else 0.0}
    for pid, (name, _parent, cpu) in stats.items():
        if pid == me:
            continue
        ancestor, seen = stats[pid][1], 0
        while ancestor not in (me, 0, 1) and ancestor in stats and seen < 64:
            ancestor, seen = stats[ancestor][1], seen + 1
        if ancestor == me:
            totals[name] = totals.get(name, 0.0) + cpu
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per program between two snapshots."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def snapshot_at(moment: float) -> dict[str, float]:
    """A snapshot taken at the epoch time `moment` (at once if it has passed)."""
    await asyncio.sleep(max(0.0, moment - time.time()))
    return snapshot()
