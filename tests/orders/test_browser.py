"""A guest buys a card key on a sub-site in a real browser (Chromium, phone-sized): the buy form
on the product page, the order page, the sandbox checkout's Pay button, the signed webhook sent
by a real Celery worker to the live server, and the order page refreshing itself until the key
shows, with its copy button. The live server and the worker read committed data, so the
catalogue is committed (in a thread: Playwright's event loop owns the main thread)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from shared.vault.services import card_keys_for_order
from tenants.orders.models import Order
from tests.orders.conftest import build_shop
from tests.storefront.test_browser import SCREENSHOTS, in_thread


@pytest.mark.browser
def test_guest_buys_a_card_key_on_a_sub_site_and_sees_it(
    db: None,
    live_url: str,
    browser: Any,
    celery_worker: Any,
    settings: Any,
    django_db_blocker: Any,
) -> None:
    settings.PUBLIC_URL_SCHEME = "http"
    settings.PUBLIC_URL_PORT = live_url.lstrip(":")
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock():
        shop = in_thread(lambda: build_shop(f"brw{tag}", card_keys=2))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    context.add_cookies(
        [{"name": "django_language", "value": "en", "url": f"http://alpha-kid.localhost{live_url}"}]
    )
    page = context.new_page()
    base = f"http://alpha-kid.localhost{live_url}"
    page.goto(f"{base}/p/{shop.card.product.slug}/")
    form = page.locator(f'[data-testid=buy-form][data-sku="{shop.card.code}"]')
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / "order-buy-form.png"))
    form.locator("input[name=email]").fill("browser@buyer.test")
    form.locator("input[name=query_password]").fill("browser-pass")
    form.locator("[data-testid=buy]").click()
    page.wait_for_url(re.compile(r".*/order/K\d{16}/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.locator("[data-testid=order-status]").inner_text() == "Waiting for payment"

    page.locator("[data-testid=pay]").click()
    page.wait_for_url(re.compile(r".*/payments/sandbox/cs_sandbox_.*"))
    page.locator("[data-testid=sandbox-pay]").click()
    page.wait_for_url(f"{base}/order/{number}/")
    # The worker delivers the webhook; the page polls and reloads itself when delivered.
    page.locator("[data-testid=key]").first.wait_for(timeout=30_000)
    shown = page.locator("[data-testid=key]").all_inner_texts()
    page.screenshot(path=str(SCREENSHOTS / "order-delivered.png"), full_page=True)
    page.locator("[data-copy]").first.click()
    page.locator("text=Copied").first.wait_for(timeout=5_000)

    def sold() -> tuple[str, list[str]]:
        kid = Site.objects.get(slug="alpha-kid")
        with tenant_context(kid):
            order = Order.objects.get(number=number)
            return order.status, card_keys_for_order(order_ref=order.order_ref)

    with django_db_blocker.unblock():
        status, keys = in_thread(sold)
    assert status == "delivered" and shown == keys and len(keys) == 1
    context.close()
