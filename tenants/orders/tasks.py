"""Background work of orders; every task runs in its order's site schema.

Tasks are sent after the transaction that asked for them commits (`enqueue`), naming the schema
explicitly: a payment handler's transaction may commit after the connection has left the site.
Each task tolerates an order that no longer needs it (already delivered, refunded, gone).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from celery import Task, shared_task
from django.db import transaction

from tenants.orders.emails import order_delivery_email_send
from tenants.orders.models import Order, current_schema
from tenants.orders.states import OrderStatus, follow_up

logger = logging.getLogger(__name__)


def enqueue(task: Task, *, countdown: float | None = None, **kwargs: Any) -> None:
    """Send `task(**kwargs)` once the current transaction commits, to run in the current
    site's schema."""
    schema = current_schema()

    transaction.on_commit(lambda: send_in(task, schema, countdown=countdown, **kwargs))


def send_in(task: Task, schema: str, *, countdown: float | None = None, **kwargs: Any) -> None:
    """Send `task(**kwargs)` now, to run in `schema`."""
    options: dict[str, Any] = {"headers": {"_schema_name": schema}}
    if countdown:
        options["countdown"] = countdown
    task.apply_async(kwargs=kwargs, **options)


@shared_task(name="tenants.orders.tasks.orders_expire", ignore_result=True)
def orders_expire() -> int:
    """Expire the site's unpaid orders past their time and release their keys (per-site beat
    entry)."""
    from tenants.orders.services import orders_expire as expire

    return expire()


@shared_task(name="tenants.orders.tasks.order_delivery_email", ignore_result=True)
def order_delivery_email(order_id: int) -> bool:
    return order_delivery_email_send(order_id=order_id)


@shared_task(name="tenants.orders.tasks.order_review_hold", ignore_result=True)
def order_review_hold(order_id: int, reason: str) -> bool:
    from tenants.orders.services import order_review_hold as hold

    return hold(order_id=order_id, reason=reason)


@shared_task(
    name="tenants.orders.tasks.order_refund_auto",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    max_retries=8,
)
def order_refund_auto(order_id: int, key: str, reason: str) -> bool:
    """Refund whatever is left of an order that could not be delivered."""
    from tenants.orders.refunds import order_refund

    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status not in (OrderStatus.FAILED, OrderStatus.UNDER_REVIEW):
        return False
    order_refund(order=order, amount=None, actor="system", reason=reason, key=key)
    return True


@shared_task(
    name="tenants.orders.tasks.order_payment_return",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    max_retries=8,
)
def order_payment_return(order_id: int, payment_ref: str, amount: str) -> str:
    """Give back a second card payment of an already paid order."""
    from shared.payments.services import payment_refund
    from tenants.orders.services import current_site

    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return ""
    refund_id = payment_refund(
        site=current_site(),
        payment_ref=payment_ref,
        amount=Decimal(amount),
        currency=order.currency,
        idempotency_key=f"{order.order_ref}:duplicate:{payment_ref}"[:200],
        reason="A second payment of an order already paid.",
    )
    logger.info("orders.duplicate_payment_refunded", extra={"order": order.number})
    return refund_id


@follow_up(OrderStatus.DELIVERED)
def _delivered(order_id: int, schema: str) -> None:
    send_in(order_delivery_email, schema, order_id=order_id)
