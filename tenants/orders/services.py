"""Writes of orders: checkout, payment (wallet or card), delivery, cancel and expiry.

Every function is keyword-only and atomic, locks the order row first (`_lock`), moves it only
through `states.order_transition`, and schedules side effects (delivery email, top-up task) on
commit. A refused call raises OrderError and writes nothing.

Money: a sale is settled through the public ledger (`settle_sale(sale_key=order_ref)`) in the
same transaction as the payment is applied and the keys are sold; wallet payments follow the
recipe of `tenants.wallets.services`; referral commission is worked out and recorded with the
sale. Direct top-ups are settled only when a supplier has delivered (`tenants.orders.topups`):
until then a card payment waits at the provider and a wallet payment in payment clearing.

Costs: the supplier side of a sale (`Order.supply`: which supplier provided each held key, at
its offer's cost) is worked out when the keys are reserved, at checkout (again if a late card
payment has to reserve other keys), and the sale is settled with it: the supplier is owed what
its offer said when its key was promised to the buyer, whatever the offer says by the time the
payment lands, and HQ's share absorbs a change in between. The chain's unit costs (what each
site pays its parent, `Order.chain_costs`) are priced with the buyer's price at checkout too,
so every site's margin is the one the sale was quoted at.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from kameng.rows import model_insert
from shared.catalog.models import DeliveryKind, Sku
from shared.catalog.topup import topup_input_validate
from shared.ledger.models import Account, AccountKind
from shared.ledger.money import MoneyError, exact
from shared.ledger.services import account_get
from shared.ledger.settlement import ChainLink, Supply, settle_sale
from shared.sites.models import Site
from shared.suppliers.adapters import topup_offers
from shared.suppliers.models import Supplier, SupplierOffer, SupplierStatus
from shared.vault.models import CardKey
from shared.vault.services import (
    OutOfStock,
    SaleRefused,
    card_keys_release,
    card_keys_reserve,
    card_keys_sell,
)
from tenants.orders.models import (
    Order,
    OrderEvent,
    PaymentMethod,
    current_schema,
    order_ref_for,
)
from tenants.orders.states import (
    PAYABLE,
    FulfilmentStatus,
    OrderStatus,
    PaymentStatus,
    order_save_with_event,
    order_transition,
)
from tenants.pricing.selectors import (
    ProductDisplay,
    SkuNotPriced,
    member_level_for,
    product_display,
    sale_chain_for,
    sale_quote,
)
from tenants.wallets.commissions import commission_for_sale, commission_record
from tenants.wallets.ledger import InsufficientFunds, WalletError, member_check
from tenants.wallets.services import wallet_spend

if TYPE_CHECKING:
    from tenants.orders.models import TopupAttempt

logger = logging.getLogger(__name__)

SYSTEM = "system"
QUERY_PASSWORD_MIN = 6
QUERY_PASSWORD_MAX = 64
_PHONE_CHARS = set("0123456789+- ")


class OrderError(ValidationError):
    """An order operation refused; nothing was written."""


# --- Helpers ------------------------------------------------------------------------------------


def current_site() -> Site:
    """The site whose schema the connection is in (orders live only in site schemas)."""
    tenant = getattr(connection, "tenant", None)
    if current_schema() == get_public_schema_name() or not isinstance(tenant, Site):
        raise OrderError("Orders live in a site's schema: activate a site first.")
    return tenant


def _lock(order: Order | int | str) -> Order:
    """The order row (given, or its id, or its number), locked for the rest of the transaction
    (every write starts here). Only the order's row: not the SKU read with it, which every
    order of that SKU shares."""
    orders = Order.objects.select_for_update(of=("self",))
    if isinstance(order, str):
        found = orders.select_related("sku").filter(number=order).first()
    elif isinstance(order, int) or not Order.sku.is_cached(order):
        pk = order if isinstance(order, int) else order.pk
        found = orders.select_related("sku").filter(pk=pk).first()
    else:  # the caller's order has its SKU (read-only here): only the order's row is read
        found = next(iter(Order.objects.raw(_LOCK_SQL, [order.pk])), None)
        if found is not None:
            found.sku = order.sku
    if found is None:
        raise OrderError(_("No such order."), code="not_found")
    return found


_LOCK_SQL = f"SELECT * FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE"  # noqa: S608


def _number() -> str:
    """A buyer-facing order number: K, the date, eight random digits."""
    return f"K{timezone.localdate():%Y%m%d}{secrets.randbelow(10**8):08d}"


def reservation_deadline(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES)


def order_note(*, order: Order, actor: str, reason: str) -> OrderEvent:
    """A history row that does not change the status (a duplicate payment refunded ...)."""
    return OrderEvent.objects.create(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor[:254],
        reason=reason[:500],
    )


# --- Supply: who provides the goods, at what cost -------------------------------------------


def _best_offer(sku: Sku) -> SupplierOffer | None:
    return (
        SupplierOffer.objects.select_related("supplier")
        .filter(sku=sku, is_active=True, supplier__status=SupplierStatus.ACTIVE)
        .order_by("priority", "cost", "id")
        .first()
    )


def _key_supply(sku: Sku, key_ids: Sequence[int], quantity: int) -> list[Supply]:
    """The suppliers of the keys (a reusable key: one key for every unit) at their offers'
    costs; a key without a supplier, or whose supplier has no offer, counts as the SKU's best
    offer."""
    return _supply_from_json(_key_supply_json(sku, key_ids, quantity))


def _key_supply_json(sku: Sku, key_ids: Sequence[int], quantity: int) -> list[dict[str, Any]]:
    """`_key_supply` as stored on the order: one read of the keys with their suppliers' costs
    for the SKU, and the best offer only if a key needs it."""
    with connection.cursor() as cursor:
        cursor.execute(_KEY_COSTS_SQL, [sku.pk, list(key_ids)])
        found = {key_id: (supplier_id, cost) for key_id, supplier_id, cost in cursor.fetchall()}
    per_key = [found.get(key_id, (None, None)) for key_id in key_ids]
    if len(key_ids) == 1 and quantity > 1:  # a reusable key delivered for every unit
        per_key = per_key * quantity
    fallback: list[SupplierOffer | None] = []  # read only if a key's supplier has no offer
    counts: dict[int, int] = {}
    costs: dict[int, Decimal] = {}
    for supplier_id, cost in per_key:
        if supplier_id is None or cost is None:
            if not fallback:
                fallback.append(_best_offer(sku))
            offer = fallback[0]
            if offer is None:
                raise OrderError(
                    _("This product has no supplier cost yet and cannot be sold."),
                    code="no_supplier",
                )
            supplier_id, cost = offer.supplier_id, offer.cost
        counts[supplier_id] = counts.get(supplier_id, 0) + 1
        costs[supplier_id] = cost
    return [
        {"supplier_id": s, "quantity": counts[s], "unit_cost": str(costs[s])}
        for s in sorted(counts)
    ]


# Each key's supplier, and that supplier's cost for the SKU (its first offer by priority).
_KEY_COSTS_SQL = """
SELECT k.id, k.supplier_id, (
    SELECT o.cost FROM suppliers_supplieroffer o
    WHERE o.sku_id = %s AND o.supplier_id = k.supplier_id ORDER BY o.priority, o.cost LIMIT 1
)
FROM vault_cardkey k WHERE k.id = ANY(%s)
"""


def _offer_supply(sku: Sku, quantity: int) -> list[Supply]:
    offer = _best_offer(sku)
    if offer is None:
        raise OrderError(
            _("This product has no supplier yet and cannot be sold."), code="no_supplier"
        )
    return [Supply(offer.supplier, quantity, offer.cost)]


def _supply_json(supply: Sequence[Supply]) -> list[dict[str, Any]]:
    return [
        {"supplier_id": s.supplier.pk, "quantity": s.quantity, "unit_cost": str(s.unit_cost)}
        for s in supply
    ]


def _supply_from_json(rows: Sequence[Mapping[str, Any]]) -> list[Supply]:
    """The supply as stored on an order. Suppliers are given by id: settlement reads nothing
    else of them."""
    return [
        Supply(Supplier(pk=row["supplier_id"]), int(row["quantity"]), Decimal(row["unit_cost"]))
        for row in rows
    ]


# --- Checkout -------------------------------------------------------------------------------


def order_create(
    *,
    site: Site,
    sku: Sku,
    quantity: int,
    payment_method: str,
    buyer: AbstractBaseUser | AnonymousUser | None = None,
    email: str = "",
    phone: str = "",
    query_password: str = "",
    input_values: Mapping[str, object] | None = None,
    display: ProductDisplay | None = None,
) -> Order:
    """Place an order on `site` and hold its goods until it is paid or expires.

    Members order under their account (and may pay from the wallet); guests give an email, an
    optional phone and a query password to look the order up later. The unit price is this
    site's price for the buyer's member level and the quantity. Card keys are reserved for
    ORDER_RESERVATION_MINUTES; an out-of-stock request is refused here, before any payment.
    `display`: how the site shows `sku.product`, if the caller has just read it (the checkout
    view has); read here otherwise.
    """
    if current_site().pk != site.pk:
        raise OrderError("The site is not the active one.")
    member = buyer if buyer is not None and buyer.is_authenticated else None
    errors: dict[str, str] = {}
    if display is None or display.product.pk != sku.product_id:
        display = product_display(site=site, product=sku.product)
    if not sku.is_active or display is None or not sku.product.is_on_sale():
        raise OrderError(_("This product is not on sale."), code="not_on_sale")
    if not isinstance(quantity, int) or not sku.min_quantity <= quantity <= sku.max_quantity:
        errors["quantity"] = _("Choose a quantity from %(low)s to %(high)s.") % {
            "low": sku.min_quantity,
            "high": sku.max_quantity,
        }
    if payment_method not in PaymentMethod.values:
        errors["payment_method"] = _("Choose how to pay.")
    elif payment_method == PaymentMethod.WALLET and member is None:
        errors["payment_method"] = _("Log in to pay from your balance.")
    hashed = ""
    if member is not None:
        try:
            member_check(member)
        except WalletError:
            raise OrderError(_("That account is not a member of this site.")) from None
        email = str(getattr(member, "email", ""))
    else:
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
        if not QUERY_PASSWORD_MIN <= len(query_password) <= QUERY_PASSWORD_MAX:
            errors["query_password"] = _(
                "Choose a query password of %(low)s to %(high)s characters."
            ) % {"low": QUERY_PASSWORD_MIN, "high": QUERY_PASSWORD_MAX}
        else:
            hashed = make_password(query_password)
    phone = phone.strip()
    if phone and (len(phone) > 32 or not set(phone) <= _PHONE_CHARS):
        errors["phone"] = _("Enter a phone number (digits, +, - and spaces).")
    inputs: dict[str, str] = {}
    if sku.delivery_kind == DeliveryKind.DIRECT_TOPUP:
        try:
            inputs = topup_input_validate(sku.input_fields, dict(input_values or {}))
        except ValidationError as exc:
            errors.update({f"input_{k}": " ".join(v) for k, v in exc.message_dict.items()})
    elif input_values:
        errors["__all__"] = _("This product takes no top-up details.")
    if errors:
        raise OrderError(errors)
    try:
        quote = sale_quote(
            site=site, sku=sku, member_level=member_level_for(member), quantity=quantity
        )
    except SkuNotPriced:
        quote = None
    if quote is None:
        raise OrderError(_("This product has no price on this site."), code="not_priced")
    price = quote.price
    try:
        unit_price = exact(price.price, price.currency)
        total = exact(unit_price * quantity, price.currency)
        unit_cost = exact(price.cost, price.currency)
        chain_costs = [[i, str(exact(cost, price.currency))] for i, cost in quote.chain_costs]
    except MoneyError as exc:
        raise OrderError(str(exc)) from exc
    now = timezone.now()
    with transaction.atomic():
        order = _order_insert(
            buyer=member,
            email=email,
            phone=phone,
            query_password=hashed,
            sku=sku,
            title=f"{display.name} · {sku.name}"[:420],
            delivery_kind=sku.delivery_kind,
            quantity=quantity,
            unit_price=unit_price,
            total=total,
            currency=price.currency,
            unit_cost=unit_cost,
            chain_costs=chain_costs,
            input_values=inputs,
            payment_method=payment_method,
            reserved_until=reservation_deadline(now),
        )
        order.supply = _goods_hold(order, site)
        order_save_with_event(
            order,
            fields=["supply", "reusable_key_id"],
            from_status="",
            actor=email if member is None else f"member:{member.pk}",
        )
    logger.info(
        "orders.created",
        extra={
            "order": order.number,
            "site": site.slug,
            "sku": sku.pk,
            "quantity": quantity,
            "total": str(total),
            "method": payment_method,
        },
    )
    return order


def _order_insert(**fields: Any) -> Order:
    """The new order, under a random number no order has yet."""
    order = Order(**fields)
    for _attempt in range(5):
        order.number = _number()
        if model_insert(order, unless_taken=("number",)):
            return order
    raise OrderError("Could not allocate an order number; try again.")


def _goods_hold(order: Order, site: Site) -> list[dict[str, Any]]:
    """Reserve what the order needs (keys) and work out where its goods come from (as stored
    in `Order.supply`)."""
    sku = order.sku
    ref = order_ref_for(site.schema_name, order.pk)
    try:
        if sku.delivery_kind == DeliveryKind.CARD_KEY:
            key_ids = card_keys_reserve(
                sku=sku, quantity=order.quantity, order_ref=ref, expires_at=order.reserved_until
            )
            return _key_supply_json(sku, key_ids, order.quantity)
        if sku.delivery_kind == DeliveryKind.REUSABLE_KEY:
            key_ids = card_keys_reserve(
                sku=sku, quantity=order.quantity, order_ref=ref, expires_at=order.reserved_until
            )
            order.reusable_key_id = key_ids[0]
            return _key_supply_json(sku, key_ids, order.quantity)
    except OutOfStock as exc:
        if exc.available <= 0:
            message = _("Sold out: this option has no stock left.")
        else:
            message = _("Only %(n)s left in stock; lower the quantity.") % {"n": exc.available}
        raise OrderError({"quantity": message}, code="out_of_stock") from None
    if sku.delivery_kind == DeliveryKind.DIRECT_TOPUP:
        if not topup_offers(sku):
            raise OrderError(_("This top-up is not available right now."), code="no_supplier")
        return []
    return _supply_json(_offer_supply(sku, order.quantity))


# --- Payment ----------------------------------------------------------------------------------


def order_pay_with_wallet(*, order: Order | str, user: AbstractBaseUser) -> Order:
    """Pay a member's order (or the order of that number) from their wallet, in one transaction
    with the sale, the keys and the commission. Refused (nothing written) if the wallet is
    short, the reservation has expired or the order is not waiting for payment; an order that
    is not this member's is "not_found", a card order "method"."""
    with transaction.atomic():
        site = current_site()
        locked = _lock(order)
        if locked.buyer_id is None or locked.buyer_id != user.pk:
            raise OrderError(_("No such order."), code="not_found")
        locked.buyer = user  # type: ignore[assignment]  # the same row: not read again
        if locked.payment_method != PaymentMethod.WALLET:
            raise OrderError(_("This order is paid by card."), code="method")
        if locked.status != OrderStatus.PENDING_PAYMENT:
            raise OrderError(_("This order is not waiting for payment."), code="status")
        if locked.reserved_until <= timezone.now():
            raise OrderError(
                _("This order has expired; its items went back on sale. Place a new order."),
                code="expired",
            )
        _payment_record(locked, amount=locked.total, payment_ref="", fee=Decimal(0))
        try:
            _fulfil(locked, site, actor=f"member:{user.pk}")
        except InsufficientFunds:
            raise OrderError(
                _("Your balance is too low for this order (%(total)s %(currency)s).")
                % {"total": locked.total, "currency": locked.currency},
                code="insufficient_funds",
            ) from None
        except SaleRefused:
            raise OrderError(
                _("This order has expired; its items went back on sale. Place a new order."),
                code="expired",
            ) from None
    logger.info("orders.paid", extra={"order": locked.number, "method": "wallet"})
    return locked


