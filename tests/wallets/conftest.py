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


def pending(user: AbstractUser) -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY")


def available(user: AbstractUser) -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.COMMISSION_AVAILABLE, currency="CNY")


def written() -> tuple[int, int, int, int]:
    """Rows in both ledgers (the active site's and the public one)."""
    return (
        MemberTransaction.objects.count(),
        MemberEntry.objects.count(),
        Transaction.objects.count(),
        Leg.objects.count(),
    )
