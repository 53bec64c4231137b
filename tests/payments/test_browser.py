"""A member tops up their wallet in a real browser (Chromium, phone-sized): the form on the
site, the sandbox payment page on the platform, the return page waiting for the webhook that
the worker delivers over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.db import connection
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind
from tests.conftest import MEMBER_PASSWORD
from tests.payments.conftest import new_member
from tests.storefront.test_browser import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.worker]

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".dev" / "screenshots"


@pytest.fixture
def member_on_alpha(
    django_db_blocker: Any, live_url: str, celery_worker: Any, settings: Any
) -> Iterator[tuple[Site, AbstractUser]]:
    settings.STRIPE_SECRET_KEY = ""
    settings.PUBLIC_URL_PORT = live_url.lstrip(":")
    with django_db_blocker.unblock():

        def create() -> tuple[Site, AbstractUser]:
            alpha = Site.objects.get(slug="alpha")
            return alpha, new_member(alpha, "browser")

        yield in_thread(create)
        connection.close()


def test_a_member_tops_up_in_the_browser(
    member_on_alpha: tuple[Site, AbstractUser], live_url: str, browser: Any
) -> None:
    alpha, member = member_on_alpha
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shop = f"http://alpha.localhost{live_url}"

    page.goto(f"{shop}/pay/wallet/top-up/")
    page.wait_for_url(f"{shop}/accounts/login/?next=/pay/wallet/top-up/")
    page.fill("input[name=login]", member.email)
    page.fill("input[name=password]", MEMBER_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{shop}/pay/wallet/top-up/")
    assert page.get_by_test_id("wallet-balance").inner_text() == "0.00 CNY"

    page.fill("input[name=amount]", "88.80")
    page.get_by_test_id("top-up-form").locator("button[type=submit]").click()
    page.wait_for_url(f"http://localhost{live_url}/payments/sandbox/*/")
    assert page.get_by_test_id("sandbox-amount").inner_text() == "88.80 CNY"
    assert "Alpha Cards" in page.get_by_test_id("sandbox-checkout").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "payments-sandbox-checkout.png"), full_page=True)

    page.get_by_test_id("sandbox-pay").click()
    page.wait_for_url(f"{shop}/pay/return/*/")
    state = page.get_by_test_id("top-up-state")
    # The page refreshes itself until the worker's webhook has credited the wallet.
    page.wait_for_selector('[data-testid=top-up-state][data-state="credited"]', timeout=60_000)
    assert "88.80" in state.inner_text()
    assert page.get_by_test_id("wallet-balance").inner_text() == "88.80 CNY"
    page.screenshot(path=str(SCREENSHOTS / "payments-top-up-credited.png"), full_page=True)
    context.close()

    def credited() -> Decimal:
        with tenant_context(alpha):
            return member_balance(user=member, kind=MemberAccountKind.WALLET, currency="CNY")

    assert in_thread(credited) == Decimal("88.80")
