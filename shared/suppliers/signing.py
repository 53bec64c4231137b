"""Request signing of the two supplier protocols (see docs/supplier-protocol.md).

Pure standard library, no Django: the adapters, the platform's callback endpoint and the local
supplier simulator all sign and verify with these functions, so both ends agree by construction.

- "kameng": HMAC-SHA256 over method, path, timestamp, nonce and the SHA-256 of the body, carried
  in four headers. The same scheme is a Kameng site's open API, so one site can dock another.
- "classic": the common 卡盟 upstream style, form parameters signed with the upper-case MD5 of
  the sorted `key=value` pairs followed by `&key=<secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Protocol

# --- Kameng protocol --------------------------------------------------------------------------

HEADER_KEY = "X-Kameng-Key"
HEADER_TIMESTAMP = "X-Kameng-Timestamp"
HEADER_NONCE = "X-Kameng-Nonce"
HEADER_SIGNATURE = "X-Kameng-Signature"
DEFAULT_TOLERANCE = 300  # seconds a signed timestamp may differ from the verifier's clock

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
# Order references travel raw in URL paths, so they are limited to characters no client or
# server percent-encodes differently.
ORDER_REF_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class SignatureInvalid(Exception):
    """A request or callback whose signature does not verify; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def kameng_string_to_sign(
    *, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """`METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nHEX(SHA256(BODY))`; PATH is the request target as
    sent (path plus `?query` when there is one), byte for byte."""
    return "\n".join([method.upper(), path, timestamp, nonce, body_sha256(body)])


def kameng_signature(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def kameng_sign(
    *,
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four signature headers of one request (a fresh nonce each call)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    signed = kameng_string_to_sign(method=method, path=path, timestamp=ts, nonce=nonce, body=body)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: kameng_signature(secret, signed),
    }


class NonceAdder(Protocol):
    def add(self, key: str, ttl: int) -> bool: ...


class NonceStore:
    """Remembers nonces for the tolerance window (in memory; the platform uses its cache)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, key: str, ttl: int) -> bool:
        """True when `key` was not seen within its lifetime (and is now remembered)."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + ttl
            return True


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value.strip()


def kameng_verify(
    *,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    key_id: str,
    secret: str,
    nonces: NonceAdder | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Verify a signed request; returns the nonce. Raises SignatureInvalid (checks run from the
    cheapest to the one that remembers the nonce, so a bad request never burns a nonce)."""
    got_key = _header(headers, HEADER_KEY)
    ts = _header(headers, HEADER_TIMESTAMP)
    nonce = _header(headers, HEADER_NONCE)
    signature = _header(headers, HEADER_SIGNATURE).lower()
    if not (got_key and ts and nonce and signature):
        raise SignatureInvalid("missing signature headers")
    if not hmac.compare_digest(got_key, key_id):
        raise SignatureInvalid("unknown key id")
    if not ts.isdigit():
        raise SignatureInvalid("malformed timestamp")
    if not _NONCE_RE.match(nonce):
        raise SignatureInvalid("malformed nonce")
    if not _HEX64_RE.match(signature):
        raise SignatureInvalid("malformed signature")
    clock = time.time() if now is None else now
    if abs(clock - int(ts)) > tolerance:
        raise SignatureInvalid("stale timestamp")
    expected = kameng_signature(
        secret,
        kameng_string_to_sign(method=method, path=path, timestamp=ts, nonce=nonce, body=body),
    )
    if not hmac.compare_digest(expected, signature):
        raise SignatureInvalid("signature mismatch")
    if nonces is not None and not nonces.add(f"{key_id}:{nonce}", tolerance * 2):
        raise SignatureInvalid("replayed nonce")
    return nonce


# --- Classic protocol -------------------------------------------------------------------------

CLASSIC_SIGN_FIELD = "sign"


def classic_sign(params: Mapping[str, str], secret: str) -> str:
    """MD5 of `k1=v1&k2=v2&...&key=SECRET` over the non-empty parameters sorted by name
    (`sign` itself excluded), as upper-case hex."""
    pairs = [
        f"{name}={value}"
        for name, value in sorted(params.items())
        if name != CLASSIC_SIGN_FIELD and value != ""
    ]
    pairs.append(f"key={secret}")
    return hashlib.md5("&".join(pairs).encode(), usedforsecurity=False).hexdigest().upper()


def classic_signed(params: Mapping[str, str], secret: str) -> dict[str, str]:
    """`params` plus `timestamp` (if missing) and `sign`."""
    out = dict(params)
    out.setdefault("timestamp", str(int(time.time())))
    out[CLASSIC_SIGN_FIELD] = classic_sign(out, secret)
    return out


def classic_verify(
    *,
    params: Mapping[str, str],
    user_id: str,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raises SignatureInvalid unless `params` carry our user id, a fresh timestamp and a
    correct `sign`."""
    sign = params.get(CLASSIC_SIGN_FIELD, "").strip().upper()
    if not sign:
        raise SignatureInvalid("missing sign")
    if not hmac.compare_digest(params.get("userid", ""), user_id):
        raise SignatureInvalid("unknown userid")
    ts = params.get("timestamp", "")
    if not ts.isdigit():
        raise SignatureInvalid("malformed timestamp")
    clock = time.time() if now is None else now
    if abs(clock - int(ts)) > tolerance:
        raise SignatureInvalid("stale timestamp")
    if not hmac.compare_digest(classic_sign(params, secret), sign):
        raise SignatureInvalid("signature mismatch")


# --- Masking ----------------------------------------------------------------------------------


def mask(value: str) -> str:
    """A buyer's account or phone number as logs and staff may see it: `138****8000`."""
    value = str(value)
    if len(value) <= 2:
        return "*" * len(value)
    if len(value) <= 6:
        return value[0] + "*" * (len(value) - 2) + value[-1]
    keep = 3 if len(value) >= 10 else 2
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def mask_fields(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: mask(value) for name, value in fields.items()}
