"""Site A's ticket id is refused on site B for every buyer and console step not covered
elsewhere: another site's buyer, a buyer's session carried to another site, and another site's
staff get a 404 (or a list without the ticket), and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from shared.sites.models import Site
from tests.aftersales.conftest import member_buys, staff_client, ticket_id_of
from tests.conftest import Network
from tests.orders.conftest import Shop, client_on, new_member


def test_another_sites_buyer_session_and_staff_cannot_reach_the_ticket(
    network: Network, alpha: Site, shop: Shop, state: Callable[[Site], tuple[Any, ...]]
) -> None:
    beta = network.beta
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    owner = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        owner.post(f"/support/new/{number}/", {"kind": "other", "message": "Key does not work."})
    )
    carried = client_on(beta)  # alpha buyer's session cookie sent to beta's domain
    carried.cookies[settings.SESSION_COOKIE_NAME] = owner.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    beta_buyer = client_on(beta, new_member(beta))
    beta_staff = staff_client(beta)
    before = (state(alpha), state(beta))

    for client in (carried, beta_buyer):
        assert client.get(f"/support/{ticket_id}/").status_code == 404
        reply = client.post(f"/support/{ticket_id}/reply/", {"body": "hi"})
        assert reply.status_code == 404
        listing = client.get("/support/")
        assert f'data-ticket="{ticket_id}"' not in listing.content.decode()
    assert carried.get(f"/support/new/{number}/").status_code == 404
    console_list = beta_staff.get("/console/tickets/")
    assert console_list.status_code == 200
    assert f"/console/tickets/{ticket_id}/" not in console_list.content.decode()
    assert beta_staff.post(f"/console/tickets/{ticket_id}/reissue/", {"note": "x"}).status_code == (
        404
    )

    assert (state(alpha), state(beta)) == before
    assert owner.get(f"/support/{ticket_id}/").status_code == 200
