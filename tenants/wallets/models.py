"""Member wallets and referral commissions: the site schema's own double-entry ledger.

Each member has accounts (wallet, commission pending, commission available) per currency; the
site has one `platform` account per currency standing for the money the public ledger holds
for its members (the SITE_WALLETS and SITE_COMMISSIONS mirror accounts). Every movement is a
`MemberTransaction` of signed `MemberEntry` legs (debits positive) that sum to zero per currency,
checked by the database at commit; transactions and entries are immutable (triggers in
migration 0002). Each member account has a `MemberBalance` row kept by the services under
`select_for_update`; a wallet's balance can never go below zero (a check constraint).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MemberAccountKind(models.TextChoices):
    # A member's money (credit-normal: what the site owes the member).
    WALLET = "wallet", "Wallet"
    COMMISSION_PENDING = "commission_pending", "Referral commission, pending confirmation"
    COMMISSION_AVAILABLE = "commission_available", "Referral commission, available"
    COMMISSION_WITHDRAWING = "commission_withdrawing", "Referral commission, locked for withdrawal"
    # The site's side (debit-normal): held for the members in the public ledger's mirrors.
    PLATFORM = "platform", "Held by the platform for the members"


COMMISSION_KINDS = frozenset(
    {
        MemberAccountKind.COMMISSION_PENDING,
        MemberAccountKind.COMMISSION_AVAILABLE,
        MemberAccountKind.COMMISSION_WITHDRAWING,
    }
)


class MemberAccount(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_accounts",
    )
    kind = models.CharField(max_length=24, choices=MemberAccountKind.choices)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "currency"],
                nulls_distinct=False,
                name="wallets_account_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="platform", user__isnull=True)
                | (~Q(kind="platform") & Q(user__isnull=False)),
                name="wallets_account_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = f"member {self.user_id}" if self.user_id else "site"
        return f"{self.kind} · {owner} · {self.currency}"

    @property
    def is_debit_normal(self) -> bool:
        return self.kind == MemberAccountKind.PLATFORM


class MemberBalance(models.Model):
    """A member account's balance on its normal side (positive: the member's money)."""

    account = models.OneToOneField(
        MemberAccount, primary_key=True, on_delete=models.PROTECT, related_name="cached"
    )
    balance = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    # Wallets never go negative; commissions may, when a refund claws back confirmed money.
    non_negative = models.BooleanField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(non_negative=False) | Q(balance__gte=0),
                name="wallets_balance_non_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.balance}"


class MemberTransactionKind(models.TextChoices):
    TOP_UP = "top_up", "Top-up"
    SPEND = "spend", "Spend"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Staff adjustment"
    COMMISSION = "commission", "Referral commission"
    COMMISSION_CONFIRM = "commission_confirm", "Commission confirmed"
    COMMISSION_CLAW_BACK = "commission_claw_back", "Commission clawed back"
    COMMISSION_TO_WALLET = "commission_to_wallet", "Commission moved to the wallet"
    WITHDRAWAL_HOLD = "withdrawal_hold", "Commission locked for a withdrawal"
    WITHDRAWAL_RELEASE = "withdrawal_release", "Withdrawal rejected, commission released"
    WITHDRAWAL_PAID = "withdrawal_paid", "Commission withdrawal paid"


class MemberTransaction(models.Model):
    idempotency_key = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=24, choices=MemberTransactionKind.choices)
    memo = models.CharField(max_length=500, blank=True)
    actor = models.EmailField(blank=True)  # the staff member, for adjustments
    reason = models.CharField(max_length=500, blank=True)
    # The public ledger transaction this one mirrors (its idempotency key), if any.
    public_key = models.CharField(max_length=200, blank=True)
    sale_key = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # A public transaction is mirrored once per kind: a sale cannot be charged to a
            # wallet twice, a refund cannot be credited twice.
            models.UniqueConstraint(
                fields=["kind", "public_key"],
                condition=~Q(public_key=""),
                name="wallets_mirror_once",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjustment") | (~Q(actor="") & ~Q(reason="")),
                name="wallets_adjustment_has_actor_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class MemberEntry(models.Model):
    transaction = models.ForeignKey(
        MemberTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(MemberAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(max_digits=18, decimal_places=2)  # debit positive
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallets_entry_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.currency}"


class Referral(models.Model):
    """Who referred a member: set once (at sign-up or by staff), never a cycle."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral"
    )
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referred"
    )
    set_by = models.EmailField(blank=True)  # staff, when not set at sign-up
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(user=models.F("referrer")), name="wallets_no_self_referral"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ← {self.referrer_id}"


MAX_COMMISSION_LEVELS = 10


def _no_percents() -> list[Decimal]:
    return []


