"""Writes of a site's prices: price rules, member levels and their prices, quantity tiers,
product overrides, and the tier a parent sells to each child site at.

Every service except `child_site_tier_set` writes the *current* site's schema (call it inside
`tenant_context(site)`, as a request on the site's domain is). Each validates everything first
and raises `ValidationError` with a message per field, so nothing is written on bad input; each
runs in one transaction and replaces the site's pricing token (see `tenants.pricing.selectors`)
in that transaction, so cached rule sets follow the change exactly when it commits.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from shared.catalog.models import Category, PriceTier, Product, Sku
from shared.sites.models import Site
from tenants.pricing.engine import currency_exponent, format_money
from tenants.pricing.models import (
    MarkupKind,
    MemberLevel,
    MemberLevelAssignment,
    MemberLevelPrice,
    PriceRule,
    PricingState,
    ProductOverride,
    QuantityTier,
    Rounding,
    RuleKind,
)
from tenants.pricing.selectors import SkuNotPriced, cost_price_for

MAX_PERCENT_MARKUP = Decimal(1000)
MAX_FIXED_MARKUP = Decimal("99999999.9999")  # PriceRule.markup_value: 12 digits, 4 places
MAX_PRICE = Decimal("9999999999.99")  # MemberLevelPrice.price: 12 digits, 2 places
LEVEL_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_DESCRIPTION = 10_000


# --- Price rules ---------------------------------------------------------------------------


@transaction.atomic
def price_rule_set(
    *,
    kind: str,
    markup_kind: str,
    markup_value: Decimal,
    rounding: str = Rounding.NONE,
    tier: PriceTier | None = None,
    sku: Sku | None = None,
    category: Category | None = None,
) -> PriceRule:
    """Create or replace the current site's rule for one scope: `kind` (wholesale for child
    sites, retail for buyers), for a `sku`, a `category` or (neither) every SKU, and for
    wholesale optionally one child `tier` only."""
    errors: dict[str, str] = {}
    if kind not in RuleKind.values:
        errors["kind"] = "Choose wholesale or retail."
    if markup_kind not in MarkupKind.values:
        errors["markup_kind"] = "Choose a fixed amount or a percentage."
    if rounding not in Rounding.values:
        errors["rounding"] = "Choose none, cent, up_tenth or up_unit."
    value = _decimal(markup_value, "markup_value", errors, places=4)
    if value is not None:
        if value < 0:
            errors["markup_value"] = (
                "The markup cannot be negative: this site never sells below its cost."
            )
        elif markup_kind == MarkupKind.PERCENT and value > MAX_PERCENT_MARKUP:
            errors["markup_value"] = f"A percentage markup is at most {MAX_PERCENT_MARKUP}%."
        elif value > MAX_FIXED_MARKUP:
            errors["markup_value"] = f"A fixed markup is at most {MAX_FIXED_MARKUP}."
    if tier is not None and kind != RuleKind.WHOLESALE:
        errors["tier"] = "Only wholesale rules (for child sites) apply to one tier."
    if sku is not None and category is not None:
        errors["category"] = "A rule applies to one SKU, one category or everything, not both."
    _check_exists(tier, PriceTier, "tier", errors)
    _check_exists(sku, Sku, "sku", errors)
    _check_exists(category, Category, "category", errors)
    if errors:
        raise ValidationError(errors)
    assert value is not None  # no errors: the value was parsed
    rule, _ = PriceRule.objects.update_or_create(
        kind=kind,
        tier=tier,
        sku=sku,
        category=category,
        defaults={"markup_kind": markup_kind, "markup_value": value, "rounding": rounding},
    )
    _prices_changed()
    return rule


@transaction.atomic
def price_rule_delete(*, rule: PriceRule) -> None:
    """Remove a rule of the current site; the next less specific rule (or none) then applies."""
    deleted, _ = PriceRule.objects.filter(pk=rule.pk).delete()
    if not deleted:
        raise ValidationError({"rule": "This price rule does not exist on this site."})
    _prices_changed()


# --- Member levels -------------------------------------------------------------------------


@transaction.atomic
def member_level_create(
    *,
    code: str,
    name: str,
    discount_percent: Decimal = Decimal(0),
    rank: int = 0,
    is_default: bool = False,
) -> MemberLevel:
    """A new member level of the current site; `is_default` moves the default to it."""
    errors: dict[str, str] = {}
    code = (code or "").strip().lower()
    if not LEVEL_CODE_RE.match(code):
        errors["code"] = "Use 1-32 lower-case letters, digits, '-' or '_'."
    elif MemberLevel.objects.filter(code=code).exists():
        errors["code"] = f"A member level with code '{code}' already exists."
    name = _name(name, errors)
    discount = _discount(discount_percent, errors)
    _rank(rank, errors)
    if errors:
        raise ValidationError(errors)
    assert discount is not None  # no errors: the discount was parsed
    if is_default:
        MemberLevel.objects.select_for_update().filter(is_default=True).update(is_default=False)
    level = MemberLevel.objects.create(
        code=code, name=name, discount_percent=discount, rank=rank, is_default=is_default
    )
    _prices_changed()
    return level


@transaction.atomic
def member_level_update(
    *,
    level: MemberLevel,
    name: str | None = None,
    discount_percent: Decimal | None = None,
    rank: int | None = None,
    is_default: bool | None = None,
) -> MemberLevel:
    """Change a level of the current site (None leaves a field as it is)."""
    errors: dict[str, str] = {}
    locked = MemberLevel.objects.select_for_update().filter(pk=level.pk).first()
    if locked is None:
        raise ValidationError({"level": "This member level does not exist on this site."})
    if name is not None:
        locked.name = _name(name, errors)
    if discount_percent is not None:
        discount = _discount(discount_percent, errors)
        if discount is not None:
            locked.discount_percent = discount
    if rank is not None:
        _rank(rank, errors)
        locked.rank = rank
    if errors:
        raise ValidationError(errors)
    if is_default and not locked.is_default:
        MemberLevel.objects.filter(is_default=True).update(is_default=False)
    if is_default is not None:
        locked.is_default = is_default
    locked.save()
    _prices_changed()
    return locked


@transaction.atomic
def member_level_price_set(
    *, level: MemberLevel, sku: Sku, price: Decimal | None
) -> MemberLevelPrice | None:
    """Fix the unit price members of `level` pay for `sku` on the current site, or remove the
    fixed price (None: the level's discount applies again). A price below the site's current
    cost for the SKU is refused."""
    errors: dict[str, str] = {}
    if not MemberLevel.objects.filter(pk=level.pk).exists():
        errors["level"] = "This member level does not exist on this site."
    sku_row = Sku.objects.filter(pk=sku.pk).first()
    if sku_row is None:
        errors["sku"] = "Unknown SKU."
    if errors:
        raise ValidationError(errors)
    assert sku_row is not None
    if price is None:
        MemberLevelPrice.objects.filter(level_id=level.pk, sku_id=sku_row.pk).delete()
        _prices_changed()
        return None
    amount = _decimal(price, "price", errors, places=currency_exponent(sku_row.currency))
    if amount is not None:
        _check_price(amount, sku_row, errors)
    if errors:
        raise ValidationError(errors)
    assert amount is not None  # no errors: the price was parsed
    level_price, _ = MemberLevelPrice.objects.update_or_create(
        level_id=level.pk, sku_id=sku_row.pk, defaults={"price": amount}
    )
    _prices_changed()
    return level_price


@transaction.atomic
def member_level_assign(*, user: AbstractBaseUser, level: MemberLevel | None) -> None:
    """Put a member of the current site on `level` (None: back to the default level)."""
    if level is None:
        MemberLevelAssignment.objects.filter(user_id=user.pk).delete()
        return
    if not MemberLevel.objects.filter(pk=level.pk).exists():
        raise ValidationError({"level": "This member level does not exist on this site."})
    MemberLevelAssignment.objects.update_or_create(user_id=user.pk, defaults={"level": level})


# --- Quantity tiers ------------------------------------------------------------------------


@transaction.atomic
def quantity_tier_set(
    *,
    min_quantity: int,
    discount_percent: Decimal | None,
    sku: Sku | None = None,
    category: Category | None = None,
) -> QuantityTier | None:
    """Set the current site's discount from `min_quantity` units per order, for a `sku`, a
    `category` or (neither) every SKU; None as the discount removes that tier."""
    errors: dict[str, str] = {}
    if isinstance(min_quantity, bool) or not isinstance(min_quantity, int) or min_quantity < 2:
        errors["min_quantity"] = "A quantity tier starts at 2 units or more."
    if sku is not None and category is not None:
        errors["category"] = "A tier applies to one SKU, one category or everything, not both."
    _check_exists(sku, Sku, "sku", errors)
    _check_exists(category, Category, "category", errors)
    discount = None
    if discount_percent is not None:
        discount = _discount(discount_percent, errors)
        if discount is not None and discount <= 0:
            errors["discount_percent"] = "A quantity discount is more than 0% and less than 100%."
    if errors:
        raise ValidationError(errors)
    scope: dict[str, Any] = {"sku": sku, "category": category, "min_quantity": min_quantity}
    if discount is None:
        QuantityTier.objects.filter(**scope).delete()
        _prices_changed()
        return None
    tier, _ = QuantityTier.objects.update_or_create(
        **scope, defaults={"discount_percent": discount}
    )
    _prices_changed()
    return tier


# --- Products ------------------------------------------------------------------------------


@transaction.atomic
def product_override_set(
    *,
    product: Product,
    hidden: bool | None = None,
    display_name: str | None = None,
    description: str | None = None,
) -> ProductOverride:
    """How the current site shows a catalogue product: hide it, rename it or re-describe it.
    None leaves a field as it is; an empty name or description falls back to HQ's."""
    errors: dict[str, str] = {}
    if not Product.objects.filter(pk=product.pk).exists():
        errors["product"] = "Unknown product."
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > 200:
            errors["display_name"] = "A product name is at most 200 characters."
    if description is not None:
        description = description.strip()
        if len(description) > MAX_DESCRIPTION:
            errors["description"] = f"A description is at most {MAX_DESCRIPTION} characters."
    if errors:
        raise ValidationError(errors)
    override, _ = ProductOverride.objects.select_for_update().get_or_create(product_id=product.pk)
    if hidden is not None:
        override.hidden = hidden
    if display_name is not None:
        override.display_name = display_name
    if description is not None:
        override.description = description
    override.save()
    _prices_changed()
    return override


# --- Child sites ---------------------------------------------------------------------------


@transaction.atomic
def child_site_tier_set(*, parent: Site, child: Site, tier: PriceTier | None) -> Site:
    """The tier `parent` sells to its direct sub-site `child` at (None: the default tier).

    Refused for any site that is not `parent`'s own child. Writes the public `Site` row; prices
    read the tier from that row on every call, so there is no cache to refresh.
    """
    locked = Site.objects.select_for_update().filter(pk=child.pk).first()
    if locked is None or locked.parent_id != parent.pk:
        raise ValidationError({"child": f"'{child.slug}' is not a sub-site of '{parent.slug}'."})
    errors: dict[str, str] = {}
    _check_exists(tier, PriceTier, "tier", errors)
    if errors:
        raise ValidationError(errors)
    # A queryset update: django-tenants refuses Site.save() from another site's schema.
    Site.objects.filter(pk=locked.pk).update(price_tier=tier)
    locked.price_tier = child.price_tier = tier
    return locked


# --- Helpers -------------------------------------------------------------------------------


def _prices_changed() -> None:
    """Replace the current schema's pricing token (one statement, in the caller's transaction)."""
    PricingState.objects.bulk_create(
        [PricingState(id=1, version=uuid.uuid4(), changed_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["version", "changed_at"],
    )


def _current_site() -> Site:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Site):
        return tenant
    site = Site.objects.filter(schema_name=getattr(connection, "schema_name", "")).first()
    if site is None:
        raise ValidationError("Prices are set on a site, inside its schema.")
    return site


def _check_price(amount: Decimal, sku: Sku, errors: dict[str, str]) -> None:
    if amount <= 0:
        errors["price"] = "A price is more than 0."
        return
    if amount > MAX_PRICE:
        errors["price"] = f"A price is at most {MAX_PRICE}."
        return
    try:
        cost = cost_price_for(site=_current_site(), sku=sku)
    except SkuNotPriced:
        errors["sku"] = f"{sku.code} has no price for this site yet."
        return
    if amount < cost:
        errors["price"] = (
            f"{format_money(amount, sku.currency)} is below this site's cost "
            f"{format_money(cost, sku.currency)} for {sku.code}."
        )


def _decimal(value: object, field: str, errors: dict[str, str], *, places: int) -> Decimal | None:
    """`value` as a Decimal with at most `places` decimal places; floats are refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        errors[field] = "Give an exact decimal amount (not a float)."
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        errors[field] = f"'{value}' is not a number."
        return None
    if not number.is_finite():
        errors[field] = "Give a finite number."
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        errors[field] = f"Use at most {places} decimal places."
        return None
    return number


def _discount(value: object, errors: dict[str, str]) -> Decimal | None:
    discount = _decimal(value, "discount_percent", errors, places=2)
    if discount is not None and not Decimal(0) <= discount < 100:
        errors["discount_percent"] = "A discount is at least 0% and less than 100%."
        return None
    return discount


def _name(value: str, errors: dict[str, str]) -> str:
    name = (value or "").strip()
    if not 1 <= len(name) <= 64:
        errors["name"] = "Give a name of 1 to 64 characters."
    return name


def _rank(value: int, errors: dict[str, str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 32767:
        errors["rank"] = "A rank is a whole number from 0 to 32767."


def _check_exists(
    instance: PriceTier | Sku | Category | None,
    model: type[PriceTier] | type[Sku] | type[Category],
    field: str,
    errors: dict[str, str],
) -> None:
    if instance is None:
        return
    if instance.pk is None or not model.objects.filter(pk=instance.pk).exists():
        errors[field] = f"Unknown {model._meta.verbose_name}."
