"""Upward settlement of sales, their confirmation, and refunds that claw every share back.

A sale of quantity q on site S whose chain from the root is P1 … Pn = S, where site Pi pays
its parent (HQ for the root) unit cost c_i, for `paid` (after any coupon or member discount):

    seller S        paid - q·c_S - commissions   (a discount reduces this share first)
    each ancestor   q·(c_child - c_ancestor)
    HQ              q·(c_root - supplier cost)
    supplier        q·supplier cost
    commissions     paid out of the seller's share, never another site's

The shares sum exactly to `paid`. The payment provider's fee is an HQ expense: the clearing
account receives paid - fee and the fee is recorded in FEES. Site shares are pending until the
confirmation period ends (`settlements_confirm_due`); a refund (whole or partial) claws back
every share in proportion — from pending or available earnings, even into a negative balance.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from shared.ledger.models import (
    Account,
    AccountKind,
    Settlement,
    SettlementShare,
    ShareParty,
    Transaction,
)
from shared.ledger.money import MoneyError, exact, quantum
from shared.ledger.services import (
    AccountSpec,
    LedgerError,
    Posting,
    account_get,
    accounts_get,
    merge_postings,
    transaction_post,
)
from shared.sites.models import Site
from shared.suppliers.models import Supplier

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainLink:
    """A site of the selling chain (root first) and the unit cost it pays its parent."""

    site: Site
    unit_cost: Decimal


@dataclass(frozen=True)
class Supply:
    """Units of a sale that one supplier provided, at its unit cost (a card-key order may
    take keys imported from several suppliers)."""

    supplier: Supplier
    quantity: int
    unit_cost: Decimal


@dataclass(frozen=True)
class Share:
    party: ShareParty
    amount: Decimal
    site: Site | None = None
    supplier: Supplier | None = None


def sale_shares(
    *,
    amount_paid: Decimal,
    quantity: int,
    chain: Sequence[ChainLink],
    supplier: Supplier | None = None,
    supplier_unit_cost: Decimal | None = None,
    supply: Sequence[Supply] = (),
    commission: Decimal = Decimal("0"),
) -> list[Share]:
    """Every party's share of a sale (pure; sums exactly to amount_paid).

    The supplier side is either one `supplier` at `supplier_unit_cost` for every unit, or
    `supply`: the units each supplier provided (their quantities sum to `quantity`)."""
    supply = _supply_of(quantity, supplier, supplier_unit_cost, supply)
    if not chain:
        raise LedgerError("A sale needs the chain of sites that sold it.")
    if amount_paid <= 0:
        raise LedgerError("The amount paid must be greater than zero.")
    if commission < 0:
        raise LedgerError("Commission cannot be negative.")
    seller = chain[-1]
    shares = [
        Share(
            ShareParty.SELLER,
            amount_paid - quantity * seller.unit_cost - commission,
            site=seller.site,
        )
    ]
    for ancestor, child in itertools.pairwise(chain):
        shares.append(
            Share(
                ShareParty.ANCESTOR,
                quantity * (child.unit_cost - ancestor.unit_cost),
                site=ancestor.site,
            )
        )
    supplier_total = sum((part.quantity * part.unit_cost for part in supply), start=Decimal(0))
    shares.append(Share(ShareParty.HQ, quantity * chain[0].unit_cost - supplier_total))
    shares.extend(
        Share(ShareParty.SUPPLIER, part.quantity * part.unit_cost, supplier=part.supplier)
        for part in supply
    )
    if commission:
        shares.append(Share(ShareParty.COMMISSION, commission, site=seller.site))
    assert sum((s.amount for s in shares), start=Decimal(0)) == amount_paid
    return shares


def _supply_of(
    quantity: int,
    supplier: Supplier | None,
    unit_cost: Decimal | None,
    supply: Sequence[Supply],
) -> list[Supply]:
    if quantity < 1:
        raise LedgerError("The quantity must be at least 1.")
    if supply:
        if supplier is not None or unit_cost is not None:
            raise LedgerError("Give either one supplier and its unit cost, or the supply.")
        if sum(part.quantity for part in supply) != quantity:
            raise LedgerError("The supply's quantities must add up to the quantity sold.")
        if any(part.quantity < 1 or part.unit_cost < 0 for part in supply):
            raise LedgerError("A supplier's quantity must be positive, its cost not negative.")
        return list(supply)
    if supplier is None or unit_cost is None:
        raise LedgerError("A sale needs its supplier and the supplier's unit cost.")
    return [Supply(supplier, quantity, unit_cost)]


_SHARE_KIND = {
    ShareParty.SELLER: AccountKind.SITE_PENDING,
    ShareParty.ANCESTOR: AccountKind.SITE_PENDING,
    ShareParty.HQ: AccountKind.HQ_REVENUE,
    ShareParty.SUPPLIER: AccountKind.SUPPLIER_PAYABLE,
    ShareParty.COMMISSION: AccountKind.SITE_COMMISSIONS,
}


def _share_spec(share: Share, currency: str) -> AccountSpec:
    return AccountSpec(_SHARE_KIND[share.party], currency, site=share.site, supplier=share.supplier)


# The sale's ledger transaction, its legs, the settlement and its shares in one statement (one
# round trip): the transaction is inserted unless its key exists, and everything else hangs off
# the row it returns, so a replay inserts nothing. The leg trigger keeps the running balances
# and the deferred trigger checks the balance at commit, as for any posting.
_SETTLE_SQL = """
WITH txn AS (
    INSERT INTO ledger_transaction (idempotency_key, kind, site_id, memo, created_at)
    VALUES (%(key)s, 'sale', %(site)s, '', now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
), legs AS (
    INSERT INTO ledger_leg (transaction_id, account_id, amount, currency, created_at)
    SELECT txn.id, leg.account_id, leg.amount, %(currency)s, txn.created_at
      FROM txn, unnest(%(leg_accounts)s::bigint[], %(leg_amounts)s::numeric[])
           AS leg (account_id, amount)
), settlement AS (
    INSERT INTO ledger_settlement (sale_key, site_id, currency, amount_paid, refunded,
                                   transaction_id, confirm_after, created_at)
    SELECT %(sale_key)s, %(site)s, %(currency)s, %(paid)s, 0, txn.id, %(confirm_after)s,
           txn.created_at
      FROM txn
    RETURNING id
), shares AS (
    INSERT INTO ledger_settlementshare (settlement_id, party, account_id, amount, clawed_back)
    SELECT settlement.id, share.party, share.account_id, share.amount, 0
      FROM settlement, unnest(%(share_parties)s::varchar[], %(share_accounts)s::bigint[],
                              %(share_amounts)s::numeric[]) AS share (party, account_id, amount)
)
SELECT settlement.id, txn.id, txn.created_at FROM settlement, txn
"""


def settle_sale(
    *,
    sale_key: str,
    site: Site,
    currency: str,
    amount_paid: Decimal,
    quantity: int,
    chain: Sequence[ChainLink],
    paid_from: Account,
    supplier: Supplier | None = None,
    supplier_unit_cost: Decimal | None = None,
    supply: Sequence[Supply] = (),
    fee: Decimal = Decimal("0"),
    commission: Decimal = Decimal("0"),
    confirm_after: datetime | None = None,
) -> Settlement:
    """Record a paid sale once: every share, in one balanced transaction (idempotent on
    `sale_key`). `paid_from` is the payment clearing account, or the site's wallet mirror for a
    wallet payment. The supplier side is one `supplier` at `supplier_unit_cost`, or `supply`
    (see `sale_shares`).

    Two statements in the usual case: one reading every account the sale touches, one writing
    the transaction, its legs, the settlement and its shares."""
    if not chain or chain[-1].site.pk != site.pk:
        raise LedgerError("The chain must end at the selling site.")
    if not sale_key or len(sale_key) > 195:
        raise LedgerError("A sale key of 1 to 195 characters is required.")
    try:
        amount_paid, fee, commission = (exact(v, currency) for v in (amount_paid, fee, commission))
        chain = [ChainLink(link.site, exact(link.unit_cost, currency)) for link in chain]
        supply = [
            Supply(part.supplier, part.quantity, exact(part.unit_cost, currency))
            for part in _supply_of(quantity, supplier, supplier_unit_cost, supply)
        ]
    except MoneyError as exc:
        raise LedgerError(str(exc)) from exc
    if paid_from.pk is None:
        raise LedgerError("Unknown account.")
    if paid_from.currency != currency:
        raise LedgerError("The payment account is in another currency.")
    if fee < 0 or fee > amount_paid:
        raise LedgerError("The fee must be between zero and the amount paid.")
    shares = sale_shares(
        amount_paid=amount_paid,
        quantity=quantity,
        chain=chain,
        supply=supply,
        commission=commission,
    )
    specs = [_share_spec(share, currency) for share in shares]
    fees_spec = AccountSpec(AccountKind.FEES, currency)
    with transaction.atomic():
        accounts = accounts_get([*specs, fees_spec] if fee else specs)
        share_accounts = [
            (share, accounts[spec.key]) for share, spec in zip(shares, specs, strict=True)
        ]
        postings = [Posting(paid_from, amount_paid - fee)]
        if fee:
            postings.append(Posting(accounts[fees_spec.key], fee))
        postings += [Posting(account, -share.amount) for share, account in share_accounts]
        legs = merge_postings(postings)  # validates: exact, balanced, two legs at least
        merged = _merge_shares(share_accounts)
        days = settings.SETTLEMENT_CONFIRMATION_DAYS
        due = confirm_after or timezone.now() + timedelta(days=days)
        with connection.cursor() as cursor:
            cursor.execute(
                _SETTLE_SQL,
                {
                    "key": f"sale:{sale_key}",
                    "site": site.pk,
                    "currency": currency,
                    "sale_key": sale_key,
                    "paid": amount_paid,
                    "confirm_after": due,
                    "leg_accounts": [account.pk for account, _ in legs],
                    "leg_amounts": [amount for _, amount in legs],
                    "share_parties": [str(share.party) for share, _ in merged],
                    "share_accounts": [account.pk for _, account in merged],
                    "share_amounts": [share.amount for share, _ in merged],
                },
            )
            row = cursor.fetchone()
        if row is None:  # the key exists: a replay (or a sale recorded under this key before)
            existing = Settlement.objects.filter(sale_key=sale_key).first()
            if existing is None:
                raise LedgerError(f"The ledger key 'sale:{sale_key}' was used for another posting.")
            return existing
        settlement_id, txn_id, created_at = row
    logger.info("ledger.sale_settled", extra={"sale": sale_key, "site": site.slug})
    return Settlement(
        pk=settlement_id,
        sale_key=sale_key,
        site=site,
        currency=currency,
        amount_paid=amount_paid,
        refunded=Decimal("0.00"),
        transaction_id=txn_id,
        confirm_after=due,
        created_at=created_at,
    )


def _merge_shares(pairs: list[tuple[Share, Account]]) -> list[tuple[Share, Account]]:
    """One share row per account (a site appearing twice in a chain cannot happen, but a zero
    share is still recorded so a refund knows every party)."""
    merged: dict[int, tuple[Share, Account]] = {}
    for share, account in pairs:
        if account.pk in merged:
            prev, _ = merged[account.pk]
            share = Share(prev.party, prev.amount + share.amount, prev.site, prev.supplier)
        merged[account.pk] = (share, account)
    return list(merged.values())


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `total` in proportion to `weights`, in minor units, summing exactly to `total`
    (largest remainder; works for negative weights such as a coupon-funded seller share)."""
    step = quantum(currency)
    base = sum(weights, start=Decimal(0))
    if base == 0:
        return [Decimal(0) * step for _ in weights]
    raw = [total * w / base for w in weights]
    floors = [r.quantize(step, rounding=ROUND_DOWN) for r in raw]
    remainder = int((total - sum(floors, start=Decimal(0))) / step)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - floors[i], reverse=remainder > 0)
    for i in order[: abs(remainder)]:
        floors[i] += step if remainder > 0 else -step
    return floors


