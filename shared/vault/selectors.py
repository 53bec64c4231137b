"""Reads of the card-key vault: stock levels and status, import batches for the console, key
usage per encryption key, and the check of the stock counters against the keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.db import connection
from django.db.models import Count, Q, QuerySet

from shared.catalog.models import DeliveryKind, Sku
from shared.vault.models import CardKey, CardKeyStatus, ImportBatch

StockStatus = Literal["in_stock", "low", "sold_out"]


def stock_levels(sku_ids: Iterable[int]) -> dict[int, int | None]:
    """Available keys per SKU, in one query: the counter for card-key SKUs (0 before any
    import), None (unlimited) for reusable-key, direct top-up and manual SKUs. Unknown ids
    are left out."""
    rows = Sku.objects.filter(id__in=list(sku_ids)).values_list(
        "id", "delivery_kind", "stock__available"
    )
    return {
        sku_id: (available or 0) if kind == DeliveryKind.CARD_KEY else None
        for sku_id, kind, available in rows
    }


def stock_status(available: int | None, threshold: int) -> StockStatus:
    """How a storefront shows a level: sold out at 0, low below the SKU's threshold."""
    if available is None:
        return "in_stock"
    if available <= 0:
        return "sold_out"
    return "low" if available < threshold else "in_stock"


def reusable_key_current(*, sku_id: int) -> int | None:
    """The key a reusable-key SKU delivers: its newest available one."""
    return (
        CardKey.objects.filter(sku_id=sku_id, status=CardKeyStatus.AVAILABLE)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def import_batches(*, sku_id: int | None = None) -> QuerySet[ImportBatch]:
    """Import batches for the console, newest first, with their keys counted by status
    (`keys_available`, `keys_reserved`, `keys_sold`, `keys_void`). Slice it to a page."""
    batches = ImportBatch.objects.select_related("sku", "supplier").annotate(
        **{
            f"keys_{status}": Count("keys", filter=Q(keys__status=status))
            for status in CardKeyStatus.values
        }
    )
    if sku_id is not None:
        batches = batches.filter(sku_id=sku_id)
    return batches.order_by("-created_at", "-id")


def vault_key_usage() -> dict[str, int]:
    """How many card keys each encryption key id protects (rotation is done when only the
    active id is left)."""
    return dict(
        CardKey.objects.values_list("key_id").annotate(n=Count("id")).values_list("key_id", "n")
    )


@dataclass(frozen=True)
class StockDifference:
    sku_id: int
    sku_code: str
    counter: int | None  # None: the SKU has no counter row
    keys: int  # available single-use keys actually stored


# One statement, so the keys and the counters are read in the same snapshot.
_DIFFERENCES = """
    SELECT s.id, s.code, st.available, COALESCE(k.n, 0)
    FROM catalog_sku s
    LEFT JOIN vault_skustock st ON st.sku_id = s.id
    LEFT JOIN (
        SELECT sku_id, count(*) AS n FROM vault_cardkey WHERE status = 'available'
        GROUP BY sku_id
    ) k ON k.sku_id = s.id
    WHERE s.delivery_kind = 'card_key' AND COALESCE(st.available, 0) <> COALESCE(k.n, 0)
    ORDER BY s.id
"""


def stock_differences() -> list[StockDifference]:
    """Card-key SKUs whose counter disagrees with their available keys."""
    with connection.cursor() as cursor:
        cursor.execute(_DIFFERENCES)
        return [StockDifference(*row) for row in cursor.fetchall()]