def _payment_record(order: Order, *, amount: Decimal, payment_ref: str, fee: Decimal) -> None:
    order.amount_paid = amount
    order.payment_ref = payment_ref
    order.payment_fee = fee
    order.paid_at = timezone.now()
    actor = "payment" if order.payment_method == PaymentMethod.CARD else "wallet"
    order_transition(
        order=order,
        to=OrderStatus.PAID,
        actor=actor,
        payment_status=PaymentStatus.PAID,
        fields=("amount_paid", "payment_ref", "payment_fee", "paid_at"),
    )


def _paid_from(order: Order, site: Site) -> Account:
    kind = (
        AccountKind.SITE_WALLETS
        if order.payment_method == PaymentMethod.WALLET
        else AccountKind.PAYMENT_CLEARING
    )
    return account_get(
        kind=kind, currency=order.currency, site=site if kind == AccountKind.SITE_WALLETS else None
    )


def _fulfil(order: Order, site: Site, *, actor: str) -> None:
    """Deliver a just-paid order: keys sold and the sale settled now; a manual order waits for
    staff; a top-up starts (wallet money moves to payment clearing until a supplier delivers)."""
    if order.delivery_kind == DeliveryKind.DIRECT_TOPUP:
        if order.payment_method == PaymentMethod.WALLET:
            wallet_spend(
                user=order.buyer,  # type: ignore[arg-type]
                amount=order.amount_paid,
                idempotency_key=f"order:{order.pk}",
                memo=f"Order {order.number}",
                currency=order.currency,
            )
        order_transition(
            order=order,
            to=OrderStatus.DELIVERING,
            actor=actor,
            fulfilment_status=FulfilmentStatus.DELIVERING,
        )
        return
    if order.uses_card_keys:
        reusable = [order.reusable_key_id] if order.reusable_key_id else []
        sold = card_keys_sell(order_ref=order.order_ref, reusable_key_ids=reusable)
        # The keys sold are the ones held for the order, whose supply was worked out when they
        # were reserved (at checkout, or again by `_goods_ready`): the costs the price was
        # quoted against. Worked out again only for an order without it.
        if order.supply and len(sold) == (1 if reusable else order.quantity):
            supply = _supply_from_json(order.supply)
        else:
            supply = _key_supply(order.sku, sold, order.quantity)
    else:
        supply = _supply_from_json(order.supply)
    sale_settle(order=order, site=site, supply=supply, paid_from=_paid_from(order, site))
    if order.delivery_kind == DeliveryKind.MANUAL:
        return  # staff deliver it from the console (order_deliver_manual)
    order.delivered_at = timezone.now()
    order_transition(
        order=order,
        to=OrderStatus.DELIVERED,
        actor=actor,
        fulfilment_status=FulfilmentStatus.DELIVERED,
        fields=("delivered_at",),
    )


