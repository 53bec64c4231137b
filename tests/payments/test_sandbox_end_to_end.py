"""The sandbox end to end over real HTTP: the live server serves the pages and the webhook, a
real Celery worker posts the signed events to it. The live server reads committed data, so
these tests commit (rows are unique per run and never deleted)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import requests
import stripe
from django.contrib.auth.models import AbstractUser
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.payments import conf
from shared.payments import sandbox as sandbox_events
from shared.payments.models import (
    CheckoutSession,
    CheckoutStatus,
    EventOutcome,
    Refund,
    WebhookEvent,
)
from shared.payments.services import PaymentError, checkout_start, payment_refund
from shared.payments.tasks import sandbox_session_event_send, sandbox_sessions_expire
from shared.payments.wallet import wallet_top_up_start
from shared.sites.models import Site
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind, MemberTransaction
from tests.conftest import Network
from tests.payments.conftest import OrderHandler, event_for, new_member, secret_in_use, signature

pytestmark = pytest.mark.worker

D = Decimal
T = TypeVar("T")


class Visitor:
    """An HTTP client of one host name, through the live server on 127.0.0.1 (`*.localhost`
    names do not resolve for Python, so the Host header carries the name)."""

    def __init__(self, live_url: str, host: str) -> None:
        self.base = f"http://127.0.0.1{live_url}"
        self.host = f"{host}{live_url}"
        self.http = requests.Session()

    def login(self, site: Site, user: AbstractUser) -> None:
        client = Client()
        with tenant_context(site):
            client.force_login(user)
        self.http.cookies.set("sessionid", client.cookies["sessionid"].value)

    def get(self, path: str) -> requests.Response:
        return self.http.get(
            self.base + path, headers={"Host": self.host}, allow_redirects=False, timeout=30
        )

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        if "csrftoken" not in self.http.cookies:
            self.get(path)
        data = {**data, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]}
        return self.http.post(
            self.base + path,
            data=data,
            headers={"Host": self.host},
            allow_redirects=False,
            timeout=30,
        )


def eventually(check: Callable[[], T], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def committed(
    django_db_blocker: Any, live_url: str, celery_worker: Any, settings: Any
) -> Iterator[Site]:
    """Sandbox mode, the platform's address pointing at the live server; yields site alpha."""
    settings.STRIPE_SECRET_KEY = ""
    settings.PUBLIC_URL_PORT = live_url.lstrip(":")
    with django_db_blocker.unblock():
        try:
            yield Site.objects.get(slug="alpha")
        finally:
            connection.set_schema_to_public()
            connection.close()


def wallet(site: Site, user: AbstractUser) -> Decimal:
    with tenant_context(site):
        return member_balance(user=user, kind=MemberAccountKind.WALLET, currency="CNY")


