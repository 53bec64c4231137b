"""Background work of the site tree (runs in the public schema)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

from shared.sites import provisioning

logger = logging.getLogger(__name__)


@shared_task(name="shared.sites.tasks.spare_schemas_refill")
def spare_schemas_refill() -> int:
    """Top the pool of spare schemas up to SPARE_SCHEMA_POOL_SIZE; returns how many it built."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    created = provisioning.spare_schemas_refill()
    if created:
        logger.info("schema_pool.refilled", extra={"spares_created": created})
    return created
