"""Reads of suppliers: offers in the order they are tried, and live card-key stock."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from shared.catalog.models import Sku
from shared.suppliers.models import Supplier, SupplierOffer, SupplierOrder, SupplierStatus


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


def supplier_callback_url(supplier: Supplier) -> str:
    """The absolute address, on the platform domain, where `supplier` posts its results."""
    from shared.sites.selectors import hq_base_url

    path = reverse(
        "suppliers:callback",
        kwargs={"supplier_id": supplier.pk},
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
    )
    return hq_base_url().rstrip("/") + path


def supplier_order_get(*, supplier: Supplier, order_ref: str) -> SupplierOrder | None:
    return SupplierOrder.objects.filter(supplier=supplier, order_ref=order_ref).first()
