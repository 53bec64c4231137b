"""Site-owner withdrawals and the Stripe Connect accounts they are paid to (public schema).

A withdrawal locks the amount plus its fee in the site's SITE_WITHDRAWING account when it is
requested; rejecting it or a refused transfer releases the funds to SITE_AVAILABLE; paying it
moves the amount to PAYOUT_CLEARING and the fee to HQ_REVENUE. Each step is one ledger
transaction whose idempotency key derives from the withdrawal, so no step can be booked twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from shared.sites.models import Site


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved, being paid"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


# The only moves a withdrawal's status may make (`services._transition` enforces it).
# requested → approved: HQ accepted it; a Stripe transfer is being made, or it awaits a manual
#                       payment. approved → rejected is for manual payouts only (services).
WITHDRAWAL_TRANSITIONS: dict[str, frozenset[str]] = {
    WithdrawalStatus.REQUESTED: frozenset({WithdrawalStatus.APPROVED, WithdrawalStatus.REJECTED}),
    WithdrawalStatus.APPROVED: frozenset(
        {WithdrawalStatus.PAID, WithdrawalStatus.FAILED, WithdrawalStatus.REJECTED}
    ),
    WithdrawalStatus.PAID: frozenset(),
    WithdrawalStatus.REJECTED: frozenset(),
    WithdrawalStatus.FAILED: frozenset(),
}
FINAL_STATUSES = frozenset(s for s, moves in WITHDRAWAL_TRANSITIONS.items() if not moves)


class WithdrawalMethod(models.TextChoices):
    STRIPE = "stripe", "Stripe Connect transfer"
    MANUAL = "manual", "Paid by hand"


class Withdrawal(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="withdrawals")
    # Site owners live in their site's schema and HQ staff in public: actors are kept by email.
    requested_by = models.EmailField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)  # what the site receives
    fee = models.DecimalField(max_digits=18, decimal_places=2)  # charged on top, HQ income
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED
    )
    method = models.CharField(max_length=16, choices=WithdrawalMethod.choices, blank=True)
    stripe_destination = models.CharField(max_length=255, blank=True)
    stripe_transfer_id = models.CharField(max_length=255, blank=True)
    manual_reference = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)  # why it was rejected
    error = models.CharField(max_length=500, blank=True)  # the provider's last refusal
    # The client's key: one withdrawal per key and site, backed by a unique constraint.
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["site", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "idempotency_key"], name="withdrawal_idempotency_key_unique"
            ),
            models.UniqueConstraint(
                fields=["stripe_transfer_id"],
                condition=~Q(stripe_transfer_id=""),
                name="withdrawal_stripe_transfer_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_gt_0"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="withdrawal_fee_gte_0"),
            models.CheckConstraint(
                condition=~Q(status=WithdrawalStatus.PAID)
                | ~Q(stripe_transfer_id="")
                | ~Q(manual_reference=""),
                name="withdrawal_paid_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"Withdrawal {self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def total(self) -> Decimal:
        """What leaves the site's available earnings: the amount plus the fee."""
        return self.amount + self.fee


class WithdrawalEvent(models.Model):
    """One row per status change: who, when, from what to what, and why."""

    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=16, choices=WithdrawalStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=WithdrawalStatus.choices)
    actor = models.EmailField(blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.withdrawal_id}: {self.from_status or '-'} → {self.to_status}"


class ConnectedAccountState(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding not finished"
    ACTIVE = "active", "Can receive transfers"
    RESTRICTED = "restricted", "Restricted by Stripe"


class ConnectedAccount(models.Model):
    """The Stripe Connect (Express) account a site is paid to."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="connected_account")
    stripe_account_id = models.CharField(max_length=255, unique=True)
    state = models.CharField(
        max_length=16,
        choices=ConnectedAccountState.choices,
        default=ConnectedAccountState.ONBOARDING,
    )
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.state})"
