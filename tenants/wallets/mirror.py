"""Proof that every site's member ledger and the public mirror accounts agree.

For each site: its members' wallets sum to the public SITE_WALLETS account of that site, their
commissions (pending, available and locked for withdrawal) to SITE_COMMISSIONS, and every cached
member balance equals its entries. This walks every site's schema (one query per schema and
kind); HQ reports read the public mirror accounts instead, which this check keeps honest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django_tenants.utils import tenant_context

from shared.ledger.models import Account, AccountKind
from shared.ledger.services import account_balance
from shared.sites.models import Site
from tenants.wallets.ledger import site_ledger_verify
from tenants.wallets.models import COMMISSION_KINDS, MemberAccountKind, MemberEntry

MIRROR_OF = {
    MemberAccountKind.WALLET: AccountKind.SITE_WALLETS,
    MemberAccountKind.COMMISSION_PENDING: AccountKind.SITE_COMMISSIONS,
    MemberAccountKind.COMMISSION_AVAILABLE: AccountKind.SITE_COMMISSIONS,
    MemberAccountKind.COMMISSION_WITHDRAWING: AccountKind.SITE_COMMISSIONS,
}
assert set(MIRROR_OF) == {MemberAccountKind.WALLET, *COMMISSION_KINDS}


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Read both schemas in one snapshot (unless the caller already holds a transaction)."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def site_mirror_check(site: Site) -> list[str]:
    """Differences between one site's member ledger and its public mirrors (site schema
    active)."""
    members: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    totals = (
        MemberEntry.objects.exclude(account__kind=MemberAccountKind.PLATFORM)
        .values_list("account__kind", "currency")
        .annotate(total=Sum("amount"))
    )
    for kind, currency, total in totals:
        members[(MIRROR_OF[MemberAccountKind(kind)], currency)] -= total
    public = {
        (account.kind, account.currency): account_balance(account)
        for account in Account.objects.filter(
            site=site, kind__in=[AccountKind.SITE_WALLETS, AccountKind.SITE_COMMISSIONS]
        )
    }
    problems = []
    for kind, currency in sorted(set(members) | set(public)):
        ours, theirs = members.get((kind, currency), Decimal(0)), public.get((kind, currency))
        if ours != (theirs or 0):
            problems.append(
                f"{kind} {currency}: members hold {ours} but the public mirror holds {theirs or 0}"
            )
    return problems + site_ledger_verify()


def wallets_mirror_check() -> list[str]:
    """Every problem found, on every site, prefixed by the site's slug."""
    problems: list[str] = []
    for site in Site.objects.order_by("pk"):
        with tenant_context(site), _one_snapshot():
            problems += [f"{site.slug}: {p}" for p in site_mirror_check(site)]
    return problems
