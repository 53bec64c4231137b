"""Reads of the catalogue."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from kameng.rows import columns, model_from_row
from shared.catalog.models import Category, ListingStatus, Product, Sku


def products_on_sale(*, at: datetime | None = None) -> QuerySet[Product]:
    """Listed products inside their listing window (the schedule needs no job to take effect)."""
    at = at or timezone.now()
    return Product.objects.filter(
        Q(status=ListingStatus.LISTED),
        Q(list_at__isnull=True) | Q(list_at__lte=at),
        Q(delist_at__isnull=True) | Q(delist_at__gt=at),
        category__is_active=True,
    )


def skus_on_sale(*, at: datetime | None = None) -> QuerySet[Sku]:
    return Sku.objects.filter(is_active=True, product__in=products_on_sale(at=at))


def active_sku(sku_id: int) -> Sku | None:
    """An active SKU with its product, in one plain read: the buy form runs this on every
    purchase, and building the same query through the ORM cost more than running it. Whether
    the product is on sale is the caller's check (with the site's overrides)."""
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_SKU_SQL, [sku_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_SKU_FIELDS)
    sku = model_from_row(Sku, _SKU_FIELDS, row[:split])
    product = model_from_row(Product, _PRODUCT_FIELDS, row[split:])
    Sku._meta.get_field("product").set_cached_value(sku, product)
    return sku


_SKU_FIELDS, _SKU_COLUMNS = columns(Sku, "s")
_PRODUCT_FIELDS, _PRODUCT_COLUMNS = columns(Product, "p")
_ACTIVE_SKU_SQL = (
    f"SELECT {_SKU_COLUMNS}, {_PRODUCT_COLUMNS} FROM {Sku._meta.db_table} s"  # noqa: S608
    f" JOIN {Product._meta.db_table} p ON p.id = s.product_id WHERE s.id = %s AND s.is_active"
)


def category_descendant_ids(category: Category) -> list[int]:
    """The category and every category below it (the tree is small; one query)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = [], [category.pk]
    while stack:
        pk = stack.pop()
        found.append(pk)
        stack.extend(children.get(pk, []))
    return found


def category_ancestry(category_id: int) -> list[int]:
    """Ids from the category up to its root (for the most specific pricing rule)."""
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    chain: list[int] = []
    node: int | None = category_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    return chain
