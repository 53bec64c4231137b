"""Writes of after-sales: opening a ticket, replies with attachments, and the staff's three
resolutions (re-issue a key, refund whole or in part, reject with a reason).

Every function is keyword-only and atomic, locks the ticket first (then its order), records
each step in the ticket's timeline, and emails the buyer after commit when staff answered or
resolved. A refused call raises TicketError and writes nothing (attachment files written before
a refusal are removed again).

Money: a refund goes through `tenants.orders.refunds.order_refund`, which claws back every
share and commission through the ledger. A re-issue sells a replacement key under the derived
order reference "<order_ref>:reissue:<n>" and moves the cost in the public ledger in one
balanced transaction: the replacement's supplier is owed its cost, the invalid key's supplier
is charged back what it was paid for that key, and HQ revenue takes any difference.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shared.catalog.models import DeliveryKind, Sku
from shared.ledger.models import AccountKind, Settlement, SettlementShare, ShareParty
from shared.ledger.money import MoneyError, exact
from shared.ledger.services import LedgerError, Posting, account_get, transaction_post
from shared.sites.models import Site
from shared.suppliers.models import Supplier, SupplierOffer, SupplierStatus
from shared.vault.models import CardKey, CardKeySale
from shared.vault.services import OutOfStock, SaleRefused, card_keys_reserve, card_keys_sell
from tenants.aftersales import attachments as files_
from tenants.aftersales import selectors
from tenants.aftersales.models import (
    ActorRole,
    Attachment,
    EventKind,
    KeyReissue,
    Resolution,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from tenants.orders.models import Order, current_schema
from tenants.orders.services import OrderError, current_site, order_note
from tenants.orders.states import FulfilmentStatus, OrderStatus, PaymentStatus

logger = logging.getLogger(__name__)

MESSAGE_MAX = 4000
REASON_MAX = 500
REISSUE_HOLD = timedelta(minutes=5)  # the replacement's reservation, sold in the same breath


class TicketError(ValidationError):
    """An after-sales operation refused; nothing was written."""


@dataclass(frozen=True)
class Actor:
    """Who acts: `label` is recorded (an email, or "member:<id>"); `role` decides what the
    buyer is told (staff are shown as the shop, not by name)."""

    label: str
    role: ActorRole


# --- Helpers ------------------------------------------------------------------------------------


def _lock(ticket: Ticket | int) -> Ticket:
    pk = ticket if isinstance(ticket, int) else ticket.pk
    found = Ticket.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise TicketError(_("No such ticket."), code="not_found")
    return found


def _order_lock(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("sku").get(pk=order_id)


def _text(value: str, *, field: str, required: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise TicketError({field: required})
    if len(value) > limit:
        raise TicketError(
            {field: _("Keep it under %(n)s characters.") % {"n": f"{limit:,}"}}, code="too_long"
        )
    return value


def _event(
    ticket: Ticket,
    *,
    kind: EventKind,
    actor: Actor,
    body: str = "",
    to_status: TicketStatus | None = None,
    amount: Decimal | None = None,
) -> TicketEvent:
    """Record a step; when `to_status` differs from the ticket's, the step moves it there."""
    before = ticket.status
    after = str(to_status) if to_status is not None and to_status != before else ""
    if after:
        ticket.status = after
    ticket.save()  # updated_at: lists sort by the latest step
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor.label[:254],
        actor_role=actor.role,
        body=body,
        from_status=before if after else "",
        to_status=after,
        amount=amount,
    )


@contextmanager
def _files_kept_on_success() -> Iterator[list[str]]:
    """Paths written inside the block are deleted again if the block raises."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for path in written:
            files_.attachment_discard(path)
        raise


def _attach(
    ticket: Ticket, event: TicketEvent, checked: Sequence[files_.CheckedFile], written: list[str]
) -> list[Attachment]:
    stored = []
    for file in checked:
        path = files_.attachment_store(schema=current_schema(), ticket_id=ticket.pk, file=file)
        written.append(path)
        stored.append(
            Attachment(
                ticket=ticket,
                event=event,
                path=path,
                name=file.name,
                content_type=file.content_type,
                size=len(file.data),
                sha256=file.sha256,
            )
        )
    return Attachment.objects.bulk_create(stored)


def _notify(event: TicketEvent) -> None:
    """Email the buyer about a staff step, after commit, from the site's schema."""
    from tenants.aftersales.tasks import ticket_email

    schema = current_schema()
    event_id = event.pk
    transaction.on_commit(
        lambda: ticket_email.apply_async(
            kwargs={"event_id": event_id}, headers={"_schema_name": schema}
        )
    )


