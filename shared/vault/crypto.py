"""Encryption of card keys and supplier secrets: AES-256-GCM with keys from configuration.

`VAULT_KEYS` lists every key the vault may decrypt with (`id:base64,id:base64`); new secrets
are encrypted with `VAULT_ACTIVE_KEY_ID`. Each ciphertext is stored with the id of its key, so
rotation is: add a key, make it active, run `vault_rotate_keys` (re-encrypts every row), then
drop the old key. Duplicates are found through `fingerprint`, an HMAC-SHA256 under its own key
(`VAULT_FINGERPRINT_KEY`), which rotation does not change. Nothing here logs a plaintext.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


class VaultError(Exception):
    """A ciphertext could not be decrypted (unknown key id, or tampered data)."""


@dataclass(frozen=True)
class Keyring:
    ciphers: dict[str, AESGCM]
    active_key_id: str
    fingerprint_key: bytes

    def cipher(self, key_id: str) -> AESGCM:
        try:
            return self.ciphers[key_id]
        except KeyError:
            raise VaultError(f"unknown vault key id {key_id!r}") from None


def _decode_key(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{what} is not valid base64") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{what} must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def parse_keys(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, value = item.partition(":")
        if not sep or not key_id or len(key_id) > 16:
            raise ImproperlyConfigured("VAULT_KEYS entries look like id:base64 (id ≤ 16 chars)")
        keys[key_id] = _decode_key(value, f"VAULT_KEYS[{key_id}]")
    return keys


@functools.cache
def keyring() -> Keyring:
    keys = parse_keys(settings.VAULT_KEYS)
    active = settings.VAULT_ACTIVE_KEY_ID or (next(iter(keys)) if keys else "")
    if active not in keys:
        raise ImproperlyConfigured(f"VAULT_ACTIVE_KEY_ID {active!r} is not in VAULT_KEYS")
    return Keyring(
        ciphers={key_id: AESGCM(raw) for key_id, raw in keys.items()},
        active_key_id=active,
        fingerprint_key=_decode_key(settings.VAULT_FINGERPRINT_KEY, "VAULT_FINGERPRINT_KEY"),
    )


def _aad(key_id: str) -> bytes:
    return b"kameng.vault.v1:" + key_id.encode()


def encrypt(plaintext: str, *, ring: Keyring | None = None) -> tuple[bytes, str]:
    """Return (nonce + ciphertext + tag, key id) under the active key."""
    ring = ring or keyring()
    key_id = ring.active_key_id
    nonce = os.urandom(NONCE_BYTES)
    return nonce + ring.cipher(key_id).encrypt(nonce, plaintext.encode(), _aad(key_id)), key_id


def decrypt(blob: bytes | memoryview, key_id: str, *, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    data = bytes(blob)
    try:
        plain = ring.cipher(key_id).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(key_id))
    except Exception as exc:  # cryptography raises InvalidTag; never include the data
        raise VaultError("ciphertext failed authentication") from exc
    return plain.decode()


def fingerprint(plaintext: str, *, ring: Keyring | None = None) -> bytes:
    ring = ring or keyring()
    return hmac.new(ring.fingerprint_key, plaintext.encode(), hashlib.sha256).digest()


def development_key(label: str, secret: str) -> str:
    """A deterministic base64 key derived from SECRET_KEY, for development only."""
    return base64.b64encode(hashlib.sha256(f"{label}:{secret}".encode()).digest()).decode()