def sale_settle(*, order: Order, site: Site, supply: Sequence[Supply], paid_from: Account) -> None:
    """Settle the order's sale through the ledger (idempotent on the order_ref), with the
    referral commission of a member's purchase and, for a wallet payment taken from the wallets
    mirror, the wallet's spend."""
    chain = _sale_chain(order, site)
    commissions = []
    if order.buyer_id is not None:
        margin = order.amount_paid - order.quantity * chain[-1].unit_cost
        commissions = commission_for_sale(
            buyer=order.buyer,  # type: ignore[arg-type]
            site_margin=margin,
            currency=order.currency,
        )
    sale_key = order.order_ref
    settle_sale(
        sale_key=sale_key,
        site=site,
        currency=order.currency,
        amount_paid=order.amount_paid,
        quantity=order.quantity,
        chain=chain,
        paid_from=paid_from,
        supply=supply,
        fee=order.payment_fee,
        commission=sum((c.amount for c in commissions), start=Decimal(0)),
    )
    if paid_from.kind == AccountKind.SITE_WALLETS:
        wallet_spend(
            user=order.buyer,  # type: ignore[arg-type]
            amount=order.amount_paid,
            idempotency_key=f"order:{order.pk}",
            memo=f"Order {order.number}",
            currency=order.currency,
            sale_key=sale_key,
            mirror=paid_from,
        )
    commission_record(sale_key=sale_key, shares=commissions)


