"""Members top up their wallet by card: the page on the site's domain, the sandbox checkout
page on the platform, and the handler that credits the wallet once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import account_balance, account_get
from shared.payments.models import CheckoutStatus, Provider
from shared.payments.wallet import WALLET_TOP_UP
from shared.sites.models import Site
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind, MemberTransaction
from tests.conftest import Network
from tests.payments.conftest import Fresh, event_for, new_member, post_event, written

D = Decimal
TOP_UP = "/pay/wallet/top-up/"


def logged_in(site: Site, user: AbstractUser) -> Client:
    client = Client(HTTP_HOST=f"{site.slug}.localhost")
    with tenant_context(site):
        client.force_login(user)
    return client


def wallet(site: Site, user: AbstractUser) -> Decimal:
    with tenant_context(site):
        return member_balance(user=user, kind=MemberAccountKind.WALLET, currency="CNY")


def balance(kind: AccountKind, site: Site | None = None) -> Decimal:
    return account_balance(account_get(kind=kind, currency="CNY", site=site))


@pytest.fixture
def member(network: Network) -> AbstractUser:
    return new_member(network.alpha)


def test_the_page_is_for_members_only(network: Network, sandbox: None) -> None:
    response = Client().get(TOP_UP, HTTP_HOST="alpha.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Client().get(TOP_UP, HTTP_HOST="localhost").status_code == 404  # not on HQ


def test_a_top_up_starts_a_checkout_and_the_webhook_credits_the_wallet_once(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    client = logged_in(network.alpha, member)
    page = client.get(TOP_UP)
    assert page.status_code == 200
    assert 'data-testid="wallet-balance">0.00 CNY' in page.content.decode()
    assert "钱包充值" in page.content.decode()  # the site's language, zh-hans

    response = client.post(TOP_UP, {"amount": "200.00"})
    session = fresh.sessions().get()
    assert response.status_code == 302
    assert response["Location"] == session.url
    assert (session.site, session.purpose, session.provider) == (
        network.alpha,
        WALLET_TOP_UP,
        Provider.SANDBOX,
    )
    assert session.reference.startswith(f"{member.pk}.")
    assert (session.amount, session.currency, session.customer_email) == (
        D("200.00"),
        "CNY",
        member.email,
    )
    assert session.success_url == "http://alpha.localhost/pay/return/{CHECKOUT_SESSION_ID}/"
    assert session.cancel_url == "http://alpha.localhost/pay/wallet/top-up/"

    return_page = f"/pay/return/{session.provider_session_id}/"
    waiting = client.get(return_page)
    assert 'data-state="processing"' in waiting.content.decode()

    clearing, fees = balance(AccountKind.PAYMENT_CLEARING), balance(AccountKind.FEES)
    mirror = balance(AccountKind.SITE_WALLETS, network.alpha)
    event = event_for(session, payment_intent="pi_top_up")
    for _ in range(3):
        assert post_event(Client(), event).status_code == 200
    post_event(Client(), event_for(session, payment_intent="pi_top_up"))  # another id, same session

    assert wallet(network.alpha, member) == D("200.00")
    fee = D("6.10")  # 2.9 % of 200 + 0.30
    assert balance(AccountKind.PAYMENT_CLEARING) - clearing == D("200.00") - fee
    assert balance(AccountKind.FEES) - fees == fee
    assert balance(AccountKind.SITE_WALLETS, network.alpha) - mirror == D("200.00")
    with tenant_context(network.alpha):
        [credit] = MemberTransaction.objects.filter(
            idempotency_key=f"stripe:{session.provider_session_id}"
        )
        assert (credit.kind, credit.memo) == ("top_up", "sandbox payment pi_top_up")
    credited = client.get(return_page).content.decode()
    assert 'data-state="credited"' in credited
    assert 'data-testid="wallet-balance">200.00 CNY' in credited


@pytest.mark.parametrize("amount", ["9.99", "5000.01", "12.345", "-20", "abc", ""])
def test_amounts_outside_the_limits_are_refused(
    network: Network, member: AbstractUser, sandbox: None, amount: str
) -> None:
    before = written()
    response = logged_in(network.alpha, member).post(TOP_UP, {"amount": amount})
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert written() == before


def test_the_limits_come_from_the_settings(
    network: Network, member: AbstractUser, sandbox: None, settings: Any
) -> None:
    settings.WALLET_TOP_UP_MIN = "50.00"
    client = logged_in(network.alpha, member)
    assert client.post(TOP_UP, {"amount": "49.99"}).status_code == 400
    assert client.post(TOP_UP, {"amount": "50.00"}).status_code == 302


def test_the_return_page_is_refused_on_another_site_and_to_another_member(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "20.00"})
    session = fresh.sessions().get()
    path = f"/pay/return/{session.provider_session_id}/"
    other_member = new_member(network.alpha, "other")
    assert logged_in(network.alpha, other_member).get(path).status_code == 404
    beta_member = new_member(network.beta)
    assert logged_in(network.beta, beta_member).get(path).status_code == 404
    assert logged_in(network.alpha, member).get(path).status_code == 200


def test_a_top_up_event_naming_another_site_credits_nobody(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "20.00"})
    session = fresh.sessions().get()
    event = event_for(session)
    event["data"]["object"]["metadata"]["kameng_site"] = network.beta.schema_name
    before = written()
    assert post_event(Client(), event).json()["outcome"] == "rejected"
    assert written() == before
    assert wallet(network.alpha, member) == D("0")


def test_a_top_up_for_a_member_who_left_is_rejected(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "20.00"})
    session = fresh.sessions().get()
    with tenant_context(network.alpha):
        member.is_active = False
        member.save()
    before = Transaction.objects.count()
    assert post_event(Client(), event_for(session)).json()["outcome"] == "rejected"
    assert Transaction.objects.count() == before
    session.refresh_from_db()
    assert session.status == CheckoutStatus.REJECTED


# --- The sandbox checkout page ----------------------------------------------------------------


def test_the_sandbox_page_shows_the_payment_and_cancel_goes_back(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "66.60"})
    session = fresh.sessions().get()
    platform = Client(HTTP_HOST="localhost")
    path = f"/payments/sandbox/{session.provider_session_id}/"
    page = platform.get(path).content.decode()
    assert 'data-testid="sandbox-amount">66.60 CNY' in page
    assert "Alpha Cards" in page
    assert session.description in page
    assert 'data-testid="sandbox-pay"' in page
    cancel = platform.post(path, {"action": "cancel"})
    assert (cancel.status_code, cancel["Location"]) == (302, session.cancel_url)
    assert platform.get("/payments/sandbox/cs_sandbox_nothing/").status_code == 404


def test_the_sandbox_page_refuses_an_expired_checkout(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "20.00"})
    session = fresh.sessions().get()
    session.expires_at = timezone.now()
    session.save()
    response = Client(HTTP_HOST="localhost").post(
        f"/payments/sandbox/{session.provider_session_id}/", {"action": "pay"}
    )
    assert response.status_code == 409
    assert 'data-testid="sandbox-error"' in response.content.decode()
    session.refresh_from_db()
    assert session.sandbox_paid_at is None


def test_the_sandbox_page_is_off_when_stripe_is_configured(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None, settings: Any
) -> None:
    logged_in(network.alpha, member).post(TOP_UP, {"amount": "20.00"})
    session = fresh.sessions().get()
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    path = f"/payments/sandbox/{session.provider_session_id}/"
    assert Client(HTTP_HOST="localhost").get(path).status_code == 404
