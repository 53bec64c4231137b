"""Direct top-ups against real supplier simulator processes: delivered by the first supplier,
failed over to the next one, refunded automatically when every supplier fails, and completed by
the supplier's answer whichever way it arrives (submission, poll or callback), once."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from shared.ledger.models import Settlement, SettlementShare, ShareParty
from shared.ledger.services import ledger_verify
from shared.suppliers.adapters import TopupResult
from shared.suppliers.services import supplier_offer_set
from tenants.orders.models import Order, TopupAttempt
from tenants.orders.topups import order_topup_result, topup_advance, topup_poll
from tenants.wallets.mirror import site_mirror_check
from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member, wallet_of
from tests.suppliers.conftest import Simulator, api_supplier, start_simulator, stop_simulator

D = Decimal
pytestmark = pytest.mark.usefixtures("alpha_markup")


@pytest.fixture(scope="module")
def simulators() -> tuple[Simulator, Simulator]:
    first = start_simulator(protocol="kameng", mode="poll")
    second = start_simulator(protocol="classic", mode="poll")
    yield first, second  # type: ignore[misc]
    stop_simulator(first)
    stop_simulator(second)


@pytest.fixture
def suppliers(shop: Shop, simulators: tuple[Simulator, Simulator]):  # type: ignore[no-untyped-def]
    first, second = simulators
    first.reset()
    second.reset()
    one, two = api_supplier(first), api_supplier(second)
    supplier_offer_set(supplier=one, sku=shop.topup, cost="25.00", priority=1)
    supplier_offer_set(supplier=two, sku=shop.topup, cost="26.00", priority=2)
    return one, two


def _paid_topup(network: Network, shop: Shop, funds: str = "100.00") -> tuple[Order, object]:
    alpha = network.alpha
    buyer = new_member(alpha, funds=funds)
    client = client_on(alpha, buyer)
    response = client.post(
        "/order/new/",
        {
            "sku": shop.topup.pk,
            "quantity": 1,
            "payment_method": "wallet",
            "input_phone": "13800138000",
        },
    )
    assert response.status_code == 302, response.content[:1500]
    number = re.fullmatch(r"/order/(K\d+)/", response["Location"]).group(1)  # type: ignore[union-attr]
    with tenant_context(alpha):
        order = Order.objects.get(number=number)
    assert (order.status, order.fulfilment_status) == ("delivering", "delivering")
    assert wallet_of(alpha, buyer) == D(funds) - D("31.00")  # taken at payment
    return order, buyer


def _run(network: Network, order: Order, steps: int = 20) -> Order:
    """Drive the orchestration as the worker would (each step is one task run)."""
    with tenant_context(network.alpha):
        for _ in range(steps):
            order.refresh_from_db()
            if order.status != "delivering":
                break
            pending = order.topup_attempts.filter(status="pending").first()
            if pending is not None:
                topup_poll(order_id=order.pk, supplier_id=pending.supplier_id)
            else:
                topup_advance(order_id=order.pk)
        order.refresh_from_db()
    return order


@override_settings(ORDER_TOPUP_ATTEMPTS=2, ORDER_TOPUP_POLL_SECONDS=0)
def test_topup_delivered_by_the_first_supplier(network: Network, shop: Shop, suppliers) -> None:
    one, _two = suppliers
    order, buyer = _paid_topup(network, shop)
    order = _run(network, order)
    assert (order.status, order.fulfilment_status) == ("delivered", "delivered")
    with tenant_context(network.alpha):
        attempts = list(order.topup_attempts.values_list("supplier_id", "status"))
        assert site_mirror_check(network.alpha) == []
    assert attempts == [(one.pk, "succeeded")]
    settlement = Settlement.objects.get(sale_key=f"{network.alpha.schema_name}:{order.pk}")
    supplier_share = SettlementShare.objects.get(settlement=settlement, party=ShareParty.SUPPLIER)
    assert (settlement.amount_paid, supplier_share.amount) == (D("31.00"), D("25.00"))
    assert wallet_of(network.alpha, buyer) == D("69.00")
    assert ledger_verify() == []


@override_settings(
    ORDER_TOPUP_ATTEMPTS=2, ORDER_TOPUP_BACKOFF_SECONDS=0, ORDER_TOPUP_POLL_SECONDS=0
)
def test_topup_fails_over_then_refunds_when_every_supplier_fails(
    network: Network, shop: Shop, suppliers, simulators
) -> None:
    first, second = simulators
    one, two = suppliers
    first.force("error")  # HTTP 500: unavailable, retried, then the next supplier
    second.force("succeeded")
    order, _buyer = _paid_topup(network, shop)
    order = _run(network, order)
    assert order.status == "delivered"
    with tenant_context(network.alpha):
        attempts = dict(order.topup_attempts.values_list("supplier_id", "status"))
        tries = order.topup_attempts.get(supplier_id=one.pk).tries
    assert attempts == {one.pk: "unavailable", two.pk: "succeeded"} and tries == 2
    settlement = Settlement.objects.get(sale_key=f"{network.alpha.schema_name}:{order.pk}")
    assert SettlementShare.objects.get(
        settlement=settlement, party=ShareParty.SUPPLIER
    ).amount == D("26.00")

    first.force("refuse")
    second.force("failed")
    order, buyer = _paid_topup(network, shop)
    order = _run(network, order)
    assert (order.status, order.payment_status, order.amount_refunded) == (
        "refunded",
        "refunded",
        D("31.00"),
    )
    assert wallet_of(network.alpha, buyer) == D("100.00")
    assert not Settlement.objects.filter(
        sale_key=f"{network.alpha.schema_name}:{order.pk}"
    ).exists()
    with tenant_context(network.alpha):
        assert site_mirror_check(network.alpha) == []
        history = list(order.events.values_list("to_status", flat=True))
    assert history[-2:] == ["failed", "refunded"]
    assert ledger_verify() == []


@override_settings(ORDER_TOPUP_POLL_SECONDS=0)
def test_callback_completes_a_pending_topup_once(
    network: Network, shop: Shop, suppliers, simulators
) -> None:
    first, _second = simulators
    one, _two = suppliers
    first.force("pending")
    order, _buyer = _paid_topup(network, shop)
    with tenant_context(network.alpha):
        assert topup_advance(order_id=order.pk) == "pending"
        assert TopupAttempt.objects.get(order=order).status == "pending"
        result = TopupResult(status="succeeded", supplier_ref="SUP-1", message="done")
        for _ in range(3):  # suppliers repeat callbacks
            order_topup_result(
                order_ref=f"{network.alpha.schema_name}:{order.pk}",
                supplier_id=one.pk,
                result=result,
            )
        order.refresh_from_db()
        assert (order.status, order.events.filter(to_status="delivered").count()) == (
            "delivered",
            1,
        )
    assert (
        Settlement.objects.filter(sale_key=f"{network.alpha.schema_name}:{order.pk}").count() == 1
    )
    assert ledger_verify() == []


@override_settings(ORDER_TOPUP_POLL_SECONDS=0)
def test_a_stalled_topup_is_picked_up_again(network: Network, shop: Shop, suppliers) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tenants.orders.topups import topups_resume

    order, _buyer = _paid_topup(network, shop)  # its first task was never run (a lost task)
    with tenant_context(network.alpha):
        assert order.pk not in topups_resume()  # not stalled yet
        later = timezone.now() + timedelta(minutes=10)
        assert order.pk in topups_resume(now=later)
    assert _run(network, order).status == "delivered"
    with tenant_context(network.alpha):
        assert order.pk not in topups_resume(now=timezone.now() + timedelta(minutes=10))