def _sale_chain(order: Order, site: Site) -> list[ChainLink]:
    """The chain's unit costs the order was placed with (read afresh for an order placed
    without them). Ancestors are given by id: settlement reads nothing else of them."""
    if not order.chain_costs:
        return sale_chain_for(site=site, sku=order.sku)
    return [
        ChainLink(site if site_id == site.pk else Site(pk=site_id), Decimal(cost))
        for site_id, cost in order.chain_costs
    ]


def order_payment_confirmed(
    *, site: Site, reference: str, amount: Decimal, currency: str, payment_ref: str, fee: Decimal
) -> None:
    """The payments handler for purpose "order": a card payment of `reference` (an order_ref)
    succeeded. Locks the order, checks site, amount and currency (PaymentMismatch otherwise,
    and the order is put under review), applies the payment once per `payment_ref`, and
    delivers in the same transaction. A payment arriving after the order expired re-reserves
    its keys if stock allows, else it is refunded at once; a second payment of a paid order is
    refunded."""
    from shared.payments.registry import PaymentMismatch

    order_id = _order_id_in(reference, site)
    if order_id is None:
        raise PaymentMismatch(f"'{reference}' is not an order of site {site.slug}.")
    _activate(site)
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("sku")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise PaymentMismatch(f"Site {site.slug} has no order {order_id}.")
        if order.payment_ref == payment_ref:
            return  # replayed
        problem = _payment_problem(order, amount=amount, currency=currency)
        if problem:
            _review_later(order, problem)
            raise PaymentMismatch(problem)
        if order.payment_status != PaymentStatus.UNPAID or order.status not in PAYABLE:
            _duplicate_refund(order, site, amount=amount, payment_ref=payment_ref)
            return
        _payment_record(order, amount=amount, payment_ref=payment_ref, fee=fee)
        if not _goods_ready(order):
            _fail_and_refund(order, reason="Paid after the reservation ended; sold out meanwhile.")
            return
        _fulfil(order, site, actor="payment")
    logger.info("orders.paid", extra={"order": order.number, "method": "card"})


