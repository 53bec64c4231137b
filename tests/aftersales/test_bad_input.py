"""Bad input gets a clear error and changes nothing: a refund above what is left, a re-issue on
an order without keys or with no stock left, a reply to a closed ticket, a ticket on an unpaid
order or a second one while one is open, and actions without the permission."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.aftersales.models import Ticket
from tenants.console.roles import Role
from tenants.console.services import staff_role_assign
from tests.aftersales.conftest import (
    Shop,
    build_shop,
    client_on,
    member_buys,
    new_member,
    order_number,
    staff_client,
    ticket_id_of,
)


def _ticket(site: Site, buyer, number: str, kind: str = "other") -> int:  # type: ignore[no-untyped-def]
    return ticket_id_of(
        client_on(site, buyer).post(f"/support/new/{number}/", {"kind": kind, "message": "Help."})
    )


def test_refund_above_what_is_left_changes_nothing(alpha: Site, shop: Shop, state) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)  # 10.00
    ticket_id = _ticket(alpha, buyer, number, "refund_request")
    staff = staff_client(alpha)
    before = state(alpha)
    for data, text in [
        ({"amount": "10.01", "reason": "Too much."}, "At most 10.00 CNY is left to refund."),
        ({"amount": "-1", "reason": "Negative."}, "greater than or equal to 0.01"),
        ({"amount": "1.00", "reason": ""}, "This field is required."),
        ({"reason": "No amount."}, "Enter an amount, or tick"),
    ]:
        response = staff.post(f"/console/tickets/{ticket_id}/refund/", data)
        assert response.status_code == 400 and text in response.content.decode(), data
        assert state(alpha) == before


def test_reissue_on_an_order_without_keys_is_refused(alpha: Site, shop: Shop, state) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.manual.pk)
    client = client_on(alpha, buyer)
    before = state(alpha)
    # The buyer cannot report an invalid key on an order without keys.
    response = client.post(f"/support/new/{number}/", {"kind": "invalid_key", "message": "x"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert state(alpha) == before
    ticket_id = _ticket(alpha, buyer, number, "not_received")
    before = state(alpha)
    response = staff_client(alpha).post(f"/console/tickets/{ticket_id}/reissue/", {"key": "1"})
    assert response.status_code == 400
    assert "Only card-key orders can have a key re-issued." in response.content.decode()
    assert state(alpha) == before


def test_reissue_out_of_stock_changes_nothing(alpha: Site, db: None, state) -> None:
    shop = build_shop("aso", card_keys=1)
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    ticket_id = _ticket(alpha, buyer, number, "invalid_key")
    with tenant_context(alpha):
        reported = Ticket.objects.get(pk=ticket_id).reported_key_id
    before = state(alpha)
    response = staff_client(alpha).post(f"/console/tickets/{ticket_id}/reissue/", {"key": reported})
    assert response.status_code == 400
    assert "No replacement key is in stock" in response.content.decode()
    assert state(alpha) == before


def test_reply_to_a_closed_ticket_is_refused(alpha: Site, shop: Shop, state) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    ticket_id = _ticket(alpha, buyer, number)
    staff = staff_client(alpha)
    assert staff.post(f"/console/tickets/{ticket_id}/reject/", {"reason": "No."}).status_code == 302
    before = state(alpha)
    client = client_on(alpha, buyer)
    response = client.post(f"/support/{ticket_id}/reply/", {"body": "But why?"})
    assert response.status_code == 400 and "This ticket is closed" in response.content.decode()
    for action, data in [
        ("reply", {"body": "Late."}),
        ("reject", {"reason": "Twice."}),
        ("refund", {"whole": "on", "reason": "After all."}),
    ]:
        response = staff.post(f"/console/tickets/{ticket_id}/{action}/", data)
        assert response.status_code == 400, action
        assert "already resolved" in response.content.decode(), action
    assert state(alpha) == before
    # A new ticket can be opened once the first is resolved.
    assert _ticket(alpha, buyer, number) != ticket_id


def test_ticket_needs_a_paid_order_and_one_at_a_time(alpha: Site, shop: Shop, state) -> None:
    buyer = new_member(alpha, funds="50.00")
    client = client_on(alpha, buyer)
    unpaid = order_number(  # a card order waits for its payment
        client.post("/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "card"})
    )
    before = state(alpha)
    response = client.post(f"/support/new/{unpaid}/", {"kind": "other", "message": "Help."})
    assert response.status_code == 400 and "has not been paid" in response.content.decode()
    response = client.post(f"/support/new/{unpaid}/", {"kind": "other", "message": "   "})
    assert response.status_code == 400
    assert state(alpha) == before

    number = member_buys(alpha, buyer, shop.card.pk)
    first = _ticket(alpha, buyer, number)
    again = client.post(f"/support/new/{number}/", {"kind": "other", "message": "Again."})
    assert again.status_code == 302 and again["Location"] == f"/support/{first}/"
    with tenant_context(alpha):
        assert Ticket.objects.filter(order__number=number).count() == 1


def test_support_staff_cannot_resolve(alpha: Site, shop: Shop, state) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    ticket_id = _ticket(alpha, buyer, number, "refund_request")
    helper = new_member(alpha, name="helper")
    with tenant_context(alpha):
        owner = get_user_model().objects.get(email="owner@alpha.test")
        staff_role_assign(user=helper, role=Role.SUPPORT, actor=owner)
    client = client_on(alpha, helper)
    assert client.get(f"/console/tickets/{ticket_id}/").status_code == 200
    before = state(alpha)
    for action, data in [
        ("refund", {"whole": "on", "reason": "x"}),
        ("reject", {"reason": "x"}),
        ("reply", {"body": "x"}),
    ]:
        assert client.post(f"/console/tickets/{ticket_id}/{action}/", data).status_code == 403
    assert state(alpha) == before
    # A member who is not staff gets no console at all.
    assert client_on(alpha, buyer).get(f"/console/tickets/{ticket_id}/").status_code == 403
