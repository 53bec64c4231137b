"""Referral commissions: who referred whom, the site's programme, and the commission a sale
pays up the referral chain.

An order on a wallet or card payment works it out before settling:

    shares = commission_for_sale(buyer=buyer, site_margin=margin, currency=currency)
    settle_sale(..., commission=sum(s.amount for s in shares))   # credits SITE_COMMISSIONS
    commission_record(sale_key=key, shares=shares)              # the members' side of it

Commission is pending until the sale's confirmation date (`commissions_confirm_due`, run per
site by `tenants.wallets.tasks.commissions_confirm`), then available, and the member may move
it into the wallet (`services.commission_to_wallet`). A refund that claws back the sale's
commission (`settlement_refund`) is mirrored by `commission_claw_back`, from pending or
available commission, even into a negative balance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from shared.ledger.models import AccountKind, Settlement
from shared.ledger.money import quantum
from shared.ledger.services import account_get
from shared.ledger.settlement import allocate
from tenants.wallets.ledger import (
    Entry,
    WalletError,
    balances_lock,
    current_site,
    member_account_get,
    member_check,
    member_transaction_write,
    money,
    platform_account_get,
)
from tenants.wallets.models import (
    MAX_COMMISSION_LEVELS,
    CommissionSettings,
    CommissionShare,
    MemberAccountKind,
    MemberTransaction,
    MemberTransactionKind,
    Referral,
)
from tenants.wallets.services import DEFAULT_CURRENCY, apply, public_leg

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommissionSpec:
    """What one referrer earns on a sale (level 1 is the buyer's own referrer)."""

    referrer: AbstractBaseUser
    level: int
    amount: Decimal


# --- Referrals and the programme ------------------------------------------------------------


def referral_set(
    *, user: AbstractBaseUser, referrer: AbstractBaseUser, actor_email: str = ""
) -> Referral:
    """Record who referred a member, once: at sign-up, or later by staff (`actor_email`).
    Refuses self-referral, a referrer from another site and any cycle."""
    with transaction.atomic():
        current_site()
        member_check(user)
        try:
            member_check(referrer)
        except WalletError:
            raise WalletError("The referrer is not a member of this site.") from None
        if user.pk == referrer.pk:
            raise WalletError("A member cannot refer themselves.")
        # One referral write at a time per site, so two writes cannot close a cycle together.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"wallets.referral:{getattr(connection, 'schema_name', '')}"],
            )
        if Referral.objects.filter(user_id=user.pk).exists():
            raise WalletError("This member's referrer is already set.")
        if user.pk in _referrer_ids(referrer.pk, limit=None):
            raise WalletError("That referral would make a cycle.")
        return Referral.objects.create(user_id=user.pk, referrer_id=referrer.pk, set_by=actor_email)


def _referrer_ids(user_id: int, *, limit: int | None) -> list[int]:
    """The ids up the referral chain from a member (nearest first), one recursive query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE chain(user_id, referrer_id, level) AS (
                SELECT user_id, referrer_id, 1 FROM wallets_referral WHERE user_id = %s
                UNION ALL
                SELECT r.user_id, r.referrer_id, c.level + 1
                  FROM wallets_referral r JOIN chain c ON r.user_id = c.referrer_id
                 WHERE c.level < %s
            )
            SELECT referrer_id FROM chain ORDER BY level
            """,
            [user_id, limit if limit is not None else 1_000_000],
        )
        return [row[0] for row in cursor.fetchall()]


def commission_settings_get() -> CommissionSettings:
    current_site()
    settings_row, _ = CommissionSettings.objects.get_or_create(pk=1)
    return settings_row


