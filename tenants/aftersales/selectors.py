"""Reads of after-sales: the one doorway to a buyer's ticket, staff lists, the keys a buyer may
see, and the flag on buyers who refund often.

A buyer reaches a ticket only through its order (`tenants.orders.selectors.order_for_buyer`:
the order's member, or a session that proved the order's query password), so another buyer, or
another site's ticket id, gets the same 404 as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from shared.vault.models import CardKeySale
from shared.vault.services import card_keys_for_order
from tenants.aftersales.models import (
    Attachment,
    KeyReissue,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from tenants.orders.models import Order, OrderRefund
from tenants.orders.selectors import SESSION_KEY, order_for_buyer
from tenants.orders.states import FulfilmentStatus

# --- Buyers --------------------------------------------------------------------------------


def ticket_for_buyer(
    *, ticket_id: int, user: AbstractBaseUser | AnonymousUser, session: SessionBase
) -> Ticket:
    """The ticket, if this visitor may see its order; else 404."""
    ticket = Ticket.objects.select_related("order").filter(pk=ticket_id).first()
    if ticket is None:
        raise Http404("No such ticket.")
    order_for_buyer(number=ticket.order.number, user=user, session=session)
    return ticket


def attachment_for_buyer(
    *,
    ticket_id: int,
    attachment_id: int,
    user: AbstractBaseUser | AnonymousUser,
    session: SessionBase,
) -> Attachment:
    ticket = ticket_for_buyer(ticket_id=ticket_id, user=user, session=session)
    return _attachment_of(ticket, attachment_id)


def buyer_tickets(
    *, user: AbstractBaseUser | AnonymousUser, session: SessionBase
) -> QuerySet[Ticket]:
    """A member's tickets, and those of guest orders this session may open."""
    granted = list(session.get(SESSION_KEY, []))
    scope = Q(order__buyer__isnull=True, order__number__in=granted)
    if user.is_authenticated:
        scope |= Q(order__buyer_id=user.pk)
    return Ticket.objects.select_related("order").filter(scope).order_by("-updated_at", "-id")


def order_open_ticket(order: Order) -> Ticket | None:
    return order.tickets.exclude(status=TicketStatus.RESOLVED).first()


def order_tickets(order: Order) -> list[Ticket]:
    return list(order.tickets.order_by("-created_at", "-id"))


def ticket_timeline(ticket: Ticket) -> list[TicketEvent]:
    return list(ticket.events.prefetch_related("attachments").order_by("created_at", "id"))


# --- Keys the buyer may see ---------------------------------------------------------------------


@dataclass(frozen=True)
class VisibleKey:
    """A key delivered to the order (or a replacement), as its buyer sees it."""

    card_key_id: int
    secret: str
    reissue: int  # 0: delivered with the order; n: the n-th replacement
    replaced: bool  # reported invalid and replaced since


def _sold_keys(order_ref: str) -> list[tuple[int, str]]:
    ids = list(
        CardKeySale.objects.filter(order_ref=order_ref)
        .order_by("card_key_id")
        .values_list("card_key_id", flat=True)
    )
    if not ids:
        return []
    # card_keys_for_order decrypts the same sales in the same order (by key id).
    return list(zip(ids, card_keys_for_order(order_ref=order_ref), strict=True))


def order_visible_keys(order: Order) -> list[VisibleKey]:
    """Every key the order's buyer may see: the delivered ones and each replacement, with the
    keys reported invalid marked as replaced. Empty until the order is delivered."""
    if not order.uses_card_keys or order.fulfilment_status != FulfilmentStatus.DELIVERED:
        return []
    reissues = list(KeyReissue.objects.filter(order=order).order_by("number"))
    replaced = {r.invalid_key_id for r in reissues}
    keys = [
        VisibleKey(key_id, secret, 0, key_id in replaced)
        for key_id, secret in _sold_keys(order.order_ref)
    ]
    for reissue in reissues:
        keys += [
            VisibleKey(key_id, secret, reissue.number, key_id in replaced)
            for key_id, secret in _sold_keys(reissue.order_ref)
        ]
    return keys


def order_replacement_keys(order: Order) -> list[VisibleKey]:
    """Only the replacements (what the order page does not show by itself)."""
    if not KeyReissue.objects.filter(order=order).exists():
        return []
    return [key for key in order_visible_keys(order) if key.reissue]


def order_key_ids(order: Order) -> list[int]:
    """Ids of every key delivered to the order or as a replacement (no decryption): what staff
    may name when re-issuing."""
    refs = [
        order.order_ref,
        *KeyReissue.objects.filter(order=order).values_list("order_ref", flat=True),
    ]
    return list(
        CardKeySale.objects.filter(order_ref__in=refs)
        .order_by("card_key_id")
        .values_list("card_key_id", flat=True)
    )


def order_reissues(order: Order) -> list[KeyReissue]:
    return list(KeyReissue.objects.filter(order=order).order_by("number"))


