"""Starting a checkout: Stripe Checkout through stripe-python against a local Stripe, and the
sandbox when no keys are configured."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from shared.payments.models import CheckoutSession, CheckoutStatus, Provider
from shared.payments.services import PaymentError, PaymentUnavailable, checkout_start
from shared.sites.models import SiteStatus
from tests.conftest import Network
from tests.payments.conftest import FakeStripe, Fresh, OrderHandler, written

D = Decimal


def start(network: Network, **kwargs: Any) -> str:
    values: dict[str, Any] = {
        "site": network.alpha,
        "purpose": "order",
        "reference": "alpha:41",
        "amount": D("123.45"),
        "currency": "CNY",
        "description": "Steam ¥100 card × 1",
        "customer_email": "buyer@example.com",
        "success_url": "http://alpha.localhost/orders/K1/?paid={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://alpha.localhost/orders/K1/",
    }
    values.update(kwargs)
    return checkout_start(**values)


def test_stripe_checkout_session_carries_the_site_purpose_and_reference(
    fresh: Fresh, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    expires = timezone.now() + timedelta(hours=2)
    url = start(network, expires_at=expires)

    [request] = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/checkout/sessions")
    assert request.headers["Authorization"] == "Bearer sk_test_local"
    schema = network.alpha.schema_name
    stamp = int(expires.replace(second=0, microsecond=0).timestamp()) + 60
    assert request.headers["Idempotency-Key"] == (
        f"kameng-checkout:{schema}:order:alpha:41:12345:CNY:{stamp}:0"
    )
    assert request.form == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "cny",
        "line_items[0][price_data][unit_amount]": "12345",
        "line_items[0][price_data][product_data][name]": "Steam ¥100 card × 1",
        "metadata[kameng_site]": schema,
        "metadata[kameng_purpose]": "order",
        "metadata[kameng_reference]": "alpha:41",
        "payment_intent_data[metadata][kameng_site]": schema,
        "payment_intent_data[metadata][kameng_purpose]": "order",
        "payment_intent_data[metadata][kameng_reference]": "alpha:41",
        "client_reference_id": f"{schema}:order",
        "customer_email": "buyer@example.com",
        "success_url": "http://alpha.localhost/orders/K1/?paid={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://alpha.localhost/orders/K1/",
        "expires_at": str(stamp),
    }
    session = fresh.sessions().get()
    assert url == f"https://checkout.stripe.test/c/pay/{session.provider_session_id}"
    assert session.provider_session_id.startswith("cs_test_local0001")
    assert (session.provider, session.status) == (Provider.STRIPE, CheckoutStatus.OPEN)
    assert (session.site, session.amount, session.currency) == (network.alpha, D("123.45"), "CNY")


def test_an_open_session_is_reused_and_a_new_amount_gets_a_new_one(
    fresh: Fresh, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    first = start(network)
    assert start(network) == first
    assert len(fake_stripe.requests) == 1
    second = start(network, amount=D("100.00"))
    assert second != first
    assert fake_stripe.requests[1].headers["Idempotency-Key"].endswith(":1")
    assert ":10000:CNY:" in fake_stripe.requests[1].headers["Idempotency-Key"]
    assert fresh.sessions().count() == 2


def test_expiry_is_kept_within_stripes_window(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    now = timezone.now()
    start(network, reference="soon", expires_at=now + timedelta(minutes=5))
    start(network, reference="late", expires_at=now + timedelta(days=3))
    soon, late = (int(r.form["expires_at"]) for r in fake_stripe.requests)
    assert 30 * 60 <= soon - now.timestamp() <= 31 * 60
    assert 24 * 3600 - 60 <= late - now.timestamp() <= 24 * 3600
    assert soon % 60 == late % 60 == 0


def test_japanese_yen_has_no_minor_unit(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    start(network, amount=D("1500"), currency="jpy")
    assert fake_stripe.requests[0].form["line_items[0][price_data][unit_amount]"] == "1500"
    assert fake_stripe.requests[0].form["line_items[0][price_data][currency]"] == "jpy"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"purpose": "nothing-registered"}, "No payment handler"),
        ({"amount": 12.5}, "must be Decimal"),
        ({"amount": D("1.234")}, "whole number"),
        ({"amount": D("0")}, "positive"),
        ({"amount": D("-5.00")}, "positive"),
        ({"currency": "XYZ"}, "Unsupported currency"),
        ({"reference": " "}, "reference"),
        ({"reference": "x" * 101}, "reference"),
        ({"description": "  "}, "description"),
        ({"customer_email": "not-an-email"}, "email"),
        ({"success_url": "/orders/K1/"}, "success address"),
        ({"cancel_url": "javascript:alert(1)"}, "cancel address"),
    ],
)
def test_bad_input_is_refused_before_stripe_is_called(
    network: Network,
    order_handler: OrderHandler,
    fake_stripe: FakeStripe,
    changes: dict[str, Any],
    message: str,
) -> None:
    before = written()
    with pytest.raises(PaymentError, match=message):
        start(network, **changes)
    assert fake_stripe.requests == []
    assert written() == before


def test_a_suspended_site_cannot_take_payments(
    fresh: Fresh, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    network.beta.status = SiteStatus.SUSPENDED
    network.beta.save()
    with pytest.raises(PaymentError, match="cannot take payments"):
        start(network, site=network.beta)
    assert fake_stripe.requests == []
    assert fresh.sessions().count() == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PaymentError),
        (402, PaymentError),
        (500, PaymentUnavailable),
        (429, PaymentUnavailable),
    ],
)
def test_stripe_errors_are_clear_and_write_nothing(
    network: Network,
    order_handler: OrderHandler,
    fake_stripe: FakeStripe,
    status: int,
    error: type[Exception],
) -> None:
    fake_stripe.answers["/v1/checkout/sessions"] = (
        status,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "parameter_invalid",
                "message": "Invalid API key sk_test_abcdef12345 for this request",
            }
        },
    )
    before = written()
    with pytest.raises(error) as raised:
        start(network)
    assert "sk_test_abcdef12345" not in str(raised.value)
    assert "[redacted]" in str(raised.value)
    assert written() == before


def test_sandbox_checkout_is_a_page_on_the_platform(
    fresh: Fresh, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    url = start(network)
    session = fresh.sessions().get()
    assert session.provider == Provider.SANDBOX
    assert session.provider_session_id.startswith("cs_sandbox_")
    assert url == f"http://localhost/payments/sandbox/{session.provider_session_id}/"
    assert start(network) == url  # reused while open


def test_two_simultaneous_starts_of_one_payment_make_one_session(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    """A double click: two threads (two connections, committed) start the same payment at
    once; Stripe answers both from one idempotency key and Kameng keeps one row."""
    reference = f"alpha:double:{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(2)

    def click(_: int) -> str:
        try:
            barrier.wait(timeout=10)
            return start(network, reference=reference)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(click, [1, 2])
    assert first == second
    keys = {r.headers["Idempotency-Key"] for r in fake_stripe.to("/v1/checkout/sessions")}
    assert len(keys) == 1
    assert CheckoutSession.objects.filter(reference=reference).count() == 1
