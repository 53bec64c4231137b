"""Shared fixtures: one PostgreSQL test database per session, a pool of ready site schemas, a
small committed network of sites, a real Celery worker, a live server and a real browser.

Most tests run inside a transaction that is rolled back, DDL included: a test that creates a
site claims a spare schema by renaming it, and the rollback puts the spare back.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import tenant_context

from shared.ledger.services import accounts_forget
from shared.sites import provisioning
from shared.sites.models import Site
from shared.sites.selectors import routes_forget
from shared.sites.services import ProvisionedSite, site_create
from tenants.members.services import member_create

# Tests that commit rows for other connections to see (a live server, a Celery worker, racing
# threads) leave them behind: ledger rows are immutable and cannot be deleted. They run after
# every test that rolls back, so those see only the rows they wrote themselves.
_COMMITTING_FIXTURES = frozenset({"live_url", "celery_worker", "transactional_db", "browser"})


def _commits(item: pytest.Item) -> bool:
    if item.get_closest_marker("commits") is not None:
        return True
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return True
    if _COMMITTING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    # A test asking for the blocker itself writes outside the test's transaction.
    fixture_info = getattr(item, "_fixtureinfo", None)
    return fixture_info is not None and "django_db_blocker" in fixture_info.argnames


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_commits)  # stable: each group keeps its collection order


# Playwright's sync API runs an event loop in the test thread, which makes Django treat every
# later database call in that thread as coming from async code. The tests are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

MEMBER_PASSWORD = "member-pass-123"
HQ_EMAIL = "staff@hq.test"
HQ_PASSWORD = "hq-pass-123"
OWNER_PASSWORD = "owner-pass-123"

# The committed network every test can read: two main sites and a sub-site.
NETWORK = [
    ("alpha", "Alpha Cards", None),
    ("beta", "Beta Codes", None),
    ("alpha-kid", "Kid", "alpha"),
]


def site_host(site: Site | str) -> str:
    slug = site if isinstance(site, str) else site.slug
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    from kameng.celery import app

    with django_db_blocker.unblock():
        # Never seed a development database by accident.
        assert connection.settings_dict["NAME"].startswith("test_"), "not a test database"
        app.control.purge()
        provisioning.spare_schemas_refill(target=settings.SPARE_SCHEMA_POOL_SIZE)
        for slug, name, parent_slug in NETWORK:
            parent = Site.objects.get(slug=parent_slug) if parent_slug else None
            site = site_create(
                slug=slug,
                name=name,
                parent=parent,
                owner_email=f"owner@{slug}.test",
                owner_password=OWNER_PASSWORD,
                use_pool=False,
            ).site
            with tenant_context(site):
                member_create(email=f"member@{slug}.test", password=MEMBER_PASSWORD)
        hq_staff = get_user_model().objects.create_user(
            username=HQ_EMAIL, email=HQ_EMAIL, password=HQ_PASSWORD, is_staff=True
        )
        EmailAddress.objects.create(user=hq_staff, email=HQ_EMAIL, primary=True, verified=True)
        app.control.purge()  # the creations queued pool refills; the pool is already full
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Threads of the live server and the worker may still hold connections; end them so the
        # test database can be dropped.
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@dataclass
class Network:
    alpha: Site
    beta: Site
    alpha_kid: Site


@pytest.fixture
def network(db: None) -> Network:
    sites = {s.slug: s for s in Site.objects.filter(slug__in=[n[0] for n in NETWORK])}
    return Network(alpha=sites["alpha"], beta=sites["beta"], alpha_kid=sites["alpha-kid"])


@pytest.fixture(autouse=True)
def _public_schema() -> Iterator[None]:
    """Every test starts, and leaves, the connection in the public schema, and routes hosts
    and reads ledger accounts afresh (a site or account a rolled-back test made is gone)."""
    connection.set_schema_to_public()
    routes_forget()
    accounts_forget()  # a test running its on-commit callbacks still rolls its rows back
    yield
    connection.set_schema_to_public()


_slugs = itertools.count(1)


@pytest.fixture
def make_site(db: None) -> Callable[..., ProvisionedSite]:
    """Create a site inside the test's transaction (claimed from the pool unless told not to)."""

    def make(**kwargs: Any) -> ProvisionedSite:
        n = next(_slugs)
        kwargs.setdefault("slug", f"t{n}")
        kwargs.setdefault("name", f"Test site {n}")
        kwargs.setdefault("owner_email", f"owner@{kwargs['slug']}.test")
        kwargs.setdefault("owner_password", OWNER_PASSWORD)
        return site_create(**kwargs)

    return make


# --- Real processes and browsers ---------------------------------------------------------------


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """A real Celery worker (solo pool, in a thread) consuming the test broker."""
    from celery.contrib.testing.worker import start_worker

    from kameng.celery import app

    with django_db_blocker.unblock():
        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING") as w:
            yield w


@pytest.fixture(scope="session")
def live_url(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A threaded HTTP server for the project, reading committed data. Returns `:port`."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    with django_db_blocker.unblock():
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f":{server.port}"
        server.terminate()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: run `make browser` (Debian package chromium).")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()
