"""Suppliers (public schema) and their offers of catalogue SKUs."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from shared.catalog.models import Sku


class SupplierKind(models.TextChoices):
    CARD_STOCK = "card_stock", "Card-key stock"
    API_TOPUP = "api_topup", "Direct top-up via API"
    MANUAL = "manual", "Manual"


class SupplierStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class SupplierProtocol(models.TextChoices):
    """The wire protocol an API supplier speaks (docs/supplier-protocol.md)."""

    KAMENG = "kameng", "Kameng signed JSON (HMAC-SHA256)"
    CLASSIC = "classic", "Classic form API (MD5 sign)"


class Supplier(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=SupplierKind.choices)
    status = models.CharField(
        max_length=16, choices=SupplierStatus.choices, default=SupplierStatus.ACTIVE
    )
    contact_name = models.CharField(max_length=100, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    api_base_url = models.URLField(blank=True)
    api_key_id = models.CharField(max_length=100, blank=True)
    api_protocol = models.CharField(
        max_length=16, choices=SupplierProtocol.choices, default=SupplierProtocol.KAMENG
    )
    # The API secret, encrypted by the vault (AES-256-GCM); never stored or logged in clear.
    api_secret_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    api_secret_key_id = models.CharField(max_length=16, blank=True, editable=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_secret(self) -> bool:
        return bool(self.api_secret_ciphertext)


class SupplierOffer(models.Model):
    """A supplier's offer of one SKU: its cost to HQ and its priority (lower is tried first)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="offers")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="offers")
    cost = models.DecimalField(max_digits=12, decimal_places=2)
    priority = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku_id", "priority", "cost"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "sku"], name="supplier_offer_unique"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="supplier_offer_cost_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.name} → {self.sku.code} @ {self.cost}"


class SupplierOrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SupplierOrder(models.Model):
    """One top-up order as sent to one supplier: written before the request goes out, updated
    by its answers, queries and callbacks. A callback is only accepted from the supplier the
    order was sent to; the rows are also what a supplier scorecard is computed from."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    order_ref = models.CharField(max_length=100)
    sku_code = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=SupplierOrderStatus.choices, default=SupplierOrderStatus.PENDING
    )
    supplier_ref = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=255, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    callbacks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "order_ref"], name="supplier_order_ref_unique"
            ),
        ]
        indexes = [models.Index(fields=["order_ref"], name="supplier_order_ref_idx")]

    def __str__(self) -> str:
        return f"{self.supplier_id}:{self.order_ref} {self.status}"