def _check_files(files: Sequence[UploadedFile]) -> list[files_.CheckedFile]:
    try:
        return files_.attachments_check(files)
    except ValidationError as exc:
        raise TicketError(exc.message_dict) from None


# --- Buyers ---------------------------------------------------------------------------------


def ticket_open(
    *,
    order: Order,
    kind: str,
    message: str,
    actor: Actor,
    files: Sequence[UploadedFile] = (),
    reported_key_id: int | None = None,
) -> Ticket:
    """Open a ticket about a paid order (one in progress per order), with a first message."""
    errors: dict[str, str] = {}
    if kind not in TicketKind.values:
        errors["kind"] = _("Choose what the problem is.")
    try:
        message = _text(
            message, field="message", required=_("Describe the problem."), limit=MESSAGE_MAX
        )
    except TicketError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if errors:
        raise TicketError(errors)
    checked = _check_files(files)
    with _files_kept_on_success() as written, transaction.atomic():
        current_site()
        locked = _order_lock(order.pk)
        if locked.payment_status == PaymentStatus.UNPAID:
            raise TicketError(
                _("This order has not been paid; cancel it or pay it instead."), code="unpaid"
            )
        if selectors.order_open_ticket(locked) is not None:
            raise TicketError(_("This order already has an open ticket."), code="exists")
        if kind == TicketKind.INVALID_KEY:
            reported_key_id = _reported_key(locked, reported_key_id)
        else:
            reported_key_id = None
        if kind == TicketKind.REFUND_REQUEST and locked.refundable_amount <= 0:
            raise TicketError(_("This order has been refunded in full."), code="refunded")
        try:
            with transaction.atomic():
                ticket = Ticket.objects.create(
                    order=locked,
                    buyer_id=locked.buyer_id,
                    email=locked.email,
                    kind=kind,
                    reported_key_id=reported_key_id,
                )
        except IntegrityError:  # opened concurrently
            raise TicketError(_("This order already has an open ticket."), code="exists") from None
        event = _event(ticket, kind=EventKind.OPENED, actor=actor, body=message)
        _attach(ticket, event, checked, written)
    logger.info(
        "aftersales.ticket_opened",
        extra={"ticket": ticket.pk, "order": locked.number, "kind": kind, "files": len(checked)},
    )
    return ticket


def _reported_key(order: Order, key_id: int | None) -> int:
    """The key the buyer says does not work: one of the order's live keys (the only one if
    there is just one)."""
    if not order.uses_card_keys:
        raise TicketError(
            {"kind": _("This order has no card keys; choose another kind of problem.")}
        )
    delivered = order.fulfilment_status == FulfilmentStatus.DELIVERED
    live = [k for k in selectors.order_key_ids(order) if k not in _replaced(order)]
    if not delivered or not live:
        raise TicketError({"kind": _("No key of this order has been delivered yet.")})
    if key_id is None and len(live) == 1:
        return live[0]
    if key_id not in live:
        raise TicketError({"key": _("Choose the key that does not work.")})
    return key_id


def ticket_reply(
    *,
    ticket: Ticket,
    body: str,
    actor: Actor,
    files: Sequence[UploadedFile] = (),
) -> TicketEvent:
    """A message on an unresolved ticket. A buyer's message sends it back to the shop (open);
    a staff message waits for the buyer and is emailed to them."""
    body = _text(body, field="body", required=_("Write a message."), limit=MESSAGE_MAX)
    checked = _check_files(files)
    with _files_kept_on_success() as written, transaction.atomic():
        current_site()
        locked = _lock(ticket)
        staff = actor.role == ActorRole.STAFF
        if locked.is_closed and staff:
            raise TicketError(_("This ticket is already resolved."), code="closed")
        if locked.is_closed:
            raise TicketError(
                _("This ticket is closed; open a new one from the order page."), code="closed"
            )
        event = _event(
            locked,
            kind=EventKind.MESSAGE,
            actor=actor,
            body=body,
            to_status=TicketStatus.WAITING if staff else TicketStatus.OPEN,
        )
        _attach(locked, event, checked, written)
        if staff:
            _notify(event)
    return event


