"""The background work of orders on a real Celery worker: the delivery email and a direct
top-up against a real supplier simulator, both sent after commit to run in the order's site
schema. Data is committed (a fresh site and catalogue), since the worker has its own
connection."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django_tenants.utils import tenant_context

from shared.sites.services import site_create
from shared.suppliers.services import supplier_offer_set
from tenants.members.services import member_create
from tenants.orders.models import Order
from tenants.orders.services import order_create, order_pay_with_wallet
from tenants.wallets.services import wallet_top_up
from tests.conftest import MEMBER_PASSWORD, OWNER_PASSWORD
from tests.orders.conftest import build_shop
from tests.orders.test_concurrency import _committed
from tests.suppliers.conftest import api_supplier, start_simulator, stop_simulator

D = Decimal


def _wait(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = _committed(check)
        if value:
            return value
        time.sleep(0.3)
    pytest.fail("the worker did not finish in time")


@override_settings(ORDER_TOPUP_POLL_SECONDS=0, ORDER_TOPUP_BACKOFF_SECONDS=0)
def test_worker_emails_keys_and_runs_a_topup(db: None, celery_worker: Any) -> None:
    simulator = start_simulator(protocol="kameng", mode="poll")
    try:
        tag = uuid.uuid4().hex[:6]

        def setup() -> tuple[Any, Any, Any]:
            shop = build_shop(f"wrk{tag}")
            supplier_offer_set(supplier=api_supplier(simulator), sku=shop.topup, cost="25.00")
            site = site_create(
                slug=f"wrk-{tag}", name="Worker shop", owner_email=f"o@{tag}.test",
                owner_password=OWNER_PASSWORD, use_pool=False,
            ).site  # fmt: skip
            with tenant_context(site):
                buyer = member_create(email=f"b@{tag}.test", password=MEMBER_PASSWORD)
                wallet_top_up(user=buyer, amount=D("100"), idempotency_key="f", source="test")
            return shop, site, buyer

        shop, site, buyer = _committed(setup)
        mail.outbox.clear()

        def buy(sku: Any, **extra: Any) -> int:
            with tenant_context(site):
                order = order_create(
                    site=site, sku=sku, quantity=1, payment_method="wallet", buyer=buyer, **extra
                )
                order_pay_with_wallet(order=order, user=buyer)
                return order.pk

        card_order = _committed(lambda: buy(shop.card))
        message = _wait(lambda: next((m for m in mail.outbox if m.to == [buyer.email]), None))
        assert f"WRK{tag.upper()}-CARD-" in message.body

        topup_order = _committed(lambda: buy(shop.topup, input_values={"phone": "13800138000"}))

        def delivered() -> bool:
            with tenant_context(site):
                return Order.objects.get(pk=topup_order).status == "delivered"

        assert _wait(delivered)
        with tenant_context(site):
            assert Order.objects.get(pk=card_order).status == "delivered"
        assert any(o.endswith(f":{topup_order}") for o in simulator.orders())
    finally:
        stop_simulator(simulator)
