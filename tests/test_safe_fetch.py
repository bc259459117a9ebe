"""The guarded fetcher: a caller's URL is fetched only from the public internet.

Each refusal is shown to stop before any connection is made: the target is a loopback
server that counts the requests reaching it, and `SyncBackend.connect_tcp` (the one place
httpcore opens a socket) is watched. The same setups with loopback allowed reach the server,
so these tests can fail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
from httpcore._backends.sync import SyncBackend
from temporalio.testing import WorkflowEnvironment

from activities.media_store import MediaStore, StagingError
from activities.safe_fetch import MAX_REDIRECTS, SourceForbidden, guarded_client
from starter.local_s3 import LocalBucket
from starter.media_host import sample_video
from tests.s3_support import Resource, S3Bucket, SourceServer, moto_endpoint, s3_bucket, source
from tests.workflow_support import failure_of, start, target_of, video_request
from workflows.request import RequestInvalid, parse_post
from workflows.source_addresses import (
    IPAddress,
    SourceRule,
    address_refusal,
    literal_address,
    literal_refusal,
)
from workflows.validation import ValidationPolicy

__all__ = ["moto_endpoint", "s3_bucket", "source"]

STRICT = SourceRule()
LOCAL = SourceRule(allow_loopback=True)
BODY = sample_video()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection httpcore opens (host, port), in order."""
    opened: list[tuple[str, int]] = []
    original = SyncBackend.connect_tcp

    def watch(self: SyncBackend, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        opened.append((host, port))
        return original(self, host, port, *args, **kwargs)

    monkeypatch.setattr(SyncBackend, "connect_tcp", watch)
    return opened


@pytest.fixture
def store(s3_bucket: S3Bucket) -> MediaStore:
    return MediaStore(s3_bucket.client, s3_bucket.name)


def copy(store: MediaStore, url: str, rule: SourceRule, **resolver: list[str]) -> None:
    def resolve(host: str, port: int) -> list[str]:
        if host in resolver:
            return resolver[host]
        raise httpcore.ConnectError(f"test resolver: no such host {host}")

    with guarded_client(rule, resolve=resolve) as http:
        store.stream_from_url(
            http, url, "staged/p/a/0-x.mp4", max_bytes=10**6, expected_size=None,
            on_progress=lambda n: None,
        )  # fmt: skip


def keys(bucket: S3Bucket) -> list[str]:
    listing = bucket.client.list_objects_v2(Bucket=bucket.name)
    return [o["Key"] for o in listing.get("Contents", [])]


# -- the address rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("017700000001", "127.0.0.1"),  # one octal number
        ("0177.0.0.1", "127.0.0.1"),  # octal parts
        ("0x7f.0.0.1", "127.0.0.1"),  # hex part
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # shortened
        ("10.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("169.254.169.254.", "169.254.169.254"),  # trailing dot
        ("127\u30020\u30020\u30021", "127.0.0.1"),  # ideographic dots, as IDNA reads them
        ("\uff11\uff12\uff17.0.0.1", "127.0.0.1"),  # full-width digits
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "256.0.0.1", "cdn-1.example", ""])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:10.0.0.1", "inside the IPv6 address"),  # IPv4-mapped
        ("2002:7f00:1::", "inside the IPv6 address"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", "metadata"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", "inside the IPv6 address"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address: str, words: str) -> None:
    reason = address_refusal(ipaddress.ip_address(address))
    assert reason is not None and words in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "2002:808:808::"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_the_loopback_flag_lets_loopback_only() -> None:
    def refused(a: str) -> str | None:
        ip: IPAddress = ipaddress.ip_address(a)
        return LOCAL.refusal(ip)

    assert refused("127.0.0.1") is None and refused("::ffff:127.0.0.1") is None
    assert refused("169.254.169.254") and refused("fe80::1") and refused("10.0.0.1")


# -- at submit: a literal address is refused before anything starts --------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://2130706433/clip.mp4",
        "http://0177.0.0.1/clip.mp4",
        "http://[::ffff:127.0.0.1]:8080/clip.mp4",
        "http://[2002:7f00:1::]/clip.mp4",
        "https://10.0.0.5/clip.mp4",
    ],
)
def test_submit_refuses_a_literal_forbidden_address(url: str) -> None:
    policy = ValidationPolicy(source_rule=STRICT)
    with pytest.raises(RequestInvalid) as caught:
        parse_post(video_request("ssrf-1", url), policy=policy)
    [problem] = caught.value.problems
    assert (problem.code, problem.field) == ("TT_SOURCE_FORBIDDEN", "media[0].url")


def test_submit_passes_names_and_allowed_loopback() -> None:
    parse_post(
        video_request("ok-1", "https://media.example.com/a.mp4"),
        policy=ValidationPolicy(source_rule=STRICT),
    )
    parse_post(
        video_request("ok-2", "http://127.0.0.1:9/a.mp4"),
        policy=ValidationPolicy(source_rule=LOCAL),
    )
    assert literal_refusal("169.254.169.254", LOCAL), "metadata stays refused"


# -- at staging: resolved, checked, connected to what was checked ------------------------------


