"""Reads of orders: the one doorway to a buyer's order, member and console lists, the keys.

Every lookup runs in the current site's schema, so another site's order number or id is simply
not found; a buyer's order is found only for its member or for a session that proved the query
password, and the answer is the same 404 whether the order is missing or someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Q, QuerySet
from django.http import Http404

from shared.vault.services import card_keys_for_order
from tenants.orders.models import Order, OrderEvent, OrderRefund, TopupAttempt
from tenants.orders.states import FulfilmentStatus, OrderStatus

SESSION_KEY = "orders.granted"  # order numbers this session may open (guest lookups, checkouts)
SESSION_MAX = 50


def order_grant(session: SessionBase, number: str) -> None:
    """Let this browser session open the order (it placed it, or proved its password)."""
    granted = [n for n in session.get(SESSION_KEY, []) if n != number]
    session[SESSION_KEY] = [*granted, number][-SESSION_MAX:]


def order_for_buyer(
    *, number: str, user: AbstractBaseUser | AnonymousUser, session: SessionBase
) -> Order:
    """The order, if this visitor may see it: its member, or a session granted it."""
    order = Order.objects.select_related("sku").filter(number=number).first()
    if order is None:
        raise Http404("No such order.")
    if order.buyer_id is not None:
        if user.is_authenticated and user.pk == order.buyer_id:
            return order
        raise Http404("No such order.")
    if number in session.get(SESSION_KEY, []):
        return order
    raise Http404("No such order.")


def order_lookup(*, number: str, password: str) -> Order | None:
    """A guest's order by number and query password (None if either is wrong)."""
    order = Order.objects.filter(number=number.strip(), buyer__isnull=True).first()
    if order is None or not order.query_password:
        make_password(password)  # the time a real check takes: timing tells no numbers apart
        return None
    return order if check_password(password, order.query_password) else None


def order_keys(order: Order) -> list[str]:
    """The keys delivered to the order, decrypted for its buyer (empty until delivered)."""
    if not order.uses_card_keys or order.fulfilment_status != FulfilmentStatus.DELIVERED:
        return []
    return card_keys_for_order(order_ref=order.order_ref)


def member_orders(user: AbstractBaseUser) -> QuerySet[Order]:
    return Order.objects.filter(buyer_id=user.pk).order_by("-created_at", "-id")


def order_history(order: Order) -> list[OrderEvent]:
    return list(order.events.order_by("created_at", "id"))


# --- Console ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    status: str = ""
    method: str = ""
    kind: str = ""
    query: str = ""
    since: date | None = None
    until: date | None = None


def console_orders(filters: OrderFilters) -> QuerySet[Order]:
    orders = Order.objects.select_related("buyer").order_by("-created_at", "-id")
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.method:
        orders = orders.filter(payment_method=filters.method)
    if filters.kind:
        orders = orders.filter(delivery_kind=filters.kind)
    if filters.query:
        q = filters.query.strip()
        orders = orders.filter(
            Q(number__iexact=q) | Q(email__iexact=q) | Q(phone=q) | Q(payment_ref=q)
        )
    if filters.since:
        orders = orders.filter(created_at__date__gte=filters.since)
    if filters.until:
        orders = orders.filter(created_at__date__lte=filters.until)
    return orders


def console_order_get(*, order_id: int) -> Order:
    order = Order.objects.select_related("sku", "buyer").filter(pk=order_id).first()
    if order is None:
        raise Http404("No such order.")
    return order


def order_refunds(order: Order) -> list[OrderRefund]:
    return list(order.refunds.order_by("created_at", "id"))


def order_topup_attempts(order: Order) -> list[TopupAttempt]:
    return list(order.topup_attempts.order_by("created_at", "id"))


def waiting_for_staff() -> int:
    """Paid manual orders and orders under review: what the console should show first."""
    return Order.objects.filter(
        Q(status=OrderStatus.PAID, delivery_kind="manual") | Q(status=OrderStatus.UNDER_REVIEW)
    ).count()
