"""Background work of the sandbox: delivering its signed events to the webhook endpoint over
HTTP (retried with backoff until the endpoint answers 2xx), and expiring unpaid sandbox
checkouts (beat, platform-wide). All of it runs in the public schema, whichever schema queued it.
"""

from __future__ import annotations

import logging
from functools import partial

import requests
from celery import shared_task
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from shared.ledger.money import to_minor_units
from shared.payments import sandbox
from shared.payments.models import CheckoutSession, CheckoutStatus, Provider, Refund

logger = logging.getLogger(__name__)

# Deliveries retry with backoff (1 s, 2 s, 4 s … up to a minute) until the endpoint answers 2xx.
RETRY_ON = (requests.RequestException, sandbox.DeliveryFailed)


@shared_task(
    name="shared.payments.tasks.sandbox_session_event_send",
    autoretry_for=RETRY_ON,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=12,
)
def sandbox_session_event_send(session_pk: int, event_type: str) -> int:
    """Deliver `checkout.session.completed` / `checkout.session.expired` for a sandbox session."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    session = CheckoutSession.objects.select_related("site").get(
        pk=session_pk, provider=Provider.SANDBOX
    )
    status = sandbox.deliver(sandbox.session_event(session, event_type))
    logger.info(
        "payments.sandbox_delivered",
        extra={"type": event_type, "session": session.provider_session_id, "status": status},
    )
    return status


@shared_task(
    name="shared.payments.tasks.sandbox_refund_send",
    autoretry_for=RETRY_ON,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=12,
)
def sandbox_refund_send(refund_pk: int) -> int:
    """Deliver `charge.refunded` for a sandbox refund, with the charge's refunded total."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    refund = Refund.objects.select_related("session").get(pk=refund_pk, provider=Provider.SANDBOX)
    session = refund.session
    assert session is not None
    refunded = Refund.objects.filter(payment_ref=refund.payment_ref, pk__lte=refund.pk).aggregate(
        total=Sum("amount")
    )["total"]
    event = sandbox.refund_event(
        refund,
        refunded_total=to_minor_units(refunded, refund.currency),
        amount_total=to_minor_units(session.amount, session.currency),
    )
    return sandbox.deliver(event)


@shared_task(name="shared.payments.tasks.sandbox_sessions_expire")
def sandbox_sessions_expire() -> int:
    """Play Stripe's expiry: unpaid sandbox checkouts past their time get
    `checkout.session.expired` (beat, platform-wide, every minute)."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    expired = 0
    with transaction.atomic():
        due = (
            CheckoutSession.objects.select_for_update(skip_locked=True)
            .filter(
                provider=Provider.SANDBOX,
                status=CheckoutStatus.OPEN,
                expires_at__lte=timezone.now(),
                sandbox_paid_at__isnull=True,
                sandbox_expired_at__isnull=True,
            )
            .order_by("expires_at")[:500]
        )
        for session in due:
            session.sandbox_expired_at = timezone.now()
            session.save(update_fields=["sandbox_expired_at"])
            transaction.on_commit(
                partial(sandbox_session_event_send.delay, session.pk, "checkout.session.expired")
            )
            expired += 1
    return expired
