"""Benchmark: stage a large generated file through `MediaStore.stream_from_url`.

    python -m bench.stage_large_file --size-mb 1000

Staging (boto3's managed transfer, parts in parallel, every byte checked) is compared with a
bare baseline measured in the same run: a raw single-thread `upload_fileobj` of the same bytes
from the same loopback source, with no checks. It passes when staging is at least as fast
(ratio >= 1.0) and its memory growth stays within concurrency x part size + 32 MiB.

A loopback HTTP source generates the file's bytes as it sends them (an MP4 header followed by
a deterministic pattern; never materialised), moto's S3 runs in a CHILD process (it keeps
objects in memory, which must not count as ours), and this process streams one into the other.
Reported: throughput, and how far this process's resident memory rose above its level just
before the copy (the kernel's peak, VmHWM, reset first where allowed, and a 10 ms sampler).
Then the copy is checked (size, SHA-256 against the generator, a probe of the staged MP4).

Exit status 1 if the copy is wrong, staging is slower than the baseline, or the memory growth
exceeds the bound.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from boto3.s3.transfer import TransferConfig

from activities.media_info import probe
from activities.media_store import MediaStore
from activities.transfer import DEFAULT_CONCURRENCY
from bench.results import record
from tests.s3_support import (
    Resource,
    SourceServer,
    content_sha256,
    moto_server_process,
    mp4_head,
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


def _worker_s3_client(endpoint: str) -> Any:
    """The S3 client the worker builds (worker.config.MediaSettings.s3_client), on `endpoint`."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 4, "mode": "standard"},
        ),
    )


class _RawBody:
    """The response body as a plain file: what a bare `upload_fileobj` would read."""

    def __init__(self, response: httpx.Response) -> None:
        self._pieces = response.iter_raw()
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        out = [self._rest]
        have = len(self._rest)
        for piece in self._pieces:
            out.append(piece)
            have += len(piece)
            if 0 <= size <= have:
                break
        data = b"".join(out)
        if size < 0:
            self._rest = b""
            return data
        self._rest = data[size:]
        return data[:size]


def raw_copy(client: object, http: httpx.Client, url: str, part_size: int) -> float:
    """Seconds for a single-thread `upload_fileobj` of `url`'s bytes (no checks at all)."""
    config = TransferConfig(
        multipart_threshold=part_size + 1,
        multipart_chunksize=part_size,
        use_threads=False,
        preferred_transfer_client="classic",
    )
    started = time.perf_counter()
    with http.stream("GET", url) as response:
        client.upload_fileobj(_RawBody(response), "bench", "raw/bench.mp4", Config=config)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def run(size: int, part_size: int, concurrency: int, rounds: int = 2) -> int:
    bound = concurrency * part_size + 32 * MiB
    head = mp4_head(size, duration_ms=123_456, width=1080, height=1920)
    with moto_server_process() as endpoint, SourceServer() as source, httpx.Client() as http:
        client = _worker_s3_client(endpoint)
        client.create_bucket(Bucket="bench")
        store = MediaStore(client, "bench", concurrency=concurrency)
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
        client.delete_object(Bucket="bench", Key=key)  # moto holds objects in memory
        # The machine is shared: alternate the two copies and keep each one's best time.
        raw_times = [raw_copy(client, http, url, part_size)]
        raw_size = client.head_object(Bucket="bench", Key="raw/bench.mp4")["ContentLength"]
        client.delete_object(Bucket="bench", Key="raw/bench.mp4")
        stage_times = [elapsed]
        for _ in range(rounds - 1):
            started = time.perf_counter()
            store.stream_from_url(
                http, url, key, max_bytes=size, expected_size=size,
                on_progress=lambda _: None, part_size=part_size,
            )  # fmt: skip
            stage_times.append(time.perf_counter() - started)
            client.delete_object(Bucket="bench", Key=key)
            raw_times.append(raw_copy(client, http, url, part_size))
            client.delete_object(Bucket="bench", Key="raw/bench.mp4")
        elapsed, raw_elapsed = min(stage_times), min(raw_times)

    ratio = raw_elapsed / elapsed
    print(f"size            {size / MB:.0f} MB ({size} bytes), part size {part_size / MiB:g} MiB")
    sending = max(1, concurrency - 1)
    print(f"staging         {elapsed:.1f} s, {size / MB / elapsed:.1f} MB/s "
          f"({concurrency} parts in memory, {sending} sent at once; checked, hashed)")  # fmt: skip
    print(f"raw baseline    {raw_elapsed:.1f} s, {size / MB / raw_elapsed:.1f} MB/s "
          "(single-thread upload_fileobj, same source, no checks)")  # fmt: skip
    print(f"ratio           {ratio:.2f}x the raw copy (must be >= 1.0; best of {rounds} each, "
          "alternating)")  # fmt: skip
    print(
        f"RSS growth      {growth / MiB:.1f} MiB peak over a {baseline / 1024:.0f} MiB baseline "
        f"(bound {bound / MiB:.0f} MiB = {concurrency} x {part_size / MiB:g} MiB + 32 MiB; "
        f"peak from {'VmHWM + ' if peak_reset else ''}sampling)"
    )
    print(
        f"probe           {facts.kind} {facts.duration_seconds} s "
        f"{facts.width}x{facts.height}, {facts.size_bytes} bytes"
    )
    record(
        "staging",
        "staging vs raw copy (speed)",
        ratio,
        f"{size / MB:.0f} MB: {size / MB / elapsed:.1f} MB/s vs {size / MB / raw_elapsed:.1f} MB/s",
        goal=">= 1.0",
    )
    record(
        "staging",
        "staging memory growth vs bound",
        growth / bound,
        f"{growth / MiB:.1f} MiB of {bound / MiB:.0f} MiB",
        goal="<= 1.0",
    )
    failures = []
    if stored.sha256 != expected or stored.size != size or stored_size != size:
        failures.append("the staged copy does not match the generated file")
    if raw_size != size:
        failures.append("the raw baseline copy is incomplete")
    if facts.duration_seconds != 123.456 or (facts.width, facts.height) != (1080, 1920):
        failures.append("the probe did not find the MP4's duration and size")
    if ratio < 1.0:
        failures.append(f"staging ran at {ratio:.2f}x the raw copy, under 1.0x")
    if growth > bound:
        failures.append(f"memory grew {growth / MiB:.1f} MiB, over the {bound / MiB:.0f} MiB bound")
    for failure in failures:
        print(f"FAIL            {failure}")
    if not failures:
        print("OK              sha256 verified, at least as fast as the raw copy, memory bound")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=300, help="file size in MB (10^6 bytes)")
    parser.add_argument("--part-mib", type=int, default=8, help="multipart part size in MiB")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="parts in memory at once"
    )
    parser.add_argument("--rounds", type=int, default=2, help="copies of each kind, alternating")
    args = parser.parse_args(argv)
    if args.part_mib < 5:
        parser.error("--part-mib must be at least 5 (S3's minimum part size)")
    return run(args.size_mb * MB, args.part_mib * MiB, args.concurrency, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
