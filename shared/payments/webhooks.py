"""The webhook: verify Stripe's signature, store the event once under its id, apply it.

| event type                                  | effect                                         |
|---------------------------------------------|------------------------------------------------|
| checkout.session.completed (paid)           | checks, then the purpose's handler, once       |
| checkout.session.completed (not yet paid)   | ignored: an asynchronous payment is pending    |
| checkout.session.async_payment_succeeded    | as completed (paid)                            |
| checkout.session.expired                    | open session → expired, `on_expired` called    |
| checkout.session.async_payment_failed       | as expired                                     |
| charge.refunded                             | the payment's refunded total and refunds kept  |
| anything else                               | stored, ignored                                |

The event row is inserted first, inside the transaction that applies it: a second delivery of
the same id waits for the first and then fails to insert (unique constraint) and changes
nothing. A payment is applied only when the event's session is ours, its metadata names that
session's site, purpose and reference, and its amount and currency equal the session's; the
handler runs in the site's schema under a row lock on the session, which is marked paid in the
same transaction. Anything that does not fit is stored as ignored or rejected with the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.money import MoneyError, quantize, to_minor_units
from shared.payments import conf, stripe_api
from shared.payments.models import (
    CheckoutSession,
    CheckoutStatus,
    EventOutcome,
    Provider,
    Refund,
    WebhookEvent,
)
from shared.payments.registry import PaymentError, PaymentMismatch, payment_handler_for

logger = logging.getLogger(__name__)

# Stripe's default: a signature older than five minutes is refused (replayed captures).
SIGNATURE_TOLERANCE_SECONDS = 300

PAID_TYPES = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
ENDED_TYPES = frozenset({"checkout.session.expired", "checkout.session.async_payment_failed"})


class SignatureInvalid(Exception):
    """The request is not a correctly signed event (answered 400)."""


class WebhookNotConfigured(Exception):
    """Stripe keys are set but STRIPE_WEBHOOK_SECRET is not (answered 503, Stripe retries)."""


@dataclass(frozen=True)
class Outcome:
    outcome: EventOutcome
    reason: str = ""
    session: CheckoutSession | None = None


def webhook_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `signature` is a valid Stripe signature of `payload` (stripe-python)."""
    secret = conf.webhook_secret()
    if not secret:
        raise WebhookNotConfigured("STRIPE_WEBHOOK_SECRET is not set.")
    if not signature:
        raise SignatureInvalid("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
        event = json.loads(text)
        if not isinstance(event, dict):
            raise ValueError("not an object")
        stripe.Webhook.construct_event(
            text, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise SignatureInvalid(f"Bad signature: {exc.user_message or exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignatureInvalid("The payload is not a JSON event.") from exc
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not (
        isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(obj, dict)
    ):
        raise SignatureInvalid("The payload is not a Stripe event.")
    return event


def _id(value: Any) -> str:
    """An id that Stripe may send as a string or as an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _session_of(obj: Mapping[str, Any]) -> CheckoutSession | None:
    session_id = _id(obj.get("id"))
    if not session_id:
        return None
    return (
        CheckoutSession.objects.select_related("site")
        .filter(provider_session_id=session_id)
        .first()
    )


def _stripe_fee(event: Mapping[str, Any]) -> Decimal | None:
    """For a Stripe payment event not seen before: Stripe's fee (a network call, made before
    the transaction so no lock is held while waiting)."""
    if (
        event["type"] not in PAID_TYPES
        or WebhookEvent.objects.filter(event_id=event["id"]).exists()
    ):
        return None
    obj = event["data"]["object"]
    session = _session_of(obj)
    payment_intent = _id(obj.get("payment_intent"))
    if session is None or session.provider != Provider.STRIPE or not payment_intent:
        return None
    return stripe_api.payment_fee(payment_intent=payment_intent, currency=session.currency)


def webhook_receive(*, payload: bytes, signature: str | None) -> tuple[WebhookEvent, bool]:
    """Verify, store and apply one event. Returns (the stored event, whether it was new)."""
    event = webhook_verify(payload=payload, signature=signature)
    stripe_fee = _stripe_fee(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = WebhookEvent.objects.create(
                    event_id=event["id"][:255],
                    type=event["type"][:100],
                    provider=Provider.SANDBOX if conf.sandbox_mode() else Provider.STRIPE,
                    api_version=str(event.get("api_version") or "")[:40],
                    livemode=bool(event.get("livemode")),
                    payload=event,
                    outcome=EventOutcome.IGNORED,
                )
        except IntegrityError:
            duplicate = WebhookEvent.objects.get(event_id=event["id"][:255])
            logger.info(
                "payments.webhook_replayed",
                extra={"event": duplicate.event_id, "type": duplicate.type},
            )
            return duplicate, False
        result = _dispatch(event, stripe_fee)
        row.outcome = result.outcome
        row.reason = result.reason[:500]
        row.session = result.session
        row.site = result.session.site if result.session is not None else None
        row.processed_at = timezone.now()
        row.save(update_fields=["outcome", "reason", "session", "site", "processed_at"])
    logger.info(
        "payments.webhook_processed",
        extra={
            "event": row.event_id,
            "type": row.type,
            "outcome": row.outcome,
            "reason": row.reason,
            "site": row.site.slug if row.site else "",
        },
    )
    return row, True


def _dispatch(event: Mapping[str, Any], stripe_fee: Decimal | None) -> Outcome:
    event_type = event["type"]
    obj = event["data"]["object"]
    if event_type in PAID_TYPES:
        if event_type == "checkout.session.completed" and obj.get("payment_status") != "paid":
            return Outcome(
                EventOutcome.IGNORED,
                f"Payment status is '{obj.get('payment_status')}': waiting for the payment.",
                _session_of(obj),
            )
        return _payment_apply(obj, stripe_fee)
    if event_type in ENDED_TYPES:
        return _checkout_end(obj, event_type)
    if event_type == "charge.refunded":
        return _refund_record(obj)
    return Outcome(EventOutcome.IGNORED, f"Kameng does not act on '{event_type}' events.")


def _match(obj: Mapping[str, Any]) -> Outcome | CheckoutSession:
    """Our session for the event, or the outcome that refuses it."""
    session = _session_of(obj)
    if session is None:
        if obj.get("payment_status") == "paid":
            logger.error("payments.unknown_session_paid", extra={"session": _id(obj.get("id"))})
        return Outcome(EventOutcome.IGNORED, "Unknown checkout session.")
    found = obj.get("metadata")
    metadata: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    expected = {
        "kameng_site": session.site.schema_name,
        "kameng_purpose": session.purpose,
        "kameng_reference": session.reference,
    }
    differing = sorted(k for k, v in expected.items() if metadata.get(k) != v)
    if differing:
        return Outcome(
            EventOutcome.REJECTED,
            f"The event's metadata ({', '.join(differing)}) does not match the session.",
            session,
        )
    return session


def _amount_check(obj: Mapping[str, Any], session: CheckoutSession) -> str:
    """Why the event's amount or currency differs from the session's ('' if they agree)."""
    currency = obj.get("currency")
    if not isinstance(currency, str) or currency.upper() != session.currency:
        return f"The event's currency '{currency}' is not the session's {session.currency}."
    amount_total = obj.get("amount_total")
    expected = to_minor_units(session.amount, session.currency)
    if type(amount_total) is not int or amount_total != expected:
        return f"The event's amount_total {amount_total!r} is not the session's {expected}."
    return ""


def sandbox_fee(amount: Decimal, currency: str) -> Decimal:
    """The sandbox's fee: PAYMENT_FEE_PERCENT of the amount plus PAYMENT_FEE_FIXED."""
    fee = amount * conf.sandbox_fee_percent() / Decimal(100) + conf.sandbox_fee_fixed()
    return quantize(fee, currency)


def _fee(session: CheckoutSession, stripe_fee: Decimal | None) -> Decimal:
    try:
        if session.provider == Provider.SANDBOX:
            fee = sandbox_fee(session.amount, session.currency)
        else:
            fee = stripe_fee if stripe_fee is not None else Decimal(0)
        fee = quantize(fee, session.currency)
    except MoneyError:
        fee = Decimal(0)
    return min(max(fee, Decimal(0)), session.amount)


def _payment_apply(obj: Mapping[str, Any], stripe_fee: Decimal | None) -> Outcome:
    matched = _match(obj)
    if isinstance(matched, Outcome):
        return matched
    problem = _amount_check(obj, matched)
    if problem:
        return Outcome(EventOutcome.REJECTED, problem, matched)
    payment_ref = _id(obj.get("payment_intent"))
    if not payment_ref:
        return Outcome(EventOutcome.REJECTED, "The event names no payment intent.", matched)
    registration = payment_handler_for(matched.purpose)
    if registration is None:
        # A deploy without the purpose's app: fail (not stored) so the provider retries later.
        raise PaymentError(f"No payment handler is registered for '{matched.purpose}'.")

    session = (
        CheckoutSession.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=matched.pk)
    )
    if session.status in (CheckoutStatus.PAID, CheckoutStatus.REJECTED):
        return Outcome(EventOutcome.IGNORED, f"The session is already {session.status}.", session)
    fee = _fee(session, stripe_fee)
    try:
        with tenant_context(session.site), transaction.atomic():
            registration.handler(
                site=session.site,
                reference=session.reference,
                amount=session.amount,
                currency=session.currency,
                payment_ref=payment_ref,
                fee=fee,
            )
    except PaymentMismatch as exc:
        # The money was taken but its purpose refused it: keep that visible for a refund.
        session.status = CheckoutStatus.REJECTED
        session.status_reason = str(exc)[:500]
        session.payment_ref = payment_ref
        session.save(update_fields=["status", "status_reason", "payment_ref"])
        logger.error(
            "payments.payment_refused_by_handler",
            extra={"session": session.provider_session_id, "reason": session.status_reason},
        )
        return Outcome(EventOutcome.REJECTED, f"Refused by '{session.purpose}': {exc}", session)
    was_expired = session.status == CheckoutStatus.EXPIRED
    session.status = CheckoutStatus.PAID
    session.payment_ref = payment_ref
    session.fee = fee
    session.paid_at = timezone.now()
    session.save(update_fields=["status", "payment_ref", "fee", "paid_at"])
    note = " (the session had been marked expired)" if was_expired else ""
    return Outcome(EventOutcome.APPLIED, f"Paid{note}.", session)


def _checkout_end(obj: Mapping[str, Any], event_type: str) -> Outcome:
    matched = _match(obj)
    if isinstance(matched, Outcome):
        return matched
    session = (
        CheckoutSession.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=matched.pk)
    )
    if session.status != CheckoutStatus.OPEN:
        return Outcome(EventOutcome.IGNORED, f"The session is already {session.status}.", session)
    session.status = CheckoutStatus.EXPIRED
    session.status_reason = (
        "The asynchronous payment failed." if event_type.endswith("failed") else "Expired."
    )
    session.save(update_fields=["status", "status_reason"])
    registration = payment_handler_for(session.purpose)
    if registration is not None and registration.on_expired is not None:
        with tenant_context(session.site), transaction.atomic():
            registration.on_expired(site=session.site, reference=session.reference)
    return Outcome(EventOutcome.APPLIED, session.status_reason, session)


