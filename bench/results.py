"""Figures a benchmark reports to `bench.suite` (one table for `make bench`).

A benchmark calls `record(...)` where it prints a figure; with `BENCH_RESULTS` set (the suite
sets it) each figure is appended there as one JSON line, otherwise nothing happens.
"""

from __future__ import annotations

import json
import os


def record(
    bench: str, figure: str, ratio: float, detail: str, *, goal: str = "", count: bool = False
) -> None:
    """`ratio`: the figure against its baseline of the same run (or, with `count`, a plain
    number such as posts lost); `detail`: the raw values."""
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    row = {
        "bench": bench,
        "figure": figure,
        "ratio": ratio,
        "detail": detail,
        "goal": goal,
        "count": count,
    }
    with open(path, "a") as out:
        out.write(json.dumps(row) + "\n")