# --- Staff resolutions ----------------------------------------------------------------------


def _resolve(
    ticket: Ticket,
    *,
    resolution: Resolution,
    kind: EventKind,
    actor: Actor,
    note: str,
    amount: Decimal | None = None,
) -> TicketEvent:
    ticket.resolution = resolution
    ticket.resolution_note = note[:REASON_MAX]
    ticket.resolved_at = timezone.now()
    event = _event(
        ticket, kind=kind, actor=actor, body=note, to_status=TicketStatus.RESOLVED, amount=amount
    )
    _notify(event)
    return event


def _open_locked(ticket: Ticket) -> Ticket:
    current_site()
    locked = _lock(ticket)
    if locked.is_closed:
        raise TicketError(_("This ticket is already resolved."), code="closed")
    return locked


def ticket_reject(*, ticket: Ticket, reason: str, actor: Actor) -> Ticket:
    """Close the ticket without a remedy; the buyer sees (and is emailed) the reason."""
    reason = _text(reason, field="reason", required=_("Give the buyer a reason."), limit=REASON_MAX)
    with transaction.atomic():
        locked = _open_locked(ticket)
        _resolve(
            locked,
            resolution=Resolution.REJECTED,
            kind=EventKind.REJECTED,
            actor=actor,
            note=reason,
        )
    logger.info("aftersales.ticket_rejected", extra={"ticket": locked.pk})
    return locked


def ticket_refund(
    *,
    ticket: Ticket,
    amount: Decimal | None,
    reason: str,
    actor: Actor,
    reviewed: bool = False,
) -> Ticket:
    """Refund the ticket's order, whole (`amount` None: everything left) or in part, through
    `order_refund` (every share and commission clawed back), and resolve the ticket. With
    AFTERSALES_FLAG_REQUIRES_REVIEW, a flagged buyer's refund needs `reviewed`."""
    from django.conf import settings

    from shared.payments.registry import PaymentError
    from tenants.orders.refunds import order_refund

    reason = _text(
        reason, field="reason", required=_("Give a reason for the refund."), limit=REASON_MAX
    )
    with transaction.atomic():
        locked = _open_locked(ticket)
        order = _order_lock(locked.order_id)
        if (
            settings.AFTERSALES_FLAG_REQUIRES_REVIEW
            and not reviewed
            and selectors.order_buyer_record(order).flagged
        ):
            raise TicketError(
                {
                    "reviewed": _(
                        "This buyer is flagged for frequent refunds: review their history "
                        "and confirm before refunding."
                    )
                },
                code="review",
            )
        try:
            refund = order_refund(
                order=order,
                amount=amount,
                actor=actor.label,
                reason=f"{reason} ({locked.reference})",
                key=f"ticket-{locked.pk}",
            )
        except OrderError as exc:
            raise TicketError(_messages_of(exc)) from None
        except PaymentError as exc:
            raise TicketError(str(exc), code="provider") from None
        _resolve(
            locked,
            resolution=Resolution.REFUNDED,
            kind=EventKind.REFUNDED,
            actor=actor,
            note=reason,
            amount=refund.amount,
        )
    logger.info(
        "aftersales.ticket_refunded", extra={"ticket": locked.pk, "amount": str(refund.amount)}
    )
    return locked


def _messages_of(exc: ValidationError) -> dict[str, list[str]] | list[str]:
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


# --- Re-issuing a key -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyCost:
    supplier: Supplier
    amount: Decimal  # what the supplier is owed for the key (all units it stands for)


