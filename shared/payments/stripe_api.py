"""The Stripe boundary for card payments: Checkout Sessions, refunds, and the fee of a payment.

Amounts cross it in integer minor units (`to_minor_units`), currencies in lower case as Stripe
writes them. Errors come back as PaymentError (Stripe answered and refused: nothing happened) or
PaymentUnavailable (no clear answer: retry with the same idempotency key). Messages kept from
Stripe have anything resembling a key removed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe

from shared.ledger.money import MoneyError, currency_exponent, quantize
from shared.payments import conf
from shared.payments.registry import PaymentError, PaymentUnavailable

logger = logging.getLogger(__name__)

_SECRET = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+|\bwhsec_[A-Za-z0-9*]+")


def safe_message(exc: BaseException) -> str:
    """The error's message, fit to store and show: no key material, at most 500 characters."""
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    text = f"{code}: {message}" if code else str(message)
    return _SECRET.sub("[redacted]", text)[:500]


def _translate(exc: stripe.StripeError) -> PaymentError:
    status = exc.http_status
    # 409: the same idempotency key is in flight; 429: rate limited. Neither is an answer.
    if status is not None and 400 <= status < 500 and status not in (409, 429):
        return PaymentError(f"Stripe refused: {safe_message(exc)}")
    return PaymentUnavailable(f"Stripe did not answer clearly: {safe_message(exc)}")


def _api_key() -> str:
    key = conf.stripe_secret_key()
    if not key:
        raise PaymentError("Stripe is not configured (STRIPE_SECRET_KEY is empty).")
    return key


def from_minor_units(amount: int, currency: str) -> Decimal:
    return Decimal(int(amount)).scaleb(-currency_exponent(currency.upper()))


@dataclass(frozen=True)
class StripeCheckout:
    session_id: str
    url: str
    expires_at: int


def checkout_session_create(
    *,
    amount_minor: int,
    currency: str,
    description: str,
    metadata: Mapping[str, str],
    client_reference_id: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: int,
    idempotency_key: str,
) -> StripeCheckout:
    """A one-item Checkout Session in payment mode; the PaymentIntent carries the same metadata."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": description},
                },
            }
        ],
        "metadata": dict(metadata),
        "payment_intent_data": {"metadata": dict(metadata)},
        "client_reference_id": client_reference_id,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": expires_at,
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        session = stripe.checkout.Session.create(
            api_key=_api_key(), idempotency_key=idempotency_key, **params
        )
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return StripeCheckout(
        session_id=str(session["id"]),
        url=str(session["url"]),
        expires_at=int(session.get("expires_at") or expires_at),
    )


@dataclass(frozen=True)
class StripeRefund:
    refund_id: str
    status: str


def refund_create(
    *, payment_intent: str, amount_minor: int, metadata: Mapping[str, str], idempotency_key: str
) -> StripeRefund:
    try:
        refund = stripe.Refund.create(
            api_key=_api_key(),
            payment_intent=payment_intent,
            amount=amount_minor,
            metadata=dict(metadata),
            idempotency_key=idempotency_key,
        )
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    status = str(refund.get("status") or "pending")
    if status in ("failed", "canceled"):
        reason = refund.get("failure_reason") or status
        raise PaymentError(f"Stripe refused the refund: {reason}.")
    return StripeRefund(refund_id=str(refund["id"]), status=status)


def payment_fee(*, payment_intent: str, currency: str) -> Decimal | None:
    """Stripe's fee for a payment, in the payment's currency, from the balance transaction of
    the PaymentIntent's latest charge; None when Stripe has not recorded it yet or does not
    answer (the payment is applied anyway, with no fee known)."""
    try:
        intent = stripe.PaymentIntent.retrieve(
            payment_intent, api_key=_api_key(), expand=["latest_charge.balance_transaction"]
        )
    except (stripe.StripeError, PaymentError) as exc:
        logger.warning(
            "payments.fee_unknown",
            extra={"payment_ref": payment_intent, "error": safe_message(exc)},
        )
        return None
    charge = intent.get("latest_charge")
    txn = charge.get("balance_transaction") if isinstance(charge, Mapping) else None
    if not isinstance(txn, Mapping) or txn.get("fee") is None:
        return None
    try:
        txn_currency = str(txn.get("currency") or currency).upper()
        fee = from_minor_units(int(txn["fee"]), txn_currency)
        if txn_currency != currency.upper():
            # The fee is in the platform's settlement currency; bring it back to the payment's.
            rate = txn.get("exchange_rate")
            if not rate:
                return None
            fee = fee / Decimal(str(rate))
        return quantize(fee, currency.upper())
    except (MoneyError, ArithmeticError, ValueError, TypeError):
        return None