def commission_settings_update(
    *, levels: int, percents: Sequence[Decimal], actor_email: str
) -> CommissionSettings:
    """Set the programme: `levels` (1 to 10) and a percent of the site's margin per level,
    totalling at most 100."""
    if not 1 <= levels <= MAX_COMMISSION_LEVELS:
        raise WalletError(f"Levels must be between 1 and {MAX_COMMISSION_LEVELS}.")
    if len(percents) != levels:
        raise WalletError("Give one percent per level.")
    values = [Decimal(p) for p in percents]
    if any(not p.is_finite() or p < 0 or p > 100 or p != round(p, 2) for p in values):
        raise WalletError("Each percent must be between 0 and 100, to two decimals.")
    if sum(values, start=Decimal(0)) > 100:
        raise WalletError("The percents must not total more than 100.")
    with transaction.atomic():
        row = CommissionSettings.objects.select_for_update().get(pk=commission_settings_get().pk)
        row.levels, row.percents, row.updated_by = levels, values, actor_email
        row.save()
    return row


def commission_for_sale(
    *, buyer: AbstractBaseUser, site_margin: Decimal, currency: str = DEFAULT_CURRENCY
) -> list[CommissionSpec]:
    """Each referrer's commission on a sale: a percent of the site's own margin per level,
    rounded down to the minor unit, so the total never exceeds the margin."""
    current_site()
    if site_margin <= 0:
        return []
    site_margin = money(site_margin, currency)
    programme = commission_settings_get()
    percents = list(programme.percents)[: programme.levels]
    referrer_ids = _referrer_ids(buyer.pk, limit=len(percents)) if percents else []
    users = get_user_model().objects.in_bulk(referrer_ids)
    step = quantum(currency)
    specs = []
    for level, (referrer_id, percent) in enumerate(zip(referrer_ids, percents, strict=False), 1):
        amount = (site_margin * percent / 100).quantize(step, rounding=ROUND_DOWN)
        if amount > 0:
            specs.append(CommissionSpec(users[referrer_id], level, amount))
    assert sum((s.amount for s in specs), start=Decimal(0)) <= site_margin
    return specs


# --- The members' side of the public SITE_COMMISSIONS mirror ---------------------------------


def commission_record(
    *, sale_key: str, shares: Sequence[CommissionSpec]
) -> MemberTransaction | None:
    """Credit each referrer's pending commission for a sale settled (in this transaction or
    before) with `commission=<total of shares>`. Idempotent on the sale."""
    if not shares:
        return None
    with transaction.atomic():
        site = current_site()
        settlement = Settlement.objects.filter(sale_key=sale_key, site=site).first()
        if settlement is None:
            raise WalletError(f"Sale '{sale_key}' has not been settled on this site.")
        currency = settlement.currency
        entries = []
        for spec in shares:
            member_check(spec.referrer)
            amount = money(spec.amount, currency)
            pending = member_account_get(
                user=spec.referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency=currency
            )
            entries.append(Entry(pending, -amount))
        total = sum((spec.amount for spec in shares), start=Decimal(0))
        entries.append(Entry(platform_account_get(currency=currency), total))
        mirror = account_get(kind=AccountKind.SITE_COMMISSIONS, currency=currency, site=site)
        key = f"commission:{sale_key}"
        already = MemberTransaction.objects.filter(idempotency_key=key).exists()
        txn = apply(
            site=site,
            idempotency_key=key,
            kind=MemberTransactionKind.COMMISSION,
            entries=entries,
            public_key=f"sale:{sale_key}",
            expected=(mirror, -total),
            sale_key=sale_key,
        )
        if not already:
            CommissionShare.objects.bulk_create(
                CommissionShare(
                    sale_key=sale_key,
                    referrer_id=spec.referrer.pk,
                    level=spec.level,
                    currency=currency,
                    amount=spec.amount,
                    transaction=txn,
                    confirm_after=settlement.confirm_after,
                )
                for spec in shares
            )
    return txn