def ticket_reissue(
    *, ticket: Ticket, key_id: int | None, actor: Actor, note: str = ""
) -> KeyReissue:
    """Replace a delivered key the buyer reported invalid with a new one of the same SKU, sold
    under "<order_ref>:reissue:<n>", and resolve the ticket. A reusable-key SKU re-issues its
    current key (refused if that is the reported one). Out of stock: refused, nothing changed."""
    note = (note or "").strip()[:REASON_MAX]
    with transaction.atomic():
        locked = _open_locked(ticket)
        site = current_site()
        order = _order_lock(locked.order_id)
        if not order.uses_card_keys:
            raise TicketError(_("Only card-key orders can have a key re-issued."), code="kind")
        if (
            order.status != OrderStatus.DELIVERED
            or order.fulfilment_status != FulfilmentStatus.DELIVERED
        ):
            raise TicketError(
                _("Only a delivered order that has not been refunded can have a key re-issued."),
                code="status",
            )
        key_id = key_id or locked.reported_key_id
        live = [k for k in selectors.order_key_ids(order) if k not in _replaced(order)]
        if key_id is None or key_id not in live:
            raise TicketError({"key": _("Choose a key of this order that has not been replaced.")})
        invalid = _key_cost(order, key_id)
        number = KeyReissue.objects.filter(order=order).count() + 1
        order_ref = f"{order.order_ref}:reissue:{number}"
        replacement_id = _replacement_sell(order, order_ref=order_ref, invalid_key_id=key_id)
        units = order.quantity if order.delivery_kind == DeliveryKind.REUSABLE_KEY else 1
        replacement = _offer_cost(order.sku, replacement_id, units=units, currency=order.currency)
        txn_id = _costs_post(
            order=order, site=site, order_ref=order_ref, invalid=invalid, replacement=replacement
        )
        reissue = KeyReissue.objects.create(
            ticket=locked,
            order=order,
            number=number,
            order_ref=order_ref,
            invalid_key_id=key_id,
            replacement_key_id=replacement_id,
            units=units,
            invalid_supplier_id=invalid.supplier.pk,
            invalid_cost=invalid.amount,
            replacement_supplier_id=replacement.supplier.pk,
            replacement_cost=replacement.amount,
            currency=order.currency,
            ledger_transaction_id=txn_id,
            actor=actor.label[:254],
        )
        order_note(order=order, actor=actor.label, reason=f"Key re-issued ({locked.reference}).")
        _resolve(
            locked,
            resolution=Resolution.REISSUED,
            kind=EventKind.REISSUED,
            actor=actor,
            note=note or _("A new key was issued; it is shown on the ticket and order pages."),
        )
    logger.info(
        "aftersales.key_reissued",
        extra={"ticket": locked.pk, "order_ref": order_ref, "ledger_txn": txn_id},
    )
    return reissue


def _replaced(order: Order) -> set[int]:
    return set(KeyReissue.objects.filter(order=order).values_list("invalid_key_id", flat=True))


def _replacement_sell(order: Order, *, order_ref: str, invalid_key_id: int) -> int:
    """Take one replacement key of the order's SKU and sell it under `order_ref`."""
    sku = order.sku
    try:
        ids = card_keys_reserve(
            sku=sku, quantity=1, order_ref=order_ref, expires_at=timezone.now() + REISSUE_HOLD
        )
    except OutOfStock:
        raise TicketError(
            _("No replacement key is in stock for this product; nothing was changed."),
            code="out_of_stock",
        ) from None
    try:
        if sku.delivery_kind == DeliveryKind.REUSABLE_KEY:
            if ids[0] == invalid_key_id:
                raise TicketError(
                    _(
                        "This product's shared key has not been replaced yet: there is no new "
                        "key to give; nothing was changed."
                    ),
                    code="no_new_key",
                )
            sold = card_keys_sell(order_ref=order_ref, reusable_key_ids=ids)
        else:
            sold = card_keys_sell(order_ref=order_ref)
    except SaleRefused:
        raise TicketError(
            _("The replacement key could not be sold; nothing was changed."), code="sale"
        ) from None
    return sold[0]


def _offer_cost(sku: Sku, key_id: int, *, units: int, currency: str) -> KeyCost:
    """What the replacement's supplier is owed: its offer's cost for the SKU (as at checkout,
    the SKU's best active offer stands in for a key without a supplier or an offer)."""
    supplier_id = CardKey.objects.filter(pk=key_id).values_list("supplier_id", flat=True).first()
    offer = None
    if supplier_id is not None:
        offer = (
            SupplierOffer.objects.select_related("supplier")
            .filter(sku=sku, supplier_id=supplier_id)
            .first()
        )
    if offer is None:
        offer = (
            SupplierOffer.objects.select_related("supplier")
            .filter(sku=sku, is_active=True, supplier__status=SupplierStatus.ACTIVE)
            .order_by("priority", "cost", "id")
            .first()
        )
    if offer is None:
        raise TicketError(_("This product has no supplier cost; a key cannot be re-issued."))
    return KeyCost(offer.supplier, _exact(offer.cost * units, currency))