def settlement_refund(
    *, settlement: Settlement, amount: Decimal, refund_key: str, pay_to: Account
) -> None:
    """Refund `amount` of a sale: every share gives back its proportion (exactly `amount` in
    total), from pending or — once confirmed — available earnings. Idempotent on refund_key."""
    try:
        amount = exact(amount, settlement.currency)
    except MoneyError as exc:
        raise LedgerError(str(exc)) from exc
    if amount <= 0:
        raise LedgerError("A refund must be greater than zero.")
    with transaction.atomic():
        locked = Settlement.objects.select_for_update().get(pk=settlement.pk)
        if Transaction.objects.filter(idempotency_key=f"refund:{refund_key}").exists():
            return
        remaining_paid = locked.amount_paid - locked.refunded
        if amount > remaining_paid:
            raise LedgerError(
                f"The refund exceeds what is left to refund ({remaining_paid} {locked.currency})."
            )
        shares = list(locked.shares.select_related("account").order_by("pk"))
        outstanding = [s.amount - s.clawed_back for s in shares]
        if amount == remaining_paid:
            clawbacks = outstanding
        else:
            clawbacks = allocate(amount, outstanding, locked.currency)
        postings = [Posting(pay_to, -amount)]
        for share, clawback in zip(shares, clawbacks, strict=True):
            if clawback:
                postings.append(Posting(_refund_account(share, locked), clawback))
        transaction_post(
            idempotency_key=f"refund:{refund_key}",
            kind="refund",
            postings=postings,
            site=locked.site,
        )
        for share, clawback in zip(shares, clawbacks, strict=True):
            if clawback:
                share.clawed_back += clawback
                share.save(update_fields=["clawed_back"])
        locked.refunded += amount
        locked.save(update_fields=["refunded"])
    logger.info("ledger.sale_refunded", extra={"sale": settlement.sale_key, "refund": refund_key})