def _order_id_in(reference: str, site: Site) -> int | None:
    schema, _sep, pk = reference.partition(":")
    if schema != site.schema_name or not pk.isdigit():
        return None
    return int(pk)


def _activate(site: Site) -> None:
    """Make sure the connection is in the site's schema (the payments caller sets it)."""
    if getattr(connection, "tenant", None) != site or current_schema() != site.schema_name:
        connection.set_tenant(site)  # type: ignore[attr-defined]


def _payment_problem(order: Order, *, amount: Decimal, currency: str) -> str:
    if order.payment_method != PaymentMethod.CARD:
        return f"Order {order.number} is paid from the wallet, not by card."
    if currency.upper() != order.currency:
        return f"Paid in {currency}, order {order.number} is in {order.currency}."
    if Decimal(amount) != order.total:
        return f"Paid {amount} {currency}, order {order.number} is {order.total}."
    return ""


def _review_later(order: Order, reason: str) -> None:
    """Put the order under review in a transaction of its own: the caller's is rolled back
    with the rejected payment (the task waits for the order's row lock)."""
    from tenants.orders.tasks import order_review_hold

    order_review_hold.apply_async(kwargs={"order_id": order.pk, "reason": reason[:500]})
    logger.warning("orders.payment_mismatch", extra={"order": order.number, "reason": reason})


