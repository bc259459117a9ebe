"""Which network addresses a media source may live at: the rules of the guarded fetcher.

A caller hands us a URL and the worker downloads it, from inside our network. Without a rule,
`http://169.254.169.254/latest/meta-data/...` (the cloud's metadata service), `http://10.0.0.5/`
(an internal admin page) or `http://2130706433/` (127.0.0.1 spelled as one decimal number) would
be fetched and stored where the caller can read it back. So a source must be on the public
internet: every address a host resolves to must be globally routable, after unwrapping the
IPv6 forms that carry an IPv4 address inside (IPv4-mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`,
NAT64 `64:ff9b::/96`, Teredo).

Loopback may be allowed for a local stack and tests (`MEDIA_SOURCE_ALLOW_LOOPBACK=1`);
link-local and metadata addresses never are.

Pure functions (no I/O): the starter checks literal addresses at submit time with them, and
the worker's fetcher (`activities.safe_fetch`) checks every resolved address before it
connects.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

TT_SOURCE_FORBIDDEN = "TT_SOURCE_FORBIDDEN"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
#: Cloud metadata endpoints (AWS, GCP, Azure, Oracle: 169.254.169.254; AWS IPv6: fd00:ec2::254;
#: Alibaba: 100.100.100.200). All are non-global anyway; named so the reason says so.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


@dataclass(frozen=True)
class SourceRule:
    """What the fetcher may connect to. `allow_loopback` is for a local stack and tests."""

    allow_loopback: bool = False

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be fetched from (None: it may)."""
        return address_refusal(address, allow_loopback=self.allow_loopback)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    compat = int(address)
    if address.packed[:12] == bytes(12) and compat > 1:  # deprecated ::a.b.c.d
        return ipaddress.IPv4Address(compat)
    return None


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a source at `address` is refused, in words (None: a public address)."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = address_refusal(inner, allow_loopback=allow_loopback)
        return f"{reason} (inside the IPv6 address {address})" if reason else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata service address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_loopback:
        if allow_loopback:
            return None
        return f"{address} is a loopback address (this machine)"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        # fec0::/10: deprecated (RFC 3879) but still routed inside some networks, and not
        # in Python's private list, so is_global alone would let it through.
        return f"{address} is a site-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return f"{address} is a carrier-grade NAT (shared) address"
    if address.is_reserved:
        return f"{address} is a reserved address, not on the public internet"
    if address.is_private:
        return f"{address} is a private network address"
    if not address.is_global:
        return f"{address} is a reserved address, not on the public internet"
    return None


_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, if it is an address literal in any spelling resolvers take:
    dotted quad, one decimal number (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`),
    shortened (`127.1`), or IPv6 with or without brackets and a zone, also in full-width
    digits or ideographic dots (U+3002), which IDNA (UTS 46) maps to ASCII.
    None for a name."""
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host).replace("\u3002", ".")
    text = host.strip().rstrip(".").strip("[]")
    if not text:
        return None
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    parts = text.split(".")
    if len(parts) > 4 or not all(_IPV4_PART.match(p) for p in parts):
        return None
    try:
        numbers = [int(_c_int(p), 0) for p in parts]
    except ValueError:
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def _c_int(part: str) -> str:
    """A C-style integer literal (0x.. hex, 0.. octal) in Python's spelling."""
    if part[:2] in ("0x", "0X"):
        return "0x" + (part[2:] or "0")
    if len(part) > 1 and part.startswith("0"):
        return "0o" + part[1:]
    return part


def literal_refusal(host: str, rule: SourceRule) -> str | None:
    """Why a URL whose host is an address literal is refused (None: a name, or allowed)."""
    address = literal_address(host)
    if address is None:
        return None
    reason = rule.refusal(address)
    if reason and str(address) != host.strip().strip("[]").lower():
        return f"{host} spells {address}: {reason}"
    return reason


def callback_refusal(url: str, rule: SourceRule) -> str | None:
    """Why the engine would never POST to `url` (a webhook): not http(s), credentials in it,
    whitespace or control characters, a port that is not one, or a host that spells an
    address it never connects to. Names are checked again, resolved, on every delivery.
    None: acceptable."""
    if _UNPRINTABLE.search(url):
        return "must not contain spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        has_credentials = bool(parts.username or parts.password)
        port = parts.port
    except ValueError:
        return "is not a URL (or its port is not a number from 1 to 65535)"
    if parts.scheme not in ("https", "http") or not host:
        return "must be http(s)://host/..."
    if has_credentials:
        return "must not carry credentials"
    if port == 0:
        return "must not name port 0"
    refusal = literal_refusal(host, rule)
    return f"names an address the engine never posts to: {refusal}" if refusal else None


_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]")


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to put in a message, a log or a
    trace. Signed URLs carry their signature in the query (X-Amz-Signature, ...), TikTok's
    upload URLs their upload_token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "(an unparseable URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


__all__ = [
    "METADATA_ADDRESSES",
    "TT_SOURCE_FORBIDDEN",
    "IPAddress",
    "SourceRule",
    "address_refusal",
    "callback_refusal",
    "embedded_ipv4",
    "literal_address",
    "literal_refusal",
    "redact_url",
]
