"""Card payments through Stripe Checkout (or the built-in sandbox), in the public schema.

A `CheckoutSession` is one attempt to collect money for something of a site (an order, a wallet
top-up), named by `purpose` and `reference`. Stripe's webhook events are stored under their own
unique id before anything is done with them, so a replay finds the row and does nothing. Refunds
made through `payment_refund` are recorded under the caller's idempotency key.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from shared.sites.models import Site


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    SANDBOX = "sandbox", "Sandbox (no Stripe keys)"


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Open, waiting for the buyer"
    PAID = "paid", "Paid and applied"
    EXPIRED = "expired", "Expired or failed without payment"
    REJECTED = "rejected", "Paid at the provider, refused here (needs staff attention)"


class CheckoutSession(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="checkout_sessions")
    purpose = models.CharField(max_length=32)
    reference = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=250)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_session_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=2000)
    success_url = models.URLField(max_length=2000)
    cancel_url = models.URLField(max_length=2000)
    customer_email = models.EmailField(blank=True)
    status = models.CharField(
        max_length=16, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN
    )
    # The Stripe PaymentIntent id once paid (sandbox: pi_sandbox_...).
    payment_ref = models.CharField(max_length=255, blank=True, db_index=True)
    fee = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    amount_refunded = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    status_reason = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # The sandbox's own bookkeeping: when the buyer pressed Pay, when the page expired it.
    sandbox_paid_at = models.DateTimeField(null=True, blank=True)
    sandbox_expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "purpose", "reference"]),
            models.Index(
                fields=["expires_at"],
                condition=Q(provider="sandbox", status="open"),
                name="payments_sandbox_open_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_session_id} ({self.purpose} {self.reference})"


class EventOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Ignored"
    REJECTED = "rejected", "Rejected"


class WebhookEvent(models.Model):
    """A provider event, stored once under its own id (the unique constraint is the replay
    guard: a second delivery fails to insert and changes nothing)."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    api_version = models.CharField(max_length=40, blank=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    session = models.ForeignKey(
        CheckoutSession, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    outcome = models.CharField(max_length=16, choices=EventOutcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.outcome})"


class Refund(models.Model):
    """Money sent back to a buyer's card. Refunds made here carry the caller's idempotency key
    (scoped by site); refunds made elsewhere (Stripe's dashboard) are recorded from events."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="card_refunds")
    session = models.ForeignKey(
        CheckoutSession, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_refund_id = models.CharField(max_length=255, unique=True)
    payment_ref = models.CharField(max_length=255, db_index=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_refund_id} {self.amount} {self.currency}"
