"""A site's prices (site schema): wholesale rules for its child sites, retail rules for its
buyers, member levels, quantity tiers, and how it presents catalogue products.

`PricingState` holds the token that versions this schema's cached rule sets (see
`tenants.pricing.selectors`); `MemberLevelAssignment` puts a member on a level.

References to the public catalogue (SKUs, categories, tiers) carry no database constraint:
the public rows are shared by every schema and are never deleted while referenced (PROTECT and
deactivation instead), and a constraint per site schema would make each public delete touch
every schema.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from shared.catalog.models import Category, PriceTier, Product, Sku


class RuleKind(models.TextChoices):
    WHOLESALE = "wholesale", "Wholesale (for child sites)"
    RETAIL = "retail", "Retail (for buyers)"


class MarkupKind(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    PERCENT = "percent", "Percentage"


class Rounding(models.TextChoices):
    NONE = "none", "None (currency precision)"
    CENT = "cent", "To 0.01"
    UP_TENTH = "up_tenth", "Up to 0.1"
    UP_UNIT = "up_unit", "Up to 1"


def _catalog_ref(model: type[models.Model], **kwargs: object) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        **kwargs,  # type: ignore[arg-type]
    )


class PriceRule(models.Model):
    """A markup over this site's cost. The most specific rule wins: SKU, then category (the
    nearest ancestor category), then the default; wholesale rules for a child's tier win over
    wholesale rules for any tier."""

    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    # Wholesale only: the child-site tier the rule applies to (null: every tier).
    tier = _catalog_ref(PriceTier)
    sku = _catalog_ref(Sku)
    category = _catalog_ref(Category)
    markup_kind = models.CharField(max_length=8, choices=MarkupKind.choices)
    markup_value = models.DecimalField(max_digits=12, decimal_places=4)
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.NONE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(markup_value__gte=Decimal("0")), name="price_rule_markup_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(sku__isnull=True) | Q(category__isnull=True),
                name="price_rule_one_scope",
            ),
            models.CheckConstraint(
                condition=Q(kind="wholesale") | Q(tier__isnull=True),
                name="price_rule_tier_only_wholesale",
            ),
            models.CheckConstraint(
                condition=Q(markup_kind="fixed") | Q(markup_value__lte=Decimal("1000")),
                name="price_rule_percent_lte_1000",
            ),
            models.UniqueConstraint(
                fields=["kind", "tier", "sku", "category"],
                nulls_distinct=False,
                name="price_rule_unique_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.markup_kind} {self.markup_value}"


class MemberLevel(models.Model):
    """A tier of this site's members with a discount off retail, or fixed prices per SKU."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField(default=0)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["rank", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lt=100),
                name="member_level_discount_range",
            ),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_level"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MemberLevelPrice(models.Model):
    level = models.ForeignKey(MemberLevel, on_delete=models.CASCADE, related_name="prices")
    sku = _catalog_ref(Sku)
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "sku"], name="member_level_price_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="member_level_price_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.level.code} {self.sku_id} {self.price}"


class QuantityTier(models.Model):
    """A discount off the unit price from `min_quantity` units per order (SKU, category or all)."""

    sku = _catalog_ref(Sku)
    category = _catalog_ref(Category)
    min_quantity = models.PositiveIntegerField()
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["min_quantity"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_percent__gt=0) & Q(discount_percent__lt=100),
                name="quantity_tier_discount_range",
            ),
            models.CheckConstraint(condition=Q(min_quantity__gte=2), name="quantity_tier_min_2"),
            models.CheckConstraint(
                condition=Q(sku__isnull=True) | Q(category__isnull=True),
                name="quantity_tier_one_scope",
            ),
            models.UniqueConstraint(
                fields=["sku", "category", "min_quantity"],
                nulls_distinct=False,
                name="quantity_tier_unique_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity}: -{self.discount_percent}%"


class ProductOverride(models.Model):
    """How this site presents a catalogue product: hidden, renamed or re-described."""

    product = models.OneToOneField(
        Product, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    hidden = models.BooleanField(default=False)
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Override of product {self.product_id}"


class MemberLevelAssignment(models.Model):
    """The level a member of this site is on; a member without one is on the default level."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    level = models.ForeignKey(MemberLevel, on_delete=models.CASCADE, related_name="assignments")
    assigned_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id} on {self.level_id}"


class PricingState(models.Model):
    """One row: a token replaced by every pricing service in the same transaction as its change.

    Rule sets are cached under (site id, token). A token is a fresh UUID, never reused, so an
    entry can never describe other rules than the ones it was read with, and a rolled-back change
    leaves the previous token, whose entry still holds the rules that are in force.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.UUIDField(default=uuid.uuid4)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="pricing_state_singleton")]

    def __str__(self) -> str:
        return f"pricing state {self.version}"
