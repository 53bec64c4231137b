"""Another site's orders cannot be seen, paid, cancelled, looked up or managed: site A's order
number, id, session or payment reference on site B gets a 404 (or is refused) and nothing
changes. Guests see an order only after proving its query password, with throttling."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from shared.payments.registry import PaymentMismatch
from tenants.orders.models import Order
from tenants.orders.services import order_payment_confirmed
from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member

D = Decimal
GUEST = {"email": "guest@buyer.test", "query_password": "secret-123"}


def _place(client, shop: Shop, **extra: object) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "card", **extra}
    )
    assert response.status_code == 302, response.content[:1500]
    return re.fullmatch(r"/order/(K\d{16})/", response["Location"]).group(1)  # type: ignore[union-attr]


def _owner(site):  # type: ignore[no-untyped-def]
    with tenant_context(site):
        return get_user_model().objects.get(email=f"owner@{site.slug}.test")


def test_another_sites_order_is_not_found_and_unchanged(
    network: Network, shop: Shop, snapshot
) -> None:
    alpha, beta = network.alpha, network.beta
    buyer = client_on(alpha)
    number = _place(buyer, shop, **GUEST)
    with tenant_context(alpha):
        order = Order.objects.get(number=number)
    before = snapshot()

    on_beta = client_on(beta)
    on_beta.cookies[settings.SESSION_COOKIE_NAME] = buyer.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    for path in (f"/order/{number}/", f"/order/{number}/status/"):
        assert on_beta.get(path).status_code == 404
    for path in (f"/order/{number}/pay/", f"/order/{number}/cancel/"):
        assert on_beta.post(path).status_code == 404
    lookup = on_beta.post("/order/lookup/", {"number": number, "password": "secret-123"})
    assert lookup.status_code == 400 and "No order matches" in lookup.content.decode()
    beta_staff = client_on(beta, _owner(beta))
    assert beta_staff.get(f"/console/orders/{order.pk}/").status_code in (404,)
    for action in ("deliver", "refund", "cancel"):
        response = beta_staff.post(
            f"/console/orders/{order.pk}/{action}/",
            {"note": "x", "whole": "on", "reason": "x", "token": "t"},
        )
        assert response.status_code == 404
    listing = beta_staff.get("/console/orders/").content.decode()
    assert number not in listing
    # A payment naming alpha's order but confirmed for beta is refused.
    with tenant_context(beta), pytest.raises(PaymentMismatch):
        order_payment_confirmed(
            site=beta,
            reference=f"{alpha.schema_name}:{order.pk}",
            amount=D("9.00"),
            currency="CNY",
            payment_ref="pi_cross_site",
            fee=D("0"),
        )
    assert snapshot() == before
    with tenant_context(alpha):
        assert Order.objects.get(pk=order.pk).status == "pending_payment"
    assert buyer.get(f"/order/{number}/").status_code == 200


def test_members_see_only_their_own_orders(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    one, two = new_member(alpha, funds="50"), new_member(alpha, funds="50")
    first = client_on(alpha, one)
    number = _place(first, shop)
    second = client_on(alpha, two)
    assert second.get(f"/order/{number}/").status_code == 404
    assert second.post(f"/order/{number}/pay/").status_code == 404
    assert number not in second.get("/account/orders/").content.decode()
    assert number in first.get("/account/orders/").content.decode()
    # A guest session cannot open a member's order either, nor look it up.
    guest = client_on(alpha)
    assert guest.get(f"/order/{number}/").status_code == 404
    assert client_on(alpha).get("/account/orders/").status_code == 302  # to the login page


def test_guest_lookup_with_password_and_throttling(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    number = _place(client_on(alpha), shop, **GUEST)
    visitor = client_on(alpha)
    assert visitor.get(f"/order/{number}/").status_code == 404
    wrong = visitor.post("/order/lookup/", {"number": number, "password": "wrong-one"})
    assert wrong.status_code == 400 and "No order matches" in wrong.content.decode()
    right = visitor.post("/order/lookup/", {"number": number, "password": "secret-123"})
    assert right.status_code == 302 and right["Location"] == f"/order/{number}/"
    assert visitor.get(f"/order/{number}/").status_code == 200

    # Guessing: after ORDER_LOOKUP_ATTEMPTS_PER_ORDER failures on one number, even the right
    # password is refused for the window, from any address.
    limit = settings.ORDER_LOOKUP_ATTEMPTS_PER_ORDER
    for attempt in range(limit - 1):  # one wrong attempt above already counts
        guesser = client_on(alpha)
        guess = guesser.post("/order/lookup/", {"number": number, "password": f"guess-{attempt}"})
        assert guess.status_code == 400
    late = client_on(alpha).post("/order/lookup/", {"number": number, "password": "secret-123"})
    assert late.status_code == 429 and "Too many failed attempts" in late.content.decode()

    # Per address: one address guessing across many numbers is stopped too.
    other = _place(client_on(alpha), shop, **GUEST)
    guesser = client_on(alpha)
    for n in range(settings.ORDER_LOOKUP_ATTEMPTS_PER_IP):
        guesser.post("/order/lookup/", {"number": f"K2026010100000{n:03d}", "password": "x" * 8})
    blocked = guesser.post("/order/lookup/", {"number": other, "password": "secret-123"})
    assert blocked.status_code == 429
    assert (
        client_on(alpha)
        .post("/order/lookup/", {"number": other, "password": "secret-123"})
        .status_code
        == 302
    )
