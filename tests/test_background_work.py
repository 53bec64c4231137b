"""Celery: tasks run in the schema of the site that sent them; beat fans out per site."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from kameng.celery import SiteAwareScheduler, app
from shared.sites.models import SiteStatus
from tenants.storefront.tasks import current_schema
from tests.conftest import Network

pytestmark = pytest.mark.worker


def test_task_runs_in_the_schema_of_the_site_that_sent_it(
    celery_worker: Any, network: Network
) -> None:
    for site in (network.alpha, network.beta, network.alpha_kid):
        with tenant_context(site):
            result = current_schema.delay()
        assert result.get(timeout=20) == site.schema_name
    with schema_context("public"):
        assert current_schema.delay().get(timeout=20) == "public"


def test_claiming_a_spare_queues_a_refill_that_the_worker_runs(
    celery_worker: Any, django_db_blocker: Any
) -> None:
    """End to end and committed: create a site, the worker refills the pool, then clean up."""
    from shared.sites import provisioning
    from shared.sites.services import site_close, site_create, site_purge

    with django_db_blocker.unblock():
        target = provisioning.spare_schemas_count()
        site = site_create(slug="refilled", name="Refilled", owner_email="o@refilled.test").site
        try:
            deadline = time.monotonic() + 60
            while provisioning.spare_schemas_count() < target and time.monotonic() < deadline:
                time.sleep(0.2)
            assert provisioning.spare_schemas_count() == target
        finally:
            site_close(site=site)
            site_purge(site=site, confirm_slug="refilled")
            connection.close()


def test_beat_sends_per_site_entries_to_every_active_site(network: Network) -> None:
    network.beta.status = SiteStatus.SUSPENDED
    network.beta.save()
    scheduler = SiteAwareScheduler(app=app, lazy=True)
    sent: list[tuple[str, str]] = []

    def record(entry: Any, producer: Any = None, advance: bool = True, **kw: Any) -> None:
        sent.append((entry.name, connection.schema_name))

    scheduler.apply_async = record  # type: ignore[method-assign]
    schedule = app.conf.beat_schedule
    per_site = scheduler.Entry(name="site-housekeeping", app=app, **schedule["site-housekeeping"])
    platform = scheduler.Entry(
        name="spare-schemas-refill", app=app, **schedule["spare-schemas-refill"]
    )
    scheduler.apply_entry(per_site)
    scheduler.apply_entry(platform)
    schemas = [schema for name, schema in sent if name == "site-housekeeping"]
    assert network.alpha.schema_name in schemas
    assert network.alpha_kid.schema_name in schemas
    assert network.beta.schema_name not in schemas
    assert ("spare-schemas-refill", "public") in sent
