"""Direct top-ups: after payment, ask the suppliers to credit the buyer's account.

The order is `delivering` while this runs. Suppliers are tried in the order `topup_offers`
gives (priority, then cost). Each has a `TopupAttempt` row. A supplier that cannot be reached
(`SupplierUnavailable`) is tried again with exponential backoff, ORDER_TOPUP_ATTEMPTS times in
all, then the next supplier is tried; a supplier that refuses (`failed`) passes to the next at
once. A `pending` answer waits for the supplier's callback (`order_topup_result`, registered with
`shared.suppliers.hooks`) or for polling (`order_topup_poll`). A success settles the sale through
the ledger with that supplier's cost and delivers the order; when every supplier has failed the
order fails and is refunded whole (wallet or card) at once.

The supplier call itself runs outside any database transaction (it may take seconds); the order
row is locked before and after it. Submissions are idempotent at the supplier on the order_ref,
so a worker killed between the two only causes a harmless resubmission.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.ledger.models import AccountKind
from shared.ledger.services import account_get
from shared.suppliers.adapters import (
    SupplierUnavailable,
    TopupRequest,
    TopupResult,
    adapter_for,
    supplier_callback_url,
    topup_offers,
)
from shared.suppliers.models import Supplier, SupplierOffer
from tenants.orders.models import Order, TopupAttempt, TopupAttemptStatus, current_schema
from tenants.orders.services import (
    SYSTEM,
    _lock,
    current_site,
    sale_settle,
    topup_attempt_supply,
)
from tenants.orders.states import FulfilmentStatus, OrderStatus, follow_up, order_transition
from tenants.orders.tasks import send_in

logger = logging.getLogger(__name__)

A = TopupAttemptStatus
_RETRYABLE = (A.SUBMITTING, A.UNAVAILABLE)


@shared_task(
    name="tenants.orders.topups.order_topup_run",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def order_topup_run(order_id: int) -> str:
    """Submit the order to its next supplier (or finish it); see the module docstring."""
    if not Order.objects.filter(pk=order_id).exists():
        return "gone"
    return topup_advance(order_id=order_id)


@shared_task(
    name="tenants.orders.topups.order_topup_poll",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def order_topup_poll(order_id: int, supplier_id: int) -> str:
    return topup_poll(order_id=order_id, supplier_id=supplier_id)


@follow_up(OrderStatus.DELIVERING)
def _delivering(order_id: int, schema: str) -> None:
    send_in(order_topup_run, schema, order_id=order_id)


def _next_offer(order: Order) -> tuple[SupplierOffer | None, bool]:
    """The offer to submit to next, and whether any attempt is still waiting at a supplier."""
    attempts = {a.supplier_id: a for a in order.topup_attempts.all()}
    if any(a.status in (A.PENDING, A.SUCCEEDED) for a in attempts.values()):
        return None, True
    for offer in topup_offers(order.sku):
        attempt = attempts.get(offer.supplier_id)
        if attempt is None:
            return offer, False
        if attempt.status in _RETRYABLE and attempt.tries < settings.ORDER_TOPUP_ATTEMPTS:
            return offer, False
    return None, False


def topup_advance(*, order_id: int) -> str:
    """One step of the orchestration: submit to the next supplier, or fail and refund."""
    schema = current_schema()
    with transaction.atomic():
        current_site()
        order = _lock(order_id)
        if order.status != OrderStatus.DELIVERING:
            return "not_delivering"
        offer, waiting = _next_offer(order)
        if waiting:
            return "waiting"
        if offer is None:
            _give_up(order, reason="Every supplier failed to top up.")
            return "failed"
        attempt, _ = TopupAttempt.objects.get_or_create(
            order=order,
            supplier_id=offer.supplier_id,
            defaults={"supplier_name": offer.supplier.name, "unit_cost": offer.cost},
        )
        attempt.tries += 1
        attempt.status = A.SUBMITTING
        attempt.save(update_fields=["tries", "status", "updated_at"])
        request = TopupRequest(
            order_ref=order.order_ref,
            sku_code=order.sku.code,
            quantity=order.quantity,
            fields=dict(order.input_values),
            callback_url=supplier_callback_url(offer.supplier),
        )
    try:
        result = adapter_for(offer.supplier).submit(request)
    except SupplierUnavailable as exc:
        return _unavailable(order_id, attempt.pk, schema, message=str(exc))
    logger.info(
        "orders.topup_submitted",
        extra={"order": order.number, "supplier": offer.supplier_id, "status": result.status},
    )
    topup_result_apply(order_id=order_id, supplier_id=offer.supplier_id, result=result)
    return result.status


def _unavailable(order_id: int, attempt_id: int, schema: str, *, message: str) -> str:
    with transaction.atomic():
        attempt = TopupAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.status != A.SUBMITTING:
            return attempt.status  # a callback answered meanwhile
        attempt.status = A.UNAVAILABLE
        attempt.message = message[:500]
        attempt.save(update_fields=["status", "message", "updated_at"])
    retry_later = attempt.tries < settings.ORDER_TOPUP_ATTEMPTS
    countdown = (
        settings.ORDER_TOPUP_BACKOFF_SECONDS * 2 ** (attempt.tries - 1) if retry_later else 0
    )
    logger.warning(
        "orders.topup_supplier_unavailable",
        extra={"order_id": order_id, "supplier": attempt.supplier_id, "tries": attempt.tries},
    )
    send_in(order_topup_run, schema, countdown=countdown, order_id=order_id)
    return "unavailable"


def topup_result_apply(*, order_id: int, supplier_id: int, result: TopupResult) -> str:
    """Apply a supplier's answer for an order (submission, callback or poll). Idempotent: an
    answer for an order no longer delivering, or repeated, changes nothing."""
    schema = current_schema()
    with transaction.atomic():
        site = current_site()
        order = _lock(order_id)
        attempt = (
            TopupAttempt.objects.select_for_update()
            .filter(order=order, supplier_id=supplier_id)
            .first()
        )
        if attempt is None or order.status != OrderStatus.DELIVERING:
            return "ignored"
        if attempt.status in (A.SUCCEEDED, A.FAILED):
            return "ignored"
        attempt.supplier_ref = result.supplier_ref[:255] or attempt.supplier_ref
        attempt.message = result.message[:500]
        if result.status == "pending":
            first = attempt.status != A.PENDING
            attempt.status = A.PENDING
            attempt.save(update_fields=["status", "supplier_ref", "message", "updated_at"])
            if first:
                transaction.on_commit(
                    lambda: send_in(
                        order_topup_poll,
                        schema,
                        countdown=settings.ORDER_TOPUP_POLL_SECONDS,
                        order_id=order_id,
                        supplier_id=supplier_id,
                    )
                )
            return "pending"
        if result.status == "failed":
            attempt.status = A.FAILED
            attempt.save(update_fields=["status", "supplier_ref", "message", "updated_at"])
            transaction.on_commit(lambda: send_in(order_topup_run, schema, order_id=order_id))
            return "failed"
        attempt.status = A.SUCCEEDED
        attempt.save(update_fields=["status", "supplier_ref", "message", "updated_at"])
        clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency=order.currency)
        sale_settle(
            order=order, site=site, supply=topup_attempt_supply(attempt, order), paid_from=clearing
        )
        order.delivered_at = attempt.updated_at
        order_transition(
            order=order,
            to=OrderStatus.DELIVERED,
            actor=f"supplier:{attempt.supplier_name}",
            reason=result.message[:500],
            fulfilment_status=FulfilmentStatus.DELIVERED,
            fields=("delivered_at",),
        )
    logger.info("orders.topup_delivered", extra={"order": order.number, "supplier": supplier_id})
    return "succeeded"


def topup_poll(*, order_id: int, supplier_id: int) -> str:
    """Ask a supplier for a pending top-up's state; after ORDER_TOPUP_POLLS unanswered polls
    the order goes to review (never failed over: the supplier may still deliver)."""
    schema = current_schema()
    attempt = TopupAttempt.objects.filter(order_id=order_id, supplier_id=supplier_id).first()
    if attempt is None or attempt.status != A.PENDING:
        return "not_pending"
    supplier = Supplier.objects.get(pk=supplier_id)
    order = Order.objects.get(pk=order_id)
    try:
        result = adapter_for(supplier).query(order_ref=order.order_ref)
    except SupplierUnavailable:
        result = TopupResult(status="pending")
    if result.status != "pending":
        return topup_result_apply(order_id=order_id, supplier_id=supplier_id, result=result)
    with transaction.atomic():
        locked = _lock(order_id)
        attempt = TopupAttempt.objects.select_for_update().get(pk=attempt.pk)
        attempt.polls += 1
        attempt.save(update_fields=["polls", "updated_at"])
        if attempt.polls >= settings.ORDER_TOPUP_POLLS:
            if locked.status == OrderStatus.DELIVERING:
                order_transition(
                    order=locked,
                    to=OrderStatus.UNDER_REVIEW,
                    actor=SYSTEM,
                    reason=f"{supplier.name} has not confirmed the top-up.",
                )
            return "review"
    send_in(
        order_topup_poll,
        schema,
        countdown=settings.ORDER_TOPUP_POLL_SECONDS,
        order_id=order_id,
        supplier_id=supplier_id,
    )
    return "pending"


def _give_up(order: Order, *, reason: str) -> None:
    """Every supplier failed: the order fails and is refunded whole, in this transaction."""
    from tenants.orders.refunds import order_refund

    order_transition(
        order=order,
        to=OrderStatus.FAILED,
        actor=SYSTEM,
        reason=reason,
        fulfilment_status=FulfilmentStatus.FAILED,
    )
    order_refund(order=order, amount=None, actor=SYSTEM, reason=reason, key="auto")
    logger.warning("orders.topup_failed", extra={"order": order.number})


def order_topup_result(*, order_ref: str, supplier_id: int, result: TopupResult) -> None:
    """The handler of supplier callbacks (shared.suppliers.hooks), in the order's schema."""
    schema, _sep, pk = order_ref.partition(":")
    if schema != current_schema() or not pk.isdigit():
        logger.warning("orders.topup_result_foreign", extra={"supplier": supplier_id})
        return
    topup_result_apply(order_id=int(pk), supplier_id=supplier_id, result=result)