# --- Buyers who refund often -----------------------------------------------------------------


@dataclass(frozen=True)
class RefundRecord:
    """A buyer's refunds within the window, and whether that flags them."""

    refunded_orders: int
    refund_tickets: int
    threshold: int
    window_days: int

    @property
    def flagged(self) -> bool:
        return max(self.refunded_orders, self.refund_tickets) >= self.threshold


def _since(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.AFTERSALES_FLAG_WINDOW_DAYS)


def _buyer_orders(*, buyer_id: int | None, email: str) -> Q:
    if buyer_id is not None:
        return Q(buyer_id=buyer_id)
    return Q(buyer__isnull=True, email__iexact=email)


def buyer_refund_record(
    *, buyer_id: int | None, email: str, now: datetime | None = None
) -> RefundRecord:
    """Refunded orders (any refund, whole or partial) and refund-request tickets of one buyer
    (member account, or guest email) over the last AFTERSALES_FLAG_WINDOW_DAYS."""
    since = _since(now)
    orders = Order.objects.filter(_buyer_orders(buyer_id=buyer_id, email=email))
    refunded = (
        OrderRefund.objects.filter(order__in=orders, created_at__gte=since)
        .values("order_id")
        .distinct()
        .count()
    )
    tickets = Ticket.objects.filter(
        order__in=orders, kind=TicketKind.REFUND_REQUEST, created_at__gte=since
    ).count()
    return RefundRecord(
        refunded_orders=refunded,
        refund_tickets=tickets,
        threshold=settings.AFTERSALES_FLAG_REFUNDS,
        window_days=settings.AFTERSALES_FLAG_WINDOW_DAYS,
    )


def order_buyer_record(order: Order) -> RefundRecord:
    return buyer_refund_record(buyer_id=order.buyer_id, email=order.email)


@dataclass(frozen=True)
class FlaggedBuyers:
    member_ids: frozenset[int]
    guest_emails: frozenset[str]

    def has(self, *, buyer_id: int | None, email: str) -> bool:
        if buyer_id is not None:
            return buyer_id in self.member_ids
        return email.lower() in self.guest_emails


def flagged_buyers(now: datetime | None = None) -> FlaggedBuyers:
    """Every flagged buyer of the site, in four grouped queries (for lists and filters)."""
    since = _since(now)
    threshold = settings.AFTERSALES_FLAG_REFUNDS
    refunds = OrderRefund.objects.filter(created_at__gte=since)
    tickets = Ticket.objects.filter(kind=TicketKind.REFUND_REQUEST, created_at__gte=since)
    members: set[int] = set()
    emails: set[str] = set()
    for rows, field in ((refunds, "order_id"), (tickets, "id")):
        members |= set(
            rows.filter(order__buyer__isnull=False)
            .values("order__buyer_id")
            .annotate(n=Count(field, distinct=True))
            .filter(n__gte=threshold)
            .values_list("order__buyer_id", flat=True)
        )
        emails |= set(
            rows.filter(order__buyer__isnull=True)
            .annotate(address=Lower("order__email"))
            .values("address")
            .annotate(n=Count(field, distinct=True))
            .filter(n__gte=threshold)
            .values_list("address", flat=True)
        )
    return FlaggedBuyers(frozenset(members), frozenset(emails))


# --- Console -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilters:
    status: str = ""
    kind: str = ""
    flagged: bool = False
    query: str = ""


def console_tickets(filters: TicketFilters, *, flags: FlaggedBuyers) -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("order").order_by("-updated_at", "-id")
    if filters.status:
        tickets = tickets.filter(status=filters.status)
    if filters.kind:
        tickets = tickets.filter(kind=filters.kind)
    if filters.flagged:
        tickets = tickets.annotate(address=Lower("order__email")).filter(
            Q(order__buyer_id__in=flags.member_ids)
            | Q(order__buyer__isnull=True, address__in=flags.guest_emails)
        )
    if filters.query:
        q = filters.query.strip()
        reference = q[1:] if q[:1] in ("T", "t") else q
        match = Q(order__number__iexact=q) | Q(email__iexact=q)
        if reference.isdigit():
            match |= Q(pk=int(reference))
        tickets = tickets.filter(match)
    return tickets


def console_ticket_get(*, ticket_id: int) -> Ticket:
    ticket = Ticket.objects.select_related("order", "order__sku").filter(pk=ticket_id).first()
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def console_attachment_get(*, ticket_id: int, attachment_id: int) -> Attachment:
    return _attachment_of(console_ticket_get(ticket_id=ticket_id), attachment_id)


def _attachment_of(ticket: Ticket, attachment_id: int) -> Attachment:
    attachment = Attachment.objects.filter(pk=attachment_id, ticket=ticket).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def open_ticket_count() -> int:
    return Ticket.objects.filter(status=TicketStatus.OPEN).count()
