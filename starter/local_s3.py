"""A real S3 endpoint on loopback (moto in server mode) for the local stack and the tests.

boto3 talks to it over HTTP exactly as it would to AWS S3, Cloudflare R2 or MinIO; nothing
is patched. Objects under the staging prefix are publicly readable, as a bucket that TikTok
pulls photos from must be.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from starter.children import stop_child
from telemetry.http import free_loopback_port

REGION = "us-east-1"


@dataclass(frozen=True)
class LocalBucket:
    endpoint_url: str
    bucket: str

    @property
    def public_base_url(self) -> str:
        return f"{self.endpoint_url}/{self.bucket}"

    def client(self) -> Any:
        return s3_client(self.endpoint_url)

    def env(self) -> dict[str, str]:
        """The worker settings that point at this bucket."""
        return {
            "MEDIA_BUCKET": self.bucket,
            "MEDIA_S3_ENDPOINT_URL": self.endpoint_url,
            "MEDIA_PUBLIC_BASE_URL": self.public_base_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
        }


def s3_client(endpoint_url: str) -> Any:
    """A boto3 S3 client for an S3-compatible endpoint, with dummy credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


@contextlib.contextmanager
def moto_server(port: int = 0) -> Iterator[str]:
    """moto's S3 in a thread of this process, on loopback (`port` 0: any free one): yields
    its URL. moto keeps objects in memory only; see `saved_bucket` for the local stack."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def moto_server_process(startup_seconds: float = 30.0) -> Iterator[str]:
    """moto's S3 in a child process (`python -m moto.server`): yields its URL. For
    benchmarks, whose CPU and memory figures must be the engine's, not moto's."""
    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1.0)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on port {port}") from None
                time.sleep(0.1)
        yield url
    finally:
        stop_child(process)


def create_bucket(endpoint_url: str, bucket: str, public_prefix: str = "staged/") -> LocalBucket:
    client = s3_client(endpoint_url)
    client.create_bucket(Bucket=bucket)
    allow_public_read(client, bucket, public_prefix)
    return LocalBucket(endpoint_url, bucket)


def allow_public_read(client: Any, bucket: str, prefix: str = "") -> None:
    """A bucket policy letting anyone GET objects under `prefix`: how a bucket that TikTok
    pulls photos from is set up on AWS (on R2: a public bucket or custom domain)."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


_META = ".meta.json"


def save_bucket(bucket: LocalBucket, directory: Path) -> int:
    """Write every object (body, content type, user metadata) under `directory`, replacing
    what an earlier save left: moto has no disk of its own. Returns the object count."""
    client = bucket.client()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            got = client.get_object(Bucket=bucket.bucket, Key=key)
            file = directory / key
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(got["Body"].read())
            meta = {"ContentType": got.get("ContentType"), "Metadata": got.get("Metadata", {})}
            file.with_name(file.name + _META).write_text(json.dumps(meta))
            count += 1
    return count


def restore_bucket(bucket: LocalBucket, directory: Path) -> int:
    """Put back what `save_bucket` wrote (same keys, types and metadata)."""
    if not directory.is_dir():
        return 0
    client = bucket.client()
    count = 0
    for file in sorted(directory.rglob("*")):
        if not file.is_file() or file.name.endswith(_META):
            continue
        key = file.relative_to(directory).as_posix()
        meta_file = file.with_name(file.name + _META)
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        extra: dict[str, Any] = {"Metadata": meta.get("Metadata") or {}}
        if meta.get("ContentType"):
            extra["ContentType"] = meta["ContentType"]
        client.put_object(Bucket=bucket.bucket, Key=key, Body=file.read_bytes(), **extra)
        count += 1
    return count
