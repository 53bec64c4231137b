"""Order states as data: the statuses, the allowed transitions, and the one function that moves
an order from one status to another.

The order's overall `status` is what buyers and staff follow. Payment and fulfilment have their
own statuses beside it (Saleor's split): an order can be paid and still waiting for a manual
delivery, or partially refunded after its keys were delivered.

    pending_payment ──pay──> paid ──> delivered ──refund──> refunded / partially_refunded
          │                   │ └──> delivering (top-up) ──> delivered / failed ──> refunded
          ├──> cancelled      └──> under_review (staff decide)
          ├──> expired ──late payment──> paid (re-reserved) or refunded
          └──> under_review (a payment that does not match the order)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from tenants.orders.models import Order, OrderEvent


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Waiting for payment")
    PAID = "paid", _("Paid")
    DELIVERING = "delivering", _("Delivering")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Delivery failed")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    UNDER_REVIEW = "under_review", _("Under review")


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class FulfilmentStatus(models.TextChoices):
    PENDING = "pending", _("Not delivered yet")
    DELIVERING = "delivering", _("Delivering")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Not delivered (cancelled)")


S = OrderStatus

# Every status an order may move to from each status. A status not listed as a key is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED, S.UNDER_REVIEW}),
    S.PAID: frozenset(
        {S.DELIVERING, S.DELIVERED, S.FAILED, S.REFUNDED, S.PARTIALLY_REFUNDED, S.UNDER_REVIEW}
    ),
    S.DELIVERING: frozenset({S.DELIVERED, S.FAILED, S.UNDER_REVIEW}),
    S.DELIVERED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.FAILED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED, S.UNDER_REVIEW}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # A payment arriving after the order expired or was cancelled: re-reserved and delivered,
    # or refunded at once.
    S.EXPIRED: frozenset({S.PAID, S.UNDER_REVIEW}),
    S.CANCELLED: frozenset({S.PAID, S.UNDER_REVIEW}),
    S.UNDER_REVIEW: frozenset(
        {
            S.PAID,
            S.DELIVERING,
            S.DELIVERED,
            S.FAILED,
            S.REFUNDED,
            S.PARTIALLY_REFUNDED,
            S.CANCELLED,
            S.EXPIRED,
        }
    ),
}

# Statuses in which the buyer is still waiting for something to happen (the order page
# refreshes itself).
WAITING = frozenset({S.PENDING_PAYMENT, S.PAID, S.DELIVERING})
# Statuses an unpaid order can be paid in (a late payment re-reserves its keys).
PAYABLE = frozenset({S.PENDING_PAYMENT, S.EXPIRED, S.CANCELLED, S.UNDER_REVIEW})


class TransitionRefused(ValidationError):
    """The order cannot move to that status from the one it is in (nothing was written)."""


# Follow-up work per target status, run after the transaction commits, given the order's id
# and its site's schema (the connection may be elsewhere by then).
FollowUp = Callable[[int, str], None]
_FOLLOW_UPS: dict[str, list[FollowUp]] = {}


def follow_up(status: str) -> Callable[[FollowUp], FollowUp]:
    """Register work to run (after commit) whenever an order reaches `status`."""

    def register(func: FollowUp) -> FollowUp:
        _FOLLOW_UPS.setdefault(status, []).append(func)
        return func

    return register


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def order_transition(
    *,
    order: Order,
    to: str,
    actor: str,
    reason: str = "",
    payment_status: str | None = None,
    fulfilment_status: str | None = None,
    fields: tuple[str, ...] = (),
) -> OrderEvent:
    """Move a locked order to `to`: check the table, set the statuses, save the order (with the
    extra `fields` the caller changed), record the history row, and schedule the follow-up
    work for the new status on commit."""
    from tenants.orders.models import current_schema

    current = order.status
    if not can_transition(current, to):
        raise TransitionRefused(
            _("An order that is “%(current)s” cannot become “%(target)s”.")
            % {"current": OrderStatus(current).label, "target": OrderStatus(to).label},
            code="transition",
        )
    order.status = to
    changed = {"status", "updated_at", *fields}
    if payment_status is not None:
        order.payment_status = payment_status
        changed.add("payment_status")
    if fulfilment_status is not None:
        order.fulfilment_status = fulfilment_status
        changed.add("fulfilment_status")
    event = order_save_with_event(
        order, fields=sorted(changed), from_status=current, actor=actor, reason=reason
    )
    schema = current_schema()
    for work in _FOLLOW_UPS.get(to, []):
        transaction.on_commit(lambda work=work: work(order.pk, schema))  # type: ignore[misc]
    return event


def order_save_with_event(
    order: Order, *, fields: Sequence[str], from_status: str, actor: str, reason: str = ""
) -> OrderEvent:
    """Save the order's changed `fields` and insert its history row (`from_status` → its status
    now), in one statement: the UPDATE as `save(update_fields=...)` would send it, with the
    auto_now field if listed. `order_transition` writes through it; so does a new order's first
    row (from "")."""
    from tenants.orders.models import Order, OrderEvent

    actor, reason = actor[:254], reason[:500]
    meta = Order._meta
    concrete = {field.name: field for field in meta.concrete_fields}
    changed = [concrete[name] for name in fields]
    values = [field.get_db_prep_save(field.pre_save(order, False), connection) for field in changed]
    columns = ", ".join(f"{connection.ops.quote_name(str(field.column))} = %s" for field in changed)
    created_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {meta.db_table} SET {columns} WHERE id = %s RETURNING id) "  # noqa: S608
            f"INSERT INTO {OrderEvent._meta.db_table} "
            "(order_id, from_status, to_status, actor, reason, created_at) "
            "SELECT id, %s, %s, %s, %s, %s FROM changed RETURNING id",
            [*values, order.pk, from_status, order.status, actor, reason, created_at],
        )
        row = cursor.fetchone()
    if row is None:
        raise Order.DoesNotExist(f"Order {order.pk} is gone.")
    names = [field.attname for field in OrderEvent._meta.concrete_fields]
    event_values = {
        "id": row[0],
        "order_id": order.pk,
        "from_status": from_status,
        "to_status": order.status,
        "actor": actor,
        "reason": reason,
        "created_at": created_at,
    }
    return OrderEvent.from_db(connection.alias, names, [event_values[name] for name in names])
