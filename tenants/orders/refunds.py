"""Refunds of orders, whole or partial, once per key.

A settled sale is refunded through the ledger first (`settlement_refund` claws every share back
in proportion: the sites' margins, HQ's, the supplier's and the referral commission, mirrored
on the members' side by `commission_claw_back`), then the money goes back the way it came: to
the member's wallet (`wallet_refund`, the public side being the refund itself) or through the
payment provider (`payment_refund`, called last so that a refusal rolls everything back; the
provider's idempotency key makes a retry after a lost commit harmless). An order paid but not
settled (a top-up that never reached a supplier, a late payment for sold-out keys) has no sale
to claw back: the wallet gets its money back from payment clearing, a card from the provider.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from shared.ledger.models import AccountKind, Settlement
from shared.ledger.money import MoneyError, exact
from shared.ledger.services import LedgerError, account_get
from shared.ledger.settlement import settlement_refund
from tenants.orders.models import Order, OrderRefund, PaymentMethod
from tenants.orders.services import OrderError, _lock, current_site
from tenants.orders.states import FulfilmentStatus, OrderStatus, PaymentStatus, order_transition
from tenants.wallets.commissions import commission_claw_back
from tenants.wallets.services import wallet_refund

logger = logging.getLogger(__name__)

REFUND_KEY_MAX = 64


def order_refund(
    *,
    order: Order,
    amount: Decimal | None,
    actor: str,
    reason: str,
    key: str | None = None,
) -> OrderRefund:
    """Give back `amount` of what was paid (None: everything left). Idempotent on `key` (the
    whole refund's key is "full" unless given; a partial refund without a key gets the next
    number). Refused while a top-up is in progress, or beyond what is left to refund."""
    reason = reason.strip()
    if not reason:
        raise OrderError({"reason": _("Give a reason for the refund.")})
    with transaction.atomic():
        site = current_site()
        locked = _lock(order)
        if key is None:
            count = OrderRefund.objects.filter(order=locked).count()
            key = "full" if amount is None else f"part-{count + 1}"
        key = key[:REFUND_KEY_MAX]
        existing = OrderRefund.objects.filter(order=locked, key=key).first()
        if existing is not None:
            return existing
        if locked.payment_status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            raise OrderError(_("This order has nothing paid to refund."), code="unpaid")
        if locked.status == OrderStatus.DELIVERING:
            raise OrderError(
                _("A top-up is in progress at a supplier; wait for its result."),
                code="delivering",
            )
        amount = _amount(locked, amount)
        refund_key = f"{locked.order_ref}:{key}"
        settlement = Settlement.objects.filter(sale_key=locked.order_ref, site=site).first()
        to_wallet = locked.payment_method == PaymentMethod.WALLET
        try:
            if settlement is not None:
                pay_to = account_get(
                    kind=AccountKind.SITE_WALLETS if to_wallet else AccountKind.PAYMENT_CLEARING,
                    currency=locked.currency,
                    site=site if to_wallet else None,
                )
                settlement_refund(
                    settlement=settlement, amount=amount, refund_key=refund_key, pay_to=pay_to
                )
                commission_claw_back(sale_key=locked.order_ref, refund_key=refund_key)
        except LedgerError as exc:
            raise OrderError(str(exc)) from exc
        provider_ref = ""
        if to_wallet:
            wallet_refund(
                user=locked.buyer,  # type: ignore[arg-type]
                amount=amount,
                idempotency_key=f"order-refund:{locked.pk}:{key}",
                currency=locked.currency,
                refund_key=refund_key if settlement is not None else None,
                memo=f"Refund of order {locked.number}",
            )
        else:
            from shared.payments.services import payment_refund

            provider_ref = payment_refund(
                site=site,
                payment_ref=locked.payment_ref,
                amount=amount,
                currency=locked.currency,
                idempotency_key=refund_key,
                reason=reason[:200],
            )
        refund = OrderRefund.objects.create(
            order=locked,
            key=key,
            amount=amount,
            method=locked.payment_method,
            provider_ref=provider_ref,
            actor=actor[:254],
            reason=reason[:500],
        )
        locked.amount_refunded += amount
        whole = locked.amount_refunded == locked.amount_paid
        fulfilment = None
        if whole and locked.fulfilment_status != FulfilmentStatus.DELIVERED:
            fulfilment = FulfilmentStatus.CANCELLED
        order_transition(
            order=locked,
            to=OrderStatus.REFUNDED if whole else OrderStatus.PARTIALLY_REFUNDED,
            actor=actor,
            reason=reason,
            payment_status=PaymentStatus.REFUNDED if whole else PaymentStatus.PARTIALLY_REFUNDED,
            fulfilment_status=fulfilment,
            fields=("amount_refunded",),
        )
    logger.info(
        "orders.refunded",
        extra={"order": locked.number, "amount": str(amount), "key": key, "whole": whole},
    )
    return refund


def _amount(order: Order, amount: Decimal | None) -> Decimal:
    left = order.refundable_amount
    if amount is None:
        return left
    try:
        value = exact(amount, order.currency)
    except MoneyError:
        raise OrderError(
            {"amount": _("Enter an amount in %(c)s.") % {"c": order.currency}}
        ) from None
    if value <= 0:
        raise OrderError({"amount": _("A refund must be greater than zero.")})
    if value > left:
        raise OrderError(
            {
                "amount": _("At most %(left)s %(c)s is left to refund.")
                % {"left": left, "c": order.currency}
            }
        )
    return value
