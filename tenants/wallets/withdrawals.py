"""Members' withdrawals of available referral commission, paid by the site's staff by hand.

Member ledger (site schema), public ledger (the site's mirror) — "A → B" debits A, credits B:

    request  COMMISSION_AVAILABLE → COMMISSION_WITHDRAWING        amount + fee   (member only)
    reject   COMMISSION_WITHDRAWING → COMMISSION_AVAILABLE        amount + fee   (member only)
    paid     COMMISSION_WITHDRAWING → PLATFORM                    amount + fee
             public: SITE_COMMISSIONS → PAYOUT_CLEARING           amount
                     SITE_COMMISSIONS → SITE_AVAILABLE (the site) fee (the site keeps the fee)

While a withdrawal is open its funds stay in SITE_COMMISSIONS (still owed to the member), so the
public mirror equals the members' commission — pending, available and locked — at every step.
The member's available balance row is locked from the check to the commit: two requests at
once can never together take more than is available, and a negative balance (a refund clawed
back confirmed commission) blocks withdrawals. Every step is idempotent; refusals raise
WalletError and write nothing.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from shared.ledger.models import AccountKind
from shared.ledger.money import quantize
from shared.ledger.services import Posting, account_get
from tenants.wallets.commissions import commission_settings_get
from tenants.wallets.ledger import (
    Entry,
    WalletError,
    current_site,
    key_check,
    member_account_get,
    member_check,
    money,
    platform_account_get,
)
from tenants.wallets.models import (
    MEMBER_WITHDRAWAL_TRANSITIONS,
    CommissionSettings,
    MemberAccount,
    MemberAccountKind,
    MemberTransactionKind,
    MemberWithdrawal,
    MemberWithdrawalEvent,
    MemberWithdrawalStatus,
)
from tenants.wallets.services import DEFAULT_CURRENCY, apply, public_key_for

logger = logging.getLogger(__name__)


# --- Terms -----------------------------------------------------------------------------------


def _setting(name: str, default: str) -> Decimal:
    value = getattr(settings, name, default)
    return Decimal(str(value))


def member_withdrawal_terms(
    *, currency: str = DEFAULT_CURRENCY
) -> tuple[Decimal, Decimal, Decimal]:
    """(minimum, fee percent, fixed fee) for commission withdrawals on the current site: the
    site's own terms from its referral programme, else the platform's defaults."""
    programme = commission_settings_get()
    minimum = programme.withdrawal_minimum
    percent = programme.withdrawal_fee_percent
    fixed = programme.withdrawal_fee_fixed
    return (
        quantize(
            minimum if minimum is not None else _setting("MEMBER_WITHDRAWAL_MINIMUM", "50.00"),
            currency,
        ),
        percent if percent is not None else _setting("MEMBER_WITHDRAWAL_FEE_PERCENT", "0"),
        quantize(
            fixed if fixed is not None else _setting("MEMBER_WITHDRAWAL_FEE_FIXED", "1.00"),
            currency,
        ),
    )


def member_withdrawal_fee(*, amount: Decimal, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """The fee on a commission withdrawal of `amount`: percent (rounded half up) plus fixed."""
    _, percent, fixed = member_withdrawal_terms(currency=currency)
    return quantize(percent * amount / Decimal(100), currency) + fixed


# --- Request ---------------------------------------------------------------------------------


def member_withdrawal_request(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    payee: str,
    idempotency_key: str,
    currency: str = DEFAULT_CURRENCY,
) -> MemberWithdrawal:
    """Lock `amount` plus the fee of the member's available commission for a payout to `payee`
    (where the staff should send it). Refused below the minimum, above what is available, or
    while the available commission is negative. Repeating the key returns the original."""
    amount = money(amount, currency)
    if not idempotency_key or len(idempotency_key) > 100:
        raise WalletError("An idempotency key of 1 to 100 characters is required.")
    payee = payee.strip()
    if not payee or len(payee) > 200:
        raise WalletError("Say where the money should be paid (up to 200 characters).")
    with transaction.atomic():
        site = current_site()
        member_check(user)
        minimum, _, _ = member_withdrawal_terms(currency=currency)
        if amount < minimum:
            raise WalletError(f"The minimum withdrawal is {minimum} {currency}.")
        fee = member_withdrawal_fee(amount=amount, currency=currency)
        available = member_account_get(
            user=user, kind=MemberAccountKind.COMMISSION_AVAILABLE, currency=currency
        )
        locked = member_account_get(
            user=user, kind=MemberAccountKind.COMMISSION_WITHDRAWING, currency=currency
        )
        total = amount + fee
        hold = apply(
            site=site,
            idempotency_key=key_check(f"withdrawal_hold:{user.pk}:{idempotency_key}"),
            kind=MemberTransactionKind.WITHDRAWAL_HOLD,
            entries=[Entry(available, total), Entry(locked, -total)],
            public_key="",
            funded=[available],
            memo=f"Commission withdrawal of {amount} {currency}",
        )
        existing = MemberWithdrawal.objects.filter(hold=hold).first()
        if existing is not None:  # a replay of the same request
            return existing
        withdrawal = MemberWithdrawal.objects.create(
            user_id=user.pk,
            amount=amount,
            fee=fee,
            currency=currency,
            payee=payee,
            idempotency_key=idempotency_key,
            hold=hold,
        )
        MemberWithdrawalEvent.objects.create(
            withdrawal=withdrawal,
            to_status=MemberWithdrawalStatus.REQUESTED,
            actor=getattr(user, "email", ""),
        )
    logger.info(
        "wallets.withdrawal_requested",
        extra={"withdrawal": withdrawal.pk, "site": site.slug, "currency": currency},
    )
    return withdrawal


# --- Staff decisions -------------------------------------------------------------------------


def member_withdrawal_approve(
    *, withdrawal: MemberWithdrawal, actor_email: str
) -> MemberWithdrawal:
    """Accept a requested withdrawal; the staff then pay it and mark it paid. Approving an
    approved one changes nothing."""
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status == MemberWithdrawalStatus.APPROVED:
            return locked
        _transition(locked, MemberWithdrawalStatus.APPROVED, actor=actor_email, note="")
    return locked


def member_withdrawal_reject(
    *, withdrawal: MemberWithdrawal, actor_email: str, reason: str
) -> MemberWithdrawal:
    """Refuse a withdrawal not yet paid and give its funds back to the member's available
    commission. Rejecting twice changes nothing."""
    reason = reason.strip()
    if not reason:
        raise WalletError("A reason is required to reject a withdrawal.")
    with transaction.atomic():
        site = current_site()
        locked = _lock(withdrawal)
        if locked.status == MemberWithdrawalStatus.REJECTED:
            return locked
        _check_move(locked, MemberWithdrawalStatus.REJECTED)
        available, held = _accounts(locked)
        apply(
            site=site,
            idempotency_key=f"withdrawal_release:{locked.pk}",
            kind=MemberTransactionKind.WITHDRAWAL_RELEASE,
            entries=[Entry(held, locked.total), Entry(available, -locked.total)],
            public_key="",
            memo=f"Commission withdrawal {locked.pk} rejected",
        )
        locked.reason = reason[:500]
        _transition(locked, MemberWithdrawalStatus.REJECTED, actor=actor_email, note=reason)
    return locked


def member_withdrawal_mark_paid(
    *, withdrawal: MemberWithdrawal, actor_email: str, reference: str
) -> MemberWithdrawal:
    """Record that an approved withdrawal was paid by hand (`reference`: the Alipay or bank
    transfer's number). The locked funds leave the member ledger and, publicly, the site's
    commission mirror: the amount to payout clearing, the fee to the site's earnings."""
    reference = reference.strip()
    if not reference or len(reference) > 200:
        raise WalletError("The payment reference is required (up to 200 characters).")
    with transaction.atomic():
        site = current_site()
        locked = _lock(withdrawal)
        if locked.status == MemberWithdrawalStatus.PAID:
            return locked
        if locked.status != MemberWithdrawalStatus.APPROVED:
            raise WalletError(f"A {locked.status} withdrawal cannot be marked paid.")
        _, held = _accounts(locked)
        currency = locked.currency
        mirror = account_get(kind=AccountKind.SITE_COMMISSIONS, currency=currency, site=site)
        postings = [
            Posting(mirror, locked.total),
            Posting(
                account_get(kind=AccountKind.PAYOUT_CLEARING, currency=currency), -locked.amount
            ),
        ]
        if locked.fee:
            earnings = account_get(kind=AccountKind.SITE_AVAILABLE, currency=currency, site=site)
            postings.append(Posting(earnings, -locked.fee))
        apply(
            site=site,
            idempotency_key=f"withdrawal_paid:{locked.pk}",
            kind=MemberTransactionKind.WITHDRAWAL_PAID,
            entries=[
                Entry(held, locked.total),
                Entry(platform_account_get(currency=currency), -locked.total),
            ],
            public_postings=postings,
            public_key=public_key_for(site, f"member_withdrawal:{locked.pk}:paid"),
            memo=f"Commission withdrawal {locked.pk}: {reference}",
            actor=actor_email,
        )
        locked.reference = reference
        _transition(locked, MemberWithdrawalStatus.PAID, actor=actor_email, note=reference)
    logger.info("wallets.withdrawal_paid", extra={"withdrawal": locked.pk, "site": site.slug})
    return locked


# --- Helpers ---------------------------------------------------------------------------------


def _lock(withdrawal: MemberWithdrawal) -> MemberWithdrawal:
    """The withdrawal's row locked until the end of the transaction (in the current site's
    schema: a withdrawal of another site is not found)."""
    try:
        return (
            MemberWithdrawal.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=withdrawal.pk, user_id=withdrawal.user_id)
        )
    except MemberWithdrawal.DoesNotExist:
        raise WalletError("There is no such withdrawal on this site.") from None


