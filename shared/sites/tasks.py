"""Background work of the site tree (runs in the public schema)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import caches
from django.db import connection

from shared.sites import provisioning

logger = logging.getLogger(__name__)

_REFILL_LOCK = "schema_pool:refill"


@shared_task(name="shared.sites.tasks.spare_schemas_refill", ignore_result=True)
def spare_schemas_refill() -> int:
    """Top the pool of spare schemas up to SPARE_SCHEMA_POOL_SIZE; one refill at a time."""
    connection.set_schema_to_public()
    cache = caches["default"]
    # One worker builds spares at a time; the lock expires if that worker dies.
    if not cache.add(_REFILL_LOCK, "1", timeout=600):
        return 0
    try:
        created = provisioning.spare_schemas_refill()
    finally:
        cache.delete(_REFILL_LOCK)
    if created:
        logger.info("schema_pool.refilled", extra={"created": created})
    return created
