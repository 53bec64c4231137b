"""Every orders, tickets and money page of the console refuses an owner's session carried to
another site: it is sent to the login page and nothing is written on either site."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from shared.ledger.models import Transaction
from shared.payouts.models import ConnectedAccount, Withdrawal
from tenants.aftersales.models import Ticket, TicketEvent
from tenants.orders.models import OrderEvent
from tenants.wallets.models import MemberTransaction, MemberWithdrawal
from tests.conftest import Network, site_host

ConsoleAs = Callable[..., Client]

PAGES = [
    ("get", "/console/orders/", {}),
    ("get", "/console/orders/1/", {}),
    ("post", "/console/orders/1/deliver/", {"note": "x"}),
    ("post", "/console/orders/1/refund/", {"whole": "on", "reason": "x", "token": "t"}),
    ("post", "/console/orders/1/cancel/", {"reason": "x"}),
    ("get", "/console/tickets/", {}),
    ("get", "/console/tickets/1/", {}),
    ("post", "/console/tickets/1/reply/", {"body": "x"}),
    ("post", "/console/tickets/1/reissue/", {"note": "x"}),
    ("post", "/console/tickets/1/refund/", {"whole": "on", "reason": "x"}),
    ("post", "/console/tickets/1/reject/", {"reason": "x"}),
    ("get", "/console/tickets/1/files/1/", {}),
    ("get", "/console/money/", {}),
    ("post", "/console/money/withdraw/", {"amount": "1.00", "key": "k"}),
    ("post", "/console/money/connect/", {}),
    ("get", "/console/money/connect/return/", {}),
    ("get", "/console/money/commission-withdrawals/", {}),
    ("post", "/console/money/commission-withdrawals/1/approve/", {}),
    ("post", "/console/money/commission-withdrawals/1/reject/", {"reason": "x"}),
    ("post", "/console/money/commission-withdrawals/1/paid/", {"reference": "r"}),
    ("post", "/console/money/wallets/", {"email": "x@beta.test", "amount": "5", "reason": "x"}),
    ("post", "/console/money/referrals/", {"enabled": "on"}),
    ("get", "/console/money/reports/", {}),
]


def _written(network: Network) -> tuple[object, ...]:
    rows: list[object] = [
        Transaction.objects.count(),
        Withdrawal.objects.count(),
        ConnectedAccount.objects.count(),
    ]
    for site in (network.alpha, network.beta):
        with tenant_context(site):
            rows += [
                OrderEvent.objects.count(),
                list(Ticket.objects.values_list("status", flat=True)),
                TicketEvent.objects.count(),
                MemberTransaction.objects.count(),
                list(MemberWithdrawal.objects.values_list("status", flat=True)),
            ]
    return tuple(rows)


@pytest.mark.parametrize(("method", "path", "data"), PAGES, ids=[f"{m} {p}" for m, p, _ in PAGES])
def test_an_owners_session_is_sent_to_login_on_another_sites_page(
    network: Network, console_as: ConsoleAs, method: str, path: str, data: dict[str, str]
) -> None:
    alpha = console_as(network.alpha, "owner")
    beta = Client(HTTP_HOST=site_host(network.beta))
    beta.cookies["sessionid"] = alpha.cookies["sessionid"].value
    before = _written(network)

    response = getattr(beta, method)(path, data)

    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/accounts/login/")
    assert _written(network) == before