def _duplicate_refund(order: Order, site: Site, *, amount: Decimal, payment_ref: str) -> None:
    """A second payment for an order already paid: give it back once the payment is recorded
    (the provider's refund needs the payment the webhook stores after this handler)."""
    from tenants.orders.tasks import enqueue, order_payment_return

    order_note(order=order, actor=SYSTEM, reason=f"A second payment ({payment_ref}) is refunded.")
    enqueue(
        order_payment_return,
        order_id=order.pk,
        payment_ref=payment_ref,
        amount=str(amount),
    )
    logger.warning("orders.duplicate_payment", extra={"order": order.number})


def _fail_and_refund(order: Order, *, reason: str) -> None:
    """The order cannot be delivered: mark it failed and refund it whole after commit (a card
    refund needs the payment the webhook records after its handler returns)."""
    from tenants.orders.tasks import enqueue, order_refund_auto

    order_transition(
        order=order,
        to=OrderStatus.FAILED,
        actor=SYSTEM,
        reason=reason,
        fulfilment_status=FulfilmentStatus.FAILED,
    )
    enqueue(order_refund_auto, order_id=order.pk, key="auto", reason=reason)


def _goods_ready(order: Order) -> bool:
    """Before delivering a paid order: are its keys still held? A payment that arrived after
    the reservation ended (or after an expiry released the keys) re-reserves them; False if
    the SKU is sold out meanwhile."""
    if order.delivery_kind != DeliveryKind.CARD_KEY:
        return True
    held = CardKey.objects.filter(
        order_ref=order.order_ref, status="reserved", reserved_until__gt=timezone.now()
    ).count()
    if held == order.quantity:
        return True
    card_keys_release(order_ref=order.order_ref)
    order.reserved_until = reservation_deadline()
    try:
        with transaction.atomic():
            key_ids = card_keys_reserve(
                sku=order.sku,
                quantity=order.quantity,
                order_ref=order.order_ref,
                expires_at=order.reserved_until,
            )
    except OutOfStock:
        return False
    order.supply = _key_supply_json(order.sku, key_ids, order.quantity)  # other keys
    order.save(update_fields=["reserved_until", "supply"])
    order_note(order=order, actor=SYSTEM, reason="Paid late: the keys were reserved again.")
    return True


