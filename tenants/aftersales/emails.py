"""The buyer's email when staff answer or resolve a ticket: in the site's language, with the
step and a link to the ticket (guests reach it after looking their order up). Nothing secret
goes into it: a re-issued key is shown on the ticket page, not mailed."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from shared.sites.models import Site
from shared.sites.selectors import site_base_url
from tenants.aftersales.models import ActorRole, TicketEvent

logger = logging.getLogger(__name__)


def ticket_email_send(*, event_id: int) -> bool:
    """Email the ticket's buyer about a staff step; False if there is nothing to send."""
    event = (
        TicketEvent.objects.select_related("ticket", "ticket__order").filter(pk=event_id).first()
    )
    site = getattr(connection, "tenant", None)
    if event is None or event.actor_role != ActorRole.STAFF or not isinstance(site, Site):
        return False
    ticket = event.ticket
    base = site_base_url(site).rstrip("/")
    context = {
        "event": event,
        "ticket": ticket,
        "order": ticket.order,
        "site": site,
        "url": base + reverse("aftersales:ticket", args=[ticket.pk]),
        "lookup_url": base + reverse("orders:lookup") + f"?number={ticket.order.number}",
        "guest": ticket.buyer_id is None,
    }
    with translation.override(site.language or "zh-hans"):
        subject = render_to_string("aftersales/email/update_subject.txt", context).strip()
        body = render_to_string("aftersales/email/update.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=body,
        from_email=None,
        recipient_list=[ticket.email],
    )
    logger.info("aftersales.ticket_emailed", extra={"ticket": ticket.pk, "event": event.kind})
    return True
