"""A sale owes each supplier the cost of its offer when the supplier's key was reserved for the
order (at checkout), not whatever the offer says when the payment lands; a key without an offer
of its supplier counts at the SKU's best offer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from shared.ledger.models import SettlementShare
from shared.ledger.services import ledger_verify
from shared.suppliers.services import supplier_offer_set
from tenants.orders.services import order_create, order_pay_with_wallet
from tests.conftest import Network
from tests.orders.conftest import Shop, new_member

D = Decimal
pytestmark = pytest.mark.usefixtures("alpha_markup")


def _supplier_share(order_ref: str) -> tuple[int, Decimal]:
    share = SettlementShare.objects.get(settlement__sale_key=order_ref, party="supplier")
    return share.account.supplier_id, share.amount  # type: ignore[return-value]


def test_the_supplier_is_owed_its_cost_when_the_key_was_reserved(
    network: Network, shop: Shop
) -> None:
    alpha = network.alpha
    buyer = new_member(alpha, funds="50.00")
    with tenant_context(alpha):
        order = order_create(
            site=alpha, sku=shop.card, quantity=2, payment_method="wallet", buyer=buyer
        )
    assert order.supply == [
        {"supplier_id": shop.keys_supplier.pk, "quantity": 2, "unit_cost": "8.00"}
    ]
    supplier_offer_set(supplier=shop.keys_supplier, sku=shop.card, cost="8.50")  # meanwhile
    with tenant_context(alpha):
        order_pay_with_wallet(order=order, user=buyer)
        ref = order.order_ref  # names the site's schema
    assert _supplier_share(ref) == (shop.keys_supplier.pk, D("16.00"))
    assert ledger_verify() == []

    # The next order is quoted, and settled, at the new cost.
    with tenant_context(alpha):
        later = order_create(
            site=alpha, sku=shop.card, quantity=1, payment_method="wallet", buyer=buyer
        )
        order_pay_with_wallet(order=later.number, user=buyer)  # by its number, as the page pays
        later_ref = later.order_ref
    assert _supplier_share(later_ref) == (shop.keys_supplier.pk, D("8.50"))
    assert ledger_verify() == []
