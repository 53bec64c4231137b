"""The delivery email: sent once an order is delivered, in the site's language, with the keys
(or the staff's delivery note) and a link to the order page. Keys go into the message body only;
nothing secret is logged."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from shared.sites.models import Site
from shared.sites.selectors import site_base_url
from shared.vault.services import card_keys_for_order
from tenants.orders.models import Order
from tenants.orders.states import OrderStatus

logger = logging.getLogger(__name__)


def order_delivery_email_send(*, order_id: int) -> bool:
    """Email the buyer their delivered order; False if it is not (or no longer) delivered."""
    order = Order.objects.select_related("sku").filter(pk=order_id).first()
    site = getattr(connection, "tenant", None)
    if order is None or order.status != OrderStatus.DELIVERED or not isinstance(site, Site):
        return False
    keys = card_keys_for_order(order_ref=order.order_ref) if order.uses_card_keys else []
    url = site_base_url(site).rstrip("/") + reverse("orders:detail", args=[order.number])
    context = {"order": order, "site": site, "keys": keys, "url": url}
    with translation.override(site.language or "zh-hans"):
        subject = render_to_string("orders/email/delivered_subject.txt", context).strip()
        body = render_to_string("orders/email/delivered.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=body,
        from_email=None,
        recipient_list=[order.email],
    )
    logger.info("orders.delivery_emailed", extra={"order": order.number, "keys": len(keys)})
    return True
