"""`make bench`: every benchmark, one after the other, and one table of ratios.

    python -m bench.suite            # the sizes below (about 10-15 minutes on 2 cores)
    python -m bench.suite --quick    # small sizes, for a smoke run
    python -m bench.suite --only due,staging

Each benchmark runs as its own process (its own dev server, simulator, S3) and reports its
figures through `bench.results.record`; each ratio is against a baseline measured in the same
benchmark run (bench/README.md says what each one is). A benchmark that fails (exit != 0) is
shown as such; the suite itself exits 1 if any did.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: name -> (module, full-size arguments, quick arguments)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "due": ("bench.due_time", ["--posts", "100"], ["--posts", "20", "--lead", "15"]),
    "http": ("bench.http_client", [], ["--rounds", "2", "--repeats", "1"]),
    "staging": ("bench.stage_large_file", ["--size-mb", "300"], ["--size-mb", "150"]),
    "burst": (
        "bench.burst",
        ["--posts", "30", "--settle", "10"],
        ["--posts", "10", "--settle", "5"],
    ),
    "idle": (
        "bench.sleepers",
        ["--posts", "1000", "--http"],
        ["--posts", "100", "--rate-posts", "100", "--http", "--in-flight-rounds", "20"],
    ),
    "rolling": (
        "bench.rolling_restarts",
        ["--posts", "100", "--throughput-posts", "50"],
        ["--posts", "20", "--throughput-posts", "20"],
    ),
}


def run(name: str, module: str, args: list[str], results: Path) -> tuple[int, float]:
    env = {**os.environ, "BENCH_RESULTS": str(results)}
    log = Path(tempfile.gettempdir()) / f"bench-{name}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        code = subprocess.call([sys.executable, "-m", module, *args], env=env, stdout=out,
                               stderr=subprocess.STDOUT)  # fmt: skip
    print(f"  {name:<8} exit {code} in {time.monotonic() - started:5.0f} s  (output: {log})",
          flush=True)  # fmt: skip
    return code, time.monotonic() - started


def render(rows: list[dict[str, object]], failed: list[str]) -> str:
    lines = [
        f"{'bench':<9} {'figure':<48} {'ratio':>8}  {'goal':<15} detail",
        "-" * 110,
    ]
    for row in rows:
        ratio = float(str(row["ratio"]))
        shown = f"{ratio:>8.0f}" if row.get("count") else f"{ratio:>7.2f}x"
        lines.append(
            f"{row['bench']!s:<9} {row['figure']!s:<48} {shown}  {row['goal']!s:<15} "
            f"{row['detail']}"
        )
    for name in failed:
        lines.append(f"{name:<9} {'(benchmark failed: see its output)':<48}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", help="comma-separated subset: " + ", ".join(BENCHES))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as results:
        failed = []
        print("Running:", flush=True)
        for name in chosen:
            module, full, quick = BENCHES[name]
            code, _ = run(name, module, quick if args.quick else full, Path(results.name))
            if code != 0:
                failed.append(name)
        rows = [json.loads(line) for line in Path(results.name).read_text().splitlines()]
    print()
    print(render(rows, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
