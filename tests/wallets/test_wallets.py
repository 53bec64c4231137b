"""Member wallets: every operation moves the member's wallet and the site's public mirror by the
same amount, once, or refuses and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind
from shared.ledger.services import account_balance, account_get, ledger_verify
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tenants.wallets.ledger import IdempotencyConflict, InsufficientFunds, WalletError
from tenants.wallets.mirror import wallets_mirror_check
from tenants.wallets.models import MemberEntry, MemberTransaction, MemberTransactionKind
from tenants.wallets.services import (
    wallet_adjust,
    wallet_refund,
    wallet_spend,
    wallet_top_up,
)
from tests.conftest import MEMBER_PASSWORD, Network
from tests.wallets.conftest import mirror, new_member, wallet, written

D = Decimal
Member = Callable[..., AbstractUser]


def _clearing() -> Decimal:
    return account_balance(account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"))


def test_top_up_credits_the_wallet_and_the_mirror(alpha: Site, make_member: Member) -> None:
    member = make_member()
    mirror_before, clearing_before = mirror(alpha), _clearing()

    txn = wallet_top_up(user=member, amount=D("100.00"), idempotency_key="tu:1", source="alipay:T1")

    assert wallet(member) == D("100.00")
    assert mirror(alpha) - mirror_before == D("100.00")
    assert _clearing() - clearing_before == D("100.00")
    assert (txn.kind, txn.memo) == (MemberTransactionKind.TOP_UP, "alipay:T1")
    assert sorted(txn.entries.values_list("amount", flat=True)) == [D("-100.00"), D("100.00")]
    assert wallets_mirror_check() == []
    assert ledger_verify() == []


def test_replayed_operations_change_nothing(alpha: Site, make_member: Member) -> None:
    member = make_member()
    first = wallet_top_up(user=member, amount=D("50"), idempotency_key="k1", source="card")
    spend = wallet_spend(user=member, amount=D("20"), idempotency_key="k2", memo="order 1")
    before, mirror_before = written(), mirror(alpha)

    for _ in range(3):
        assert (
            wallet_top_up(user=member, amount=D("50"), idempotency_key="k1", source="card") == first
        )
        assert wallet_spend(user=member, amount=D("20"), idempotency_key="k2", memo="x") == spend

    assert written() == before
    assert (wallet(member), mirror(alpha)) == (D("30.00"), mirror_before)


def test_same_key_for_another_amount_is_refused(alpha: Site, make_member: Member) -> None:
    member = make_member()
    wallet_top_up(user=member, amount=D("50"), idempotency_key="k", source="card")
    before = written()

    with pytest.raises(IdempotencyConflict):
        wallet_top_up(user=member, amount=D("60"), idempotency_key="k", source="card")

    assert written() == before
    assert wallet(member) == D("50.00")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (D("0"), "CNY"),
        (D("-5"), "CNY"),
        (D("1.001"), "CNY"),
        (D("1.5"), "JPY"),
        (1.5, "CNY"),
        ("NaN", "CNY"),
        (D("10"), "XXX"),
    ],
)
def test_bad_amounts_and_currencies_write_nothing(
    alpha: Site, make_member: Member, amount: object, currency: str
) -> None:
    member = make_member()
    wallet_top_up(user=member, amount=D("10"), idempotency_key="seed", source="card")
    before, mirror_before = written(), mirror(alpha)

    for call in (
        lambda: wallet_top_up(
            user=member, amount=amount, idempotency_key="b1", source="card", currency=currency
        ),
        lambda: wallet_spend(
            user=member, amount=amount, idempotency_key="b2", memo="x", currency=currency
        ),
        lambda: wallet_refund(user=member, amount=amount, idempotency_key="b3", currency=currency),
    ):
        with pytest.raises(ValidationError):
            call()  # type: ignore[no-untyped-call]

    assert written() == before
    assert (wallet(member), mirror(alpha)) == (D("10.00"), mirror_before)


def test_spend_beyond_the_balance_is_refused_and_writes_nothing(
    alpha: Site, make_member: Member
) -> None:
    member = make_member()
    wallet_top_up(user=member, amount=D("30"), idempotency_key="t", source="card")
    wallet_spend(user=member, amount=D("25"), idempotency_key="s1", memo="order 1")
    before, mirror_before = written(), mirror(alpha)

    with pytest.raises(InsufficientFunds, match=r"5\.00"):
        wallet_spend(user=member, amount=D("5.01"), idempotency_key="s2", memo="order 2")

    assert written() == before
    assert (wallet(member), mirror(alpha)) == (D("5.00"), mirror_before)
    assert not MemberTransaction.objects.filter(idempotency_key="s2").exists()


def test_standalone_spend_and_refund_move_clearing_and_mirror(
    alpha: Site, make_member: Member
) -> None:
    member = make_member()
    wallet_top_up(user=member, amount=D("40"), idempotency_key="t", source="card")
    mirror_before, clearing_before = mirror(alpha), _clearing()

    wallet_spend(user=member, amount=D("15.50"), idempotency_key="s", memo="order 7")
    assert (wallet(member), mirror(alpha) - mirror_before) == (D("24.50"), D("-15.50"))
    assert _clearing() - clearing_before == D("-15.50")

    wallet_refund(user=member, amount=D("5.25"), idempotency_key="r", memo="order 7 refund")
    assert (wallet(member), mirror(alpha) - mirror_before) == (D("29.75"), D("-10.25"))
    assert _clearing() - clearing_before == D("-10.25")
    assert wallets_mirror_check() == []


def test_staff_adjustments_use_the_sites_earnings(alpha: Site, make_member: Member) -> None:
    member = make_member()
    earnings = account_get(kind=AccountKind.SITE_AVAILABLE, currency="CNY", site=alpha)
    earnings_before = account_balance(earnings)

    txn = wallet_adjust(
        user=member,
        amount=D("12.00"),
        reason="Compensation for ticket 42",
        actor_email="owner@alpha.test",
        idempotency_key="adj1",
    )
    wallet_adjust(
        user=member,
        amount=D("-2.00"),
        reason="Duplicate compensation",
        actor_email="owner@alpha.test",
        idempotency_key="adj2",
    )

    assert (txn.actor, txn.reason) == ("owner@alpha.test", "Compensation for ticket 42")
    assert wallet(member) == D("10.00")
    assert account_balance(earnings) - earnings_before == D("-10.00")
    assert wallets_mirror_check() == []


@pytest.mark.parametrize(
    ("amount", "reason", "actor"),
    [
        (D("5"), "", "owner@alpha.test"),
        (D("5"), "Goodwill", ""),
        (D("5"), "Goodwill", "not an email"),
        (D("0"), "Goodwill", "owner@alpha.test"),
        (D("-5.01"), "Goodwill", "owner@alpha.test"),  # below zero
    ],
)
def test_bad_adjustments_write_nothing(
    alpha: Site, make_member: Member, amount: Decimal, reason: str, actor: str
) -> None:
    member = make_member()
    wallet_top_up(user=member, amount=D("5"), idempotency_key="t", source="card")
    before = written()

    with pytest.raises(ValidationError):
        wallet_adjust(
            user=member, amount=amount, reason=reason, actor_email=actor, idempotency_key="adj"
        )

    assert written() == before
    assert wallet(member) == D("5.00")


def test_member_ledger_rows_are_immutable_and_balanced(alpha: Site, make_member: Member) -> None:
    member = make_member()
    txn = wallet_top_up(user=member, amount=D("5"), idempotency_key="t", source="card")
    entry = txn.entries.first()
    assert entry is not None

    for statement in (
        lambda: MemberEntry.objects.filter(pk=entry.pk).update(amount=D("6")),
        lambda: MemberEntry.objects.filter(pk=entry.pk).delete(),
        lambda: MemberTransaction.objects.filter(pk=txn.pk).update(memo="edited"),
    ):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            statement()  # type: ignore[no-untyped-call]

    with pytest.raises(DatabaseError, match="unbalanced"), transaction.atomic():
        lone = MemberTransaction.objects.create(idempotency_key="lone", kind="top_up")
        MemberEntry.objects.create(
            transaction=lone, account=entry.account, amount=1, currency="CNY"
        )
        MemberEntry.objects.create(
            transaction=lone, account=entry.account, amount=2, currency="CNY"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert wallet(member) == D("5.00")


def test_a_site_from_the_pool_has_the_guarantees(
    network: Network, make_site: Callable[..., ProvisionedSite]
) -> None:
    site = make_site().site
    with tenant_context(site):
        member = new_member(site)
        txn = wallet_top_up(user=member, amount=D("3"), idempotency_key="t", source="card")
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            txn.entries.all().delete()
        assert wallet(member) == D("3.00")
    assert mirror(site) == D("3.00")


def test_a_user_logged_in_on_one_site_is_no_member_of_another(
    network: Network, django_assert_num_queries
) -> None:
    """The backends stamp the users they load with their schema: the check costs no query on
    that site, and on another site the user is checked (and refused) as any other."""
    from django.utils.functional import SimpleLazyObject

    from tenants.members.backends import SiteModelBackend
    from tenants.wallets.ledger import member_check

    with tenant_context(network.alpha):
        member = SiteModelBackend().get_user(new_member(network.alpha).pk)
        assert member is not None
        with django_assert_num_queries(0):
            member_check(member)
            member_check(SimpleLazyObject(lambda: member))  # as `request.user` wraps it
    with tenant_context(network.beta):
        before = written()
        with pytest.raises(WalletError, match="not a member"):
            member_check(member)
        with pytest.raises(WalletError, match="not a member"):
            wallet_top_up(user=member, amount=D("8"), idempotency_key="x", source="card")
        assert written() == before


def test_the_session_user_is_read_as_the_orm_reads_it(
    network: Network, django_assert_num_queries
) -> None:
    """Both backends load a session's user in one plain read: the same user the ORM reads, or
    nobody for an inactive, unknown or malformed id."""
    from django.contrib.auth import get_user_model

    from tenants.members.backends import SiteAuthenticationBackend, SiteModelBackend

    with tenant_context(network.alpha):
        member = new_member(network.alpha)
        orm = get_user_model().objects.get(pk=member.pk)
        for backend in (SiteModelBackend(), SiteAuthenticationBackend()):
            with django_assert_num_queries(1):
                loaded = backend.get_user(str(member.pk))
            assert loaded is not None and not loaded._state.adding
            fields = [f.attname for f in get_user_model()._meta.concrete_fields]
            assert [getattr(loaded, f) for f in fields] == [getattr(orm, f) for f in fields]
            assert loaded.check_password(MEMBER_PASSWORD) and loaded.password == orm.password
            assert backend.get_user(10**30) is None
            assert backend.get_user("not-an-id") is None
        get_user_model().objects.filter(pk=member.pk).update(is_active=False)
        assert SiteModelBackend().get_user(member.pk) is None
        assert SiteAuthenticationBackend().get_user(member.pk) is None


def test_another_sites_member_is_refused_and_mirrors_stay_apart(network: Network) -> None:
    with tenant_context(network.beta):
        beta_member = new_member(network.beta)
    beta_before = mirror(network.beta)

    with tenant_context(network.alpha):
        alpha_member = new_member(network.alpha)
        wallet_top_up(user=alpha_member, amount=D("8"), idempotency_key="t", source="card")
        before = written()
        with pytest.raises(WalletError, match="not a member"):
            wallet_top_up(user=beta_member, amount=D("8"), idempotency_key="x", source="card")
        assert written() == before

    with tenant_context(network.beta):
        # The same key on another site is another operation (keys are per site).
        wallet_top_up(user=beta_member, amount=D("1"), idempotency_key="t", source="card")
        assert wallet(beta_member) == D("1.00")
    assert mirror(network.beta) - beta_before == D("1.00")
    assert wallets_mirror_check() == []


def test_wallets_need_a_site_schema(network: Network) -> None:
    with pytest.raises(WalletError, match="site's schema"):
        wallet_top_up(user=object(), amount=D("1"), idempotency_key="k", source="card")  # type: ignore[arg-type]


def test_mirror_check_command(alpha: Site, make_member: Member) -> None:
    wallet_top_up(user=make_member(), amount=D("2"), idempotency_key="t", source="card")
    out = StringIO()
    call_command("wallets_mirror_check", stdout=out)
    assert "match the mirror" in out.getvalue()
