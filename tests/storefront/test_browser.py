"""A buyer in a real browser (Chromium, phone-sized) on a storefront: a category with prices
and stock badges, a product page, and search.

The live server runs in another thread and reads committed data only, so the catalogue and
alpha's retail rule are committed here and removed at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.pricing.models import MarkupKind, PriceRule, RuleKind
from tenants.pricing.services import price_rule_delete, price_rule_set
from tests.storefront.catalogue import Catalogue, build_catalogue, delete_catalogue

T = TypeVar("T")

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".dev" / "screenshots"


def in_thread(work: Callable[[], T]) -> T:
    """Run database work in its own thread: Playwright's sync API keeps an event loop running
    in the main thread, where Django refuses synchronous database calls."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing(work)).result()


def _closing(work: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    return run


def _commit_catalogue() -> tuple[Catalogue, PriceRule]:
    alpha = Site.objects.get(slug="alpha")
    catalogue = build_catalogue(prefix="br")
    with tenant_context(alpha):
        rule = price_rule_set(
            kind=RuleKind.RETAIL, markup_kind=MarkupKind.PERCENT, markup_value=Decimal("10")
        )
    return catalogue, rule


def _remove_catalogue(catalogue: Catalogue, rule: PriceRule) -> None:
    with tenant_context(Site.objects.get(slug="alpha")):
        price_rule_delete(rule=rule)
    delete_catalogue(catalogue)


@pytest.fixture
def committed_catalogue(django_db_blocker: Any) -> Iterator[Catalogue]:
    with django_db_blocker.unblock():
        catalogue, rule = in_thread(_commit_catalogue)
        try:
            yield catalogue
        finally:
            in_thread(lambda: _remove_catalogue(catalogue, rule))


@pytest.mark.browser
def test_buyer_browses_a_category_opens_a_product_and_searches(
    live_url: str, committed_catalogue: Catalogue, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = f"http://alpha.localhost{live_url}"

    page.goto(f"{base}/c/br-games/")
    products = page.get_by_test_id("product")
    assert sorted(products.evaluate_all("els => els.map(e => e.dataset.product)")) == [
        "br-game-points",
        "br-hidden-gem",
        "br-steam-wallet",
    ]
    steam_50 = page.locator('[data-testid=offer][data-sku="br-steam-50"]')
    assert steam_50.get_by_test_id("price").inner_text() == "¥49.50"  # HQ 45.00 + alpha's 10%
    badges = page.get_by_test_id("stock-badge")
    assert sorted(set(badges.evaluate_all("els => els.map(e => e.dataset.stock)"))) == [
        "in_stock",
        "low",
    ]
    for text in badges.all_inner_texts():
        assert not any(ch.isdigit() for ch in text)  # a status, never a count
    page.screenshot(path=str(SCREENSHOTS / "storefront-category.png"), full_page=True)

    page.locator('[data-product="br-steam-wallet"] a').first.click()
    page.wait_for_url(f"{base}/p/br-steam-wallet/")
    assert page.get_by_test_id("product-name").inner_text() == "Steam Wallet"
    steam_100 = page.locator('[data-testid=offer][data-sku="br-steam-100"]')
    assert steam_100.get_by_test_id("price").inner_text() == "¥99.00"
    assert steam_100.get_by_test_id("stock-badge").get_attribute("data-stock") == "low"
    page.screenshot(path=str(SCREENSHOTS / "storefront-product.png"), full_page=True)

    page.fill("input[name=q]", "wallet")
    page.locator("form.search button[type=submit]").click()
    page.wait_for_url(f"{base}/search/?q=wallet")
    found = page.get_by_test_id("product").evaluate_all("els => els.map(e => e.dataset.product)")
    assert found == ["br-steam-wallet"]
    context.close()


def test_the_committed_catalogue_is_removed_without_a_trace(db: None) -> None:
    """The clean-up the browser test relies on (run inside a rolled-back transaction here; it
    also makes this module ask pytest-django for the test database when run on its own)."""
    from shared.catalog.models import Category, Product, Sku
    from shared.vault.models import CardKey, ImportBatch, SkuStock

    before = [m.objects.count() for m in (Category, Product, Sku, CardKey, ImportBatch, SkuStock)]
    delete_catalogue(build_catalogue(prefix="gone"))
    after = [m.objects.count() for m in (Category, Product, Sku, CardKey, ImportBatch, SkuStock)]
    assert after == before
