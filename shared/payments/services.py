"""Writes of card payments: starting a checkout and refunding a payment.

`checkout_start` creates a Stripe Checkout Session (or a sandbox session when STRIPE_SECRET_KEY
is empty) whose metadata names the site's schema, the purpose and the reference, and returns the
address to send the buyer to. The payment itself is applied by the webhook (`webhooks.py`)
through the handler registered for the purpose (`registry.py`). `payment_refund` sends money
back through the same provider, once per idempotency key.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from shared.ledger.money import MoneyError, exact, to_minor_units
from shared.payments import conf, stripe_api
from shared.payments.models import CheckoutSession, CheckoutStatus, Provider, Refund
from shared.payments.registry import (
    PaymentError,
    PaymentHandler,
    PaymentMismatch,
    PaymentUnavailable,
    payment_handler_for,
    payment_handler_register,
)
from shared.sites.models import Site

__all__ = [
    "PaymentError",
    "PaymentHandler",
    "PaymentMismatch",
    "PaymentUnavailable",
    "checkout_start",
    "payment_handler_register",
    "payment_refund",
]

logger = logging.getLogger(__name__)

# Stripe accepts a Checkout Session expiry between 30 minutes and 24 hours after creation; the
# sandbox keeps the same window so that both behave alike.
MIN_EXPIRY = timedelta(minutes=30)
MAX_EXPIRY = timedelta(hours=24)
# An open session is reused for the same payment unless it expires sooner than this.
REUSE_MARGIN = timedelta(minutes=5)


def _amount(amount: Decimal, currency: str) -> Decimal:
    if not isinstance(amount, Decimal):
        raise PaymentError("Amounts must be Decimal.")
    try:
        value = exact(amount, currency)
    except MoneyError as exc:
        raise PaymentError(str(exc)) from exc
    if value <= 0:
        raise PaymentError("The amount must be positive.")
    return value


def _absolute_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise PaymentError(f"The {name} must be an absolute http(s) address.")
    return url


def _expiry(expires_at: datetime | None, now: datetime) -> datetime:
    """Within Stripe's window, in whole minutes: two starts of the same payment a few seconds
    apart then send Stripe the same parameters under the same idempotency key."""
    if expires_at is None:
        expires_at = now + timedelta(minutes=conf.checkout_expiry_minutes())
    if timezone.is_naive(expires_at):
        raise PaymentError("expires_at must be timezone-aware.")
    latest = now + MAX_EXPIRY
    expiry = min(max(expires_at, now + MIN_EXPIRY), latest)
    rounded = expiry.replace(second=0, microsecond=0)
    if rounded < expiry:
        rounded += timedelta(minutes=1)
    return rounded if rounded <= latest else rounded - timedelta(minutes=1)


def checkout_metadata(*, site: Site, purpose: str, reference: str) -> dict[str, str]:
    return {
        "kameng_site": site.schema_name,
        "kameng_purpose": purpose,
        "kameng_reference": reference,
    }


def checkout_start(
    *,
    site: Site,
    purpose: str,
    reference: str,
    amount: Decimal,
    currency: str,
    description: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime | None = None,
) -> str:
    """Create a Stripe Checkout Session (or a sandbox session when STRIPE_SECRET_KEY is empty)
    whose metadata carries the site's schema, `purpose` and `reference`; return the URL to
    redirect the buyer to.

    `success_url` may contain Stripe's `{CHECKOUT_SESSION_ID}` placeholder. The session expires
    at `expires_at` (default PAYMENT_CHECKOUT_EXPIRY_MINUTES), kept within Stripe's window of 30
    minutes to 24 hours. An open session for the same payment is reused.
    """
    currency = currency.upper()
    amount = _amount(amount, currency)
    if payment_handler_for(purpose) is None:
        raise PaymentError(f"No payment handler is registered for '{purpose}'.")
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise PaymentError("A reference of 1 to 100 characters is required.")
    description = " ".join(description.split())[:250]
    if not description:
        raise PaymentError("A description is required.")
    customer_email = customer_email.strip()
    if customer_email:
        try:
            validate_email(customer_email)
        except ValidationError as exc:
            raise PaymentError("The customer email is not valid.") from exc
    _absolute_url(success_url, "success address")
    _absolute_url(cancel_url, "cancel address")
    if not site.is_active:
        raise PaymentError("This site cannot take payments.")
    now = timezone.now()
    expiry = _expiry(expires_at, now)
    with transaction.atomic():
        # Starts of one payment queue here (a double click): the second finds the first's
        # session, committed, and reuses it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"payments.checkout:{site.pk}:{purpose}:{reference}"],
            )
        session = _session_start(
            site=site,
            purpose=purpose,
            reference=reference,
            amount=amount,
            currency=currency,
            description=description,
            customer_email=customer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            now=now,
            expiry=expiry,
        )
    logger.info(
        "payments.checkout_started",
        extra={
            "site": site.slug,
            "purpose": purpose,
            "reference": reference,
            "provider": session.provider,
            "session": session.provider_session_id,
        },
    )
    return session.url


def _session_start(
    *,
    site: Site,
    purpose: str,
    reference: str,
    amount: Decimal,
    currency: str,
    description: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    now: datetime,
    expiry: datetime,
) -> CheckoutSession:
    """The open session of this payment, or a new one (the caller holds the payment's lock)."""
    provider = Provider.SANDBOX if conf.sandbox_mode() else Provider.STRIPE
    sessions = CheckoutSession.objects.filter(site=site, purpose=purpose, reference=reference)
    reusable = sessions.filter(
        provider=provider,
        status=CheckoutStatus.OPEN,
        amount=amount,
        currency=currency,
        expires_at__gt=now + REUSE_MARGIN,
        sandbox_paid_at__isnull=True,
        sandbox_expired_at__isnull=True,
    ).first()
    if reusable is not None:
        return reusable

    fields = {
        "site": site,
        "purpose": purpose,
        "reference": reference,
        "amount": amount,
        "currency": currency,
        "description": description,
        "provider": provider,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "customer_email": customer_email,
        "expires_at": expiry,
    }
    if provider == Provider.SANDBOX:
        session_id = f"cs_sandbox_{secrets.token_hex(20)}"
        url = conf.platform_reverse("payments:sandbox_checkout", session_id=session_id)
        session = CheckoutSession.objects.create(provider_session_id=session_id, url=url, **fields)
    else:
        metadata = checkout_metadata(site=site, purpose=purpose, reference=reference)
        attempt = sessions.count()
        key = (
            f"kameng-checkout:{site.schema_name}:{purpose}:{reference}:"
            f"{to_minor_units(amount, currency)}:{currency}:{int(expiry.timestamp())}:{attempt}"
        )[-255:]
        created = stripe_api.checkout_session_create(
            amount_minor=to_minor_units(amount, currency),
            currency=currency,
            description=description,
            metadata=metadata,
            client_reference_id=f"{site.schema_name}:{purpose}",
            customer_email=customer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=int(expiry.timestamp()),
            idempotency_key=key,
        )
        # A start retried after a crash between Stripe's answer and this insert gets the same
        # session from Stripe (same idempotency key); the unique session id keeps one row.
        existing = CheckoutSession.objects.filter(provider_session_id=created.session_id).first()
        if existing is not None:
            return existing
        session = CheckoutSession.objects.create(
            provider_session_id=created.session_id, url=created.url, **fields
        )
    return session


def _refunded(session: CheckoutSession) -> Decimal:
    recorded = Refund.objects.filter(session=session).exclude(status__in=["failed", "canceled"])
    total = recorded.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return max(total, session.amount_refunded)


def payment_refund(
    *,
    site: Site,
    payment_ref: str,
    amount: Decimal,
    currency: str,
    idempotency_key: str,
    reason: str = "",
) -> str:
    """Refund through Stripe (or the sandbox) with Stripe's idempotency key; returns the
    provider's refund id. Raises PaymentError with a clear message when the provider refuses,
    PaymentUnavailable (a PaymentError) when the outcome is unknown: retry with the same key.

    The same key again returns the same refund; a key reused for a different refund, a payment
    of another site, a currency that differs or more than is left to refund is refused, and
    nothing is written.
    """
    currency = currency.upper()
    amount = _amount(amount, currency)
    if not idempotency_key or len(idempotency_key) > 200:
        raise PaymentError("An idempotency key of 1 to 200 characters is required.")
    key = f"{site.schema_name}:{idempotency_key}"
    reason = reason.strip()[:500]
    with transaction.atomic():
        session = (
            CheckoutSession.objects.select_for_update()
            .filter(site=site, payment_ref=payment_ref)
            .exclude(payment_ref="")
            .first()
        )
        if session is None:
            raise PaymentError(f"There is no card payment '{payment_ref}' on this site.")
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if (existing.payment_ref, existing.amount, existing.currency) != (
                payment_ref,
                amount,
                currency,
            ):
                raise PaymentError(
                    f"The refund key '{idempotency_key}' was used for another refund."
                )
            return existing.provider_refund_id
        if session.status not in (CheckoutStatus.PAID, CheckoutStatus.REJECTED):
            raise PaymentError("This payment has not been received.")
        if currency != session.currency:
            raise PaymentError(f"The payment was made in {session.currency}, not {currency}.")
        left = session.amount - _refunded(session)
        if amount > left:
            raise PaymentError(f"Only {left} {currency} of this payment is left to refund.")
        metadata = {"kameng_site": site.schema_name, "kameng_refund": idempotency_key[:450]}
        if reason:
            metadata["kameng_reason"] = reason
        if session.provider == Provider.STRIPE:
            made = stripe_api.refund_create(
                payment_intent=payment_ref,
                amount_minor=to_minor_units(amount, currency),
                metadata=metadata,
                idempotency_key=f"kameng-refund:{key}"[:255],
            )
            refund_id, status = made.refund_id, made.status
        else:
            from shared.payments.sandbox import refund_id_for

            refund_id, status = refund_id_for(key), "succeeded"
        refund = Refund.objects.create(
            site=site,
            session=session,
            provider=session.provider,
            provider_refund_id=refund_id,
            payment_ref=payment_ref,
            amount=amount,
            currency=currency,
            status=status,
            idempotency_key=key,
            reason=reason,
        )
        session.amount_refunded = _refunded(session)
        session.save(update_fields=["amount_refunded"])
        if session.provider == Provider.SANDBOX:
            from shared.payments.tasks import sandbox_refund_send

            pk = refund.pk
            transaction.on_commit(lambda: sandbox_refund_send.delay(pk))
    logger.info(
        "payments.refunded",
        extra={"site": site.slug, "payment_ref": payment_ref, "refund": refund_id},
    )
    return refund_id
