"""Upward settlement: shares sum to what was paid, refunds claw back, confirmation moves money."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ledger.models import AccountKind, Settlement, Transaction
from shared.ledger.services import LedgerError, account_balance, account_get, ledger_verify
from shared.ledger.settlement import (
    ChainLink,
    Supply,
    allocate,
    sale_shares,
    settle_sale,
    settlement_confirm,
    settlement_refund,
    settlements_confirm_due,
)
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from shared.suppliers.models import Supplier

D = Decimal
cents = st.integers(min_value=1, max_value=10**6).map(lambda c: D(c) / 100)


@pytest.fixture
def chain_sites(make_site: Callable[..., ProvisionedSite]) -> list[Site]:
    root = make_site(slug="s-root").site
    mid = make_site(slug="s-mid", parent=root).site
    leaf = make_site(slug="s-leaf", parent=mid).site
    return [root, mid, leaf]


@pytest.fixture
def supplier(db: None) -> Supplier:
    return Supplier.objects.create(name="Stock Co", kind="card_stock")


def _balance(kind: AccountKind, site: Site | None = None, supplier: Supplier | None = None) -> D:
    return account_balance(account_get(kind=kind, currency="CNY", site=site, supplier=supplier))


def test_sale_on_depth_three_site_settles_every_party(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    root, mid, leaf = chain_sites
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    settle_sale(
        sale_key="alpha:1",
        site=leaf,
        currency="CNY",
        amount_paid=D("36.00"),  # 3 units at 12.00
        quantity=3,
        chain=[ChainLink(root, D("9.50")), ChainLink(mid, D("10.00")), ChainLink(leaf, D("11.00"))],
        supplier=supplier,
        supplier_unit_cost=D("9.00"),
        paid_from=clearing,
        fee=D("0.22"),
        commission=D("0.60"),
    )
    assert _balance(AccountKind.SITE_PENDING, leaf) == D("2.40")  # 36 - 33 - 0.60
    assert _balance(AccountKind.SITE_PENDING, mid) == D("3.00")  # 3 x (11.00 - 10.00)
    assert _balance(AccountKind.SITE_PENDING, root) == D("1.50")  # 3 x (10.00 - 9.50)
    assert _balance(AccountKind.HQ_REVENUE) == D("1.50")  # 3 x (9.50 - 9.00)
    assert _balance(AccountKind.SUPPLIER_PAYABLE, supplier=supplier) == D("27.00")
    assert _balance(AccountKind.SITE_COMMISSIONS, leaf) == D("0.60")
    assert _balance(AccountKind.PAYMENT_CLEARING) == D("35.78")
    assert _balance(AccountKind.FEES) == D("0.22")
    assert ledger_verify() == []


def test_keys_from_two_suppliers_owe_each_its_own_cost(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    root, _, _ = chain_sites
    other = Supplier.objects.create(name="Second Stock Co", kind="card_stock")
    settle_sale(
        sale_key="root:two-suppliers",
        site=root,
        currency="CNY",
        amount_paid=D("30.00"),
        quantity=3,
        chain=[ChainLink(root, D("9.00"))],
        supply=[Supply(supplier, 2, D("8.00")), Supply(other, 1, D("7.50"))],
        paid_from=account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
    )
    assert _balance(AccountKind.SUPPLIER_PAYABLE, supplier=supplier) == D("16.00")
    assert _balance(AccountKind.SUPPLIER_PAYABLE, supplier=other) == D("7.50")
    assert _balance(AccountKind.HQ_REVENUE) == D("3.50")  # 27.00 - 23.50
    assert _balance(AccountKind.SITE_PENDING, root) == D("3.00")
    assert ledger_verify() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"supply": [Supply(Supplier(name="x"), 2, D("1"))]}, "add up to the quantity"),
        ({}, "needs its supplier"),
    ],
)
def test_supply_that_does_not_match_the_sale_is_refused(
    chain_sites: list[Site], extra: dict, message: str
) -> None:
    root, _, _ = chain_sites
    before = Transaction.objects.count()
    with pytest.raises(LedgerError, match=message):
        settle_sale(
            sale_key="root:bad-supply",
            site=root,
            currency="CNY",
            amount_paid=D("30.00"),
            quantity=3,
            chain=[ChainLink(root, D("9.00"))],
            paid_from=account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
            **extra,
        )
    assert Transaction.objects.count() == before


def test_settle_is_idempotent(chain_sites: list[Site], supplier: Supplier) -> None:
    root, _, _ = chain_sites
    kwargs = {
        "sale_key": "root:7",
        "site": root,
        "currency": "CNY",
        "amount_paid": D("10"),
        "quantity": 1,
        "chain": [ChainLink(root, D("8"))],
        "supplier": supplier,
        "supplier_unit_cost": D("7"),
        "paid_from": account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
    }
    first = settle_sale(**kwargs)
    before = Transaction.objects.count()
    for _ in range(3):
        assert settle_sale(**kwargs).pk == first.pk
    assert Transaction.objects.count() == before
    assert _balance(AccountKind.SITE_PENDING, root) == D("2.00")


def test_discount_reduces_only_the_sellers_share(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    root, mid, leaf = chain_sites
    shares = sale_shares(
        amount_paid=D("10.50"),  # a coupon took the price below the seller's cost of 11
        quantity=1,
        chain=[ChainLink(root, D("9.50")), ChainLink(mid, D("10.00")), ChainLink(leaf, D("11.00"))],
        supplier=supplier,
        supplier_unit_cost=D("9.00"),
    )
    assert [(s.party, s.amount) for s in shares] == [
        ("seller", D("-0.50")),
        ("ancestor", D("0.50")),  # root: mid pays 10.00, root pays 9.50
        ("ancestor", D("1.00")),  # mid: leaf pays 11.00, mid pays 10.00
        ("hq", D("0.50")),
        ("supplier", D("9.00")),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount_paid": D("0")}, "greater than zero"),
        ({"quantity": 0}, "at least 1"),
        ({"amount_paid": D("1.001")}, "minor units"),
        ({"fee": D("11")}, "between zero and the amount paid"),
        ({"paid_from_currency": "USD"}, "another currency"),
    ],
)
def test_bad_sales_write_nothing(
    chain_sites: list[Site], supplier: Supplier, kwargs: dict, message: str
) -> None:
    root = chain_sites[0]
    currency = kwargs.pop("paid_from_currency", "CNY")
    args = {
        "sale_key": "bad",
        "site": root,
        "currency": "CNY",
        "amount_paid": D("10"),
        "quantity": 1,
        "chain": [ChainLink(root, D("8"))],
        "supplier": supplier,
        "supplier_unit_cost": D("7"),
        "paid_from": account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency),
        **kwargs,
    }
    before = (Transaction.objects.count(), Settlement.objects.count())
    with pytest.raises(LedgerError, match=message):
        settle_sale(**args)
    assert (Transaction.objects.count(), Settlement.objects.count()) == before


def test_confirmation_then_refund_claws_back_from_available(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    root, mid, _ = chain_sites
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    settlement = settle_sale(
        sale_key="mid:1",
        site=mid,
        currency="CNY",
        amount_paid=D("20.00"),
        quantity=1,
        chain=[ChainLink(root, D("15.00")), ChainLink(mid, D("17.00"))],
        supplier=supplier,
        supplier_unit_cost=D("14.00"),
        paid_from=clearing,
        confirm_after=timezone.now() - timedelta(seconds=1),
    )
    assert settlements_confirm_due() == 1
    assert settlements_confirm_due() == 0
    assert _balance(AccountKind.SITE_PENDING, mid) == D("0")
    assert _balance(AccountKind.SITE_AVAILABLE, mid) == D("3.00")
    assert _balance(AccountKind.SITE_AVAILABLE, root) == D("2.00")
    settlement_refund(settlement=settlement, amount=D("5.00"), refund_key="r1", pay_to=clearing)
    settlement_refund(settlement=settlement, amount=D("5.00"), refund_key="r1", pay_to=clearing)
    assert _balance(AccountKind.SITE_AVAILABLE, mid) == D("2.25")  # 3.00 - 5/20 x 3.00
    assert _balance(AccountKind.SITE_AVAILABLE, root) == D("1.50")
    assert _balance(AccountKind.SUPPLIER_PAYABLE, supplier=supplier) == D("10.50")
    settlement_refund(settlement=settlement, amount=D("15.00"), refund_key="r2", pay_to=clearing)
    for kind, site in ((AccountKind.SITE_AVAILABLE, mid), (AccountKind.SITE_AVAILABLE, root)):
        assert _balance(kind, site) == D("0")
    assert _balance(AccountKind.HQ_REVENUE) == D("0")
    assert _balance(AccountKind.PAYMENT_CLEARING) == D("0")
    with pytest.raises(LedgerError, match="exceeds what is left"):
        settlement_refund(settlement=settlement, amount=D("0.01"), refund_key="r3", pay_to=clearing)
    assert ledger_verify() == []


def test_refund_can_make_a_balance_negative(chain_sites: list[Site], supplier: Supplier) -> None:
    root = chain_sites[0]
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    settlement = settle_sale(
        sale_key="neg:1",
        site=root,
        currency="CNY",
        amount_paid=D("10.00"),
        quantity=1,
        chain=[ChainLink(root, D("8.00"))],
        supplier=supplier,
        supplier_unit_cost=D("7.00"),
        paid_from=clearing,
        confirm_after=timezone.now() - timedelta(seconds=1),
    )
    settlement_confirm(settlement=settlement)
    available = account_get(kind=AccountKind.SITE_AVAILABLE, currency="CNY", site=root)
    pending = account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=root)
    from shared.ledger.services import Posting, transaction_post

    # The owner moved the 2.00 out (as a withdrawal would), then the sale is refunded.
    transaction_post(
        idempotency_key="payout:x",
        kind="payout",
        postings=[Posting(available, D("2.00")), Posting(pending, D("-2.00"))],
    )
    settlement_refund(settlement=settlement, amount=D("10.00"), refund_key="neg", pay_to=clearing)
    assert account_balance(available) == D("-2.00")


@given(
    total=st.integers(min_value=1, max_value=10**7).map(lambda c: D(c) / 100),
    weights=st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=8),
)
def test_allocation_is_exact(total: Decimal, weights: list[int]) -> None:
    parts = allocate(total, [D(w) / 100 for w in weights], "CNY")
    if sum(weights) == 0:
        assert all(p == 0 for p in parts)
    else:
        assert sum(parts, start=D(0)) == total
        assert all(p == p.quantize(D("0.01")) for p in parts)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    depth=st.integers(min_value=1, max_value=3),
    supplier_cost=cents,
    markups=st.lists(
        st.integers(min_value=0, max_value=500).map(lambda c: D(c) / 100), min_size=4, max_size=4
    ),
    quantity=st.integers(min_value=1, max_value=5),
    discount=st.integers(min_value=0, max_value=300).map(lambda c: D(c) / 100),
    refunds=st.lists(st.integers(min_value=1, max_value=100), max_size=4),
)
def test_random_sales_and_refunds_keep_the_books(
    chain_sites: list[Site],
    supplier: Supplier,
    depth: int,
    supplier_cost: Decimal,
    markups: list[Decimal],
    quantity: int,
    discount: Decimal,
    refunds: list[int],
) -> None:
    """Balanced, shares = paid, and a full refund restores every balance (the fee stays HQ's)."""
    sites = chain_sites[:depth]
    costs, cost = [], supplier_cost
    for markup in markups[:depth]:
        cost += markup
        costs.append(cost)
    retail = costs[-1] + markups[3]
    paid = max(quantity * retail - discount, D("0.01"))
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    with transaction.atomic():
        sid = transaction.savepoint()
        settlement = settle_sale(
            sale_key="prop",
            site=sites[-1],
            currency="CNY",
            amount_paid=paid,
            quantity=quantity,
            chain=[ChainLink(s, c) for s, c in zip(sites, costs, strict=True)],
            supplier=supplier,
            supplier_unit_cost=supplier_cost,
            paid_from=clearing,
        )
        assert sum(s.amount for s in settlement.shares.all()) == paid
        left = paid
        for n, percent in enumerate(refunds):
            part = min(left, (paid * percent / 100).quantize(D("0.01")))
            if part > 0:
                settlement_refund(
                    settlement=settlement, amount=part, refund_key=f"p{n}", pay_to=clearing
                )
                left -= part
        if left > 0:
            settlement_refund(
                settlement=settlement, amount=left, refund_key="rest", pay_to=clearing
            )
        assert ledger_verify() == []
        for site in sites:
            assert _balance(AccountKind.SITE_PENDING, site) == 0
        assert _balance(AccountKind.HQ_REVENUE) == 0
        assert _balance(AccountKind.SUPPLIER_PAYABLE, supplier=supplier) == 0
        assert _balance(AccountKind.PAYMENT_CLEARING) == 0
        transaction.savepoint_rollback(sid)
