"""The console's order pages: filters, who may see and act by role, and actions refused
without the permission change nothing."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from tenants.console.roles import Role
from tenants.console.services import staff_role_assign
from tenants.orders.models import Order
from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member

GUEST = {"email": "filter@buyer.test", "query_password": "secret-123"}


def _place(site, shop: Shop, sku, **extra):  # type: ignore[no-untyped-def]
    response = client_on(site).post(
        "/order/new/", {"sku": sku.pk, "quantity": 1, "payment_method": "card", **GUEST, **extra}
    )
    assert response.status_code == 302, response.content[:1500]
    number = re.fullmatch(r"/order/(K\d+)/", response["Location"]).group(1)  # type: ignore[union-attr]
    with tenant_context(site):
        return Order.objects.get(number=number)


def _staff(site, role: str):  # type: ignore[no-untyped-def]
    user = new_member(site, name=role)
    if role != "member":
        with tenant_context(site):
            staff_role_assign(user=user, role=Role(role))
    return client_on(site, user)


def test_order_list_filters(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    card = _place(alpha, shop, shop.card)
    manual = _place(alpha, shop, shop.manual)
    with tenant_context(alpha):
        from tenants.orders.services import order_cancel

        order_cancel(order=manual, actor="test")
    staff = _staff(alpha, "support")
    page = staff.get("/console/orders/").content.decode()
    assert card.number in page and manual.number in page
    assert 'data-testid="nav-orders"' in page
    only_cancelled = staff.get("/console/orders/?status=cancelled").content.decode()
    assert manual.number in only_cancelled and card.number not in only_cancelled
    by_kind = staff.get("/console/orders/?kind=card_key").content.decode()
    assert card.number in by_kind and manual.number not in by_kind
    by_number = staff.get(f"/console/orders/?q={card.number}").content.decode()
    assert card.number in by_number and manual.number not in by_number
    detail = staff.get(f"/console/orders/{card.pk}/").content.decode()
    assert "Waiting for payment" in detail and 'data-testid="refund"' not in detail


@pytest.mark.parametrize(
    ("role", "can_view", "can_cancel", "can_refund"),
    [
        ("owner", True, True, True),
        ("admin", True, True, True),
        ("operations", True, True, False),
        ("support", True, False, False),
        ("marketing", False, False, False),
        ("member", False, False, False),
    ],
)
def test_roles_on_order_pages(
    network: Network, shop: Shop, role: str, can_view: bool, can_cancel: bool, can_refund: bool
) -> None:
    alpha = network.alpha
    order = _place(alpha, shop, shop.card)
    if role == "owner":
        with tenant_context(alpha):
            from django.contrib.auth import get_user_model

            client = client_on(alpha, get_user_model().objects.get(email="owner@alpha.test"))
    else:
        client = _staff(alpha, role)
    assert (client.get("/console/orders/").status_code == 200) is can_view
    refund = client.post(
        f"/console/orders/{order.pk}/refund/", {"whole": "on", "reason": "x", "token": "t1"}
    )
    # Refunding an unpaid order is refused by the service (400) when the role may refund.
    assert refund.status_code == (400 if can_refund else 403)
    response = client.post(f"/console/orders/{order.pk}/cancel/", {"reason": "test"})
    assert response.status_code == (302 if can_cancel else 403)
    with tenant_context(alpha):
        status = Order.objects.get(pk=order.pk).status
    assert status == ("cancelled" if can_cancel else "pending_payment")
