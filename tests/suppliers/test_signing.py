"""The two signature schemes, verified on their own (no database, no network)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from shared.suppliers.signing import (
    NonceStore,
    SignatureInvalid,
    classic_sign,
    classic_signed,
    classic_verify,
    kameng_sign,
    kameng_string_to_sign,
    kameng_verify,
    mask,
)

SECRET = "s3cr3t"
BODY = b'{"order_ref":"alpha:1"}'


def signed(**overrides: object) -> dict[str, str]:
    args: dict[str, object] = {
        "key_id": "kid",
        "secret": SECRET,
        "method": "POST",
        "path": "/api/v1/topups",
        "body": BODY,
    }
    return kameng_sign(**(args | overrides))  # type: ignore[arg-type]


def verify(headers: dict[str, str], **overrides: object) -> str:
    args: dict[str, object] = {
        "headers": headers,
        "method": "POST",
        "path": "/api/v1/topups",
        "body": BODY,
        "key_id": "kid",
        "secret": SECRET,
    }
    return kameng_verify(**(args | overrides))  # type: ignore[arg-type]


def test_kameng_string_to_sign_is_the_documented_one() -> None:
    assert kameng_string_to_sign(
        method="post", path="/api/v1/topups?x=1", timestamp="1700000000", nonce="n" * 16, body=b""
    ) == (
        "POST\n/api/v1/topups?x=1\n1700000000\n" + "n" * 16 + "\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_kameng_signature_round_trip_and_a_known_vector() -> None:
    headers = signed(timestamp=1700000000, nonce="abcdefghijklmnop")
    assert headers["X-Kameng-Key"] == "kid"
    assert headers["X-Kameng-Timestamp"] == "1700000000"
    # Computed here from the documented formula, independently of the module.
    text = b"POST\n/api/v1/topups\n1700000000\nabcdefghijklmnop\n" + (
        hashlib.sha256(BODY).hexdigest().encode()
    )
    assert headers["X-Kameng-Signature"] == hmac.new(b"s3cr3t", text, "sha256").hexdigest()
    assert verify(headers, now=1700000000) == "abcdefghijklmnop"
    # Header names are case-insensitive, as HTTP has them.
    assert verify({k.lower(): v for k, v in headers.items()}, now=1700000010)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"order_ref":"alpha:2"}'}, "signature mismatch"),
        ({"path": "/api/v1/topups/alpha:1"}, "signature mismatch"),
        ({"method": "GET"}, "signature mismatch"),
        ({"secret": "other"}, "signature mismatch"),
        ({"key_id": "other"}, "unknown key id"),
        ({"now": 1700000301}, "stale timestamp"),
        ({"now": 1699999699}, "stale timestamp"),
    ],
)
def test_kameng_refuses_anything_changed(change: dict[str, object], reason: str) -> None:
    assert verify(signed(timestamp=1700000000), now=1700000300)  # at the edge: accepted
    with pytest.raises(SignatureInvalid) as exc:
        verify(signed(timestamp=1700000000), **({"now": 1700000000} | change))
    assert exc.value.reason == reason


def test_kameng_refuses_missing_and_malformed_headers() -> None:
    headers = signed()
    for name in headers:
        with pytest.raises(SignatureInvalid, match="missing signature headers"):
            verify({k: v for k, v in headers.items() if k != name})
    with pytest.raises(SignatureInvalid, match="malformed nonce"):
        verify(signed(nonce="short"))
    with pytest.raises(SignatureInvalid, match="malformed signature"):
        verify(headers | {"X-Kameng-Signature": "zz"})


def test_kameng_refuses_a_replayed_nonce_but_not_a_failed_attempt() -> None:
    nonces = NonceStore()
    headers = signed()
    with pytest.raises(SignatureInvalid, match="signature mismatch"):
        verify(headers, nonces=nonces, body=b"tampered")  # a bad request burns no nonce
    assert verify(headers, nonces=nonces) == headers["X-Kameng-Nonce"]
    with pytest.raises(SignatureInvalid, match="replayed nonce"):
        verify(headers, nonces=nonces)
    assert verify(signed(), nonces=nonces)  # a fresh nonce passes


def test_classic_sign_is_md5_of_sorted_pairs_and_key() -> None:
    params = {"userid": "10086", "orderid": "alpha:7", "num": "1", "empty": "", "sign": "x"}
    text = b"num=1&orderid=alpha:7&userid=10086&key=k3y"
    expected = hashlib.md5(text, usedforsecurity=False).hexdigest().upper()
    assert classic_sign(params, "k3y") == expected


def test_classic_verify() -> None:
    params = classic_signed({"userid": "10086", "orderid": "alpha:7"}, "k3y")
    classic_verify(params=params, user_id="10086", secret="k3y")
    classic_verify(params=params | {"sign": params["sign"].lower()}, user_id="10086", secret="k3y")
    cases = [
        (params | {"orderid": "alpha:8"}, "signature mismatch"),
        (params | {"userid": "10087"}, "unknown userid"),
        ({k: v for k, v in params.items() if k != "sign"}, "missing sign"),
        (
            classic_signed({"userid": "10086", "timestamp": str(int(time.time()) - 400)}, "k3y"),
            "stale timestamp",
        ),
    ]
    for bad, reason in cases:
        with pytest.raises(SignatureInvalid) as exc:
            classic_verify(params=bad, user_id="10086", secret="k3y")
        assert exc.value.reason == reason


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13800138000", "138*****000"), ("player_one", "pla****one"), ("qq12", "q**2"), ("a", "*")],
)
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked
