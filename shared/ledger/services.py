"""Posting to the ledger: accounts, balanced idempotent transactions, balances."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from shared.ledger.models import (
    BALANCE_BUCKETS,
    HOT_KINDS,
    Account,
    AccountBalance,
    AccountKind,
    Leg,
    Transaction,
)
from shared.ledger.money import MoneyError, exact
from shared.sites.models import Site
from shared.suppliers.models import Supplier

logger = logging.getLogger(__name__)


class LedgerError(Exception):
    """A posting the ledger refuses (nothing was written)."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a different posting."""


@dataclass(frozen=True)
class Posting:
    account: Account
    amount: Decimal  # signed: debit positive, credit negative


AccountKey = tuple[str, str, int | None, int | None]


def account_get(
    *,
    kind: AccountKind,
    currency: str,
    site: Site | None = None,
    supplier: Supplier | None = None,
) -> Account:
    """The account of that kind for that owner and currency, created on first use."""
    if kind.startswith("site_") and site is None:
        raise LedgerError(f"A {kind} account needs a site.")
    if kind == AccountKind.SUPPLIER_PAYABLE and supplier is None:
        raise LedgerError("A supplier account needs a supplier.")
    key = (str(kind), currency, site.pk if site else None, supplier.pk if supplier else None)
    known = _committed_accounts.get(key)
    if known is not None:
        return known
    lookup = {"kind": kind, "currency": currency, "site": site, "supplier": supplier}
    account = Account.objects.filter(**lookup).first()
    if account is None:
        try:
            with transaction.atomic():
                account = Account.objects.create(**lookup, is_hot=kind in HOT_KINDS)
        except IntegrityError:  # created concurrently
            account = Account.objects.get(**lookup)
    found = account
    transaction.on_commit(lambda: _committed_accounts.setdefault(key, found))
    return account


# Accounts are never deleted, and never changed outside a migration, once committed: each
# process keeps the ones it has read, from the moment the transaction that read them commits
# (a row created in a transaction that rolls back is never kept).
_committed_accounts: dict[AccountKey, Account] = {}


def accounts_forget() -> None:
    """Forget the accounts this process keeps (tests whose rows are rolled back)."""
    _committed_accounts.clear()


@dataclass(frozen=True)
class AccountSpec:
    """Which account: its kind, currency and owner (a site, a supplier, or the platform)."""

    kind: AccountKind
    currency: str
    site: Site | None = None
    supplier: Supplier | None = None

    @property
    def key(self) -> AccountKey:
        return (
            str(self.kind),
            self.currency,
            self.site.pk if self.site else None,
            self.supplier.pk if self.supplier else None,
        )


