"""Background work of the ledger (public schema)."""

from __future__ import annotations

import logging

from celery import shared_task

from shared.ledger.settlement import settlements_confirm_due

logger = logging.getLogger(__name__)


@shared_task(name="shared.ledger.tasks.settlements_confirm")
def settlements_confirm() -> int:
    """Move site earnings whose confirmation period has ended from pending to available."""
    confirmed = settlements_confirm_due()
    if confirmed:
        logger.info("ledger.settlements_confirmed", extra={"count": confirmed})
    return confirmed
