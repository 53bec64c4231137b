"""Writes of HQ's catalogue: categories, products, SKUs, price tiers and tier prices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from shared.catalog.models import (
    Category,
    DeliveryKind,
    ListingStatus,
    PriceTier,
    Product,
    Sku,
    TierPrice,
)
from shared.catalog.topup import input_fields_parse

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


def money(value: object, *, field: str = "price", allow_zero: bool = False) -> Decimal:
    """Parse a money amount given by a person: a Decimal with at most 2 places, positive."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: f"'{value}' is not an amount."}) from exc
    if not amount.is_finite():
        raise ValidationError({field: f"'{value}' is not an amount."})
    if amount != amount.quantize(CENT):
        raise ValidationError({field: "Use at most 2 decimal places."})
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError({field: "The amount must be greater than zero."})
    if amount >= Decimal("10000000000"):
        raise ValidationError({field: "The amount is too large."})
    return amount.quantize(CENT)


def _unique_slug(model: type[Category] | type[Product], name: str, slug: str | None) -> str:
    base = slugify(slug or name, allow_unicode=True)[:90] or "item"
    candidate, n = base, 2
    while model.objects.filter(slug=candidate).exists():
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def category_create(
    *, name: str, parent: Category | None = None, slug: str | None = None, sort_order: int = 0
) -> Category:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the category a name."})
    return Category.objects.create(
        name=name, parent=parent, slug=_unique_slug(Category, name, slug), sort_order=sort_order
    )


def category_update(*, category: Category, **changes: Any) -> Category:
    parent = changes.get("parent", category.parent)
    node = parent
    while node is not None:
        if node.pk == category.pk:
            raise ValidationError({"parent": "A category cannot be inside itself."})
        node = node.parent
    for field in ("name", "parent", "sort_order", "is_active"):
        if field in changes:
            setattr(category, field, changes[field])
    category.full_clean()
    category.save()
    return category


def _check_schedule(list_at: datetime | None, delist_at: datetime | None) -> None:
    if list_at and delist_at and delist_at <= list_at:
        raise ValidationError({"delist_at": "The delisting time must be after the listing time."})


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if tag and tag not in cleaned:
            if len(tag) > 40:
                raise ValidationError({"tags": f"Tag '{tag[:20]}…' is longer than 40 characters."})
            cleaned.append(tag)
    return cleaned


def product_create(
    *,
    category: Category,
    name: str,
    description: str = "",
    tags: Iterable[str] = (),
    is_pinned: bool = False,
    status: str = ListingStatus.DRAFT,
    list_at: datetime | None = None,
    delist_at: datetime | None = None,
    slug: str | None = None,
) -> Product:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the product a name."})
    if status not in ListingStatus.values:
        raise ValidationError({"status": f"Unknown status '{status}'."})
    _check_schedule(list_at, delist_at)
    product = Product.objects.create(
        category=category,
        name=name,
        slug=_unique_slug(Product, name, slug),
        description=description,
        tags=_clean_tags(tags),
        is_pinned=is_pinned,
        status=status,
        list_at=list_at,
        delist_at=delist_at,
    )
    logger.info("catalog.product_created", extra={"product": product.pk})
    return product


def product_update(*, product: Product, **changes: Any) -> Product:
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"])
    _check_schedule(
        changes.get("list_at", product.list_at), changes.get("delist_at", product.delist_at)
    )
    allowed = {"category", "name", "description", "tags", "is_pinned", "sort_order", "status",
               "list_at", "delist_at", "image"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}"})
    for field, value in changes.items():
        setattr(product, field, value)
    product.full_clean(exclude=["slug"])
    product.save()
    return product


def sku_create(
    *,
    product: Product,
    code: str,
    name: str,
    face_value: object,
    delivery_kind: str,
    currency: str = "CNY",
    specs: dict[str, str] | None = None,
    input_fields: list[dict[str, Any]] | None = None,
    min_quantity: int = 1,
    max_quantity: int = 100,
    low_stock_threshold: int = 10,
) -> Sku:
    code = code.strip().lower()
    if not code:
        raise ValidationError({"code": "Give the SKU a code."})
    if Sku.objects.filter(code=code).exists():
        raise ValidationError({"code": f"The SKU code '{code}' is already used."})
    if delivery_kind not in DeliveryKind.values:
        raise ValidationError({"delivery_kind": f"Unknown delivery kind '{delivery_kind}'."})
    fields = [f.as_dict() for f in input_fields_parse(input_fields or [])]
    if delivery_kind == DeliveryKind.DIRECT_TOPUP and not fields:
        raise ValidationError({"input_fields": "A direct top-up needs at least one input field."})
    if not 1 <= min_quantity <= max_quantity:
        raise ValidationError({"max_quantity": "Quantities need 1 ≤ minimum ≤ maximum."})
    try:
        with transaction.atomic():
            return Sku.objects.create(
                product=product,
                code=code,
                name=name.strip() or code,
                face_value=money(face_value, field="face_value", allow_zero=True),
                currency=currency.upper(),
                specs=specs or {},
                delivery_kind=delivery_kind,
                input_fields=fields,
                min_quantity=min_quantity,
                max_quantity=max_quantity,
                low_stock_threshold=low_stock_threshold,
            )
    except IntegrityError as exc:
        raise ValidationError({"code": f"The SKU code '{code}' is already used."}) from exc


def sku_update(*, sku: Sku, **changes: Any) -> Sku:
    if "input_fields" in changes:
        changes["input_fields"] = [f.as_dict() for f in input_fields_parse(changes["input_fields"])]
    if "face_value" in changes:
        changes["face_value"] = money(changes["face_value"], field="face_value", allow_zero=True)
    allowed = {"name", "face_value", "specs", "input_fields", "min_quantity", "max_quantity",
               "low_stock_threshold", "is_active", "sort_order"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}"})
    for field, value in changes.items():
        setattr(sku, field, value)
    if not 1 <= sku.min_quantity <= sku.max_quantity:
        raise ValidationError({"max_quantity": "Quantities need 1 ≤ minimum ≤ maximum."})
    if sku.delivery_kind == DeliveryKind.DIRECT_TOPUP and not sku.input_fields:
        raise ValidationError({"input_fields": "A direct top-up needs at least one input field."})
    sku.save()
    return sku


def price_tier_create(*, code: str, name: str, rank: int = 0) -> PriceTier:
    code = slugify(code)
    if not code or PriceTier.objects.filter(code=code).exists():
        raise ValidationError({"code": f"The tier code '{code}' is empty or already used."})
    return PriceTier.objects.create(code=code, name=name.strip() or code, rank=rank)


def tier_price_set(*, tier: PriceTier, sku: Sku, price: object) -> TierPrice:
    """Set what a main site on `tier` pays HQ for one unit of `sku`."""
    amount = money(price)
    row, _ = TierPrice.objects.update_or_create(tier=tier, sku=sku, defaults={"price": amount})
    logger.info("catalog.tier_price_set", extra={"tier": tier.code, "sku": sku.code})
    return row
