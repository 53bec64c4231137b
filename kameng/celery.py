"""The Celery app. Every task carries its site's schema and runs in it (tenant-schemas-celery).

A task sent while a site's schema is active runs in that schema; a task sent from the public
schema runs there. Beat entries named in `PER_SITE_ENTRIES` run once in every active site's
schema; the rest run platform-wide, in the public schema.
"""

from __future__ import annotations

import os
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kameng.settings")

app = CeleryApp("kameng")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Platform-wide: keep the pool of ready site schemas full.
    "spare-schemas-refill": {
        "task": "shared.sites.tasks.spare_schemas_refill",
        "schedule": 60.0,
    },
    # Platform-wide: give expired card-key reservations back to stock.
    "card-keys-release-expired": {
        "task": "shared.vault.tasks.card_keys_release_expired",
        "schedule": 60.0,
    },
    # Platform-wide: earnings past their confirmation period become available.
    "settlements-confirm": {
        "task": "shared.ledger.tasks.settlements_confirm",
        "schedule": crontab(minute="*/10"),
    },
    # Platform-wide: unpaid sandbox checkouts past their time get `checkout.session.expired`.
    "payments-sandbox-expire": {
        "task": "shared.payments.tasks.sandbox_sessions_expire",
        "schedule": 60.0,
    },
    # Per site: each site's own housekeeping runs in its schema.
    "site-housekeeping": {
        "task": "tenants.storefront.tasks.site_housekeeping",
        "schedule": crontab(minute=17),
    },
    # Per site: referral commission past its confirmation period becomes available.
    "commissions-confirm": {
        "task": "tenants.wallets.tasks.commissions_confirm",
        "schedule": crontab(minute="*/15"),
    },
    # Per site: unpaid orders past their time to pay expire and give their keys back.
    "orders-expire": {
        "task": "tenants.orders.tasks.orders_expire",
        "schedule": 60.0,
    },
    # Per site: direct top-ups whose task was lost (a worker killed) are picked up again.
    "orders-topups-resume": {
        "task": "tenants.orders.topups.topups_resume",
        "schedule": 300.0,
    },
}
PER_SITE_ENTRIES = frozenset(
    {"site-housekeeping", "commissions-confirm", "orders-expire", "orders-topups-resume"}
)


class SiteAwareScheduler(PersistentScheduler):
    """Beat scheduler that fans `PER_SITE_ENTRIES` out to every active site's schema."""

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if entry.name not in PER_SITE_ENTRIES:
            super().apply_entry(entry, producer=producer)
            return
        from django_tenants.utils import schema_context

        from shared.sites.selectors import active_site_schemas

        for schema_name in active_site_schemas():
            with schema_context(schema_name):
                self.apply_async(entry, producer=producer, advance=False)
