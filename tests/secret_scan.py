"""Look for secrets in a workflow history, inside its payloads, not only in its raw JSON.

A history's JSON holds every payload base64-encoded, so a text search of the file cannot see
a token inside one. `scan_history` decodes each payload (base64, then JSON) and, when given
the payload codec, decrypts it first; then it looks:

* everywhere, decrypted or not, for what must never be written at all: TikTok access and
  refresh tokens, the app's client secret, TikTok's upload token (its upload URL);
* in what is readable without a key (plain payloads, failure messages, everything else in
  the history), for signed URLs: S3 signature parameters and signed query strings. A signed
  URL of a customer may sit in an encrypted payload; it must never be readable in plain text.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import Payload

from worker.codec import ENCODING, EncryptionCodec

#: Never written anywhere, encrypted or not.
NEVER = {
    "access token": re.compile(r"\bact\.[A-Za-z0-9]"),
    "refresh token": re.compile(r"\brft\.[A-Za-z0-9]"),
    "upload token": re.compile(r"upload_token", re.IGNORECASE),
}
#: Never readable without the payload key.
NOT_IN_PLAIN_TEXT = {
    "S3 signature": re.compile(r"X-Amz-(Signature|Credential|Security-Token)", re.IGNORECASE),
    "signed query string": re.compile(
        r"[?&](Signature|sig|X-Goog-Signature|X-Goog-Credential|token|access_token|"
        r"Expires=\d+&Signature)=",
        re.IGNORECASE,
    ),
}


@dataclass(frozen=True)
class Finding:
    what: str
    where: str
    excerpt: str


@dataclass(frozen=True)
class _Text:
    where: str
    text: str
    readable_without_key: bool


def scan_history(
    history: dict[str, Any],
    *,
    codec: EncryptionCodec | None = None,
    client_secrets: Sequence[str] = (),
) -> list[Finding]:
    """Every secret found in `history` (a history's JSON, as exported or fetched)."""
    never = dict(NEVER)
    for n, secret in enumerate(s for s in client_secrets if s):
        never[f"client secret {n}"] = re.compile(re.escape(secret))
    findings: list[Finding] = []
    for piece in _texts(history, codec):
        rules = dict(never)
        if piece.readable_without_key:
            rules |= NOT_IN_PLAIN_TEXT
        for what, pattern in rules.items():
            for match in pattern.finditer(piece.text):
                start = max(0, match.start() - 30)
                findings.append(Finding(what, piece.where, piece.text[start : match.end() + 30]))
    return findings


def payload_count(history: dict[str, Any]) -> int:
    return sum(1 for _ in _payloads(history, ""))


def _texts(history: dict[str, Any], codec: EncryptionCodec | None) -> Iterator[_Text]:
    yield _Text("(raw history JSON)", json.dumps(history), True)
    for where, node in _payloads(history, ""):
        metadata = {k: _b64(v) for k, v in node.get("metadata", {}).items()}
        data = _b64(node.get("data", ""))
        if metadata.get("encoding") == ENCODING:
            yield _Text(where, data.decode("latin-1"), True)  # what anyone can read: noise
            if codec is None:
                continue
            inner = codec.decrypt(Payload(metadata=metadata, data=data))
            yield _Text(where + " (decrypted)", inner.data.decode("utf-8", "replace"), False)
        else:
            yield _Text(where, data.decode("utf-8", "replace"), True)


def _payloads(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
            yield where, node
            return
        for key, value in node.items():
            yield from _payloads(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _payloads(value, f"{where}[{i}]")


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return value.encode()
