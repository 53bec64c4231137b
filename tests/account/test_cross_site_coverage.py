"""Every member page refuses a session carried over from another site: it is sent to the login
page and writes nothing on either site."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.wallets.models import MemberWithdrawal, Referral
from tenants.wallets.selectors import referral_code
from tests.conftest import Network, site_host
from tests.wallets.conftest import available, earn_commission, new_member, wallet, written

PAGES = [
    ("get", "/account/", {}),
    ("get", "/account/wallet/", {}),
    ("get", "/account/commission/", {}),
    ("post", "/account/commission/to-wallet/", {"amount": "10.00", "key": "k1"}),
    ("post", "/account/commission/withdraw/", {"amount": "60", "payee": "A", "key": "k2"}),
    ("post", "/account/commission/referrer/", {"code": "CODE"}),
]


@pytest.mark.parametrize(("method", "path", "data"), PAGES, ids=[p for _, p, _ in PAGES])
def test_an_alpha_session_is_sent_to_login_on_beta(
    network: Network, method: str, path: str, data: dict[str, str]
) -> None:
    alpha, beta = network.alpha, network.beta
    with tenant_context(alpha):
        member = new_member(alpha, "roamer")
        earn_commission(alpha, member, Decimal("100"), key=f"earn:{uuid.uuid4().hex}")
    with tenant_context(beta):
        betan = new_member(beta, "local")
        data = {**data, "code": referral_code(user=betan)} if "code" in data else data
    alpha_client = Client(HTTP_HOST=site_host(alpha))
    with tenant_context(alpha):
        alpha_client.force_login(member)

    def state() -> tuple[object, ...]:
        out: list[object] = []
        for site in (alpha, beta):
            with tenant_context(site):
                out += [written(), Referral.objects.count(), MemberWithdrawal.objects.count()]
        with tenant_context(alpha):
            out += [available(member), wallet(member)]
        return tuple(out)

    before_state = state()
    on_beta = Client(HTTP_HOST=site_host(beta))
    on_beta.cookies["sessionid"] = alpha_client.cookies["sessionid"].value

    response = getattr(on_beta, method)(path, data)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert state() == before_state
