"""Background work of the vault. Both tasks run in the public schema, whichever site's schema
queued them (a reservation made by a site's order queues the low-stock email)."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import connection

from shared.vault import services


@shared_task(name="shared.vault.tasks.card_keys_release_expired")
def card_keys_release_expired() -> int:
    """Put keys of expired reservations back in stock (beat, platform-wide, every minute)."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return services.card_keys_release_expired()


@shared_task(
    name="shared.vault.tasks.stock_alert_notify",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    max_retries=5,
)
def stock_alert_notify(alert_id: int) -> int:
    """Email HQ staff about a new low-stock alert; returns how many were emailed."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return services.stock_alert_notify(alert_id=alert_id)
