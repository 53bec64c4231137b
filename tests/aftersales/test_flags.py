"""Buyers who refund often are flagged: a member account or a guest email with N refunded
orders (or N refund requests) in the window is shown to staff on tickets and on the console's
order page, can be filtered on, and, when the setting asks for it, needs a review before the
next refund."""

from __future__ import annotations

from decimal import Decimal

from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.aftersales.models import Ticket
from tenants.aftersales.selectors import buyer_refund_record, flagged_buyers
from tests.aftersales.conftest import (
    Shop,
    client_on,
    guest_buys,
    member_buys,
    new_member,
    order_of,
    staff_client,
    ticket_id_of,
)

D = Decimal


def _refund_ticket(site: Site, client, number: str) -> int:  # type: ignore[no-untyped-def]
    return ticket_id_of(
        client.post(f"/support/new/{number}/", {"kind": "refund_request", "message": "Refund."})
    )


def test_member_flagged_after_n_refunds_needs_review(
    alpha: Site, shop: Shop, settings, state
) -> None:
    settings.AFTERSALES_FLAG_REFUNDS = 2
    settings.AFTERSALES_FLAG_REQUIRES_REVIEW = True
    buyer = new_member(alpha, funds="200.00")
    calm = new_member(alpha, funds="200.00", name="calm")
    client = client_on(alpha, buyer)
    staff = staff_client(alpha)
    numbers = [member_buys(alpha, buyer, shop.manual.pk) for _ in range(3)]
    calm_number = member_buys(alpha, calm, shop.manual.pk)
    calm_ticket = _refund_ticket(alpha, client_on(alpha, calm), calm_number)

    first = _refund_ticket(alpha, client, numbers[0])
    assert (
        staff.post(
            f"/console/tickets/{first}/refund/", {"whole": "on", "reason": "Not delivered."}
        ).status_code
        == 302
    )
    with tenant_context(alpha):
        record = buyer_refund_record(buyer_id=buyer.pk, email=buyer.email)
        assert (record.refunded_orders, record.refund_tickets, record.flagged) == (1, 1, False)
    second = _refund_ticket(alpha, client, numbers[1])  # the second refund request: flagged
    with tenant_context(alpha):
        assert buyer_refund_record(buyer_id=buyer.pk, email=buyer.email).flagged
        flags = flagged_buyers()
        assert buyer.pk in flags.member_ids and calm.pk not in flags.member_ids

    detail = staff.get(f"/console/tickets/{second}/").content.decode()
    assert 'data-testid="buyer-flag"' in detail and "Frequent refunds" in detail
    flagged_list = staff.get("/console/tickets/?flagged=on").content.decode()
    assert (
        f'data-ticket="{second}"' in flagged_list
        and f'data-ticket="{calm_ticket}"' not in flagged_list
    )
    assert f'data-ticket="{calm_ticket}"' in staff.get("/console/tickets/").content.decode()
    order_page = staff.get(f"/console/orders/{order_of(alpha, numbers[2]).pk}/").content.decode()
    assert 'data-testid="buyer-flag"' in order_page
    calm_page = staff.get(f"/console/orders/{order_of(alpha, calm_number).pk}/").content.decode()
    assert 'data-testid="buyer-flag"' not in calm_page and 'data-testid="buyer-record"' in calm_page

    before = state(alpha)
    refused = staff.post(f"/console/tickets/{second}/refund/", {"whole": "on", "reason": "Again."})
    assert refused.status_code == 400 and "flagged for frequent refunds" in refused.content.decode()
    assert state(alpha) == before
    assert (
        staff.post(
            f"/console/tickets/{second}/refund/",
            {"whole": "on", "reason": "Again.", "reviewed": "on"},
        ).status_code
        == 302
    )
    with tenant_context(alpha):
        assert Ticket.objects.get(pk=second).resolution == "refunded"
        assert buyer_refund_record(buyer_id=buyer.pk, email=buyer.email).refunded_orders == 2


def test_guest_flagged_by_email_across_orders(alpha: Site, shop: Shop, settings) -> None:
    settings.AFTERSALES_FLAG_REFUNDS = 2
    staff = staff_client(alpha)
    tickets = []
    for _ in range(2):
        guest = guest_buys(alpha, shop.card.pk, email="often@buyer.test")
        ticket_id = _refund_ticket(alpha, guest.client, guest.number)
        response = staff.post(
            f"/console/tickets/{ticket_id}/refund/", {"whole": "on", "reason": "Card refund."}
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        tickets.append(ticket_id)
    assert order_of(alpha, guest.number).status == "refunded"
    with tenant_context(alpha):
        record = buyer_refund_record(buyer_id=None, email="OFTEN@buyer.test")
        assert (record.refunded_orders, record.refund_tickets, record.flagged) == (2, 2, True)
        assert "often@buyer.test" in flagged_buyers().guest_emails
    listing = staff.get("/console/tickets/?flagged=on").content.decode()
    assert all(f'data-ticket="{t}"' in listing for t in tickets)
    assert 'data-flagged="1"' in listing
