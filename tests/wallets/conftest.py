"""Fixtures for member wallets: the committed site `alpha` activated, fresh members, and readers
of both sides of the mirror."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractUser
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Leg, Transaction
from shared.ledger.services import account_balance, account_get
from shared.sites.models import Site
from tenants.members.services import member_create
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind, MemberEntry, MemberTransaction
from tests.conftest import MEMBER_PASSWORD, Network


@pytest.fixture
def alpha(network: Network) -> Iterator[Site]:
    """The committed site `alpha`, its schema active for the whole test."""
    with tenant_context(network.alpha):
        yield network.alpha


def new_member(site: Site, name: str = "m") -> AbstractUser:
    """A member of the active site, unique across runs (committed rows are never deleted)."""
    return member_create(
        email=f"{name}-{uuid.uuid4().hex[:10]}@{site.slug}.test", password=MEMBER_PASSWORD
    )


@pytest.fixture
def make_member(alpha: Site) -> Callable[..., AbstractUser]:
    return lambda name="m": new_member(alpha, name)


def mirror(
    site: Site, kind: AccountKind = AccountKind.SITE_WALLETS, currency: str = "CNY"
) -> Decimal:
    return account_balance(account_get(kind=kind, currency=currency, site=site))


def wallet(user: AbstractUser, currency: str = "CNY") -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.WALLET, currency=currency)


def pending(user: AbstractUser, currency: str = "CNY") -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.COMMISSION_PENDING, currency=currency)


def available(user: AbstractUser, currency: str = "CNY") -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.COMMISSION_AVAILABLE, currency=currency)


def written() -> tuple[int, int, int, int]:
    """Rows in both ledgers (the active site's and the public one)."""
    return (
        MemberTransaction.objects.count(),
        MemberEntry.objects.count(),
        Transaction.objects.count(),
        Leg.objects.count(),
    )


def earn_commission(
    site: Site, member: AbstractUser, amount: Decimal, *, key: str, currency: str = "CNY"
) -> None:
    """Give a member of the active site `amount` of available commission: a card sale whose
    level-1 commission is theirs, recorded and confirmed."""
    from shared.ledger.models import Settlement
    from shared.ledger.settlement import ChainLink, settle_sale
    from shared.suppliers.models import Supplier
    from tenants.wallets.commissions import CommissionSpec, commission_confirm, commission_record

    supplier, _ = Supplier.objects.get_or_create(name="Commission test supplier", kind="card_stock")
    paid = amount * 10
    settle_sale(
        sale_key=key,
        site=site,
        currency=currency,
        amount_paid=paid,
        quantity=1,
        chain=[ChainLink(site, paid / 2)],
        supplier=supplier,
        supplier_unit_cost=paid / 4,
        paid_from=account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency),
        commission=amount,
    )
    commission_record(sale_key=key, shares=[CommissionSpec(member, 1, amount)])
    assert commission_confirm(sale_key=key)
    assert Settlement.objects.filter(sale_key=key).exists()


def withdrawing(user: AbstractUser, currency: str = "CNY") -> Decimal:
    return member_balance(
        user=user, kind=MemberAccountKind.COMMISSION_WITHDRAWING, currency=currency
    )