def order_checkout_expired(*, site: Site, reference: str) -> None:
    """The provider's checkout session for an order ended unpaid: expire the order now and
    release its keys (idempotent; a paid or already closed order is left alone)."""
    order_id = _order_id_in(reference, site)
    if order_id is None:
        return
    _activate(site)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != OrderStatus.PENDING_PAYMENT:
            return
        _close_unpaid(order, to=OrderStatus.EXPIRED, actor="payment", reason="Checkout expired.")


# --- Manual delivery, cancel, expiry, review ------------------------------------------------


def order_deliver_manual(*, order: Order, actor: str, note: str) -> Order:
    """Staff deliver a paid manual order, with a note the buyer sees (what was done, a code)."""
    note = note.strip()
    if not note:
        raise OrderError({"note": _("Write what was delivered; the buyer will see it.")})
    if len(note) > 4000:
        raise OrderError({"note": _("The note is too long (4,000 characters at most).")})
    with transaction.atomic():
        current_site()
        locked = _lock(order)
        if locked.delivery_kind != DeliveryKind.MANUAL:
            raise OrderError(_("Only manual orders are delivered by hand."), code="kind")
        if locked.status != OrderStatus.PAID:
            raise OrderError(_("Only a paid order waiting for delivery can be delivered."))
        locked.delivery_note = note
        locked.delivered_at = timezone.now()
        order_transition(
            order=locked,
            to=OrderStatus.DELIVERED,
            actor=actor,
            reason="Delivered by hand.",
            fulfilment_status=FulfilmentStatus.DELIVERED,
            fields=("delivery_note", "delivered_at"),
        )
    return locked


def order_cancel(*, order: Order, actor: str, reason: str = "") -> Order:
    """Cancel an unpaid order and give its keys back to stock at once."""
    with transaction.atomic():
        current_site()
        locked = _lock(order)
        if locked.payment_status != PaymentStatus.UNPAID or locked.status not in (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.UNDER_REVIEW,
        ):
            raise OrderError(
                _("Only an unpaid order can be cancelled; refund a paid one."), code="status"
            )
        _close_unpaid(locked, to=OrderStatus.CANCELLED, actor=actor, reason=reason or "Cancelled.")
    return locked


def _close_unpaid(order: Order, *, to: str, actor: str, reason: str) -> None:
    if order.uses_card_keys:
        card_keys_release(order_ref=order.order_ref)
    order_transition(
        order=order,
        to=to,
        actor=actor,
        reason=reason,
        fulfilment_status=FulfilmentStatus.CANCELLED,
    )


def orders_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire the current site's unpaid orders whose time to pay has run out, releasing their
    keys; returns how many. Orders being paid right now are skipped (locked) and looked at
    again on the next run."""
    current_site()
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, reserved_until__lte=now)
        .order_by("reserved_until")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in due:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=OrderStatus.PENDING_PAYMENT, reserved_until__lte=now)
                .first()
            )
            if order is None:
                continue
            _close_unpaid(order, to=OrderStatus.EXPIRED, actor=SYSTEM, reason="Not paid in time.")
            expired += 1
    if expired:
        logger.info("orders.expired", extra={"count": expired, "schema": current_schema()})
    return expired


def order_review_hold(*, order_id: int, reason: str, actor: str = SYSTEM) -> bool:
    """Put an unpaid order under review (a payment that did not match it arrived); its keys go
    back to stock. Returns False if the order moved on meanwhile (paid, or already held)."""
    with transaction.atomic():
        current_site()
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.payment_status != PaymentStatus.UNPAID:
            return False
        if order.status not in (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.EXPIRED,
            OrderStatus.CANCELLED,
        ):
            return False
        if order.uses_card_keys:
            card_keys_release(order_ref=order.order_ref)
        order_transition(order=order, to=OrderStatus.UNDER_REVIEW, actor=actor, reason=reason)
    return True


def topup_attempt_supply(attempt: TopupAttempt, order: Order) -> list[Supply]:
    """The supply of a top-up a supplier delivered."""
    supplier = Supplier.objects.get(pk=attempt.supplier_id)
    return [Supply(supplier, order.quantity, attempt.unit_cost)]