def _exact(value: Decimal, currency: str) -> Decimal:
    try:
        return exact(value, currency)
    except MoneyError as exc:
        raise TicketError(str(exc)) from exc


def _key_cost(order: Order, key_id: int) -> KeyCost:
    """What the supplier of a delivered key was paid for it: from an earlier re-issue if the
    key was a replacement, else from the order's settlement (its supplier share over the units
    that supplier provided)."""
    earlier = KeyReissue.objects.filter(order=order, replacement_key_id=key_id).first()
    if earlier is not None:
        supplier = Supplier.objects.get(pk=earlier.replacement_supplier_id)
        return KeyCost(supplier, earlier.replacement_cost)
    settlement = Settlement.objects.filter(sale_key=order.order_ref).first()
    if settlement is None:
        raise TicketError(_("This order's sale has no settlement; a key cannot be re-issued."))
    shares: dict[int, Decimal] = {
        supplier_id: amount
        for supplier_id, amount in SettlementShare.objects.filter(
            settlement=settlement, party=ShareParty.SUPPLIER
        ).values_list("account__supplier_id", "amount")
        if supplier_id is not None
    }
    # Each delivered key counts for the supplier it came from when that supplier was paid for
    # the sale, else for the supplier that stood in for it (as `_key_supply` settled it).
    sold: list[tuple[int, int | None]] = list(
        CardKeySale.objects.filter(order_ref=order.order_ref)
        .order_by("card_key_id")
        .values_list("card_key_id", "card_key__supplier_id")
    )
    own_suppliers = {own for _, own in sold if own is not None}
    stand_in = sorted(s for s in shares if s not in own_suppliers) or sorted(shares)
    if not stand_in:
        raise TicketError(_("This order's settlement names no supplier."))
    units_per_key = order.quantity if order.delivery_kind == DeliveryKind.REUSABLE_KEY else 1
    units: dict[int, int] = {}
    owner: dict[int, int] = {}
    for card_key_id, own in sold:
        paid = own if own is not None and own in shares else stand_in[0]
        owner[card_key_id] = paid
        units[paid] = units.get(paid, 0) + units_per_key
    supplier_id = owner[key_id]
    per_unit = shares[supplier_id] / units[supplier_id]
    return KeyCost(
        Supplier.objects.get(pk=supplier_id), _exact(per_unit * units_per_key, order.currency)
    )


def _costs_post(
    *, order: Order, site: Site, order_ref: str, invalid: KeyCost, replacement: KeyCost
) -> int | None:
    """One balanced ledger transaction: the replacement's supplier owed its cost, the invalid
    key's supplier charged back, HQ revenue the difference. None when it nets to nothing (the
    same supplier at the same cost)."""
    currency = order.currency
    hq = account_get(kind=AccountKind.HQ_REVENUE, currency=currency)
    postings = [
        Posting(
            account=account_get(
                kind=AccountKind.SUPPLIER_PAYABLE, currency=currency, supplier=replacement.supplier
            ),
            amount=-replacement.amount,
        ),
        Posting(
            account=account_get(
                kind=AccountKind.SUPPLIER_PAYABLE, currency=currency, supplier=invalid.supplier
            ),
            amount=invalid.amount,
        ),
        Posting(account=hq, amount=replacement.amount - invalid.amount),
    ]
    same = invalid.supplier.pk == replacement.supplier.pk and invalid.amount == replacement.amount
    if same:
        return None
    try:
        txn, _created = transaction_post(
            idempotency_key=f"aftersales:{order_ref}",
            kind="key_reissue",
            postings=postings,
            site=site,
            memo=f"Key re-issued on order {order.number}",
        )
    except LedgerError as exc:
        raise TicketError(str(exc)) from exc
    return txn.pk