@shared_task(name="tenants.orders.topups.topups_resume", ignore_result=True)
def topups_resume_task() -> int:
    """Per-site beat entry: pick up top-ups whose task was lost (a worker killed)."""
    return len(topups_resume())


def topups_resume(*, now: datetime | None = None, stalled_after: int = 300) -> list[int]:
    """Send again the next step of every top-up of this site that has not moved for
    `stalled_after` seconds (its task lost with a killed worker): a poll for a pending
    attempt, else the next submission. Returns the orders resumed."""
    schema = current_schema()
    since = (now or timezone.now()) - timedelta(seconds=stalled_after)
    stalled = (
        Order.objects.filter(status=OrderStatus.DELIVERING, updated_at__lte=since)
        .exclude(topup_attempts__updated_at__gt=since)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    resumed = []
    for order_id in stalled:
        pending = (
            TopupAttempt.objects.filter(order_id=order_id, status=A.PENDING)
            .values_list("supplier_id", flat=True)
            .first()
        )
        if pending is not None:
            send_in(order_topup_poll, schema, order_id=order_id, supplier_id=pending)
        else:
            send_in(order_topup_run, schema, order_id=order_id)
        resumed.append(order_id)
    if resumed:
        logger.warning("orders.topups_resumed", extra={"count": len(resumed), "schema": schema})
    return resumed
