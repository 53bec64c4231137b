"""Members' commission withdrawals: funds locked on request, released on rejection, paid out of
the site's commission mirror by hand; never more than is available; idempotent; site-scoped."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.test import override_settings
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import account_balance, account_get, ledger_verify
from shared.ledger.settlement import settlement_refund
from shared.sites.models import Site
from tenants.wallets.commissions import commission_claw_back
from tenants.wallets.ledger import IdempotencyConflict, InsufficientFunds, WalletError
from tenants.wallets.mirror import site_mirror_check, wallets_mirror_check
from tenants.wallets.models import (
    MemberWithdrawal,
    MemberWithdrawalEvent,
    MemberWithdrawalStatus,
)
from tenants.wallets.services import commission_to_wallet
from tenants.wallets.withdrawals import (
    member_withdrawal_approve,
    member_withdrawal_fee,
    member_withdrawal_mark_paid,
    member_withdrawal_reject,
    member_withdrawal_request,
    member_withdrawal_terms_set,
)
from tests.conftest import Network
from tests.wallets.conftest import (
    available,
    earn_commission,
    mirror,
    new_member,
    wallet,
    withdrawing,
    written,
)

D = Decimal
Member = Callable[..., AbstractUser]
STAFF = "owner@alpha.test"

pytestmark = pytest.mark.usefixtures("default_terms")


@pytest.fixture
def default_terms() -> Any:
    with override_settings(
        MEMBER_WITHDRAWAL_MINIMUM="50.00",
        MEMBER_WITHDRAWAL_FEE_PERCENT="1",
        MEMBER_WITHDRAWAL_FEE_FIXED="1.00",
    ):
        yield


@pytest.fixture
def earner(alpha: Site, make_member: Member) -> AbstractUser:
    """A member of alpha holding 200.00 of available commission."""
    member = make_member("earner")
    earn_commission(alpha, member, D("200"), key=f"earn:{uuid.uuid4().hex}")
    return member


def _all_written() -> tuple[int, ...]:
    return (*written(), MemberWithdrawal.objects.count(), MemberWithdrawalEvent.objects.count())


def test_request_locks_amount_plus_fee(alpha: Site, earner: AbstractUser) -> None:
    mirror_before = mirror(alpha, AccountKind.SITE_COMMISSIONS)

    withdrawal = member_withdrawal_request(
        user=earner, amount=D("100.00"), payee="Alipay 13800000000", idempotency_key="w1"
    )

    assert (withdrawal.amount, withdrawal.fee, withdrawal.status) == (
        D("100.00"),
        D("2.00"),  # 1 % of 100 plus 1.00
        MemberWithdrawalStatus.REQUESTED,
    )
    assert (available(earner), withdrawing(earner)) == (D("98.00"), D("102.00"))
    # Still owed to the member: the public mirror does not move until it is paid.
    assert mirror(alpha, AccountKind.SITE_COMMISSIONS) == mirror_before
    assert list(withdrawal.events.values_list("to_status", flat=True)) == ["requested"]
    assert wallets_mirror_check() == []


def test_paid_moves_the_money_out_of_the_mirror(alpha: Site, earner: AbstractUser) -> None:
    commissions_before = mirror(alpha, AccountKind.SITE_COMMISSIONS)
    clearing = account_get(kind=AccountKind.PAYOUT_CLEARING, currency="CNY")
    earnings = account_get(kind=AccountKind.SITE_AVAILABLE, currency="CNY", site=alpha)
    clearing_before, earnings_before = account_balance(clearing), account_balance(earnings)
    withdrawal = member_withdrawal_request(
        user=earner, amount=D("100.00"), payee="Alipay x", idempotency_key="w1"
    )

    member_withdrawal_approve(withdrawal=withdrawal, actor_email=STAFF)
    paid = member_withdrawal_mark_paid(
        withdrawal=withdrawal, actor_email=STAFF, reference="ALI-2026-1"
    )

    assert (paid.status, paid.reference) == (MemberWithdrawalStatus.PAID, "ALI-2026-1")
    assert (available(earner), withdrawing(earner)) == (D("98.00"), D("0.00"))
    assert mirror(alpha, AccountKind.SITE_COMMISSIONS) - commissions_before == D("-102.00")
    # Payout clearing is debit-normal: a payout sent is a credit.
    assert account_balance(clearing) - clearing_before == D("-100.00")
    assert account_balance(earnings) - earnings_before == D("2.00")  # the site keeps the fee
    assert list(paid.events.order_by("pk").values_list("to_status", flat=True)) == [
        "requested",
        "approved",
        "paid",
    ]
    assert wallets_mirror_check() == []
    assert ledger_verify() == []

    before = _all_written()
    assert member_withdrawal_mark_paid(withdrawal=paid, actor_email=STAFF, reference="x") == paid
    with pytest.raises(WalletError, match="cannot become rejected"):
        member_withdrawal_reject(withdrawal=paid, actor_email=STAFF, reason="late")
    assert _all_written() == before


def test_reject_releases_the_funds_once(alpha: Site, earner: AbstractUser) -> None:
    withdrawal = member_withdrawal_request(
        user=earner, amount=D("150.00"), payee="bank 6222", idempotency_key="w1"
    )
    member_withdrawal_approve(withdrawal=withdrawal, actor_email=STAFF)

    rejected = member_withdrawal_reject(
        withdrawal=withdrawal, actor_email=STAFF, reason="Account name does not match"
    )

    assert rejected.status == MemberWithdrawalStatus.REJECTED
    assert (available(earner), withdrawing(earner)) == (D("200.00"), D("0.00"))
    before = _all_written()
    member_withdrawal_reject(withdrawal=withdrawal, actor_email=STAFF, reason="again")
    with pytest.raises(WalletError, match="cannot be marked paid"):
        member_withdrawal_mark_paid(withdrawal=withdrawal, actor_email=STAFF, reference="r")
    assert _all_written() == before
    assert wallets_mirror_check() == []


@pytest.mark.parametrize(
    ("amount", "payee", "message"),
    [
        (D("49.99"), "Alipay", "minimum withdrawal is 50.00"),
        (D("199.00"), "Alipay", "Only 200.00 CNY of commission is available"),  # + 2.99 fee
        (D("0"), "Alipay", "must be positive"),
        (D("-60"), "Alipay", "must be positive"),
        (D("60.001"), "Alipay", "minor units"),
        (D("60"), "   ", "where the money should be paid"),
    ],
)
def test_bad_requests_write_nothing(
    alpha: Site, earner: AbstractUser, amount: Decimal, payee: str, message: str
) -> None:
    before = _all_written()

    with pytest.raises(WalletError, match=message):
        member_withdrawal_request(user=earner, amount=amount, payee=payee, idempotency_key="bad")

    assert _all_written() == before
    assert (available(earner), withdrawing(earner)) == (D("200.00"), D("0.00"))


def test_replay_returns_the_same_withdrawal(alpha: Site, earner: AbstractUser) -> None:
    first = member_withdrawal_request(user=earner, amount=D("60"), payee="A", idempotency_key="k")
    before = _all_written()

    again = member_withdrawal_request(user=earner, amount=D("60"), payee="A", idempotency_key="k")
    with pytest.raises(IdempotencyConflict):
        member_withdrawal_request(user=earner, amount=D("70"), payee="A", idempotency_key="k")

    assert again == first
    assert _all_written() == before
    assert available(earner) == D("200.00") - D("61.60")


def test_negative_available_commission_blocks_withdrawals(alpha: Site, make_member: Member) -> None:
    member = make_member("clawed")
    key = f"earn:{uuid.uuid4().hex}"
    earn_commission(alpha, member, D("100"), key=key)
    member_withdrawal_request(user=member, amount=D("90"), payee="A", idempotency_key="k")
    # A full refund of the sale claws the whole commission back from available: the 8.10 left
    # there (100 - 90 - 1.90 fee) minus 100.
    from shared.ledger.models import Settlement

    settlement = Settlement.objects.get(sale_key=key)
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    settlement_refund(
        settlement=settlement, amount=settlement.amount_paid, refund_key=key, pay_to=clearing
    )
    commission_claw_back(sale_key=key, refund_key=key)
    assert available(member) == D("-91.90")
    before = _all_written()

    with pytest.raises(InsufficientFunds, match="negative"):
        member_withdrawal_request(user=member, amount=D("50"), payee="A", idempotency_key="k2")

    assert _all_written() == before
    assert wallets_mirror_check() == []


def test_site_terms_override_the_platform_defaults(alpha: Site, earner: AbstractUser) -> None:
    member_withdrawal_terms_set(
        minimum=D("10.00"), fee_percent=D("0"), fee_fixed=D("0"), actor_email=STAFF
    )
    assert member_withdrawal_fee(amount=D("20.00")) == D("0.00")

    withdrawal = member_withdrawal_request(
        user=earner, amount=D("20.00"), payee="A", idempotency_key="small"
    )

    assert (withdrawal.amount, withdrawal.fee) == (D("20.00"), D("0.00"))
    with pytest.raises(WalletError, match="fee percent"):
        member_withdrawal_terms_set(
            minimum=None, fee_percent=D("100"), fee_fixed=None, actor_email=STAFF
        )


def test_another_sites_withdrawal_is_not_found_and_unchanged(
    network: Network, earner: AbstractUser
) -> None:
    with tenant_context(network.alpha):
        withdrawal = member_withdrawal_request(
            user=earner, amount=D("60"), payee="A", idempotency_key="x"
        )
    with tenant_context(network.beta):
        assert not MemberWithdrawal.objects.filter(pk=withdrawal.pk).exists()
        before = _all_written()
        with pytest.raises(WalletError, match="no such withdrawal"):
            member_withdrawal_approve(withdrawal=withdrawal, actor_email="owner@beta.test")
        with pytest.raises(WalletError):
            member_withdrawal_reject(withdrawal=withdrawal, actor_email="o@beta.test", reason="r")
        with pytest.raises(WalletError, match="not a member of this site"):
            member_withdrawal_request(user=earner, amount=D("60"), payee="A", idempotency_key="y")
        assert _all_written() == before
    with tenant_context(network.alpha):
        withdrawal.refresh_from_db()
        assert withdrawal.status == MemberWithdrawalStatus.REQUESTED
        assert withdrawing(earner) == D("61.60")


def test_concurrent_requests_never_take_more_than_is_available(django_db_blocker: Any) -> None:
    """Committed data, real threads: ten requests of 60.00 (+1.60 fee) against 200.00 of
    available commission; exactly three succeed. GBP keeps these postings apart."""
    run = uuid.uuid4().hex[:10]
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEMBER_WITHDRAWAL_MINIMUM="50.00",
            MEMBER_WITHDRAWAL_FEE_PERCENT="1",
            MEMBER_WITHDRAWAL_FEE_FIXED="1.00",
        ),
    ):
        site = Site.objects.get(slug="alpha")
        with tenant_context(site):
            member = new_member(site, "wrace")
            earn_commission(site, member, D("200"), key=f"wrace:{run}", currency="GBP")
        barrier = threading.Barrier(10)
        outcomes: list[str] = []

        def request(n: int) -> None:
            try:
                with tenant_context(site):
                    barrier.wait()
                    member_withdrawal_request(
                        user=member, amount=D("60.00"), payee="Alipay",
                        idempotency_key=f"{run}:{n}", currency="GBP",
                    )  # fmt: skip
                outcomes.append("locked")
            except InsufficientFunds:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=request, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        with tenant_context(site):
            assert sorted(outcomes) == ["locked"] * 3 + ["refused"] * 7
            assert available(member, "GBP") == D("200.00") - 3 * D("61.60")
            assert withdrawing(member, "GBP") == 3 * D("61.60")
            assert MemberWithdrawal.objects.filter(user=member).count() == 3
            assert site_mirror_check(site) == []
        assert ledger_verify() == []
        assert not Transaction.objects.filter(idempotency_key__contains=f"{run}:").exists()


COMMISSION_OPS = st.lists(
    st.tuples(
        st.sampled_from(["earn", "to_wallet", "withdraw", "reject", "pay"]),
        st.integers(min_value=1, max_value=120),
    ),
    min_size=1,
    max_size=8,
)
_runs = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=COMMISSION_OPS)
def test_random_commission_operations_keep_the_mirror_exact(
    alpha: Site, ops: list[tuple[str, int]]
) -> None:
    """Any sequence of earning, moving, withdrawing, rejecting and paying: the member's
    balances follow the rules exactly, nothing locked ever goes negative, the members' side
    equals the public mirror and the ledger balances."""
    with transaction.atomic():
        run = next(_runs)
        member = new_member(alpha, "prop")
        free, locked, in_wallet = D(0), D(0), D(0)
        open_withdrawals: list[MemberWithdrawal] = []
        for n, (op, size) in enumerate(ops):
            amount = D(size)
            key = f"p{run}:{n}"
            try:
                if op == "earn":
                    earn_commission(alpha, member, amount, key=f"prop:{uuid.uuid4().hex}")
                    free += amount
                elif op == "to_wallet":
                    commission_to_wallet(user=member, amount=amount, idempotency_key=key)
                    free, in_wallet = free - amount, in_wallet + amount
                elif op == "withdraw":
                    w = member_withdrawal_request(
                        user=member, amount=amount, payee="A", idempotency_key=key
                    )
                    open_withdrawals.append(w)
                    free, locked = free - w.total, locked + w.total
                elif open_withdrawals:
                    w = open_withdrawals.pop(0)
                    if op == "reject":
                        member_withdrawal_reject(withdrawal=w, actor_email=STAFF, reason="p")
                        free, locked = free + w.total, locked - w.total
                    else:
                        member_withdrawal_approve(withdrawal=w, actor_email=STAFF)
                        member_withdrawal_mark_paid(withdrawal=w, actor_email=STAFF, reference="r")
                        locked -= w.total
            except InsufficientFunds:
                assert op in ("to_wallet", "withdraw")
            except WalletError as exc:
                assert op == "withdraw" and "minimum" in str(exc)
                assert amount < D(50)
        assert (available(member), withdrawing(member), wallet(member)) == (
            free,
            locked,
            in_wallet,
        )
        assert free >= 0 and locked >= 0
        assert wallets_mirror_check() == []
        assert ledger_verify() == []
        transaction.set_rollback(True)
