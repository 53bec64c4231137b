"""Reads of the catalogue."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

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