def _accounts(withdrawal: MemberWithdrawal) -> tuple[MemberAccount, MemberAccount]:
    user, currency = withdrawal.user, withdrawal.currency
    return (
        member_account_get(
            user=user, kind=MemberAccountKind.COMMISSION_AVAILABLE, currency=currency
        ),
        member_account_get(
            user=user, kind=MemberAccountKind.COMMISSION_WITHDRAWING, currency=currency
        ),
    )


def _check_move(withdrawal: MemberWithdrawal, to: MemberWithdrawalStatus) -> None:
    if to not in MEMBER_WITHDRAWAL_TRANSITIONS[withdrawal.status]:
        raise WalletError(f"A {withdrawal.status} withdrawal cannot become {to}.")


def _transition(
    withdrawal: MemberWithdrawal, to: MemberWithdrawalStatus, *, actor: str, note: str
) -> None:
    """The one way a withdrawal changes status: checked against the table, with history."""
    current = withdrawal.status
    _check_move(withdrawal, to)
    withdrawal.status = to
    if to in (MemberWithdrawalStatus.PAID, MemberWithdrawalStatus.REJECTED):
        withdrawal.completed_at = timezone.now()
    withdrawal.save()
    MemberWithdrawalEvent.objects.create(
        withdrawal=withdrawal, from_status=current, to_status=to, actor=actor, note=note[:500]
    )
    logger.info(
        "wallets.withdrawal_status",
        extra={"withdrawal": withdrawal.pk, "from": current, "to": to},
    )


def member_withdrawal_terms_set(
    *,
    minimum: Decimal | None,
    fee_percent: Decimal | None,
    fee_fixed: Decimal | None,
    actor_email: str,
    currency: str = DEFAULT_CURRENCY,
) -> CommissionSettings:
    """Set the site's own terms for commission withdrawals (None: the platform's default)."""
    if minimum is not None:
        minimum = money(minimum, currency)
    if fee_fixed is not None and fee_fixed != 0:
        fee_fixed = money(fee_fixed, currency)
    if fee_percent is not None and (
        not fee_percent.is_finite()
        or not Decimal(0) <= fee_percent < Decimal(100)
        or fee_percent != round(fee_percent, 2)
    ):
        raise WalletError("The fee percent must be from 0 to under 100, to two decimals.")
    with transaction.atomic():
        current_site()
        row = CommissionSettings.objects.select_for_update().get(pk=commission_settings_get().pk)
        row.withdrawal_minimum = minimum
        row.withdrawal_fee_percent = fee_percent
        row.withdrawal_fee_fixed = fee_fixed
        row.updated_by = actor_email
        row.save()
    return row
