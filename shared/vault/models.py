"""The card-key vault (public schema): encrypted keys, import batches, sales, reveals, exports.

A key's secret is stored only as AES-256-GCM ciphertext with the id of the key that encrypted
it (`shared.vault.crypto`); `fingerprint` is a keyed hash used to find duplicates without
decrypting. A single-use key is sold at most once: `CardKeySale` has a unique row per such key.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from shared.catalog.models import Sku
from shared.suppliers.models import Supplier


class ImportSource(models.TextChoices):
    PASTE = "paste", "Pasted text"
    TXT = "txt", "Text file"
    CSV = "csv", "CSV file"
    XLSX = "xlsx", "Excel file"


class ImportBatch(models.Model):
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="import_batches")
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="import_batches"
    )
    source = models.CharField(max_length=8, choices=ImportSource.choices)
    filename = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    deduplicated = models.BooleanField(default=True)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    malformed = models.PositiveIntegerField(default=0)
    # Line numbers and reasons of rejected lines (never the lines themselves: they are secrets).
    report = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Batch {self.pk} · {self.sku.code} · {self.accepted} keys"


class CardKeyStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    RESERVED = "reserved", "Reserved"
    SOLD = "sold", "Sold"
    VOID = "void", "Void"


class CardKey(models.Model):
    # A key's SKU and supplier are its import batch's. The database holds every key to that
    # once per INSERT statement instead of once per row (migration 0004): a statement trigger
    # finds each distinct (batch, sku, supplier) of the inserted rows among the batches
    # (whose own foreign keys hold the SKU and supplier); a key's batch, SKU and supplier
    # never change; a batch is deleted only once it holds no key, and never moves to another
    # SKU or supplier. Per-row foreign-key checks cost a million-key import nearly as much as
    # writing the keys, so these three relations carry no constraint of their own
    # (db_constraint=False) while the database still guards them.
    # Lookups by SKU use the composite unique (sku, fingerprint) and available-key indexes;
    # a separate single-column index would only slow imports down.
    sku = models.ForeignKey(
        Sku,
        on_delete=models.PROTECT,
        related_name="card_keys",
        db_index=False,
        db_constraint=False,  # held through the batch, see above
    )
    supplier = models.ForeignKey(
        Supplier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="card_keys",
        db_index=False,  # card_key_supplier_idx, keys without a supplier left out
        db_constraint=False,  # held through the batch, see above
    )
    batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        related_name="keys",
        db_index=False,  # covered by card_key_batch_idx (batch, status)
        db_constraint=False,  # checked per statement, see above
    )
    ciphertext = models.BinaryField()
    key_id = models.CharField(max_length=16)
    fingerprint = models.BinaryField()
    status = models.CharField(
        max_length=16, choices=CardKeyStatus.choices, default=CardKeyStatus.AVAILABLE
    )
    # The order holding or owning the key: "<site schema>:<order id>".
    order_ref = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - NULL = no order
    reserved_until = models.DateTimeField(null=True, blank=True)
    sold_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sku", "fingerprint"], name="card_key_unique_per_sku"),
            models.CheckConstraint(
                condition=~Q(status="reserved")
                | (Q(order_ref__isnull=False) & Q(reserved_until__isnull=False)),
                name="card_key_reserved_has_order",
            ),
            models.CheckConstraint(
                condition=~Q(status="sold") | Q(order_ref__isnull=False, sold_at__isnull=False),
                name="card_key_sold_has_order",
            ),
        ]
        indexes = [
            models.Index(
                fields=["sku", "id"],
                condition=Q(status="available"),
                name="card_key_available_idx",
            ),
            models.Index(
                fields=["reserved_until"],
                condition=Q(status="reserved"),
                name="card_key_reserved_idx",
            ),
            models.Index(
                fields=["order_ref"],
                condition=Q(order_ref__isnull=False),
                name="card_key_order_idx",
            ),
            models.Index(fields=["batch", "status"], name="card_key_batch_idx"),
            models.Index(
                fields=["supplier"],
                condition=Q(supplier__isnull=False),
                name="card_key_supplier_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Card key {self.pk} ({self.status})"  # never the secret


class CardKeySale(models.Model):
    """A key delivered to an order. Single-use keys can have one sale, ever."""

    card_key = models.ForeignKey(CardKey, on_delete=models.PROTECT, related_name="sales")
    order_ref = models.CharField(max_length=100)
    single_use = models.BooleanField()
    sold_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["card_key"], condition=Q(single_use=True), name="single_use_key_sold_once"
            ),
            models.UniqueConstraint(fields=["card_key", "order_ref"], name="key_sale_per_order"),
        ]
        # The buyer's delivery path reads an order's keys by order_ref (reusable keys carry no
        # order_ref on CardKey, so the sale row is the only link).
        indexes = [models.Index(fields=["order_ref"], name="card_key_sale_order_idx")]

    def __str__(self) -> str:
        return f"Sale of key {self.card_key_id} to {self.order_ref}"


class SkuStock(models.Model):
    """Available single-use keys per SKU, kept in step with `CardKey` in the same transactions
    (import, reserve, release, void, delete); `vault_stock_check` proves the two agree."""

    sku = models.OneToOneField(
        Sku, on_delete=models.CASCADE, primary_key=True, related_name="stock"
    )
    available = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="sku_stock_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}: {self.available}"


class KeyReveal(models.Model):
    """Audit trail: every time staff decrypt a key outside delivery to its buyer."""

    card_key = models.ForeignKey(CardKey, on_delete=models.PROTECT, related_name="reveals")
    actor = models.CharField(max_length=254)
    reason = models.CharField(max_length=500)
    schema_name = models.CharField(max_length=63)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Reveal of key {self.card_key_id} by {self.actor}"


class KeyExport(models.Model):
    """Audit trail: every export of a SKU's unsold keys in clear (one row per export)."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="key_exports")
    actor = models.CharField(max_length=254)
    statuses = models.JSONField(default=list)
    key_count = models.PositiveIntegerField()
    schema_name = models.CharField(max_length=63)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Export of {self.key_count} keys of SKU {self.sku_id} by {self.actor}"
