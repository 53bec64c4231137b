"""The platform's double-entry ledger (public schema).

Every movement of money is a `Transaction` of `Leg`s. A leg's amount is signed: debits are
positive, credits negative; the legs of a transaction sum to zero in each currency, which the
database checks at commit (a deferred constraint trigger). Transactions and legs are immutable
(triggers refuse UPDATE and DELETE); a correction is a new transaction. Every transaction has a
unique idempotency key.

`AccountBalance` holds running balances, maintained by a trigger on every leg insert, in one row
per account, or spread over several bucket rows for the few platform-wide accounts that every
sale touches and for each site's member-money mirrors (so concurrent sales and wallet payments do
not queue on one row). A leg of a hot account lands in a random bucket, or in the bucket the
transaction chose with `balance_bucket()` (member operations pick the member's bucket, so they
lock one row, not all). `ledger_check` proves the balances equal the sums of the legs.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from shared.sites.models import Site
from shared.suppliers.models import Supplier


class AccountKind(models.TextChoices):
    # Owed to a site (credit-normal).
    SITE_PENDING = "site_pending", "Site earnings, pending confirmation"
    SITE_AVAILABLE = "site_available", "Site earnings, available"
    SITE_WITHDRAWING = "site_withdrawing", "Site earnings, locked for withdrawal"
    SITE_WALLETS = "site_wallets", "Member wallets held for a site (mirror)"
    SITE_COMMISSIONS = "site_commissions", "Referral commissions held for a site (mirror)"
    # The head office and suppliers (credit-normal).
    HQ_REVENUE = "hq_revenue", "HQ revenue"
    SUPPLIER_PAYABLE = "supplier_payable", "Owed to a supplier"
    # Money in transit (debit-normal).
    PAYMENT_CLEARING = "payment_clearing", "Payments received, not yet settled by the provider"
    PAYOUT_CLEARING = "payout_clearing", "Payouts sent, not yet confirmed"
    FEES = "fees", "Payment and payout fees"


DEBIT_NORMAL = frozenset({AccountKind.PAYMENT_CLEARING, AccountKind.PAYOUT_CLEARING,
                          AccountKind.FEES})  # fmt: skip
# Touched by nearly every sale (every sale credits its supplier and the pending earnings of its
# seller and every parent site; a site's member mirrors take every wallet payment and top-up of
# that site): balances spread over buckets. Accounts whose balance a check must read exactly
# under lock (a site's available earnings, before a withdrawal) stay in one row; reading a hot
# account under lock locks all its buckets (`account_balance(lock=True)`).
HOT_KINDS = frozenset(
    {
        AccountKind.HQ_REVENUE,
        AccountKind.PAYMENT_CLEARING,
        AccountKind.SITE_PENDING,
        AccountKind.SUPPLIER_PAYABLE,
        AccountKind.FEES,
        AccountKind.SITE_WALLETS,
        AccountKind.SITE_COMMISSIONS,
    }
)
BALANCE_BUCKETS = 16


class Account(models.Model):
    kind = models.CharField(max_length=24, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    is_hot = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "currency", "site", "supplier"],
                nulls_distinct=False,
                name="ledger_account_unique",
            ),
            models.CheckConstraint(
                condition=~Q(kind__startswith="site_") | Q(site__isnull=False),
                name="ledger_site_account_has_site",
            ),
            models.CheckConstraint(
                condition=~Q(kind="supplier_payable") | Q(supplier__isnull=False),
                name="ledger_supplier_account_has_supplier",
            ),
        ]

    def __str__(self) -> str:
        owner = (
            f"site {self.site_id}"
            if self.site_id
            else (f"supplier {self.supplier_id}" if self.supplier_id else "platform")
        )
        return f"{self.kind} · {owner} · {self.currency}"

    @property
    def is_debit_normal(self) -> bool:
        return self.kind in DEBIT_NORMAL


class Transaction(models.Model):
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    memo = models.CharField(max_length=500, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["site", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class Leg(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="legs")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="legs")
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_leg_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.currency}"


class AccountBalance(models.Model):
    """Running balance (debits positive) of an account, in one or more bucket rows."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    bucket = models.PositiveSmallIntegerField(default=0)
    balance = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "bucket"], name="ledger_balance_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}[{self.bucket}] {self.balance}"


class ShareParty(models.TextChoices):
    SELLER = "seller", "Selling site"
    ANCESTOR = "ancestor", "Parent site"
    HQ = "hq", "Head office"
    SUPPLIER = "supplier", "Supplier"
    COMMISSION = "commission", "Referral commission"
    FEE = "fee", "Payment fee"


class Settlement(models.Model):
    """One sale's split between every party, posted as one ledger transaction.

    Site shares stay pending until `confirm_after`, then move to available earnings; refunds
    claw back every share in proportion, whether pending or available.
    """

    sale_key = models.CharField(max_length=200, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="settlements")
    currency = models.CharField(max_length=3)
    amount_paid = models.DecimalField(max_digits=18, decimal_places=2)
    refunded = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, related_name="settlement"
    )
    confirm_after = models.DateTimeField(db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["confirm_after"],
                condition=Q(confirmed_at__isnull=True),
                name="settlement_to_confirm_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_paid__gt=0), name="settlement_paid_gt_0"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount_paid")),
                name="settlement_refund_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"Settlement {self.sale_key}"


class SettlementShare(models.Model):
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="shares")
    party = models.CharField(max_length=16, choices=ShareParty.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    # Positive: what the party is owed (credit); the fee share is the provider's cut.
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    clawed_back = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["settlement", "account"], name="one_share_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.party} {self.amount}"
