"""Bad input gets a clear error and writes nothing: quantities out of limits, invalid top-up
fields, out of stock, an expired reservation, a tampered amount or currency in a payment, and
the state machine refusing moves it does not allow."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.models import Settlement
from shared.payments.registry import PaymentMismatch
from shared.vault.selectors import stock_levels
from tenants.orders.models import Order
from tenants.orders.services import (
    OrderError,
    order_create,
    order_payment_confirmed,
    order_review_hold,
)
from tenants.orders.states import TRANSITIONS, OrderStatus, TransitionRefused, order_transition
from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member

D = Decimal
GUEST = {"email": "guest@buyer.test", "query_password": "secret-123"}


def _post(client, sku, **data):  # type: ignore[no-untyped-def]
    return client.post("/order/new/", {"sku": sku.pk, "payment_method": "card", **GUEST, **data})


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"quantity": 0}, "quantity", "greater than or equal to 1"),
        ({"quantity": 4}, "quantity", "less than or equal to 3"),
        ({"quantity": "two"}, "quantity", "Enter a whole number"),
        ({"quantity": 1, "email": "not-an-email"}, "email", "valid email"),
        ({"quantity": 1, "query_password": "123"}, "query_password", "at least 6"),
        ({"quantity": 1, "payment_method": "wallet"}, "payment_method", "Select a valid choice"),
    ],
)
def test_checkout_refuses_bad_input_and_writes_nothing(
    network: Network, shop: Shop, snapshot, data, field, message
) -> None:
    before, stock = snapshot(), stock_levels([shop.card.pk])[shop.card.pk]
    response = _post(client_on(network.alpha), shop.card, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'data-testid="error-{field}"' in page and message in page
    assert snapshot() == before and stock_levels([shop.card.pk])[shop.card.pk] == stock


@pytest.mark.parametrize(
    ("phone", "message"),
    [("", "This field is required."), ("12345", "Enter a mobile number")],
)
def test_invalid_topup_fields_are_refused(
    network: Network, shop: Shop, snapshot, phone, message
) -> None:
    before = snapshot()
    response = _post(client_on(network.alpha), shop.topup, quantity=1, input_phone=phone)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_out_of_stock_is_refused_before_payment(network: Network, shop: Shop, snapshot) -> None:
    client = client_on(network.alpha)
    assert _post(client, shop.card, quantity=3).status_code == 302
    before = snapshot()
    response = _post(client, shop.card, quantity=3)
    assert response.status_code == 400
    assert "Only 2 left in stock" in response.content.decode()
    assert snapshot() == before
    assert _post(client, shop.card, quantity=2).status_code == 302
    response = _post(client, shop.card, quantity=1)
    assert "Sold out" in response.content.decode()


def test_a_hidden_or_unknown_product_cannot_be_ordered(
    network: Network, shop: Shop, snapshot
) -> None:
    before = snapshot()
    client = client_on(network.alpha)
    assert client.post("/order/new/", {"sku": 999999, "quantity": 1}).status_code == 404
    assert client.get("/order/new/?sku=abc").status_code == 404
    assert client.get(f"/order/new/?sku={10**30}").status_code == 404
    with tenant_context(network.alpha):
        from tenants.pricing.services import product_override_set

        product_override_set(product=shop.card.product, hidden=True)
    assert _post(client, shop.card, quantity=1).status_code == 404
    assert snapshot()[0] == before[0]


def test_expired_reservation_cannot_be_paid_from_the_wallet(
    network: Network, shop: Shop, snapshot
) -> None:
    alpha = network.alpha
    buyer = new_member(alpha, funds="50.00")
    client = client_on(alpha, buyer)
    with tenant_context(alpha):  # a wallet order left waiting (the buy form pays at once)
        number = order_create(
            site=alpha, sku=shop.card, quantity=1, payment_method="wallet", buyer=buyer
        ).number
        Order.objects.filter(number=number).update(reserved_until=timezone.now())
    before = snapshot()
    page = client.post(f"/order/{number}/pay/", follow=True).content.decode()
    assert "This order has expired" in page
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "currency"), [(D("0.01"), "CNY"), (D("10.01"), "CNY"), (D("10.00"), "USD")]
)
def test_a_payment_that_does_not_match_is_refused_and_the_order_held(
    network: Network, shop: Shop, snapshot, amount, currency
) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    response = _post(client, shop.card, quantity=1)
    number = re.fullmatch(r"/order/(K\d+)/", response["Location"]).group(1)  # type: ignore[union-attr]
    with tenant_context(alpha):
        order = Order.objects.get(number=number)
    before = snapshot()
    with tenant_context(alpha), pytest.raises(PaymentMismatch):
        order_payment_confirmed(
            site=alpha,
            reference=f"{alpha.schema_name}:{order.pk}",
            amount=amount,
            currency=currency,
            payment_ref="pi_tampered",
            fee=D("0"),
        )
    assert snapshot() == before
    assert not Settlement.objects.filter(sale_key=f"{alpha.schema_name}:{order.pk}").exists()
    # The review hold the handler queued (it runs after the webhook's transaction).
    with tenant_context(alpha):
        assert order_review_hold(order_id=order.pk, reason="Paid 0.01 CNY") is True
        held = Order.objects.get(pk=order.pk)
        assert (held.status, held.payment_status) == ("under_review", "unpaid")
        assert held.events.last().reason == "Paid 0.01 CNY"
        assert order_review_hold(order_id=order.pk, reason="again") is False


def test_member_order_for_another_member_or_guest_wallet_is_refused(
    network: Network, shop: Shop, snapshot
) -> None:
    alpha, beta = network.alpha, network.beta
    beta_member = new_member(beta)
    before = snapshot()
    with tenant_context(alpha), pytest.raises(OrderError):
        order_create(
            site=alpha, sku=shop.card, quantity=1, payment_method="wallet", buyer=beta_member
        )
    with tenant_context(alpha), pytest.raises(OrderError) as refused:
        order_create(site=alpha, sku=shop.card, quantity=1, payment_method="wallet", **GUEST)
    assert "Log in to pay from your balance" in str(refused.value)
    assert snapshot() == before


def test_transition_table_is_enforced(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    with tenant_context(alpha):
        order = order_create(
            site=alpha, sku=shop.manual, quantity=1, payment_method="card", **GUEST
        )
        events = order.events.count()
        for target in OrderStatus.values:
            if target in TRANSITIONS[OrderStatus.PENDING_PAYMENT]:
                continue
            with pytest.raises(TransitionRefused):
                order_transition(order=order, to=target, actor="test")
            order.refresh_from_db()
            assert order.status == "pending_payment"
        assert order.events.count() == events
        # Final states allow nothing.
        assert OrderStatus.REFUNDED not in TRANSITIONS


def test_a_taken_order_number_is_drawn_again_and_never_overwritten(
    network: Network, shop: Shop, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number already used is skipped for a fresh one in the same transaction; when every
    draw is taken the order is refused and nothing is written (keys stay on sale)."""
    from tenants.orders import services

    alpha = network.alpha
    with tenant_context(alpha):
        first = order_create(site=alpha, sku=shop.card, quantity=1, payment_method="card", **GUEST)
        draws = iter([first.number, first.number, "K20261122FRESH001"])
        monkeypatch.setattr(services, "_number", lambda: next(draws))
        second = order_create(site=alpha, sku=shop.card, quantity=1, payment_method="card", **GUEST)
        assert second.number == "K20261122FRESH001"
        assert Order.objects.get(pk=second.pk).number == second.number
        assert Order.objects.get(pk=first.pk).email == GUEST["email"]
    before, stock = snapshot(), stock_levels([shop.card.pk])[shop.card.pk]
    with tenant_context(alpha):
        monkeypatch.setattr(services, "_number", lambda: first.number)
        with pytest.raises(OrderError, match="Could not allocate an order number"):
            order_create(site=alpha, sku=shop.card, quantity=1, payment_method="card", **GUEST)
    assert snapshot() == before
    assert stock_levels([shop.card.pk])[shop.card.pk] == stock


def test_a_price_removed_after_checkout_still_settles_the_paid_order(
    network: Network, shop: Shop
) -> None:
    """The chain's unit costs are fixed when the order is placed: HQ removing the SKU's price
    before the card payment arrives changes nothing for that order (delivered, ledger clean),
    while a new order is refused."""
    from shared.catalog.models import TierPrice
    from shared.ledger.services import ledger_verify

    alpha = network.alpha
    with tenant_context(alpha):
        order = order_create(site=alpha, sku=shop.card, quantity=1, payment_method="card", **GUEST)
    TierPrice.objects.filter(sku=shop.card).delete()
    with tenant_context(alpha):
        with pytest.raises(OrderError, match="no price on this site"):
            order_create(site=alpha, sku=shop.card, quantity=1, payment_method="card", **GUEST)
        order_payment_confirmed(
            site=alpha,
            reference=order.order_ref,
            amount=order.total,
            currency=order.currency,
            payment_ref="pi_price_gone",
            fee=D("0"),
        )
        order.refresh_from_db()
        assert order.status == "delivered"
        ref = order.order_ref
    assert Settlement.objects.filter(sale_key=ref).count() == 1
    assert ledger_verify() == []
