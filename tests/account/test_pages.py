"""The member's account pages: wallet and commission, with exact amounts, forms that act once,
refusals that write nothing, and nothing reachable from another site."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.wallets.commissions import referral_set
from tenants.wallets.models import MemberWithdrawal, Referral
from tenants.wallets.selectors import referral_code
from tenants.wallets.services import wallet_spend, wallet_top_up
from tests.conftest import MEMBER_PASSWORD, Network, site_host
from tests.storefront.clients import site_client_for
from tests.storefront.html import page
from tests.wallets.conftest import available, earn_commission, new_member, wallet, written

D = Decimal


@pytest.fixture(autouse=True)
def _terms() -> Any:
    with override_settings(
        MEMBER_WITHDRAWAL_MINIMUM="50.00",
        MEMBER_WITHDRAWAL_FEE_PERCENT="0",
        MEMBER_WITHDRAWAL_FEE_FIXED="2.00",
    ):
        yield


def _member(site: Site, name: str = "m") -> tuple[AbstractUser, Client]:
    with tenant_context(site):
        user = new_member(site, name)
    return user, site_client_for(site, user.email, MEMBER_PASSWORD)


def _in(site: Site, func: Any, *args: Any) -> Any:
    with tenant_context(site):
        return func(*args)


def _earn(site: Site, user: AbstractUser, amount: Decimal) -> None:
    with tenant_context(site):
        earn_commission(site, user, amount, key=f"earn:{uuid.uuid4().hex}")


def test_wallet_page_shows_balance_history_and_links(network: Network) -> None:
    alpha = network.alpha
    user, client = _member(alpha)
    with tenant_context(alpha):
        wallet_top_up(user=user, amount=D("80.00"), idempotency_key="t1", source="alipay:T1")
        wallet_spend(user=user, amount=D("12.50"), idempotency_key="s1", memo="Order 7")

    html = page(client.get("/account/wallet/").content)

    assert html.find("wallet-balance").text == "67.50"
    rows = [r.text for r in html.find_all("wallet-row")]
    assert len(rows) == 2
    assert rows[0].endswith("Payment Order 7 -12.50")
    assert rows[1].endswith("Top-up alipay:T1 +80.00")
    assert html.find("top-up-link").attrs["href"] == "/pay/wallet/top-up/"
    nav = html.find("account-nav")
    hrefs = [c.attrs["href"] for c in nav.children if not isinstance(c, str) and c.tag == "a"]
    assert hrefs[:3] == ["/account/wallet/", "/account/commission/", "/account/orders/"]
    assert html.find("account-link").attrs["href"] == "/account/wallet/"  # in the top bar


def test_pages_need_a_member_of_this_site(network: Network) -> None:
    response = site_client_for(network.alpha).get("/account/wallet/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Client(HTTP_HOST="localhost").get("/account/wallet/").status_code == 404


def test_commission_page_shows_exact_balances_code_and_referrals(network: Network) -> None:
    alpha = network.alpha
    user, client = _member(alpha, "earner")
    with tenant_context(alpha):
        earn_commission(alpha, user, D("30"), key=f"earn:{uuid.uuid4().hex}")
        friend = new_member(alpha, "friend")
        referral_set(user=friend, referrer=user)
        code = referral_code(user=user)

    html = page(client.get("/account/commission/").content)

    assert html.find("commission-pending").text == "0.00"
    assert html.find("commission-available").text == "30.00"
    assert html.find("commission-withdrawing").text == "0.00"
    assert html.find("referral-code").text == code
    link = html.find("referral-link").attrs["value"]
    assert link == f"http://{site_host(alpha)}/account/r/{code}/"
    assert html.find("referrals").text.startswith(f"{friend.email[:2]}***@alpha.test")
    assert "2.00 CNY" in html.find("withdrawal-terms").text


def test_move_to_wallet_acts_once_per_form(network: Network) -> None:
    alpha = network.alpha
    user, client = _member(alpha)
    _earn(alpha, user, D("30"))
    form = {"amount": "12.00", "key": uuid.uuid4().hex}

    first = client.post("/account/commission/to-wallet/", form)
    second = client.post("/account/commission/to-wallet/", form)  # the form sent twice

    assert first.status_code == second.status_code == 302
    assert _in(alpha, wallet, user) == D("12.00")
    assert _in(alpha, available, user) == D("18.00")


def test_moving_more_than_is_available_writes_nothing(network: Network) -> None:
    alpha = network.alpha
    user, client = _member(alpha)
    _earn(alpha, user, D("30"))
    before = _in(alpha, written)

    response = client.post("/account/commission/to-wallet/", {"amount": "30.01", "key": "k"})

    assert response.status_code == 400
    assert "Only 30.00 CNY of commission is available." in response.content.decode()
    assert _in(alpha, written) == before
    assert (_in(alpha, wallet, user), _in(alpha, available, user)) == (D("0.00"), D("30.00"))


def test_withdrawal_request_from_the_page(network: Network) -> None:
    alpha = network.alpha
    user, client = _member(alpha)
    _earn(alpha, user, D("100"))

    response = client.post(
        "/account/commission/withdraw/",
        {"amount": "60.00", "payee": "Alipay 13800000000", "key": "k1"},
    )

    assert response.status_code == 302
    html = page(client.get("/account/commission/").content)
    assert html.find("commission-available").text == "38.00"
    assert html.find("commission-withdrawing").text == "62.00"
    [row] = html.find_all("withdrawal-row")
    assert "60.00 2.00 Alipay 13800000000 Requested" in row.text


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"amount": "49.99", "payee": "A", "key": "k"}, "The minimum withdrawal is 50.00 CNY."),
        ({"amount": "99.00", "payee": "A", "key": "k"}, "Only 100.00 CNY of commission"),
        ({"amount": "-5", "payee": "A", "key": "k"}, "greater than or equal to 0.01"),
        ({"amount": "60", "payee": "", "key": "k"}, "This field is required."),
    ],
)
def test_bad_withdrawal_requests_write_nothing(
    network: Network, form: dict[str, str], error: str
) -> None:
    alpha = network.alpha
    user, client = _member(alpha)
    _earn(alpha, user, D("100"))
    before = _in(alpha, written)

    response = client.post("/account/commission/withdraw/", form)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert _in(alpha, written) == before
    assert _in(alpha, available, user) == D("100.00")


def test_a_session_of_another_site_cannot_withdraw_there(network: Network) -> None:
    alpha, beta = network.alpha, network.beta
    user, alpha_client = _member(alpha)
    _earn(alpha, user, D("100"))
    before = (_in(alpha, written), _in(beta, written))
    # alpha's session cookie, sent to beta's domain
    on_beta = Client(HTTP_HOST=site_host(beta))
    on_beta.cookies = alpha_client.cookies

    response = on_beta.post(
        "/account/commission/withdraw/", {"amount": "60", "payee": "A", "key": "x"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert (_in(alpha, written), _in(beta, written)) == before
    assert _in(alpha, MemberWithdrawal.objects.filter(user=user).count) == 0


def test_referral_link_and_code_record_the_referrer_once(network: Network) -> None:
    alpha = network.alpha
    referrer, _ = _member(alpha, "referrer")
    newcomer, client = _member(alpha, "newcomer")
    code = _in(alpha, lambda: referral_code(user=referrer))

    landing = client.get(f"/account/r/{code}/")
    assert landing["Location"] == "/account/commission/"
    form = page(client.get("/account/commission/").content).find("referrer-form")
    assert f'value="{code}"' in client.get("/account/commission/").content.decode()
    assert form.tag == "form"
    assert client.post("/account/commission/referrer/", {"code": code}).status_code == 302

    with tenant_context(alpha):
        assert Referral.objects.get(user=newcomer).referrer_id == referrer.pk
    anonymous = site_client_for(alpha)
    assert anonymous.get(f"/account/r/{code}/")["Location"] == (
        "/accounts/signup/?next=/account/commission/"
    )


def test_signing_up_through_a_referral_link_records_the_referrer(network: Network) -> None:
    alpha = network.alpha
    referrer, _ = _member(alpha, "inviter")
    code = _in(alpha, lambda: referral_code(user=referrer))
    visitor = site_client_for(alpha)

    assert visitor.get(f"/account/r/{code}/").status_code == 302
    response = visitor.post(
        "/accounts/signup/",
        {"email": "invited@alpha.test", "password1": "a-long-pass-9", "password2": "a-long-pass-9"},
    )

    assert response.status_code == 302
    with tenant_context(alpha):
        invited = get_user_model().objects.get(email="invited@alpha.test")
        assert Referral.objects.get(user=invited).referrer_id == referrer.pk
    assert visitor.get("/account/commission/").status_code == 200


def test_a_code_of_another_site_is_refused(network: Network) -> None:
    alpha, beta = network.alpha, network.beta
    on_beta, _ = _member(beta, "betan")
    _, client = _member(alpha, "alphan")
    betas_code = _in(beta, lambda: referral_code(user=on_beta))
    before = _in(alpha, Referral.objects.count)

    assert client.get(f"/account/r/{betas_code}/").status_code == 404
    response = client.post("/account/commission/referrer/", {"code": betas_code})

    assert response.status_code == 400
    assert "No member of this shop has that referral code." in response.content.decode()
    assert _in(alpha, Referral.objects.count) == before


def test_pages_in_simplified_chinese(network: Network) -> None:
    _, client = _member(network.alpha)
    client.cookies.pop(settings.LANGUAGE_COOKIE_NAME, None)

    content = client.get("/account/commission/").content.decode()

    assert "推荐佣金" in content  # "Referral commission"
    assert "申请提现" in content  # "Request withdrawal"
