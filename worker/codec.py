"""Payload encryption: what the engine writes into Temporal history is AES-GCM ciphertext.

A post's workflow input carries the caller's media URLs (often signed), its caption and its
account; every activity input and result is history too. With `TIKTOK_PAYLOAD_KEYS` set,
every payload the worker, the CLI, the Python API or any starter writes is encrypted before
it leaves the process, and decrypted when it comes back:

    TIKTOK_PAYLOAD_KEYS="k2026b:<base64 of 32 bytes>,k2026a:<base64 of 32 bytes>"

The first key encrypts; every listed key decrypts (the key id travels in each payload's
metadata), so a key is rotated by putting a new one first and keeping the old one listed
until no open workflow still holds payloads written with it (a post can sleep for weeks).
Payloads written without encryption still decode, so encryption can be turned on for a
namespace with running posts.

`data_converter(keys)` is the one converter: pydantic JSON, plus this codec when keys are
set. `worker.config.connect()` builds every client with it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
"""The payload encoding of ciphertext (the same name Temporal's encryption samples use)."""
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """The key configuration is wrong, or a payload names a key we do not hold."""


@dataclass(frozen=True)
class PayloadKeys:
    """Named AES keys; `current` encrypts, every key decrypts."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise PayloadKeyError("TIKTOK_PAYLOAD_KEYS lists no key")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise PayloadKeyError("TIKTOK_PAYLOAD_KEYS names a key id twice")
        for key_id, key in self.keys:
            if not key_id or any(c in key_id for c in ",: "):
                raise PayloadKeyError(f"payload key id {key_id!r} is not a plain name")
            if len(key) not in (16, 24, 32):
                raise PayloadKeyError(
                    f"payload key {key_id} is {len(key)} bytes; AES needs 16, 24 or 32 "
                    "(generate one with: tiktok-publisher codec-server --new-key)"
                )

    @classmethod
    def parse(cls, text: str) -> PayloadKeys:
        """`id2:base64key,id1:base64key` (whitespace around entries ignored)."""
        keys: list[tuple[str, bytes]] = []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep:
                raise PayloadKeyError(
                    "TIKTOK_PAYLOAD_KEYS entries must look like id:base64key (one of them has "
                    "no ':')"
                )
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise PayloadKeyError(f"payload key {key_id.strip()} is not valid base64") from None
            keys.append((key_id.strip(), key))
        return cls(tuple(keys))

    @classmethod
    def from_text(cls, text: str | None) -> PayloadKeys | None:
        """None when `text` is empty: encryption is off."""
        return cls.parse(text) if text and text.strip() else None

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise PayloadKeyError(
            f"a payload was encrypted with key {key_id!r}, which TIKTOK_PAYLOAD_KEYS does not "
            "list: add it back (after the current key) to read this workflow"
        )

    def seal(self, plaintext: bytes, associated: bytes = b"") -> tuple[str, bytes]:
        """(key id, nonce + ciphertext + tag) under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[0][1]).encrypt(nonce, plaintext, associated or None)
        return self.current_id, nonce + sealed

    def open(self, key_id: str, blob: bytes, associated: bytes = b"") -> bytes:
        if len(blob) < NONCE_BYTES + 16:
            raise PayloadKeyError("an encrypted payload is too short to be one")
        nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        try:
            return AESGCM(self.key(key_id)).decrypt(nonce, sealed, associated or None)
        except PayloadKeyError:
            raise
        except Exception:
            raise PayloadKeyError(
                f"an encrypted payload does not decrypt with key {key_id!r} (altered, or the "
                "key under that id changed)"
            ) from None

    @staticmethod
    def generate(key_id: str) -> str:
        """A new `id:base64key` entry (256-bit key)."""
        return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-GCM over each whole serialized payload (its metadata included)."""

    def __init__(self, keys: PayloadKeys) -> None:
        self.keys = keys

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id, blob = self.keys.seal(payload.SerializeToString())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=blob,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was turned on
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        return Payload.FromString(self.keys.open(key_id, payload.data))


def unreadable_encrypted_payload(err: BaseException) -> bool:
    """Whether `err` is the SDK's converter meeting an encrypted payload with no codec to
    open it: this process runs without TIKTOK_PAYLOAD_KEYS while the posts are encrypted."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, KeyError) and ENCODING.decode() in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def data_converter(keys: PayloadKeys | None = None) -> DataConverter:
    """The engine's converter: pydantic JSON, encrypted when keys are given."""
    if keys is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


def data_converter_from_env(env: Mapping[str, str] | None = None) -> DataConverter:
    from worker.custody import CustodySettings

    return data_converter(PayloadKeys.from_text(CustodySettings.from_env(env).payload_keys))


__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "EncryptionCodec",
    "PayloadKeyError",
    "PayloadKeys",
    "data_converter",
    "data_converter_from_env",
    "unreadable_encrypted_payload",
]
