"""The sandbox: Stripe's role played locally when no Stripe keys are configured (the demo).

It builds events shaped like Stripe's (`checkout.session.completed`, `checkout.session.expired`,
`charge.refunded`), signs them exactly as Stripe does (header `Stripe-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook secret>`) and POSTs them over
HTTP to the platform's own webhook endpoint, where the same code as for Stripe verifies and
applies them. Event ids are derived from the session and the kind of event, so pressing Pay twice
sends the same event twice, which the endpoint applies once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests
import stripe

from shared.ledger.money import to_minor_units
from shared.payments import conf
from shared.payments.models import CheckoutSession, Refund

TIMEOUT_SECONDS = 10


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header of a payload, as Stripe builds it."""
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}"


def _token(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


def payment_intent_id(session: CheckoutSession) -> str:
    return f"pi_sandbox_{_token('pi', session.provider_session_id)}"


def metadata_of(session: CheckoutSession) -> dict[str, str]:
    return {
        "kameng_site": session.site.schema_name,
        "kameng_purpose": session.purpose,
        "kameng_reference": session.reference,
    }


def _event(event_id: str, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def session_object(session: CheckoutSession, *, paid: bool) -> dict[str, Any]:
    minor = to_minor_units(session.amount, session.currency)
    return {
        "id": session.provider_session_id,
        "object": "checkout.session",
        "amount_subtotal": minor,
        "amount_total": minor,
        "client_reference_id": f"{session.site.schema_name}:{session.purpose}",
        "created": int(session.created_at.timestamp()),
        "currency": session.currency.lower(),
        "customer_email": session.customer_email or None,
        "customer_details": {"email": session.customer_email or None},
        "expires_at": int(session.expires_at.timestamp()),
        "livemode": False,
        "metadata": metadata_of(session),
        "mode": "payment",
        "payment_intent": payment_intent_id(session) if paid else None,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "expired",
        "success_url": session.success_url,
        "cancel_url": session.cancel_url,
        "url": None,
    }


def session_event(session: CheckoutSession, event_type: str) -> dict[str, Any]:
    paid = event_type == "checkout.session.completed"
    event_id = f"evt_sandbox_{_token(event_type, session.provider_session_id)}"
    return _event(event_id, event_type, session_object(session, paid=paid))


def refund_event(refund: Refund, refunded_total: int, amount_total: int) -> dict[str, Any]:
    """`charge.refunded` for a sandbox refund: the charge, with its refunds so far."""
    charge = {
        "id": f"ch_sandbox_{_token('ch', refund.payment_ref)}",
        "object": "charge",
        "amount": amount_total,
        "amount_captured": amount_total,
        "amount_refunded": refunded_total,
        "currency": refund.currency.lower(),
        "livemode": False,
        "paid": True,
        "payment_intent": refund.payment_ref,
        "refunded": refunded_total >= amount_total,
        "status": "succeeded",
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": refund.provider_refund_id,
                    "object": "refund",
                    "amount": to_minor_units(refund.amount, refund.currency),
                    "currency": refund.currency.lower(),
                    "payment_intent": refund.payment_ref,
                    "status": refund.status,
                }
            ],
        },
    }
    event_id = f"evt_sandbox_{_token('charge.refunded', refund.provider_refund_id)}"
    return _event(event_id, "charge.refunded", charge)


class DeliveryFailed(Exception):
    """The webhook endpoint did not answer 2xx (the task retries)."""


def deliver(event: dict[str, Any]) -> int:
    """POST one signed event to the platform's webhook endpoint; the HTTP status."""
    payload = json.dumps(event, separators=(",", ":"))
    response = requests.post(
        conf.webhook_url(),
        data=payload.encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, conf.sandbox_webhook_secret()),
            "User-Agent": "Kameng-Sandbox/1.0 (+Stripe-compatible webhooks)",
        },
        timeout=TIMEOUT_SECONDS,
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"The webhook endpoint answered {response.status_code}.")
    return response.status_code


def refund_id_for(scoped_key: str) -> str:
    """A sandbox refund's id, derived from its idempotency key (a retry gets the same id)."""
    return f"re_sandbox_{_token('re', scoped_key)}"
