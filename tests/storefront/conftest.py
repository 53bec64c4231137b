"""Fixtures of the storefront tests: HQ's catalogue and clients on a site's domain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from tests.storefront.catalogue import Catalogue, build_catalogue
from tests.storefront.clients import site_client_for


@pytest.fixture
def catalogue(db: None) -> Catalogue:
    return build_catalogue()


@pytest.fixture
def site_client() -> Callable[..., Client]:
    """`site_client(site, email=None, password=None)`: see `site_client_for`."""
    return site_client_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this folder's browser tests after every other test. The session's Playwright keeps
    an event loop running in the main thread from its first use on, and Django then refuses
    database calls made outside a test's transaction there (tests that commit, such as
    tests/test_background_work.py)."""
    here = Path(__file__).parent
    browser = [
        item for item in items if item.get_closest_marker("browser") and here in item.path.parents
    ]
    items[:] = [item for item in items if item not in browser] + browser
