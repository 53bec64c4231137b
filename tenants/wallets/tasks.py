"""Background work of member wallets (runs in the schema it was sent from)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

from tenants.wallets.commissions import commissions_confirm_due

logger = logging.getLogger(__name__)


@shared_task(name="tenants.wallets.tasks.commissions_confirm")
def commissions_confirm() -> int:
    """Make the current site's referral commissions past their confirmation date available.
    Meant as a per-site beat entry (`kameng.celery.PER_SITE_ENTRIES`)."""
    confirmed = commissions_confirm_due()
    if confirmed:
        logger.info(
            "wallets.commissions_confirmed",
            extra={"count": confirmed, "schema": getattr(connection, "schema_name", "")},
        )
    return confirmed
