"""Hooks of after-sales into the order pages: the buyer's help link and replacement keys, and
the console's buyer flag and tickets of an order. Both pages only render for those allowed to
see the order, so these read nothing the viewer could not already reach."""

from __future__ import annotations

from typing import Any

from django import template

from tenants.aftersales import selectors
from tenants.orders.models import Order
from tenants.orders.states import PaymentStatus

register = template.Library()


@register.inclusion_tag("aftersales/partials/order_support.html", takes_context=True)
def order_support(context: Any, order: Order) -> dict[str, Any]:
    return {
        "request": context.get("request"),
        "order": order,
        "paid": order.payment_status != PaymentStatus.UNPAID,
        "tickets": selectors.order_tickets(order),
        "replacements": selectors.order_replacement_keys(order),
    }


@register.inclusion_tag("aftersales/partials/console_order.html", takes_context=True)
def console_order_aftersales(context: Any, order: Order) -> dict[str, Any]:
    return {
        "request": context.get("request"),
        "order": order,
        "record": selectors.order_buyer_record(order),
        "tickets": selectors.order_tickets(order),
        "reissues": selectors.order_reissues(order),
    }
