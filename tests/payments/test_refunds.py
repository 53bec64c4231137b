"""Refunds through Stripe (stripe-python against a local Stripe) and through the sandbox."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shared.payments import sandbox as sandbox_events
from shared.payments.models import CheckoutSession, CheckoutStatus
from shared.payments.services import PaymentError, PaymentUnavailable, payment_refund
from tests.conftest import Network
from tests.payments.conftest import (
    STRIPE_WEBHOOK_SECRET,
    FakeStripe,
    Fresh,
    OrderHandler,
    event_for,
    post_event,
    written,
)
from tests.payments.test_webhook import open_session

D = Decimal


def paid_session(network: Network, secret: str | None, reference: str = "r1") -> CheckoutSession:
    session = open_session(network.alpha, reference=reference, amount="100.00")
    post_event(Client(), event_for(session, payment_intent=f"pi_{reference}"), secret=secret)
    session.refresh_from_db()
    assert session.status == CheckoutStatus.PAID
    return session


def refund(network: Network, session: CheckoutSession, **kwargs: Any) -> str:
    values: dict[str, Any] = {
        "site": network.alpha,
        "payment_ref": session.payment_ref,
        "amount": D("40.00"),
        "currency": "CNY",
        "idempotency_key": "refund:alpha:1:1",
        "reason": "Key did not work",
    }
    values.update(kwargs)
    return payment_refund(**values)


def test_a_refund_goes_through_stripe_with_its_idempotency_key(
    fresh: Fresh, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    refund_id = refund(network, session)

    [request] = fake_stripe.to("/v1/refunds")
    assert request.form == {
        "payment_intent": "pi_r1",
        "amount": "4000",
        "metadata[kameng_site]": network.alpha.schema_name,
        "metadata[kameng_refund]": "refund:alpha:1:1",
        "metadata[kameng_reason]": "Key did not work",
    }
    assert request.headers["Idempotency-Key"] == (
        f"kameng-refund:{network.alpha.schema_name}:refund:alpha:1:1"
    )
    row = fresh.refunds().get()
    assert (row.provider_refund_id, row.amount, row.status, row.session) == (
        refund_id,
        D("40.00"),
        "succeeded",
        session,
    )
    session.refresh_from_db()
    assert session.amount_refunded == D("40.00")


def test_the_same_key_returns_the_same_refund_without_refunding_twice(
    fresh: Fresh, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    first = refund(network, session)
    assert refund(network, session) == first
    assert len(fake_stripe.to("/v1/refunds")) == 1
    with pytest.raises(PaymentError, match="used for another refund"):
        refund(network, session, amount=D("10.00"))
    assert fresh.refunds().count() == 1


def test_partial_refunds_up_to_the_amount_paid(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    refund(network, session, amount=D("60.00"), idempotency_key="a")
    before = written()
    with pytest.raises(PaymentError, match=r"Only 40.00 CNY .* left"):
        refund(network, session, amount=D("40.01"), idempotency_key="b")
    assert written() == before
    refund(network, session, amount=D("40.00"), idempotency_key="c")
    session.refresh_from_db()
    assert session.amount_refunded == D("100.00")
    assert len(fake_stripe.to("/v1/refunds")) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"payment_ref": "pi_unknown"}, "no card payment"),
        ({"currency": "USD"}, "not USD"),
        ({"amount": D("0")}, "positive"),
        ({"amount": D("1.001")}, "whole number"),
        ({"idempotency_key": ""}, "idempotency key"),
    ],
)
def test_bad_refunds_are_refused_before_stripe_is_called(
    network: Network,
    order_handler: OrderHandler,
    fake_stripe: FakeStripe,
    changes: dict[str, Any],
    message: str,
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    before = written()
    with pytest.raises(PaymentError, match=message):
        refund(network, session, **changes)
    assert fake_stripe.to("/v1/refunds") == []
    assert written() == before


def test_another_sites_payment_cannot_be_refunded(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    before = written()
    with pytest.raises(PaymentError, match="no card payment 'pi_r1' on this site"):
        refund(network, session, site=network.beta)
    assert fake_stripe.to("/v1/refunds") == []
    assert written() == before


def test_an_unpaid_session_cannot_be_refunded(
    network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = open_session(network.alpha)
    with pytest.raises(PaymentError, match="no card payment"):
        refund(network, session, payment_ref="")
    assert fake_stripe.to("/v1/refunds") == []


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": "Charge ch_1 has already been refunded.",
                }
            },
            PaymentError,
            "charge_already_refunded: Charge ch_1 has already been refunded.",
        ),
        (500, {"error": {"type": "api_error", "message": "Oops"}}, PaymentUnavailable, "Oops"),
        (
            200,
            {
                "id": "re_failed",
                "object": "refund",
                "status": "failed",
                "failure_reason": "lost_or_stolen_card",
            },
            PaymentError,
            "lost_or_stolen_card",
        ),
    ],
)
def test_a_stripe_error_is_clear_and_records_nothing(
    network: Network,
    order_handler: OrderHandler,
    fake_stripe: FakeStripe,
    status: int,
    body: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    session = paid_session(network, STRIPE_WEBHOOK_SECRET)
    fake_stripe.answers["/v1/refunds"] = (status, body)
    before = written()
    with pytest.raises(error, match=message):
        refund(network, session)
    assert written() == before
    session.refresh_from_db()
    assert session.amount_refunded == D("0")
    # Stripe recovers: the same key is retried and goes through.
    del fake_stripe.answers["/v1/refunds"]
    fake_stripe.replies.clear()
    assert refund(network, session).startswith("re_test_local")


def test_a_sandbox_refund_is_recorded_and_its_signed_event_accepted(
    fresh: Fresh, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = paid_session(network, None)
    refund_id = refund(network, session, amount=D("25.00"))
    assert refund_id.startswith("re_sandbox_")
    assert refund(network, session, amount=D("25.00")) == refund_id
    row = fresh.refunds().get()
    # What the worker would post after the commit (the end-to-end test lets it).
    event = sandbox_events.refund_event(row, refunded_total=2500, amount_total=10000)
    assert event["type"] == "charge.refunded"
    assert event["data"]["object"]["payment_intent"] == "pi_r1"
    response = post_event(Client(), json.dumps(event))
    assert response.json()["outcome"] == "applied"
    session.refresh_from_db()
    assert session.amount_refunded == D("25.00")
    assert fresh.refunds().count() == 1
