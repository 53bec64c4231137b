"""HQ's master catalogue (public schema): categories, products, SKUs and the HQ price tiers.

Every site sells from this one catalogue; what a site shows and charges is decided in its own
schema (`tenants.pricing`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Category(models.Model):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True, allow_unicode=True)
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LISTED = "listed", "Listed"
    DELISTED = "delisted", "Delisted"


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    description = models.TextField(blank=True)
    image = models.ImageField(upload_to="products/", blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    is_pinned = models.BooleanField(default=False)
    sort_order = models.IntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ListingStatus.choices, default=ListingStatus.DRAFT
    )
    # Listing schedule: a listed product is visible between list_at and delist_at.
    list_at = models.DateTimeField(null=True, blank=True)
    delist_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_pinned", "sort_order", "name"]
        indexes = [
            GinIndex(fields=["tags"], name="catalog_product_tags_gin"),
            models.Index(fields=["category", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(list_at__isnull=True)
                | Q(delist_at__isnull=True)
                | Q(delist_at__gt=models.F("list_at")),
                name="product_delist_after_list",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def is_on_sale(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return (
            self.status == ListingStatus.LISTED
            and (self.list_at is None or self.list_at <= at)
            and (self.delist_at is None or self.delist_at > at)
        )


class DeliveryKind(models.TextChoices):
    CARD_KEY = "card_key", "Card key"
    REUSABLE_KEY = "reusable_key", "Reusable card key"
    DIRECT_TOPUP = "direct_topup", "Direct top-up"
    MANUAL = "manual", "Manual delivery"


class Sku(models.Model):
    """One sellable variant of a product (a face value, region, server ...)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus")
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    face_value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    # Specs shown to buyers, e.g. {"region": "CN", "server": "Asia"}.
    specs = models.JSONField(default=dict, blank=True)
    delivery_kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    # What a direct top-up needs from the buyer; see shared.catalog.topup for the format.
    input_fields = models.JSONField(default=list, blank=True)
    min_quantity = models.PositiveIntegerField(default=1)
    max_quantity = models.PositiveIntegerField(default=100)
    low_stock_threshold = models.PositiveIntegerField(default=10)
    is_active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["product_id", "sort_order", "face_value"]
        constraints = [
            models.CheckConstraint(condition=Q(face_value__gte=0), name="sku_face_value_gte_0"),
            models.CheckConstraint(
                condition=Q(min_quantity__gte=1) & Q(max_quantity__gte=models.F("min_quantity")),
                name="sku_quantity_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} · {self.name}"

    @property
    def uses_card_keys(self) -> bool:
        return self.delivery_kind in (DeliveryKind.CARD_KEY, DeliveryKind.REUSABLE_KEY)


class PriceTier(models.Model):
    """An HQ price list (standard, gold, diamond ...). A main site buys at its tier's prices;
    a parent site's wholesale rules are set per tier of its child sites."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rank", "code"]

    def __str__(self) -> str:
        return self.name


class TierPrice(models.Model):
    tier = models.ForeignKey(PriceTier, on_delete=models.CASCADE, related_name="prices")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="tier_prices")
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tier", "sku"], name="tier_price_unique"),
            models.CheckConstraint(condition=Q(price__gt=Decimal("0")), name="tier_price_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.tier.code} {self.sku.code} {self.price}"


class StockAlert(models.Model):
    """Raised when a SKU's available stock falls below its threshold; one open alert per SKU."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="stock_alerts")
    available = models.IntegerField()
    threshold = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku"], condition=Q(resolved_at__isnull=True), name="one_open_alert_per_sku"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku.code}: {self.available} < {self.threshold}"