def _refund_account(share: SettlementShare, settlement: Settlement) -> Account:
    account = share.account
    if account.kind == AccountKind.SITE_PENDING and settlement.confirmed_at is not None:
        return account_get(
            kind=AccountKind.SITE_AVAILABLE, currency=account.currency, site=account.site
        )
    return account


def settlement_confirm(*, settlement: Settlement) -> bool:
    """Move a sale's site shares (net of refunds) from pending to available. Idempotent."""
    with transaction.atomic():
        locked = Settlement.objects.select_for_update().get(pk=settlement.pk)
        if locked.confirmed_at is not None:
            return False
        postings: list[Posting] = []
        for share in locked.shares.select_related("account"):
            net = share.amount - share.clawed_back
            if share.account.kind != AccountKind.SITE_PENDING or net == 0:
                continue
            available = account_get(
                kind=AccountKind.SITE_AVAILABLE,
                currency=share.account.currency,
                site=share.account.site,
            )
            postings += [Posting(share.account, net), Posting(available, -net)]
        if postings:
            transaction_post(
                idempotency_key=f"confirm:{locked.sale_key}",
                kind="confirm",
                postings=postings,
                site=locked.site,
            )
        locked.confirmed_at = timezone.now()
        locked.save(update_fields=["confirmed_at"])
    return True


def settlements_confirm_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Confirm settlements whose confirmation period has ended (a beat task calls this)."""
    now = now or timezone.now()
    due = Settlement.objects.filter(confirmed_at__isnull=True, confirm_after__lte=now).order_by(
        "confirm_after"
    )[:limit]
    return sum(settlement_confirm(settlement=s) for s in due)