def commission_confirm(*, sale_key: str) -> bool:
    """Move a sale's commission (net of claw-backs) from pending to available. Idempotent."""
    with transaction.atomic():
        current_site()
        shares = list(
            CommissionShare.objects.select_for_update()
            .filter(sale_key=sale_key, confirmed_at__isnull=True)
            .select_related("referrer")
            .order_by("level")
        )
        if not shares:
            return False
        entries = []
        for share in shares:
            net = share.amount - share.clawed_back
            if net:
                for kind, amount in (
                    (MemberAccountKind.COMMISSION_PENDING, net),
                    (MemberAccountKind.COMMISSION_AVAILABLE, -net),
                ):
                    account = member_account_get(
                        user=share.referrer, kind=kind, currency=share.currency
                    )
                    entries.append(Entry(account, amount))
        if entries:
            balances_lock(e.account for e in entries)
            member_transaction_write(
                idempotency_key=f"commission_confirm:{sale_key}",
                kind=MemberTransactionKind.COMMISSION_CONFIRM,
                entries=entries,
                sale_key=sale_key,
            )
        CommissionShare.objects.filter(pk__in=[s.pk for s in shares]).update(
            confirmed_at=timezone.now()
        )
    return True


def commissions_confirm_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Confirm the current site's commissions whose confirmation date has passed."""
    now = now or timezone.now()
    sale_keys = (
        CommissionShare.objects.filter(confirmed_at__isnull=True, confirm_after__lte=now)
        .order_by("confirm_after")
        .values_list("sale_key", flat=True)
        .distinct()[:limit]
    )
    return sum(commission_confirm(sale_key=key) for key in list(dict.fromkeys(sale_keys)))


def commission_claw_back(
    *, sale_key: str, refund_key: str, amount: Decimal | None = None
) -> MemberTransaction | None:
    """Mirror the commission a refund of the sale clawed back (`settlement_refund` with this
    refund_key, in this transaction or before): the public amount is split over the referrers
    in proportion to what each still holds, from pending or, once confirmed, available
    commission. `amount`, if given, must equal the public claw-back. Idempotent."""
    with transaction.atomic():
        site = current_site()
        public_key = f"refund:{refund_key}"
        key = f"commission_claw_back:{refund_key}"
        shares = list(
            CommissionShare.objects.select_for_update()
            .filter(sale_key=sale_key)
            .select_related("referrer")
            .order_by("level")
        )
        if not shares:
            return None
        currency = shares[0].currency
        mirror = account_get(kind=AccountKind.SITE_COMMISSIONS, currency=currency, site=site)
        existing = MemberTransaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        clawed = public_leg(public_key=public_key, site=site, account=mirror)
        if clawed is None:
            raise WalletError(f"There is no refund '{refund_key}' of this site.")
        if amount is not None and money(amount, currency) != clawed:
            raise WalletError(f"The refund clawed back {clawed} {currency}, not {amount}.")
        if clawed <= 0:
            return None
        outstanding = [s.amount - s.clawed_back for s in shares]
        if clawed > sum(outstanding, start=Decimal(0)):
            raise WalletError("The refund claws back more commission than the sale recorded.")
        parts = allocate(clawed, outstanding, currency)
        entries = [Entry(platform_account_get(currency=currency), -clawed)]
        for share, part in zip(shares, parts, strict=True):
            if part:
                kind = (
                    MemberAccountKind.COMMISSION_AVAILABLE
                    if share.confirmed_at
                    else MemberAccountKind.COMMISSION_PENDING
                )
                account = member_account_get(user=share.referrer, kind=kind, currency=currency)
                entries.append(Entry(account, part))
        txn = apply(
            site=site,
            idempotency_key=key,
            kind=MemberTransactionKind.COMMISSION_CLAW_BACK,
            entries=entries,
            public_key=public_key,
            expected=(mirror, clawed),
            sale_key=sale_key,
        )
        for share, part in zip(shares, parts, strict=True):
            if part:
                share.clawed_back += part
                share.save(update_fields=["clawed_back"])
    logger.info("wallets.commission_clawed_back", extra={"sale": sale_key, "refund": refund_key})
    return txn
