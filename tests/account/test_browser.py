"""A member requests a commission withdrawal in a real browser (Debian's Chromium through
Playwright, a phone-sized window) against the live server, and the site owner sees the
request in the console."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind
from shared.ledger.services import account_get
from shared.ledger.settlement import ChainLink, settle_sale
from shared.sites.models import Site
from shared.sites.services import site_create
from shared.suppliers.models import Supplier
from tenants.wallets.commissions import CommissionSpec, commission_confirm, commission_record
from tenants.wallets.models import MemberWithdrawal
from tenants.wallets.services import wallet_adjust, wallet_spend
from tenants.wallets.withdrawals import member_withdrawal_fee
from tests.conftest import MEMBER_PASSWORD, OWNER_PASSWORD
from tests.wallets.conftest import available, new_member, withdrawing

D = Decimal
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".dev" / "screenshots"


def committed(work: Callable[[], Any]) -> Any:
    """Run `work` on a connection of its own, committed (the test's own is in a transaction)."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def _committed_earner() -> tuple[Site, Any, Decimal]:
    """A site of its own (committed rows cannot be rolled back, and other tests read the shared
    sites' and the platform's CNY balances) with a member holding 120.00 of available
    commission: another member, funded by a staff adjustment, paid a sale from the wallet whose
    level-1 commission is theirs. No platform-wide account moves (the HQ share is zero)."""
    run = uuid.uuid4().hex[:8]
    site = site_create(
        slug=f"br{run}", name=f"Browser {run}", owner_email=f"owner@br{run}.test",
        owner_password=OWNER_PASSWORD, use_pool=False,
    ).site  # fmt: skip
    supplier = Supplier.objects.create(name=f"Browser supplier {run}", kind="card_stock")
    with tenant_context(site):
        buyer, earner = new_member(site, "buyer"), new_member(site, "browser")
        wallet_adjust(
            user=buyer, amount=D("1200.00"), reason="test funds",
            actor_email=f"owner@br{run}.test", idempotency_key="funds",
        )  # fmt: skip
        with transaction.atomic():
            settle_sale(
                sale_key="s1", site=site, currency="CNY", amount_paid=D("1200.00"), quantity=1,
                chain=[ChainLink(site, D("300.00"))], supplier=supplier,
                supplier_unit_cost=D("300.00"), commission=D("120.00"),
                paid_from=account_get(kind=AccountKind.SITE_WALLETS, currency="CNY", site=site),
            )  # fmt: skip
            wallet_spend(
                user=buyer, amount=D("1200.00"), idempotency_key="o1", memo="o1", sale_key="s1"
            )
            commission_record(sale_key="s1", shares=[CommissionSpec(earner, 1, D("120.00"))])
        commission_confirm(sale_key="s1")
        return site, earner, member_withdrawal_fee(amount=D("80.00"))


def _sign_in(page: Any, base: str, email: str, password: str, then: str) -> None:
    page.goto(f"{base}/accounts/login/?next={then}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}{then}")


def test_member_requests_a_commission_withdrawal(browser: Any, live_url: str) -> None:
    site, member, fee = committed(_committed_earner)  # the live server reads committed rows
    base = f"http://{site.slug}.localhost{live_url}"
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    _sign_in(page, base, member.email, MEMBER_PASSWORD, "/account/commission/")
    assert page.get_by_test_id("commission-available").inner_text() == "120.00"
    form = page.get_by_test_id("withdrawal-form")
    form.locator("input[name=amount]").fill("80.00")
    form.locator("input[name=payee]").fill("Alipay 13800000000")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()

    assert page.url == f"{base}/account/commission/"
    row = page.get_by_test_id("withdrawal-row")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["80.00", str(fee), "Alipay 13800000000"]
    assert page.get_by_test_id("commission-withdrawing").inner_text() == str(Decimal("80.00") + fee)
    page.screenshot(path=str(SCREENSHOTS / "account-commission.png"), full_page=True)
    with tenant_context(site):  # this test's connection sees what the server committed
        [withdrawal] = MemberWithdrawal.objects.filter(user=member)
        assert (withdrawal.amount, withdrawal.fee, withdrawal.status) == (
            Decimal("80.00"),
            fee,
            "requested",
        )
        assert available(member) == Decimal("40.00") - fee
        assert withdrawing(member) == Decimal("80.00") + fee

    # The owner finds it in the console.
    owner = browser.new_context(locale="en-US").new_page()
    _sign_in(
        owner,
        base,
        f"owner@{site.slug}.test",
        OWNER_PASSWORD,
        "/console/money/commission-withdrawals/",
    )
    rows = owner.get_by_test_id("member-withdrawal-row").all_inner_texts()
    assert any(member.email in r and "Alipay 13800000000" in r for r in rows)
    owner.context.close()
    context.close()
