"""Reads of suppliers: offers in the order they are tried, and live card-key stock."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from shared.catalog.models import Sku
from shared.suppliers.models import Supplier, SupplierOffer, SupplierStatus


def offers_for_sku(sku: Sku) -> QuerySet[SupplierOffer]:
    """Active offers of active suppliers, cheapest first within a priority."""
    return (
        SupplierOffer.objects.select_related("supplier")
        .filter(sku=sku, is_active=True, supplier__status=SupplierStatus.ACTIVE)
        .order_by("priority", "cost", "id")
    )


def supplier_stock(supplier: Supplier) -> dict[int, int]:
    """Available card keys per SKU that this supplier delivered into the vault."""
    rows = (
        supplier.card_keys.filter(status="available")
        .values("sku_id")
        .annotate(n=Count("id", filter=Q(status="available")))
    )
    return {row["sku_id"]: row["n"] for row in rows}
