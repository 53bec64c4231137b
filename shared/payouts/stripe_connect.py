"""The Stripe Connect boundary: transfers to connected accounts, Express accounts, onboarding
links. Amounts cross it in integer minor units; errors come back as one of two exceptions, so
callers know whether Stripe refused (nothing happened) or the outcome is unknown (retry with the
same idempotency key). Messages kept from Stripe have anything resembling a key removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import stripe

from shared.payouts import conf

_SECRET = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+|\bwhsec_[A-Za-z0-9*]+")


class StripeRefused(Exception):
    """Stripe answered and refused the request: nothing was done on its side."""


class StripeUnavailable(Exception):
    """No clear answer (network, 5xx, rate limit, request in flight): the outcome is unknown."""


class StripeNotConfigured(Exception):
    """STRIPE_SECRET_KEY is empty."""


def safe_message(exc: BaseException) -> str:
    """The error's message, fit to store and show: no key material, at most 500 characters."""
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    text = f"{code}: {message}" if code else str(message)
    return _SECRET.sub("[redacted]", text)[:500]


def _translate(exc: stripe.StripeError) -> Exception:
    status = exc.http_status
    # 409: the same idempotency key is in flight; 429: rate limited. Neither is an answer.
    if status is not None and 400 <= status < 500 and status not in (409, 429):
        return StripeRefused(safe_message(exc))
    return StripeUnavailable(safe_message(exc))


def _api_key() -> str:
    key = conf.stripe_secret_key()
    if not key:
        raise StripeNotConfigured("Stripe is not configured (STRIPE_SECRET_KEY is empty).")
    return key


def transfer_create(
    *,
    amount_minor: int,
    currency: str,
    destination: str,
    idempotency_key: str,
    metadata: Mapping[str, str],
) -> str:
    """Send `amount_minor` from the platform's balance to a connected account; the transfer id."""
    try:
        transfer = stripe.Transfer.create(
            api_key=_api_key(),
            amount=amount_minor,
            currency=currency.lower(),
            destination=destination,
            idempotency_key=idempotency_key,
            metadata=dict(metadata),
        )
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return str(transfer.id)


def express_account_create(
    *, email: str, metadata: Mapping[str, str], idempotency_key: str
) -> dict[str, Any]:
    """Create an Express connected account able to receive transfers."""
    try:
        account = stripe.Account.create(
            api_key=_api_key(),
            type="express",
            email=email,
            capabilities={"transfers": {"requested": True}},
            metadata=dict(metadata),
            idempotency_key=idempotency_key,
        )
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return _account_fields(account)


def account_retrieve(account_id: str) -> dict[str, Any]:
    try:
        account = stripe.Account.retrieve(account_id, api_key=_api_key())
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return _account_fields(account)


def _account_fields(account: stripe.Account) -> dict[str, Any]:
    """What Kameng keeps of an Account object, as plain data."""
    capabilities = account.get("capabilities") or {}
    return {
        "id": str(account["id"]),
        "details_submitted": bool(account.get("details_submitted")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "capabilities": {str(k): str(v) for k, v in dict(capabilities).items()},
    }


def account_link_create(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """A single-use onboarding address for the account's owner."""
    try:
        link = stripe.AccountLink.create(
            api_key=_api_key(),
            account=account_id,
            refresh_url=refresh_url,
            return_url=return_url,
            type="account_onboarding",
        )
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return str(link.url)
