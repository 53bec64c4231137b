"""Referral commissions: levels of the site's margin, recorded with the sale, confirmed, clawed
back by refunds and moved into the wallet, the members' side always equal to the mirror."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Settlement
from shared.ledger.services import account_get, ledger_verify
from shared.ledger.settlement import ChainLink, settle_sale, settlement_refund
from shared.sites.models import Site
from shared.suppliers.models import Supplier
from tenants.wallets.commissions import (
    commission_claw_back,
    commission_for_sale,
    commission_record,
    commission_settings_update,
    commissions_confirm_due,
    referral_set,
)
from tenants.wallets.ledger import WalletError
from tenants.wallets.mirror import wallets_mirror_check
from tenants.wallets.models import CommissionShare, Referral
from tenants.wallets.services import (
    commission_to_wallet,
    wallet_refund,
    wallet_spend,
    wallet_top_up,
)
from tenants.wallets.tasks import commissions_confirm
from tests.conftest import Network
from tests.wallets.conftest import available, mirror, new_member, pending, wallet, written

D = Decimal
Member = Callable[..., AbstractUser]


@pytest.fixture
def chain(make_member: Member) -> list[AbstractUser]:
    """buyer ← r1 ← r2 ← r3 ← r4 (r1 referred the buyer)."""
    members = [make_member(name) for name in ("buyer", "r1", "r2", "r3", "r4")]
    for user, referrer in itertools.pairwise(members):
        referral_set(user=user, referrer=referrer)
    commission_settings_update(
        levels=3, percents=[D("10"), D("5"), D("2.5")], actor_email="o@a.test"
    )
    return members


@pytest.fixture
def supplier(db: None) -> Supplier:
    return Supplier.objects.create(name="Wallet Stock Co", kind="card_stock")


def test_commission_levels_are_rounded_down_and_stop_at_n(chain: list[AbstractUser]) -> None:
    buyer, r1, r2, r3, _ = chain
    shares = commission_for_sale(buyer=buyer, site_margin=D("10.00"))
    assert [(s.referrer.pk, s.level, s.amount) for s in shares] == [
        (r1.pk, 1, D("1.00")),
        (r2.pk, 2, D("0.50")),
        (r3.pk, 3, D("0.25")),
    ]
    small = commission_for_sale(buyer=buyer, site_margin=D("0.39"))
    assert [s.amount for s in small] == [D("0.03"), D("0.01")]  # level 3: 0.00975 rounds to 0
    assert commission_for_sale(buyer=buyer, site_margin=D("0")) == []
    assert commission_for_sale(buyer=chain[-1], site_margin=D("10")) == []  # nobody referred r4


def test_commission_never_exceeds_the_margin(chain: list[AbstractUser]) -> None:
    commission_settings_update(
        levels=4, percents=[D("40"), D("30"), D("20"), D("10")], actor_email="o@a.test"
    )
    shares = commission_for_sale(buyer=chain[0], site_margin=D("0.07"))
    assert sum(s.amount for s in shares) <= D("0.07")


@pytest.mark.parametrize(
    ("levels", "percents"),
    [(0, []), (11, [D(1)] * 11), (2, [D(60), D(50)]), (2, [D(10)]), (1, [D("-1")])],
)
def test_bad_commission_settings_are_refused(
    alpha: Site, levels: int, percents: list[Decimal]
) -> None:
    with pytest.raises(WalletError):
        commission_settings_update(levels=levels, percents=percents, actor_email="o@a.test")


def test_referrals_are_set_once_without_self_or_cycles(
    network: Network, alpha: Site, make_member: Member
) -> None:
    a, b, c = make_member("a"), make_member("b"), make_member("c")
    referral_set(user=b, referrer=a)
    referral_set(user=c, referrer=b, actor_email="owner@alpha.test")
    with pytest.raises(WalletError, match="themselves"):
        referral_set(user=a, referrer=a)
    with pytest.raises(WalletError, match="cycle"):
        referral_set(user=a, referrer=c)
    with pytest.raises(WalletError, match="already set"):
        referral_set(user=b, referrer=c)
    with tenant_context(network.beta):
        stranger = new_member(network.beta)
    with tenant_context(network.alpha):
        with pytest.raises(WalletError, match="not a member of this site"):
            referral_set(user=a, referrer=stranger)
        assert Referral.objects.filter(user__in=[a, b, c]).count() == 2


def _wallet_sale(
    site: Site, buyer: AbstractUser, supplier: Supplier, key: str, paid: Decimal, margin: Decimal
) -> list:
    """What an order paid from the wallet does, in one transaction."""
    shares = commission_for_sale(buyer=buyer, site_margin=margin)
    settle_sale(
        sale_key=key,
        site=site,
        currency="CNY",
        amount_paid=paid,
        quantity=1,
        chain=[ChainLink(site, paid - margin)],
        supplier=supplier,
        supplier_unit_cost=paid - margin - D("1.00"),
        paid_from=account_get(kind=AccountKind.SITE_WALLETS, currency="CNY", site=site),
        commission=sum((s.amount for s in shares), start=D(0)),
    )
    wallet_spend(user=buyer, amount=paid, idempotency_key=f"order:{key}", memo=key, sale_key=key)
    commission_record(sale_key=key, shares=shares)
    return shares


def test_wallet_sale_with_commission_refund_and_claw_back(
    alpha: Site, chain: list[AbstractUser], supplier: Supplier
) -> None:
    buyer, r1, r2, r3, _ = chain
    wallet_top_up(user=buyer, amount=D("50.00"), idempotency_key="t", source="card")
    wallets_before = mirror(alpha)
    commissions_before = mirror(alpha, AccountKind.SITE_COMMISSIONS)

    _wallet_sale(alpha, buyer, supplier, "ws:1", paid=D("30.00"), margin=D("10.00"))

    assert wallet(buyer) == D("20.00")
    assert mirror(alpha) - wallets_before == D("-30.00")
    assert [pending(r) for r in (r1, r2, r3)] == [D("1.00"), D("0.50"), D("0.25")]
    assert mirror(alpha, AccountKind.SITE_COMMISSIONS) - commissions_before == D("1.75")
    assert wallets_mirror_check() == []

    # A half refund to the wallet claws back half of every share, commission included.
    settlement = Settlement.objects.get(sale_key="ws:1")
    wallets_mirror = account_get(kind=AccountKind.SITE_WALLETS, currency="CNY", site=alpha)
    settlement_refund(
        settlement=settlement, amount=D("15.00"), refund_key="rf1", pay_to=wallets_mirror
    )
    wallet_refund(user=buyer, amount=D("15.00"), idempotency_key="refund:rf1", refund_key="rf1")
    commission_claw_back(sale_key="ws:1", refund_key="rf1")

    assert wallet(buyer) == D("35.00")
    # The settlement's largest-remainder split clawed 0.87 of the 1.75 commission back.
    assert sum(pending(r) for r in (r1, r2, r3)) == D("0.88")
    assert mirror(alpha, AccountKind.SITE_COMMISSIONS) - commissions_before == D("0.88")
    assert wallets_mirror_check() == []
    assert ledger_verify() == []

    before = written()
    assert commission_claw_back(sale_key="ws:1", refund_key="rf1") is not None  # replay
    wallet_refund(user=buyer, amount=D("15.00"), idempotency_key="refund:rf1", refund_key="rf1")
    assert written() == before


def test_a_sale_is_charged_to_the_wallet_once_and_for_its_amount(
    alpha: Site, chain: list[AbstractUser], supplier: Supplier
) -> None:
    buyer = chain[0]
    wallet_top_up(user=buyer, amount=D("100"), idempotency_key="t", source="card")
    _wallet_sale(alpha, buyer, supplier, "ws:2", paid=D("30.00"), margin=D("10.00"))
    before = written()

    with pytest.raises(WalletError, match="already recorded"):
        wallet_spend(user=buyer, amount=D("30"), idempotency_key="again", memo="x", sale_key="ws:2")
    with pytest.raises(WalletError, match="no public transaction"):
        wallet_spend(user=buyer, amount=D("30"), idempotency_key="ghost", memo="x", sale_key="nope")

    assert written() == before
    assert wallet(buyer) == D("70.00")


def test_wallet_short_for_a_sale_rolls_the_sale_back(
    alpha: Site, chain: list[AbstractUser], supplier: Supplier
) -> None:
    buyer = chain[0]
    wallet_top_up(user=buyer, amount=D("10"), idempotency_key="t", source="card")
    before, wallets_before = written(), mirror(alpha)

    with pytest.raises(WalletError, match="Insufficient"), transaction.atomic():
        _wallet_sale(alpha, buyer, supplier, "ws:3", paid=D("30.00"), margin=D("10.00"))

    assert written() == before
    assert (wallet(buyer), mirror(alpha)) == (D("10.00"), wallets_before)


def test_confirmed_commission_moves_to_the_wallet_and_is_clawed_from_available(
    alpha: Site, chain: list[AbstractUser], supplier: Supplier
) -> None:
    buyer, r1 = chain[0], chain[1]
    wallet_top_up(user=buyer, amount=D("30"), idempotency_key="t", source="card")
    _wallet_sale(alpha, buyer, supplier, "ws:4", paid=D("30.00"), margin=D("10.00"))

    assert commissions_confirm_due() == 0  # not due yet
    assert commissions_confirm_due(now=timezone.now() + timedelta(days=8)) == 1
    assert (pending(r1), available(r1)) == (D("0.00"), D("1.00"))
    assert not CommissionShare.objects.filter(sale_key="ws:4", confirmed_at__isnull=True).exists()
    assert commissions_confirm() == 0  # the task: nothing left due now

    with pytest.raises(WalletError, match="available"):
        commission_to_wallet(user=r1, amount=D("1.01"), idempotency_key="cw0")
    commission_to_wallet(user=r1, amount=D("0.60"), idempotency_key="cw1")
    assert (available(r1), wallet(r1)) == (D("0.40"), D("0.60"))

    # A full refund after confirmation claws r1's whole 1.00 back from available: -0.60.
    settlement = Settlement.objects.get(sale_key="ws:4")
    wallets_mirror = account_get(kind=AccountKind.SITE_WALLETS, currency="CNY", site=alpha)
    settlement_refund(
        settlement=settlement, amount=D("30"), refund_key="rf4", pay_to=wallets_mirror
    )
    wallet_refund(user=buyer, amount=D("30"), idempotency_key="refund:rf4", refund_key="rf4")
    commission_claw_back(sale_key="ws:4", refund_key="rf4", amount=D("1.75"))

    assert (available(r1), wallet(r1), wallet(buyer)) == (D("-0.60"), D("0.60"), D("30.00"))
    assert wallets_mirror_check() == []


def test_commission_record_must_match_the_settlement(
    alpha: Site, chain: list[AbstractUser], supplier: Supplier
) -> None:
    buyer = chain[0]
    shares = commission_for_sale(buyer=buyer, site_margin=D("10"))
    settle_sale(
        sale_key="cs:1",
        site=alpha,
        currency="CNY",
        amount_paid=D("30"),
        quantity=1,
        chain=[ChainLink(alpha, D("20"))],
        supplier=supplier,
        supplier_unit_cost=D("19"),
        paid_from=account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
        commission=D("1.00"),  # not the 1.75 the shares add up to
    )
    before = written()
    with pytest.raises(WalletError, match=r"not -1\.75"):
        commission_record(sale_key="cs:1", shares=shares)
    assert written() == before