class CommissionSettings(models.Model):
    """The site's referral programme (one row): how many levels up a sale pays, and what
    percent of the site's own margin each level gets (level 1 is the buyer's referrer)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    levels = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(MAX_COMMISSION_LEVELS)]
    )
    percents = ArrayField(
        models.DecimalField(max_digits=5, decimal_places=2), default=_no_percents, blank=True
    )
    # Commission withdrawals on this site; empty means the platform's defaults
    # (MEMBER_WITHDRAWAL_MINIMUM, MEMBER_WITHDRAWAL_FEE_PERCENT, MEMBER_WITHDRAWAL_FEE_FIXED).
    withdrawal_minimum = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    withdrawal_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    withdrawal_fee_fixed = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True
    )
    updated_by = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="wallets_commission_settings_singleton"),
            models.CheckConstraint(
                condition=Q(levels__gte=1) & Q(levels__lte=MAX_COMMISSION_LEVELS),
                name="wallets_commission_levels_range",
            ),
            models.CheckConstraint(
                condition=(Q(withdrawal_minimum__isnull=True) | Q(withdrawal_minimum__gt=0))
                & (
                    Q(withdrawal_fee_percent__isnull=True)
                    | (Q(withdrawal_fee_percent__gte=0) & Q(withdrawal_fee_percent__lt=100))
                )
                & (Q(withdrawal_fee_fixed__isnull=True) | Q(withdrawal_fee_fixed__gte=0)),
                name="wallets_withdrawal_settings_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.levels} levels {self.percents}"


class CommissionShare(models.Model):
    """One referrer's commission on one sale, pending until `confirm_after`."""

    sale_key = models.CharField(max_length=200)
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_shares"
    )
    level = models.PositiveSmallIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    clawed_back = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    transaction = models.ForeignKey(
        MemberTransaction, on_delete=models.PROTECT, related_name="commission_shares"
    )
    confirm_after = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["confirm_after"],
                condition=Q(confirmed_at__isnull=True),
                name="wallets_share_to_confirm_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["sale_key", "level"], name="wallets_share_per_level"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallets_share_positive"),
            models.CheckConstraint(
                condition=Q(clawed_back__gte=0) & Q(clawed_back__lte=models.F("amount")),
                name="wallets_share_claw_back_within",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sale_key} L{self.level} {self.amount}"


class MemberWithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved, to be paid")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")


# The only moves a member's withdrawal may make (`withdrawals._transition` enforces it).
MEMBER_WITHDRAWAL_TRANSITIONS: dict[str, frozenset[str]] = {
    MemberWithdrawalStatus.REQUESTED: frozenset(
        {MemberWithdrawalStatus.APPROVED, MemberWithdrawalStatus.REJECTED}
    ),
    MemberWithdrawalStatus.APPROVED: frozenset(
        {MemberWithdrawalStatus.PAID, MemberWithdrawalStatus.REJECTED}
    ),
    MemberWithdrawalStatus.PAID: frozenset(),
    MemberWithdrawalStatus.REJECTED: frozenset(),
}


class MemberWithdrawal(models.Model):
    """A member's request to be paid available referral commission (amount + fee locked in the
    member's COMMISSION_WITHDRAWING account while it is open). Members have no Stripe account:
    the site's staff pay it by hand (Alipay, bank) and record the reference."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_withdrawals"
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2)  # what the member receives
    fee = models.DecimalField(max_digits=18, decimal_places=2)  # on top, kept by the site
    currency = models.CharField(max_length=3)
    payee = models.CharField(max_length=200)  # where to pay: "Alipay 138…", a bank account
    status = models.CharField(
        max_length=16,
        choices=MemberWithdrawalStatus.choices,
        default=MemberWithdrawalStatus.REQUESTED,
    )
    reference = models.CharField(max_length=200, blank=True)  # the payment's reference
    reason = models.CharField(max_length=500, blank=True)  # why it was rejected
    idempotency_key = models.CharField(max_length=100)
    hold = models.OneToOneField(MemberTransaction, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], name="wallets_withdrawal_key_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallets_withdrawal_amount"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="wallets_withdrawal_fee"),
            models.CheckConstraint(
                condition=~Q(status="paid") | ~Q(reference=""),
                name="wallets_withdrawal_paid_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"Commission withdrawal {self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def total(self) -> Decimal:
        """What leaves the member's available commission: the amount plus the fee."""
        return self.amount + self.fee


class MemberWithdrawalEvent(models.Model):
    """One row per status change of a member's withdrawal: who, when, and why."""

    withdrawal = models.ForeignKey(
        MemberWithdrawal, on_delete=models.PROTECT, related_name="events"
    )
    from_status = models.CharField(
        max_length=16, choices=MemberWithdrawalStatus.choices, blank=True
    )
    to_status = models.CharField(max_length=16, choices=MemberWithdrawalStatus.choices)
    actor = models.EmailField(blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.withdrawal_id}: {self.from_status or '-'} → {self.to_status}"
