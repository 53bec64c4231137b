"""Per-site background work: beat runs these once in every active site's schema."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="tenants.storefront.tasks.site_housekeeping", ignore_result=True)
def site_housekeeping() -> int:
    """Delete the site's expired sessions."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info(
        "site.housekeeping", extra={"schema": connection.schema_name, "expired_sessions": deleted}
    )
    return deleted


@shared_task(name="tenants.storefront.tasks.current_schema")
def current_schema() -> str:
    """Report the schema the task ran in (used by operators and tests to check routing)."""
    return str(connection.schema_name)
