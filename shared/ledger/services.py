"""Posting to the ledger: accounts, balanced idempotent transactions, balances."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from shared.ledger.models import (
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
    lookup = {"kind": kind, "currency": currency, "site": site, "supplier": supplier}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup, is_hot=kind in HOT_KINDS)
    except IntegrityError:  # created concurrently
        return Account.objects.get(**lookup)


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
    legs = _merge(postings)
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


def _merge(postings: Sequence[Posting]) -> list[tuple[Account, Decimal]]:
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
    by a posting (a withdrawal) cannot race another one on the same account.
    """
    rows = AccountBalance.objects.filter(account=account)
    if lock:
        if not transaction.get_connection().in_atomic_block:
            raise LedgerError("Locking a balance needs a transaction.")
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
