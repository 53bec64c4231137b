"""A member's session from one site is anonymous on another: the account order list sends it to
the login page and a wallet checkout there is refused, with nothing written anywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member, wallet_of


def test_a_members_session_from_another_site_orders_nothing(
    network: Network, shop: Shop, snapshot: Callable[[], tuple[Any, ...]]
) -> None:
    alpha, beta = network.alpha, network.beta
    member = new_member(alpha, funds="50")
    on_alpha = client_on(alpha, member)
    on_beta = client_on(beta)
    on_beta.cookies[settings.SESSION_COOKIE_NAME] = on_alpha.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    before = snapshot()

    listing = on_beta.get("/account/orders/")
    assert listing.status_code == 302 and listing["Location"].startswith("/accounts/login/")
    bought = on_beta.post(
        "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "wallet"}
    )
    assert bought.status_code == 400

    assert snapshot() == before
    assert str(wallet_of(alpha, member)) == "50.00"
    assert on_alpha.get("/account/orders/").status_code == 200