def _refund_record(obj: Mapping[str, Any]) -> Outcome:
    payment_ref = _id(obj.get("payment_intent"))
    session = (
        CheckoutSession.objects.select_for_update()
        .select_related("site")
        .filter(payment_ref=payment_ref)
        .exclude(payment_ref="")
        .first()
    )
    if session is None:
        return Outcome(EventOutcome.IGNORED, "A refund of a payment Kameng has not applied.")
    currency = str(obj.get("currency") or "").upper()
    refunded = obj.get("amount_refunded")
    if currency != session.currency or type(refunded) is not int or refunded < 0:
        return Outcome(
            EventOutcome.REJECTED, "The refund's amount or currency is not valid.", session
        )
    total = stripe_api.from_minor_units(refunded, currency)
    if total > session.amount:
        return Outcome(EventOutcome.REJECTED, "The refunded total exceeds the payment.", session)
    listed = (
        (obj.get("refunds") or {}).get("data") if isinstance(obj.get("refunds"), Mapping) else None
    )
    rows = []
    for item in listed or []:
        refund_id, amount = _id(item), item.get("amount") if isinstance(item, Mapping) else None
        if not refund_id or type(amount) is not int or amount <= 0:
            continue
        status = str(item.get("status") or "succeeded")[:32]
        Refund.objects.filter(provider_refund_id=refund_id).exclude(status=status).update(
            status=status
        )
        rows.append(
            Refund(
                site=session.site,
                session=session,
                provider=session.provider,
                provider_refund_id=refund_id[:255],
                payment_ref=payment_ref,
                amount=stripe_api.from_minor_units(amount, currency),
                currency=currency,
                status=status,
            )
        )
    Refund.objects.bulk_create(rows, ignore_conflicts=True)
    # Refund events may arrive in any order: the refunded total only ever grows.
    if total > session.amount_refunded:
        session.amount_refunded = total
        session.save(update_fields=["amount_refunded"])
    return Outcome(EventOutcome.APPLIED, f"Refunded {session.amount_refunded} in total.", session)
