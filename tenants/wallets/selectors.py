"""Reads of member wallets, commissions, referrals and commission withdrawals (current site).

Everything here reads the active site's schema: a row of another site is never found, and the
doorways by id raise DoesNotExist alike whether the id is unknown or belongs to someone else.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet

from tenants.wallets.ledger import current_site, member_balance
from tenants.wallets.models import (
    CommissionShare,
    MemberAccountKind,
    MemberEntry,
    MemberWithdrawal,
    MemberWithdrawalStatus,
    Referral,
)
from tenants.wallets.services import DEFAULT_CURRENCY

OPEN_WITHDRAWALS = (MemberWithdrawalStatus.REQUESTED, MemberWithdrawalStatus.APPROVED)


@dataclass(frozen=True)
class CommissionBalances:
    pending: Decimal
    available: Decimal
    withdrawing: Decimal

    @property
    def total(self) -> Decimal:
        return self.pending + self.available + self.withdrawing


def wallet_balance(*, user: AbstractBaseUser, currency: str = DEFAULT_CURRENCY) -> Decimal:
    return member_balance(user=user, kind=MemberAccountKind.WALLET, currency=currency)


def commission_balances(
    *, user: AbstractBaseUser, currency: str = DEFAULT_CURRENCY
) -> CommissionBalances:
    def of(kind: MemberAccountKind) -> Decimal:
        return member_balance(user=user, kind=kind, currency=currency)

    return CommissionBalances(
        pending=of(MemberAccountKind.COMMISSION_PENDING),
        available=of(MemberAccountKind.COMMISSION_AVAILABLE),
        withdrawing=of(MemberAccountKind.COMMISSION_WITHDRAWING),
    )


def wallet_history(
    *, user: AbstractBaseUser, currency: str = DEFAULT_CURRENCY, limit: int = 50
) -> QuerySet[MemberEntry]:
    """The member's wallet movements, newest first; `amount` is debit-positive, so a credit
    to the member (top-up, refund) is negative: templates show `-amount`."""
    return (
        MemberEntry.objects.filter(
            account__user_id=user.pk, account__kind=MemberAccountKind.WALLET, currency=currency
        )
        .select_related("transaction")
        .order_by("-created_at", "-pk")[:limit]
    )


def commission_shares(*, user: AbstractBaseUser, limit: int = 50) -> QuerySet[CommissionShare]:
    """The commission the member earned, sale by sale, newest first."""
    return CommissionShare.objects.filter(referrer_id=user.pk).order_by("-confirm_after", "-pk")[
        :limit
    ]


def referrals_of(*, user: AbstractBaseUser) -> QuerySet[Referral]:
    """The members this member referred directly, newest first."""
    return (
        Referral.objects.filter(referrer_id=user.pk).select_related("user").order_by("-created_at")
    )


def referrer_of(*, user: AbstractBaseUser) -> AbstractBaseUser | None:
    referral = Referral.objects.filter(user_id=user.pk).select_related("referrer").first()
    return referral.referrer if referral is not None else None


def mask_email(email: str) -> str:
    """An email a member may see of someone they referred: "ab***@example.com"."""
    name, _, domain = email.partition("@")
    return f"{name[:2]}***@{domain}" if domain else f"{name[:2]}***"


# --- Referral codes --------------------------------------------------------------------------


def _schema() -> str:
    return str(getattr(connection, "schema_name", ""))


def _code_mac(schema: str, user_id: int) -> str:
    key = settings.SECRET_KEY.encode()
    message = f"kameng.referral:{schema}:{user_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:8]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def referral_code(*, user: AbstractBaseUser) -> str:
    """The member's code to share: their id and a MAC bound to this site, so a code is not
    guessable and does not work on another site."""
    current_site()
    assert user.pk is not None
    return f"{_base36(user.pk)}-{_code_mac(_schema(), user.pk)}"


def referrer_for_code(code: str) -> AbstractBaseUser | None:
    """The member of this site whose referral code this is, or None."""
    current_site()
    head, _, mac = code.strip().lower().partition("-")
    try:
        user_id = int(head, 36)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _code_mac(_schema(), user_id)):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


# --- Withdrawals -----------------------------------------------------------------------------


def member_withdrawals_of(*, user: AbstractBaseUser) -> QuerySet[MemberWithdrawal]:
    return MemberWithdrawal.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")


def member_withdrawals_for_staff(*, status: str = "") -> QuerySet[MemberWithdrawal]:
    """The site's commission withdrawals: open ones oldest first, or those of one status."""
    withdrawals = MemberWithdrawal.objects.select_related("user")
    if status:
        return withdrawals.filter(status=status).order_by("-created_at", "-pk")
    return withdrawals.filter(status__in=OPEN_WITHDRAWALS).order_by("created_at", "pk")


def member_withdrawal_get(*, withdrawal_id: int) -> MemberWithdrawal:
    """A withdrawal of the current site (DoesNotExist for another site's id, or none)."""
    current_site()
    return MemberWithdrawal.objects.select_related("user").get(pk=withdrawal_id)
