"""Orders of a site (site schema): the order, its history, its refunds and top-up attempts.

An order's card keys live in the public vault under `order_ref` ("<schema>:<order id>") and
are read back from there for the buyer; no plaintext key is ever stored in a site table.
References to the public catalogue carry no database constraint (see tenants.pricing.models).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import connection, models
from django.db.models import Q

from shared.catalog.models import DeliveryKind, Sku
from tenants.orders.states import FulfilmentStatus, OrderStatus, PaymentStatus


class PaymentMethod(models.TextChoices):
    WALLET = "wallet", "Wallet balance"
    CARD = "card", "Card (Stripe)"


def current_schema() -> str:
    """The schema the connection is in (django-tenants adds the attribute)."""
    return str(connection.schema_name)  # type: ignore[attr-defined]


def order_ref_for(schema_name: str, order_id: int) -> str:
    return f"{schema_name}:{order_id}"


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    email = models.EmailField()
    phone = models.CharField(max_length=32, blank=True)
    # Guests choose a password to look the order up later; only its hash is kept.
    query_password = models.CharField(max_length=128, blank=True)
    sku = models.ForeignKey(Sku, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # What the buyer saw when ordering (the site's own product name, the SKU's name).
    title = models.CharField(max_length=420)
    delivery_kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    # Cost snapshot at ordering: the site's unit cost, what each site of the chain pays its
    # parent for a unit ([[site_id, "unit_cost"], ...], root first: the sale settles by it),
    # and where the goods come from ([{"supplier_id", "quantity", "unit_cost"}] for keys;
    # empty for top-ups).
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)
    chain_costs = models.JSONField(default=list, blank=True)
    supply = models.JSONField(default=list, blank=True)
    input_values = models.JSONField(default=dict, blank=True)
    reusable_key_id = models.BigIntegerField(null=True, blank=True)
    payment_method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    payment_ref = models.CharField(max_length=255, blank=True)
    payment_fee = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    amount_refunded = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    status = models.CharField(
        max_length=24, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    fulfilment_status = models.CharField(
        max_length=24, choices=FulfilmentStatus.choices, default=FulfilmentStatus.PENDING
    )
    reserved_until = models.DateTimeField()
    delivery_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("refund_order", "Can refund orders")]
        constraints = [
            # One payment applies to one order, once (the webhook's idempotency).
            models.UniqueConstraint(
                fields=["payment_ref"], condition=~Q(payment_ref=""), name="order_payment_once"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_gte_1"),
            models.CheckConstraint(condition=Q(total__gt=0), name="order_total_gt_0"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0)
                & Q(amount_refunded__lte=models.F("amount_paid")),
                name="order_refund_within_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "reserved_until"], name="order_status_until_idx"),
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def order_ref(self) -> str:
        """The order's name in the vault, the ledger and at suppliers."""
        return order_ref_for(current_schema(), self.pk)

    @property
    def uses_card_keys(self) -> bool:
        return self.delivery_kind in (DeliveryKind.CARD_KEY, DeliveryKind.REUSABLE_KEY)

    @property
    def refundable_amount(self) -> Decimal:
        return self.amount_paid - self.amount_refunded


class OrderEvent(models.Model):
    """One change of an order's status: the history buyers and staff see."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.CharField(max_length=254)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status}"

    @property
    def from_label(self) -> str:
        return str(OrderStatus(self.from_status).label) if self.from_status else ""

    @property
    def to_label(self) -> str:
        return str(OrderStatus(self.to_status).label)


class OrderRefund(models.Model):
    """Money given back on an order, once per key (whole or partial)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    key = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    provider_ref = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=254)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "key"], name="order_refund_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_refund_gt_0"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.key} of order {self.order_id}: {self.amount}"


class TopupAttemptStatus(models.TextChoices):
    SUBMITTING = "submitting", "Submitting"
    PENDING = "pending", "Pending at the supplier"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNAVAILABLE = "unavailable", "Supplier unreachable"


class TopupAttempt(models.Model):
    """A direct top-up submitted (or tried) at one supplier."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="topup_attempts")
    supplier_id = models.BigIntegerField()
    supplier_name = models.CharField(max_length=100)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)
    tries = models.PositiveSmallIntegerField(default=0)
    polls = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=TopupAttemptStatus.choices, default=TopupAttemptStatus.SUBMITTING
    )
    supplier_ref = models.CharField(max_length=255, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "supplier_id"], name="topup_attempt_unique")
        ]

    def __str__(self) -> str:
        return f"Top-up of order {self.order_id} at {self.supplier_name}: {self.status}"
