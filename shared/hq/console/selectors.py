"""Reads behind the console's pages: overview counts, the category tree, filtered products,
tier-price grids, open stock alerts and a batch's keys (the batches themselves are read by
`shared.vault.selectors`). Nothing here reads a key's secret."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from shared.catalog.models import (
    Category,
    DeliveryKind,
    ListingStatus,
    PriceTier,
    Product,
    Sku,
    StockAlert,
    TierPrice,
)
from shared.catalog.selectors import category_descendant_ids
from shared.suppliers.models import Supplier
from shared.vault.models import CardKey, ImportBatch, SkuStock

CARD_KEY_KINDS = (DeliveryKind.CARD_KEY, DeliveryKind.REUSABLE_KEY)
# A grid larger than this is cut; narrowing to one product or sub-category shows the rest.
TIER_GRID_MAX_SKUS = 300


def overview_counts() -> dict[str, int]:
    products = Product.objects.aggregate(
        listed=Count("id", filter=Q(status=ListingStatus.LISTED)),
        draft=Count("id", filter=Q(status=ListingStatus.DRAFT)),
    )
    return {
        "suppliers": Supplier.objects.count(),
        "products_listed": products["listed"],
        "products_draft": products["draft"],
        "skus": Sku.objects.count(),
        "tiers": PriceTier.objects.count(),
        "keys_available": SkuStock.objects.aggregate(n=Coalesce(Sum("available"), 0))["n"],
        "open_alerts": open_alerts().count(),
    }


def category_tree(queryset: QuerySet[Category] | None = None) -> list[tuple[Category, int]]:
    """Categories in tree order (each parent before its children) with their depth (root 0).
    A category whose parent is not in `queryset` is shown as a root."""
    categories = list(queryset if queryset is not None else Category.objects.all())
    ids = {c.pk for c in categories}
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        parent = category.parent_id if category.parent_id in ids else None
        children.setdefault(parent, []).append(category)
    ordered: list[tuple[Category, int]] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        category, depth = stack.pop()
        ordered.append((category, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(category.pk, [])))
    return ordered


def categories_with_counts() -> list[tuple[Category, int]]:
    return category_tree(
        Category.objects.annotate(product_count=Count("products")).order_by(
            "sort_order", "name", "id"
        )
    )


def products_filtered(
    *, category: Category | None = None, status: str = "", search: str = ""
) -> QuerySet[Product]:
    """Products in a category (and its sub-categories), of a status, whose name contains
    `search` or that carry it as a tag."""
    products = (
        Product.objects.select_related("category")
        .annotate(sku_count=Count("skus"))
        .order_by("-is_pinned", "sort_order", "name", "id")
    )
    if category is not None:
        products = products.filter(category_id__in=category_descendant_ids(category))
    if status:
        products = products.filter(status=status)
    search = search.strip()
    if search:
        products = products.filter(Q(name__icontains=search) | Q(tags__contains=[search]))
    return products


@dataclass(frozen=True)
class TierGrid:
    tiers: list[PriceTier]
    skus: list[Sku]
    prices: dict[tuple[int, int], Decimal]  # (tier id, sku id) -> price
    truncated: bool


def tier_grid(*, product: Product | None = None, category: Category | None = None) -> TierGrid:
    skus = Sku.objects.select_related("product").order_by("product__name", "sort_order", "id")
    if product is not None:
        skus = skus.filter(product=product)
    elif category is not None:
        skus = skus.filter(product__category_id__in=category_descendant_ids(category))
    else:
        skus = skus.none()
    sku_list = list(skus[: TIER_GRID_MAX_SKUS + 1])
    truncated = len(sku_list) > TIER_GRID_MAX_SKUS
    sku_list = sku_list[:TIER_GRID_MAX_SKUS]
    tiers = list(PriceTier.objects.all())
    prices = {
        (row.tier_id, row.sku_id): row.price
        for row in TierPrice.objects.filter(sku__in=sku_list, tier__in=tiers)
    }
    return TierGrid(tiers=tiers, skus=sku_list, prices=prices, truncated=truncated)


def open_alerts() -> QuerySet[StockAlert]:
    return StockAlert.objects.filter(resolved_at__isnull=True)


def open_alerts_for_list() -> QuerySet[StockAlert]:
    """Open alerts, oldest first, with each SKU's available keys now (`available_now`)."""
    return (
        open_alerts()
        .select_related("sku__product")
        .annotate(available_now=Coalesce("sku__stock__available", 0))
        .order_by("created_at", "id")
    )


def card_key_skus() -> QuerySet[Sku]:
    """SKUs whose stock is card keys (the only ones keys can be imported into)."""
    return (
        Sku.objects.filter(delivery_kind__in=CARD_KEY_KINDS)
        .select_related("product")
        .order_by("product__name", "sort_order", "id")
    )


def batch_keys(batch: ImportBatch) -> QuerySet[CardKey]:
    """A batch's keys with their statuses; the ciphertext is never loaded."""
    return (
        CardKey.objects.filter(batch=batch)
        .only("id", "status", "order_ref", "sold_at", "created_at", "batch_id", "sku_id")
        .order_by("id")
    )


def batch_status_counts(batch: ImportBatch) -> dict[str, int]:
    rows = CardKey.objects.filter(batch=batch).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