def accounts_get(specs: Sequence[AccountSpec]) -> dict[AccountKey, Account]:
    """Several accounts at once, created on first use: one SELECT when they all exist (the usual
    case), else one INSERT … ON CONFLICT DO NOTHING of the missing ones and a second SELECT.
    Keyed by `AccountSpec.key`."""
    for spec in specs:
        if spec.kind.startswith("site_") and spec.site is None:
            raise LedgerError(f"A {spec.kind} account needs a site.")
        if spec.kind == AccountKind.SUPPLIER_PAYABLE and spec.supplier is None:
            raise LedgerError("A supplier account needs a supplier.")
    wanted = list(dict.fromkeys(spec.key for spec in specs))
    found = _accounts_select(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_account (kind, currency, site_id, supplier_id, is_hot, "
                "created_at) SELECT *, now() FROM unnest(%s::varchar[], %s::varchar[], "
                "%s::bigint[], %s::bigint[], %s::boolean[]) ON CONFLICT DO NOTHING",
                [*_columns(missing), [key[0] in HOT_KINDS for key in missing]],
            )
        found.update(_accounts_select(missing))
    return found


def _columns(keys: list[AccountKey]) -> list[list[object]]:
    return [[key[i] for key in keys] for i in range(4)]


def _accounts_select(keys: list[AccountKey]) -> dict[AccountKey, Account]:
    rows = Account.objects.raw(
        "SELECT a.* FROM ledger_account a "
        "JOIN unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[]) "
        "     AS w (kind, currency, site_id, supplier_id) "
        "  ON a.kind = w.kind AND a.currency = w.currency "
        " AND a.site_id IS NOT DISTINCT FROM w.site_id "
        " AND a.supplier_id IS NOT DISTINCT FROM w.supplier_id",
        _columns(keys),
    )
    return {(a.kind, a.currency, a.site_id, a.supplier_id): a for a in rows}


def bucket_for(owner_id: int) -> int:
    """The balance bucket of one owner's operations on a hot account (a member, say)."""
    return owner_id % BALANCE_BUCKETS


@contextmanager
def balance_bucket(bucket: int) -> Iterator[None]:
    """Legs posted inside land in `bucket` of every hot account (instead of a random one), so an
    operation can lock exactly the rows it will write first (`balance_rows_lock`) and take its
    other locks after, in the same order as everyone else. Needs a transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise LedgerError("Choosing a balance bucket needs a transaction.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('kameng.balance_bucket', %s, true)", [str(bucket)])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('kameng.balance_bucket', '', true)")


def balance_rows_lock(accounts: Sequence[Account], *, bucket: int) -> None:
    """Lock, until the end of the transaction, the balance rows that a posting inside
    `balance_bucket(bucket)` to these accounts will write: that bucket of a hot account, the one
    row of any other (created if missing). In account order, one statement."""
    ordered = sorted({a.pk: a for a in accounts}.values(), key=lambda a: a.pk)
    if not ordered:
        return
    if not transaction.get_connection().in_atomic_block:
        raise LedgerError("Locking a balance needs a transaction.")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_accountbalance (account_id, bucket, balance) "
            "SELECT * FROM unnest(%s::bigint[], %s::smallint[], %s::numeric[]) "
            "ON CONFLICT (account_id, bucket) "
            "DO UPDATE SET balance = ledger_accountbalance.balance",
            [
                [a.pk for a in ordered],
                [bucket % BALANCE_BUCKETS if a.is_hot else 0 for a in ordered],
                [0] * len(ordered),
            ],
        )


def transaction_post(
    *,
    idempotency_key: str,
    kind: str,
    postings: Sequence[Posting],
    site: Site | None = None,
    memo: str = "",
    reverses: Transaction | None = None,
) -> tuple[Transaction, bool]:
    """Write a balanced transaction once. Returns (transaction, created).

    Replaying the same key with the same postings returns the original and writes nothing; the
    same key with different postings raises IdempotencyConflict. Amounts must already be in the
    currency's minor unit; legs are merged per account.
    """
    if not idempotency_key or len(idempotency_key) > 200:
        raise LedgerError("An idempotency key of 1 to 200 characters is required.")
    legs = merge_postings(postings)
    with transaction.atomic():
        existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            _check_same(existing, kind, legs)
            return existing, False
        try:
            with transaction.atomic():
                txn = Transaction.objects.create(
                    idempotency_key=idempotency_key,
                    kind=kind,
                    site=site,
                    memo=memo[:500],
                    reverses=reverses,
                )
        except IntegrityError:
            # Another request posted this key between our read and our insert.
            existing = Transaction.objects.get(idempotency_key=idempotency_key)
            _check_same(existing, kind, legs)
            return existing, False
        Leg.objects.bulk_create(
            Leg(transaction=txn, account=account, amount=amount, currency=account.currency)
            for account, amount in legs
        )
    logger.info("ledger.posted", extra={"kind": kind, "ledger_txn": txn.pk, "legs": len(legs)})
    return txn, True


def merge_postings(postings: Sequence[Posting]) -> list[tuple[Account, Decimal]]:
    """Postings checked (exact amounts, balanced per currency, two legs at least) and merged
    into one leg per account, in account order."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    accounts: dict[int, Account] = {}
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        account = posting.account
        if account.pk is None:
            raise LedgerError("Unknown account.")
        try:
            amount = exact(posting.amount, account.currency)
        except MoneyError as exc:
            raise LedgerError(str(exc)) from exc
        totals[account.pk] += amount
        accounts[account.pk] = account
        by_currency[account.currency] += amount
    unbalanced = {c: t for c, t in by_currency.items() if t != 0}
    if unbalanced:
        detail = ", ".join(f"{c} {t}" for c, t in sorted(unbalanced.items()))
        raise LedgerError(f"The postings do not balance: {detail}.")
    legs = [(accounts[pk], amount) for pk, amount in sorted(totals.items()) if amount != 0]
    if len(legs) < 2:
        raise LedgerError("A transaction needs at least two non-zero legs.")
    return legs


def _check_same(existing: Transaction, kind: str, legs: list[tuple[Account, Decimal]]) -> None:
    recorded = sorted(existing.legs.values_list("account_id", "amount"))
    wanted = sorted((account.pk, amount) for account, amount in legs)
    if existing.kind != kind or recorded != wanted:
        raise IdempotencyConflict(
            f"Idempotency key '{existing.idempotency_key}' was used for a different posting."
        )


def transaction_reverse(
    *, original: Transaction, idempotency_key: str, memo: str = ""
) -> Transaction:
    """Post the exact opposite of a transaction (a correction, never an edit)."""
    postings = [
        Posting(account=leg.account, amount=-leg.amount)
        for leg in original.legs.select_related("account")
    ]
    txn, _ = transaction_post(
        idempotency_key=idempotency_key,
        kind=f"reversal:{original.kind}"[:32],
        postings=postings,
        site=original.site,
        memo=memo,
        reverses=original,
    )
    return txn


def account_balance(account: Account, *, lock: bool = False) -> Decimal:
    """The account's balance on its normal side (what a site is owed is positive).

    `lock=True` locks the balance rows until the end of the transaction, so a check followed
    by a posting (a withdrawal) cannot race another one on the same account. For a hot account
    that is every bucket row, created if missing: a concurrent leg cannot land in a bucket the
    check did not see.
    """
    rows = AccountBalance.objects.filter(account=account)
    if lock:
        if not transaction.get_connection().in_atomic_block:
            raise LedgerError("Locking a balance needs a transaction.")
        if account.is_hot:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO ledger_accountbalance (account_id, bucket, balance) "
                    "SELECT %s, b, 0 FROM generate_series(0, %s) AS b "
                    "ON CONFLICT (account_id, bucket) "
                    "DO UPDATE SET balance = ledger_accountbalance.balance",
                    [account.pk, BALANCE_BUCKETS - 1],
                )
        else:
            list(rows.select_for_update().values_list("pk", flat=True))
    total = rows.aggregate(total=Sum("balance"))["total"] or Decimal("0")
    return total if account.is_debit_normal else -total


def ledger_verify() -> list[str]:
    """Problems found: unbalanced transactions, or cached balances differing from the legs."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT transaction_id, currency, sum(amount) FROM ledger_leg "
            "GROUP BY transaction_id, currency HAVING sum(amount) <> 0"
        )
        problems += [f"transaction {t} unbalanced in {c} by {s}" for t, c, s in cursor.fetchall()]
        cursor.execute(
            "SELECT a.id, coalesce(l.total, 0), coalesce(b.total, 0) FROM ledger_account a "
            "LEFT JOIN (SELECT account_id, sum(amount) total FROM ledger_leg "
            "           GROUP BY account_id) l ON l.account_id = a.id "
            "LEFT JOIN (SELECT account_id, sum(balance) total FROM ledger_accountbalance "
            "           GROUP BY account_id) b ON b.account_id = a.id "
            "WHERE coalesce(l.total, 0) <> coalesce(b.total, 0)"
        )
        problems += [
            f"account {a}: legs sum to {legs} but the running balance is {cached}"
            for a, legs, cached in cursor.fetchall()
        ]
    return problems
