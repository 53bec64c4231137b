"""The site schema's member ledger: accounts, locked balances, balanced immutable postings.

Services in `services.py` and `commissions.py` call these helpers inside their own atomic
block; the helpers never post to the public ledger themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from shared.ledger.money import MoneyError, currency_exponent, exact, quantum
from shared.sites.models import Site
from tenants.members.backends import schema_stamped
from tenants.wallets.models import (
    MemberAccount,
    MemberAccountKind,
    MemberBalance,
    MemberEntry,
    MemberTransaction,
)


class WalletError(ValidationError):
    """A wallet or commission operation refused (nothing was written)."""


class InsufficientFunds(WalletError):
    """The account does not hold enough for the operation."""


class IdempotencyConflict(WalletError):
    """The idempotency key was already used for a different operation."""


# Commission may go negative (a refund claws back confirmed money); these never do.
NEVER_NEGATIVE = frozenset({MemberAccountKind.WALLET, MemberAccountKind.COMMISSION_WITHDRAWING})


@dataclass(frozen=True)
class Entry:
    account: MemberAccount
    amount: Decimal  # signed: debit positive, credit negative


def current_site() -> Site:
    """The site whose schema the connection is in; member money never lives in public."""
    tenant = getattr(connection, "tenant", None)
    if getattr(connection, "schema_name", "") == get_public_schema_name() or not isinstance(
        tenant, Site
    ):
        raise WalletError("Member wallets live in a site's schema: activate a site first.")
    return tenant


def member_check(user: AbstractBaseUser) -> AbstractBaseUser:
    """The user, if it is a member of the current site (a user object loaded from another
    site's schema has the same kind of id, so the username must match too). A user the
    authentication backends loaded from this schema (the request's user) is one already."""
    if user.pk is not None and schema_stamped(user):
        return user
    User = get_user_model()
    field = User.USERNAME_FIELD
    exists = User.objects.filter(pk=user.pk, **{field: getattr(user, field)}).exists()
    if user.pk is None or not exists:
        raise WalletError("That user is not a member of this site.")
    return user


def money(amount: object, currency: str, *, allow_negative: bool = False) -> Decimal:
    """An exact amount in the currency's minor unit: greater than zero (or, for adjustments,
    non-zero)."""
    try:
        currency_exponent(currency)
        value = exact(amount, currency)
    except MoneyError as exc:
        raise WalletError(str(exc)) from exc
    if value == 0 or (value < 0 and not allow_negative):
        raise WalletError(
            "The amount must not be zero." if allow_negative else "The amount must be positive."
        )
    return value


def key_check(idempotency_key: str) -> str:
    if not idempotency_key or len(idempotency_key) > 150:
        raise WalletError("An idempotency key of 1 to 150 characters is required.")
    return idempotency_key


def _account(
    user: AbstractBaseUser | None, kind: MemberAccountKind, currency: str
) -> MemberAccount:
    lookup = {"user": user, "kind": kind, "currency": currency}
    account = MemberAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account = MemberAccount.objects.create(**lookup)
            if user is not None:
                MemberBalance.objects.create(account=account, non_negative=kind in NEVER_NEGATIVE)
            return account
    except IntegrityError:  # created concurrently
        return MemberAccount.objects.get(**lookup)


def member_account_get(
    *, user: AbstractBaseUser, kind: MemberAccountKind, currency: str
) -> MemberAccount:
    """The member's account of that kind and currency, created on first use."""
    if kind == MemberAccountKind.PLATFORM:
        raise WalletError("The platform account belongs to the site, not a member.")
    return _account(user, kind, currency)


def wallet_and_platform_get(
    *, user: AbstractBaseUser, currency: str
) -> tuple[MemberAccount, MemberAccount]:
    """The member's wallet and the site's platform account in that currency (what a spend or a
    top-up moves money between): one read when both exist, created on first use otherwise."""
    rows = MemberAccount.objects.raw(
        _WALLET_AND_PLATFORM_SQL,
        [currency, user.pk, MemberAccountKind.WALLET, MemberAccountKind.PLATFORM],
    )
    found = {account.kind: account for account in rows}
    wallet = found.get(MemberAccountKind.WALLET) or _account(
        user, MemberAccountKind.WALLET, currency
    )
    platform = found.get(MemberAccountKind.PLATFORM) or _account(
        None, MemberAccountKind.PLATFORM, currency
    )
    return wallet, platform


_WALLET_AND_PLATFORM_SQL = (
    f"SELECT * FROM {MemberAccount._meta.db_table} WHERE currency = %s AND "  # noqa: S608
    "((user_id = %s AND kind = %s) OR (user_id IS NULL AND kind = %s))"
)


def platform_account_get(*, currency: str) -> MemberAccount:
    """The site's counterpart of its members' money (no cached balance: it is the negative of
    the members' total by construction, and every operation would queue on one row)."""
    return _account(None, MemberAccountKind.PLATFORM, currency)


def balances_lock(accounts: Iterable[MemberAccount]) -> dict[int, Decimal]:
    """Lock the balance rows of these member accounts (in id order, so two operations never
    wait on each other crosswise) and return their balances."""
    ids = sorted({a.pk for a in accounts if a.kind != MemberAccountKind.PLATFORM})
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_BALANCES_LOCK_SQL, [ids])
        return dict(cursor.fetchall())


_BALANCES_LOCK_SQL = (
    f"SELECT account_id, balance FROM {MemberBalance._meta.db_table} "  # noqa: S608
    "WHERE account_id = ANY(%s) ORDER BY account_id FOR UPDATE"
)


def member_balance(*, user: AbstractBaseUser, kind: MemberAccountKind, currency: str) -> Decimal:
    """The member's balance of that kind (what the site owes the member)."""
    row = MemberBalance.objects.filter(
        account__user_id=user.pk, account__kind=kind, account__currency=currency
    ).first()
    return row.balance if row is not None else Decimal(0).quantize(quantum(currency))


def _merge(entries: Sequence[Entry]) -> list[tuple[MemberAccount, Decimal]]:
    totals: dict[int, Decimal] = defaultdict(Decimal)
    accounts: dict[int, MemberAccount] = {}
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        totals[entry.account.pk] += entry.amount
        accounts[entry.account.pk] = entry.account
        by_currency[entry.account.currency] += entry.amount
    if any(by_currency.values()):
        raise WalletError("The entries do not balance.")
    merged = [(accounts[pk], amount) for pk, amount in sorted(totals.items()) if amount]
    if len(merged) < 2:
        raise WalletError("A transaction needs at least two non-zero entries.")
    return merged


def floors_check(
    entries: Sequence[Entry],
    locked: dict[int, Decimal],
    *,
    funded: Iterable[MemberAccount] = (),
) -> None:
    """Refuse if a wallet, or one of the `funded` accounts, would go below zero (or further
    below) by this operation (balances must already be locked)."""
    checked = {a.pk for a in funded}
    for account, amount in _merge(entries):
        if account.kind != MemberAccountKind.WALLET and account.pk not in checked:
            continue
        held = locked[account.pk]
        after = held - amount  # credit-normal: a debit reduces it
        if amount > 0 and after < 0:
            if account.kind == MemberAccountKind.WALLET:
                raise InsufficientFunds(
                    f"Insufficient funds: the wallet holds {held} {account.currency}."
                )
            if held < 0:
                raise InsufficientFunds(
                    f"The available commission is negative ({held} {account.currency}): "
                    "nothing can be taken from it until it is made good."
                )
            raise InsufficientFunds(f"Only {held} {account.currency} of commission is available.")


@dataclass(frozen=True)
class Prior:
    """What the database already holds for an operation about to be written."""

    existing_id: int | None  # the member transaction written under its idempotency key
    mirrored: bool  # a member transaction of its kind already mirrors its public key
    public_legs: int  # legs of the site's public transaction under the public key
    posted: Decimal  # what they moved on the given account


def prior(
    *, idempotency_key: str, kind: str, public_key: str, site: Site, account_id: int | None
) -> Prior:
    """One read of everything an operation checks before writing: whether its key was used,
    and (for an operation whose public side is already posted) what that posting did."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PRIOR_SQL,
            {
                "key": idempotency_key,
                "kind": kind,
                "public_key": public_key,
                "site": site.pk,
                "account": account_id,
            },
        )
        existing_id, mirrored, legs, posted = cursor.fetchone()
    return Prior(existing_id, mirrored, legs, posted)


_PRIOR_SQL = """
SELECT
    (SELECT id FROM wallets_membertransaction WHERE idempotency_key = %(key)s),
    EXISTS (
        SELECT 1 FROM wallets_membertransaction
        WHERE kind = %(kind)s AND public_key = %(public_key)s AND public_key <> ''
    ),
    count(l.id),
    coalesce(sum(l.amount) FILTER (WHERE l.account_id = %(account)s), 0)
FROM ledger_transaction t JOIN ledger_leg l ON l.transaction_id = t.id
WHERE t.idempotency_key = %(public_key)s AND t.site_id = %(site)s
"""


def replayed_check(
    existing_id: int, idempotency_key: str, kind: str, entries: Sequence[Entry]
) -> MemberTransaction:
    """The transaction already written under this key, if it is the same operation."""
    existing = MemberTransaction.objects.get(pk=existing_id)
    recorded = sorted(existing.entries.values_list("account_id", "amount"))
    wanted = sorted((account.pk, amount) for account, amount in _merge(entries))
    if existing.kind != kind or recorded != wanted:
        raise IdempotencyConflict(
            f"Idempotency key '{idempotency_key}' was used for a different operation."
        )
    return existing


def member_transaction_write(
    *,
    idempotency_key: str,
    kind: str,
    entries: Sequence[Entry],
    memo: str = "",
    actor: str = "",
    reason: str = "",
    public_key: str = "",
    sale_key: str = "",
) -> MemberTransaction:
    """Write a balanced transaction and move the cached balances (rows locked by the caller):
    the transaction, its entries and the balances in one statement."""
    legs = _merge(entries)
    moved = [(account.pk, amount) for account, amount in legs if account.kind in _CACHED]
    values: dict[str, Any] = {
        "idempotency_key": idempotency_key,
        "kind": kind,
        "memo": memo[:500],
        "actor": actor,
        "reason": reason[:500],
        "public_key": public_key,
        "sale_key": sale_key,
        "created_at": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            _WRITE_SQL,
            {
                **values,
                "accounts": [account.pk for account, _ in legs],
                "amounts": [amount for _, amount in legs],
                "currencies": [account.currency for account, _ in legs],
                "moved_accounts": [pk for pk, _ in moved],
                "moved_amounts": [amount for _, amount in moved],
            },
        )
        (txn_id,) = cursor.fetchone()
    names = [field.attname for field in MemberTransaction._meta.concrete_fields]
    return MemberTransaction.from_db(
        connection.alias, names, [txn_id if name == "id" else values[name] for name in names]
    )


# Every member account kind but the platform's keeps a cached balance.
_CACHED = frozenset(MemberAccountKind) - {MemberAccountKind.PLATFORM}

# The transaction, its entries and the cached balances in one round trip. The entry triggers
# check currencies row by row and the balance at commit, as for entries inserted one by one.
_WRITE_SQL = """
WITH txn AS (
    INSERT INTO wallets_membertransaction
        (idempotency_key, kind, memo, actor, reason, public_key, sale_key, created_at)
    VALUES (%(idempotency_key)s, %(kind)s, %(memo)s, %(actor)s, %(reason)s, %(public_key)s,
            %(sale_key)s, %(created_at)s)
    RETURNING id
), entries AS (
    INSERT INTO wallets_memberentry (transaction_id, account_id, amount, currency, created_at)
    SELECT txn.id, e.account_id, e.amount, e.currency, %(created_at)s
    FROM txn, unnest(%(accounts)s::bigint[], %(amounts)s::numeric[], %(currencies)s::varchar[])
        AS e (account_id, amount, currency)
), balances AS (
    UPDATE wallets_memberbalance b SET balance = b.balance - m.amount
    FROM unnest(%(moved_accounts)s::bigint[], %(moved_amounts)s::numeric[])
        AS m (account_id, amount)
    WHERE b.account_id = m.account_id
)
SELECT id FROM txn
"""


def site_ledger_verify() -> list[str]:
    """Problems in the current site's member ledger: unbalanced transactions, cached balances
    differing from the entries."""
    problems: list[str] = []
    unbalanced = (
        MemberEntry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    problems += [
        f"member transaction {row['transaction_id']} unbalanced in {row['currency']} "
        f"by {row['total']}"
        for row in unbalanced
    ]
    sums = dict(
        MemberEntry.objects.values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    for pk, cached in MemberBalance.objects.values_list("pk", "balance"):
        from_entries = -sums.get(pk, Decimal(0))
        if from_entries != cached:
            problems.append(
                f"member account {pk}: entries sum to {from_entries} but the balance is {cached}"
            )
    return problems
