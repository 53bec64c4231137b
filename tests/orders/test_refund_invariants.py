"""Property: any sequence of partial refunds of a wallet-paid order gives back exactly what was
refunded, never more than was paid, claws back the referral commission in proportion, and
leaves both ledgers balanced and in agreement; refunding everything restores every balance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ledger.models import AccountKind, Settlement
from shared.ledger.services import account_balance, account_get, ledger_verify
from tenants.orders.refunds import order_refund
from tenants.orders.services import OrderError, order_create, order_pay_with_wallet
from tenants.wallets.commissions import commission_settings_update, referral_set
from tenants.wallets.ledger import member_balance
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.models import MemberAccountKind
from tests.conftest import Network
from tests.orders.conftest import Shop, new_member

D = Decimal
pytestmark = pytest.mark.usefixtures("alpha_markup")
TOTAL = D("21.00")  # the manual SKU on alpha: HQ 20.00 + 1.00


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=st.lists(st.integers(min_value=1, max_value=2500), min_size=1, max_size=5))
def test_partial_refunds_add_up(network: Network, shop: Shop, parts: list[int]) -> None:
    alpha = network.alpha
    referrer = new_member(alpha, name="ref")
    buyer = new_member(alpha, funds="50.00")
    pending = account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=alpha)
    with tenant_context(alpha):
        commission_settings_update(levels=1, percents=[D("50")], actor_email="o@alpha.test")
        referral_set(user=buyer, referrer=referrer)
        site_before = account_balance(pending)
        order = order_create(
            site=alpha, sku=shop.manual, quantity=1, payment_method="wallet", buyer=buyer
        )
        order_pay_with_wallet(order=order, user=buyer)
        commission = member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        )
        assert commission == D("0.50")  # half the site's margin of 1.00
        refunded = D(0)
        for n, cents in enumerate(parts):
            amount = D(cents) / 100
            if refunded + amount > TOTAL:
                with pytest.raises(OrderError):
                    order_refund(order=order, amount=amount, actor="t", reason="r", key=f"k{n}")
                continue
            order_refund(order=order, amount=amount, actor="t", reason="r", key=f"k{n}")
            order_refund(order=order, amount=amount, actor="t", reason="r", key=f"k{n}")  # replay
            refunded += amount
        order.refresh_from_db()
        assert order.amount_refunded == refunded
        if refunded == TOTAL:
            assert order.status == "refunded"
        elif refunded:
            assert order.status == "partially_refunded"
        else:  # every refund asked for too much: nothing changed
            assert order.status == "paid"
        wallet = member_balance(user=buyer, kind=MemberAccountKind.WALLET, currency="CNY")
        assert wallet == D("50.00") - TOTAL + refunded
        left = member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        )
        assert D(0) <= left <= commission
        assert site_mirror_check(alpha) == []
        if refunded < TOTAL:
            order_refund(order=order, amount=None, actor="t", reason="rest", key="rest")
        assert member_balance(user=buyer, kind=MemberAccountKind.WALLET, currency="CNY") == D(
            "50.00"
        )
        assert (
            member_balance(user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY")
            == 0
        )
    settlement = Settlement.objects.get(sale_key=f"{alpha.schema_name}:{order.pk}")
    assert settlement.refunded == TOTAL
    assert account_balance(pending) == site_before
    assert ledger_verify() == []