def test_metadata_address_is_never_fetched(
    store: MediaStore, s3_bucket: S3Bucket, connects: list[tuple[str, int]]
) -> None:
    url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    for rule in (STRICT, LOCAL):
        with pytest.raises(SourceForbidden, match="metadata"):
            copy(store, url, rule)
    assert connects == [] and keys(s3_bucket) == []


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "127.0.0.1", "cdn.example.test"]
)
def test_loopback_in_any_spelling_or_by_name_reaches_nothing(
    store: MediaStore,
    s3_bucket: S3Bucket,
    source: SourceServer,
    connects: list[tuple[str, int]],
    host: str,
) -> None:
    source.add("/clip.mp4", Resource(body=BODY, content_type="video/mp4"))
    url = f"http://{host}:{source.port}/clip.mp4"
    with pytest.raises(SourceForbidden) as caught:
        copy(store, url, STRICT, **{"cdn.example.test": ["127.0.0.1"]})
    assert caught.value.code == "TT_SOURCE_FORBIDDEN" and not caught.value.retryable
    assert "loopback" in caught.value.message
    assert source.requests == [] and connects == [] and keys(s3_bucket) == []
    # The same source with loopback allowed is reached: the guard, not the setup, stopped it.
    copy(store, url, LOCAL, **{"cdn.example.test": ["127.0.0.1"]})
    assert len(source.requests) == 1 and keys(s3_bucket) == ["staged/p/a/0-x.mp4"]


def test_a_name_that_resolves_to_a_private_address_is_refused(
    store: MediaStore, connects: list[tuple[str, int]]
) -> None:
    with pytest.raises(SourceForbidden, match=r"10\.20\.30\.40 is a private"):
        copy(
            store,
            "https://media.internal.test/a.mp4",
            LOCAL,
            **{"media.internal.test": ["10.20.30.40"]},
        )
    # One bad record among good ones refuses the name (no picking the good one).
    with pytest.raises(SourceForbidden, match="private"):
        copy(store, "https://mixed.test/a.mp4", LOCAL, **{"mixed.test": ["8.8.8.8", "192.168.0.9"]})
    assert connects == []


def test_a_redirect_to_loopback_is_refused_at_that_hop(
    store: MediaStore, s3_bucket: S3Bucket, connects: list[tuple[str, int]]
) -> None:
    class FirstHopIsPublic(SourceRule):
        """Treat 127.0.0.1 (the redirecting host) as public; other loopback stays refused."""

        def refusal(self, address: IPAddress) -> str | None:
            if address == ipaddress.ip_address("127.0.0.1"):
                return None
            return super().refusal(address)

    with SourceServer("127.0.0.2") as target, SourceServer() as hop:
        target.add("/secret", Resource(body=BODY))
        hop.add("/clip.mp4", Resource(status=302, location=f"{target.base_url}/secret"))
        with pytest.raises(SourceForbidden, match=r"127\.0\.0\.2 is a loopback"):
            copy(store, f"{hop.base_url}/clip.mp4", FirstHopIsPublic())
        assert len(hop.requests) == 1, "the first hop was fetched"
        assert target.requests == [], "the redirect target was never contacted"
        assert connects == [("127.0.0.1", hop.port)]
        assert keys(s3_bucket) == []


def test_redirects_are_capped(store: MediaStore, source: SourceServer) -> None:
    for n in range(MAX_REDIRECTS + 1):
        source.add(f"/r{n}", Resource(status=302, location=f"{source.base_url}/r{n + 1}"))
    with pytest.raises(StagingError, match="redirects too many times"):
        copy(store, f"{source.base_url}/r0", LOCAL)
    assert len(source.requests) == MAX_REDIRECTS + 1


def test_the_checked_address_is_used_and_the_host_header_is_the_name(
    store: MediaStore, source: SourceServer, connects: list[tuple[str, int]]
) -> None:
    calls: list[str] = []
    source.add("/clip.mp4", Resource(body=BODY, content_type="video/mp4"))

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        # A rebinding resolver: public-looking once, something else after. Asked once only.
        return ["127.0.0.1"] if len(calls) == 1 else ["169.254.169.254"]

    with guarded_client(LOCAL, resolve=resolve) as http:
        store.stream_from_url(
            http, f"http://cdn.example.test:{source.port}/clip.mp4", "staged/p/a/1-x.mp4",
            max_bytes=10**6, expected_size=None, on_progress=lambda n: None,
        )  # fmt: skip
    assert calls == ["cdn.example.test"]
    assert connects == [("127.0.0.1", source.port)]
    assert source.requests[0][1]["host"] == f"cdn.example.test:{source.port}"


# -- through the workflow: staging refuses, nothing is kept -----------------------------------


@pytest.fixture
def strict_sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MEDIA_SOURCE_ALLOW_LOOPBACK", "0")
    yield


async def test_staging_refuses_a_name_on_loopback_and_keeps_nothing(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    strict_sources: None,
    worker: None,
    source: SourceServer,
    local_bucket: LocalBucket,
) -> None:
    source.add("/clip.mp4", Resource(body=BODY, content_type="video/mp4"))
    # "localhost" is a name (not refused at submit); it resolves to loopback at staging.
    target = target_of(video_request("ssrf-e2e", f"http://localhost:{source.port}/clip.mp4"))
    error = await failure_of(await start(dev_env.client, task_queue, target))
    assert error.type == "TT_SOURCE_FORBIDDEN"
    assert "loopback" in error.message
    assert source.requests == []
    listing = local_bucket.client().list_objects_v2(
        Bucket=local_bucket.bucket, Prefix="staged/ssrf-e2e/"
    )
    assert listing.get("KeyCount", 0) == 0
