"""Benchmark: stage a large generated file through `MediaStore.stream_from_url`.

    python -m bench.stage_large_file --size-mb 300

A loopback HTTP source generates the file's bytes as it sends them (an MP4 header followed by
a deterministic pattern; never materialised), moto's S3 runs in a CHILD process (it keeps
objects in memory, which must not count as ours), and this process streams one into the other.
Reported: throughput, and how far this process's resident memory rose above its level just
before the copy (the kernel's peak, VmHWM, reset first where allowed, and a 10 ms sampler).
Then the copy is checked (size, SHA-256 against the generator, a probe of the staged MP4).

Exit status 1 if the copy is wrong or the memory growth exceeds 3 parts + 50 MB: streaming must
hold about one part at a time, whatever the file size.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path

import httpx

from activities.media_info import probe
from activities.media_store import MediaStore
from tests.s3_support import (
    Resource,
    SourceServer,
    content_sha256,
    moto_server_process,
    mp4_head,
    s3_client,
)

MB = 1_000_000
MiB = 1024 * 1024
STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in {STATUS}")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs "5"); False where not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Sampler(threading.Thread):
    """Samples VmRSS every 10 ms: a peak that does not depend on clear_refs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = _status_kib("VmRSS")
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            self.peak_kib = max(self.peak_kib, _status_kib("VmRSS"))

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kib


def run(size: int, part_size: int) -> int:
    bound = 3 * part_size + 50 * MB
    head = mp4_head(size, duration_ms=123_456, width=1080, height=1920)
    with moto_server_process() as endpoint, SourceServer() as source, httpx.Client() as http:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="bench")
        store = MediaStore(client, "bench")
        url = source.add("/bench.mp4", Resource(size=size, prefix=head, content_type="video/mp4"))
        key = store.object_key("bench", "acct_bench", 0, url, "mp4")

        gc.collect()
        baseline = _status_kib("VmRSS")
        peak_reset = _reset_peak()
        sampler = _Sampler()
        sampler.start()
        started = time.perf_counter()
        stored = store.stream_from_url(
            http,
            url,
            key,
            max_bytes=size,
            expected_size=size,
            on_progress=lambda _: None,
            part_size=part_size,
        )
        elapsed = time.perf_counter() - started
        sampled = sampler.stop()
        hwm = _status_kib("VmHWM")
        peak = max(sampled, hwm) if peak_reset else sampled
        growth = (peak - baseline) * 1024

        expected = content_sha256(size, head)
        stored_size = client.head_object(Bucket="bench", Key=key)["ContentLength"]
        facts = probe(store.reader(key))

    print(f"size            {size / MB:.0f} MB ({size} bytes), part size {part_size / MiB:g} MiB")
    print(f"time            {elapsed:.1f} s")
    print(f"throughput      {size / MB / elapsed:.1f} MB/s")
    print(
        f"RSS growth      {growth / MB:.1f} MB peak over a {baseline / 1024:.0f} MiB baseline "
        f"(bound {bound / MB:.0f} MB; peak from {'VmHWM + ' if peak_reset else ''}sampling)"
    )
    print(
        f"probe           {facts.kind} {facts.duration_seconds} s "
        f"{facts.width}x{facts.height}, {facts.size_bytes} bytes"
    )
    failures = []
    if stored.sha256 != expected or stored.size != size or stored_size != size:
        failures.append("the staged copy does not match the generated file")
    if facts.duration_seconds != 123.456 or (facts.width, facts.height) != (1080, 1920):
        failures.append("the probe did not find the MP4's duration and size")
    if growth > bound:
        failures.append(f"memory grew {growth / MB:.1f} MB, over the {bound / MB:.0f} MB bound")
    for failure in failures:
        print(f"FAIL            {failure}")
    if not failures:
        print("OK              sha256 verified, memory within bound")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=300, help="file size in MB (10^6 bytes)")
    parser.add_argument("--part-mib", type=int, default=8, help="multipart part size in MiB")
    args = parser.parse_args(argv)
    if args.part_mib < 5:
        parser.error("--part-mib must be at least 5 (S3's minimum part size)")
    return run(args.size_mb * MB, args.part_mib * MiB)


if __name__ == "__main__":
    sys.exit(main())
