"""The per-SKU counter of available single-use keys and its low-stock alerts.

Only the vault's services call these, inside the transaction that changes the keys, so the
counter moves with the keys or not at all. Reusable-key, direct top-up and manual SKUs have no
counter (their stock is unlimited). A SKU is low when fewer than `low_stock_threshold` keys
are available; one alert stays open per SKU (a partial unique index) until stock is back at or
above the threshold. A new alert emails HQ staff after commit.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.utils import timezone

from shared.catalog.models import Sku, StockAlert

logger = logging.getLogger(__name__)


def stock_add(*, sku: Sku, count: int) -> int:
    """Add `count` available keys to the SKU's counter (creating it); returns the new level."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO vault_skustock (sku_id, available, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (sku_id) DO UPDATE SET "
            "available = vault_skustock.available + EXCLUDED.available, "
            "updated_at = EXCLUDED.updated_at RETURNING available",
            [sku.pk, count, timezone.now()],
        )
        available: int = cursor.fetchone()[0]
    # A SKU stocked with fewer keys than its threshold is low from the start.
    stock_alert_raise(sku=sku, available=available)
    stock_alert_resolve(sku=sku, available=available)
    return available


def stock_take(*, sku: Sku, count: int) -> int | None:
    """Take `count` keys off the counter if it holds that many; returns the new level, or None
    (and changes nothing) if it does not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vault_skustock SET available = available - %s, updated_at = %s "
            "WHERE sku_id = %s AND available >= %s RETURNING available",
            [count, timezone.now(), sku.pk, count],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    available: int = row[0]
    stock_alert_raise(sku=sku, available=available)
    return available


def stock_set(*, sku: Sku, available: int) -> None:
    """Overwrite the counter (the repair of `vault_stock_check --fix`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO vault_skustock (sku_id, available, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (sku_id) DO UPDATE SET available = EXCLUDED.available, "
            "updated_at = EXCLUDED.updated_at",
            [sku.pk, available, timezone.now()],
        )
    stock_alert_raise(sku=sku, available=available)
    stock_alert_resolve(sku=sku, available=available)


def stock_alert_raise(*, sku: Sku, available: int) -> None:
    """Open a low-stock alert if the SKU is below its threshold and none is open."""
    if available >= sku.low_stock_threshold:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_stockalert (sku_id, available, threshold, created_at) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (sku_id) WHERE resolved_at IS NULL DO NOTHING RETURNING id",
            [sku.pk, available, sku.low_stock_threshold, timezone.now()],
        )
        row = cursor.fetchone()
    if row is None:
        return  # an alert is already open
    alert_id: int = row[0]
    logger.info(
        "vault.stock.low",
        extra={"sku_id": sku.pk, "available": available, "threshold": sku.low_stock_threshold},
    )
    from shared.vault.tasks import stock_alert_notify

    transaction.on_commit(lambda: stock_alert_notify.delay(alert_id))


def stock_alert_resolve(*, sku: Sku, available: int) -> None:
    """Close the SKU's open alert once stock is back at or above the threshold."""
    if available < sku.low_stock_threshold:
        return
    resolved = StockAlert.objects.filter(sku=sku, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
    if resolved:
        logger.info("vault.stock.restored", extra={"sku_id": sku.pk, "available": available})
