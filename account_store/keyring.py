"""AES-GCM with key ids: `TIKTOK_TOKEN_KEYS="id2:base64key,id1:base64key"`.

The first key encrypts; every key decrypts, so a key is rotated by putting a new one first,
re-encrypting (`tiktok-publisher db rotate-keys`), then dropping the old one. Keys are 16,
24 or 32 bytes (AES-128/192/256), base64 (standard or URL-safe). Each ciphertext is bound
to where it is stored (the associated data names the table, row and column), so a value
copied into another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class KeyRingError(ValueError):
    """The key setting is malformed, or a value cannot be decrypted with the keys given.
    Messages name key ids, never key bytes."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes] = field(repr=False)
    primary: str

    @classmethod
    def parse(cls, spec: str, *, setting: str = "TIKTOK_TOKEN_KEYS") -> KeyRing:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key_id, sep, encoded = part.partition(":")
            key_id = key_id.strip()
            if not sep or not _KEY_ID.match(key_id):
                raise KeyRingError(
                    f"{setting}: each entry is <key id>:<base64 key> (key ids are letters, "
                    "digits, '.', '_' or '-')"
                )
            if key_id in keys:
                raise KeyRingError(f"{setting}: key id {key_id} appears twice")
            keys[key_id] = _decode_key(encoded.strip(), key_id, setting)
            order.append(key_id)
        if not order:
            raise KeyRingError(f"{setting} holds no key")
        return cls(keys=keys, primary=order[0])

    @staticmethod
    def generate_spec(key_id: str = "k1") -> str:
        """A new 256-bit key in the setting's format."""
        return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"

    def encrypt(self, plaintext: str, context: str) -> tuple[str, bytes]:
        """(key id, nonce || ciphertext) with the primary key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return self.primary, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, context: str) -> str:
        key = self.keys.get(key_id)
        if key is None:
            raise KeyRingError(
                f"a stored value was encrypted with key {key_id}, which is not in the "
                "configured keys (keep old keys in the setting until `db rotate-keys` ran)"
            )
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise KeyRingError(
                f"a stored value does not decrypt with key {key_id} (wrong key, or the value "
                "was altered or moved)"
            ) from None
        return plain.decode()


def _decode_key(encoded: str, key_id: str, setting: str) -> bytes:
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{setting}: key {key_id} is not valid base64") from None
    if len(raw) not in (16, 24, 32):
        raise KeyRingError(
            f"{setting}: key {key_id} is {len(raw)} bytes; AES-GCM takes 16, 24 or 32"
        )
    return raw