def test_sandbox_events_are_shaped_and_signed_like_stripes(
    network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    """stripe-python itself accepts what the sandbox sends. (This test also makes the module
    runnable on its own: it asks for the test database, which the committed tests use.)"""
    checkout_start(
        site=network.alpha,
        purpose="order",
        reference="alpha:shape",
        amount=D("12.30"),
        currency="CNY",
        description="Card",
        customer_email="",
        success_url="http://alpha.localhost/ok/",
        cancel_url="http://alpha.localhost/no/",
    )
    session = CheckoutSession.objects.get(site=network.alpha, reference="alpha:shape")
    event = sandbox_events.session_event(session, "checkout.session.completed")
    payload = json.dumps(event, separators=(",", ":"))
    header = sandbox_events.sign(payload, conf.sandbox_webhook_secret())
    parsed = stripe.Webhook.construct_event(payload, header, conf.sandbox_webhook_secret())
    assert parsed.type == "checkout.session.completed"
    assert parsed.api_version == stripe.api_version
    obj = parsed.data.object
    assert (obj.amount_total, obj.currency, obj.payment_status) == (1230, "cny", "paid")
    assert dict(obj.metadata) == {
        "kameng_site": network.alpha.schema_name,
        "kameng_purpose": "order",
        "kameng_reference": "alpha:shape",
    }
    assert obj.payment_intent.startswith("pi_sandbox_")
    assert header == signature(payload, conf.sandbox_webhook_secret(), int(header[2:12]))
    expired = sandbox_events.session_event(session, "checkout.session.expired")["data"]["object"]
    assert (expired["payment_status"], expired["payment_intent"]) == ("unpaid", None)


def test_a_member_tops_up_through_the_sandbox_and_is_credited_once(
    committed: Site, live_url: str
) -> None:
    alpha = committed
    member = new_member(alpha)
    shop = Visitor(live_url, "alpha.localhost")
    shop.login(alpha, member)

    started = shop.post("/pay/wallet/top-up/", {"amount": "150.00"})
    assert started.status_code == 302
    pay_page = urlsplit(started.headers["Location"])
    assert pay_page.netloc == f"localhost{live_url}"
    session = CheckoutSession.objects.get(provider_session_id=pay_page.path.split("/")[-2])

    platform = Visitor(live_url, "localhost")
    page = platform.get(pay_page.path)
    assert page.status_code == 200
    assert "150.00 CNY" in page.text
    paid = platform.post(pay_page.path, {"action": "pay"})
    assert paid.status_code == 302
    back = urlsplit(paid.headers["Location"])
    assert back.netloc == f"alpha.localhost{live_url}"
    assert back.path == f"/pay/return/{session.provider_session_id}/"

    # The worker posts the signed event over HTTP; the return page waits for it.
    credited = eventually(lambda: 'data-state="credited"' in shop.get(back.path).text)
    assert credited
    assert wallet(alpha, member) == D("150.00")
    [event] = WebhookEvent.objects.filter(session=session)
    assert event.event_id.startswith("evt_sandbox_")
    assert (event.type, event.outcome) == ("checkout.session.completed", EventOutcome.APPLIED)
    assert event.payload["data"]["object"]["amount_total"] == 15000
    session.refresh_from_db()
    assert (session.status, session.fee) == (CheckoutStatus.PAID, D("4.65"))

    # Pay pressed again, and the task delivering the same event again: nothing more.
    assert platform.post(pay_page.path, {"action": "pay"}).status_code == 302
    status = sandbox_session_event_send.delay(session.pk, "checkout.session.completed").get(
        timeout=60
    )
    assert status == 200
    assert WebhookEvent.objects.filter(session=session).count() == 1
    assert wallet(alpha, member) == D("150.00")
    with tenant_context(alpha):
        assert (
            MemberTransaction.objects.filter(
                idempotency_key=f"stripe:{session.provider_session_id}"
            ).count()
            == 1
        )


def test_concurrent_deliveries_of_one_event_credit_once(committed: Site, live_url: str) -> None:
    alpha = committed
    member = new_member(alpha, "race")
    with tenant_context(alpha):
        url = wallet_top_up_start(
            site=alpha,
            user=member,
            amount=D("30.00"),
            currency="CNY",
            success_url="http://alpha.localhost/pay/return/{CHECKOUT_SESSION_ID}/",
            cancel_url="http://alpha.localhost/pay/wallet/top-up/",
            description="Wallet top-up",
        )
    session = CheckoutSession.objects.get(url=url)
    payload = json.dumps(event_for(session, payment_intent=f"pi_race_{session.pk}"))
    header = signature(payload, secret_in_use())

    def deliver(_: int) -> tuple[int, bool]:
        response = requests.post(
            f"http://127.0.0.1{live_url}/payments/webhooks/stripe/",
            data=payload,
            headers={"Host": f"localhost{live_url}", "Stripe-Signature": header},
            timeout=60,
        )
        return response.status_code, response.json()["replay"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(deliver, range(24)))
    assert {status for status, _ in answers} == {200}
    assert sorted(replay for _, replay in answers) == [False] + [True] * 23
    assert wallet(alpha, member) == D("30.00")


def test_an_order_paid_refunded_and_an_abandoned_one_expired(
    committed: Site, live_url: str, order_handler: OrderHandler
) -> None:
    """The "order" purpose with a handler registered by the test: sandbox payment, a sandbox
    refund delivered as `charge.refunded`, and the sandbox's own expiry."""
    alpha = committed
    stamp = f"{time.time_ns()}"

    def start(reference: str) -> CheckoutSession:
        url = checkout_start(
            site=alpha,
            purpose="order",
            reference=reference,
            amount=D("59.90"),
            currency="CNY",
            description="Game card",
            customer_email="guest@example.com",
            success_url="http://alpha.localhost/orders/x/",
            cancel_url="http://alpha.localhost/orders/x/",
        )
        return CheckoutSession.objects.get(url=url)

    paid, abandoned = start(f"alpha:paid:{stamp}"), start(f"alpha:abandoned:{stamp}")
    platform = Visitor(live_url, "localhost")
    assert platform.post(urlsplit(paid.url).path, {"action": "pay"}).status_code == 302
    eventually(lambda: order_handler.paid)
    assert [(p["reference"], p["amount"], p["fee"]) for p in order_handler.paid] == [
        (paid.reference, D("59.90"), D("2.04"))
    ]
    paid.refresh_from_db()
    assert paid.payment_ref == order_handler.paid[0]["payment_ref"]

    payment_refund(
        site=alpha,
        payment_ref=paid.payment_ref,
        amount=D("19.90"),
        currency="CNY",
        idempotency_key=f"refund:{paid.reference}",
        reason="Partial refund",
    )

    def refunded() -> bool:
        paid.refresh_from_db()
        return WebhookEvent.objects.filter(session=paid, type="charge.refunded").exists()

    assert eventually(refunded)
    assert paid.amount_refunded == D("19.90")

    CheckoutSession.objects.filter(pk=abandoned.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert sandbox_sessions_expire.delay().get(timeout=60) >= 1

    def expired() -> bool:
        abandoned.refresh_from_db()
        return abandoned.status == CheckoutStatus.EXPIRED

    assert eventually(expired)
    assert order_handler.expired == [{"site": "alpha", "reference": abandoned.reference}]
    # Pay is refused on the expired page.
    assert platform.post(urlsplit(abandoned.url).path, {"action": "pay"}).status_code == 409


def test_concurrent_refunds_never_exceed_the_payment(
    committed: Site, live_url: str, order_handler: OrderHandler
) -> None:
    """Two refunds of 60.00 of a 100.00 payment race in two threads (two connections): the
    session's row lock lets one through and the other is refused."""
    alpha = committed
    reference = f"alpha:race-refund:{time.time_ns()}"
    url = checkout_start(
        site=alpha,
        purpose="order",
        reference=reference,
        amount=D("100.00"),
        currency="CNY",
        description="Game card",
        customer_email="",
        success_url="http://alpha.localhost/ok/",
        cancel_url="http://alpha.localhost/no/",
    )
    session = CheckoutSession.objects.get(url=url)
    payload = json.dumps(event_for(session, payment_intent=f"pi_race_refund_{session.pk}"))
    response = requests.post(
        f"http://127.0.0.1{live_url}/payments/webhooks/stripe/",
        data=payload,
        headers={
            "Host": f"localhost{live_url}",
            "Stripe-Signature": signature(payload, secret_in_use()),
        },
        timeout=60,
    )
    assert response.json()["outcome"] == "applied"
    session.refresh_from_db()

    def refund(n: int) -> str:
        try:
            return payment_refund(
                site=alpha,
                payment_ref=session.payment_ref,
                amount=D("60.00"),
                currency="CNY",
                idempotency_key=f"race:{n}",
            )
        except PaymentError as exc:
            return f"refused: {exc}"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(refund, [1, 2]))
    assert results[0].startswith("re_sandbox_")
    assert results[1] == "refused: Only 40.00 CNY of this payment is left to refund."
    assert Refund.objects.filter(session=session).count() == 1

    def reported() -> bool:  # the worker delivers charge.refunded; wait for it
        return WebhookEvent.objects.filter(session=session, type="charge.refunded").exists()

    assert eventually(reported)
    session.refresh_from_db()
    assert session.amount_refunded == D("60.00")
