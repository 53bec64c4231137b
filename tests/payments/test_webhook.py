"""The webhook endpoint: Stripe's signature checked by stripe-python, each event stored once
under its id, payments applied once through the purpose's handler in the site's schema."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shared.payments.models import CheckoutSession, CheckoutStatus, EventOutcome
from shared.payments.services import checkout_start
from shared.payments.webhooks import sandbox_fee
from shared.sites.models import Site
from tests.conftest import Network
from tests.payments.conftest import (
    STRIPE_WEBHOOK_SECRET,
    FakeStripe,
    Fresh,
    OrderHandler,
    event_for,
    post_event,
    site_groups,
    written,
)

D = Decimal


def open_session(
    site: Site, reference: str = "r1", amount: str = "88.50", **kw: Any
) -> CheckoutSession:
    checkout_start(
        site=site,
        purpose=kw.pop("purpose", "order"),
        reference=reference,
        amount=D(amount),
        currency=kw.pop("currency", "CNY"),
        description="Two game cards",
        customer_email="buyer@example.com",
        success_url="http://alpha.localhost/ok/",
        cancel_url="http://alpha.localhost/no/",
    )
    return CheckoutSession.objects.get(site=site, reference=reference)


@pytest.fixture
def client() -> Client:
    return Client()


# --- Signatures -------------------------------------------------------------------------------


def test_a_correctly_signed_completed_event_applies_the_payment(
    fresh: Fresh, client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    response = post_event(client, event_for(session, payment_intent="pi_test_1"))

    assert response.status_code == 200
    assert response.json()["outcome"] == "applied"
    assert order_handler.paid == [
        {
            "site": "alpha",
            "reference": "r1",
            "amount": D("88.50"),
            "currency": "CNY",
            "payment_ref": "pi_test_1",
            "fee": D("2.87"),  # 2.9 % of 88.50 = 2.5665, + 0.30, rounded half up
        }
    ]
    session.refresh_from_db()
    assert (session.status, session.payment_ref, session.fee) == (
        CheckoutStatus.PAID,
        "pi_test_1",
        D("2.87"),
    )
    event = fresh.events().get()
    assert (event.outcome, event.site, event.session) == (
        EventOutcome.APPLIED,
        network.alpha,
        session,
    )
    assert site_groups(network.alpha) == ["paid r1"]


@pytest.mark.parametrize(
    "tamper",
    [
        "bad_signature",
        "other_secret",
        "missing_header",
        "stale_timestamp",
        "body_changed",
        "garbage_header",
    ],
)
def test_a_badly_signed_event_is_refused_and_changes_nothing(
    fresh: Fresh,
    client: Client,
    network: Network,
    order_handler: OrderHandler,
    sandbox: None,
    tamper: str,
) -> None:
    session = open_session(network.alpha)
    event = event_for(session)
    payload = json.dumps(event)
    from tests.payments.conftest import secret_in_use, signature

    header = signature(payload, secret_in_use())
    if tamper == "bad_signature":
        header = header[:-4] + ("0000" if not header.endswith("0000") else "1111")
    elif tamper == "other_secret":
        header = signature(payload, "whsec_someone_else")
    elif tamper == "stale_timestamp":
        header = signature(payload, secret_in_use(), timestamp=int(time.time()) - 301)
    elif tamper == "body_changed":
        payload = payload.replace('"amount_total": 8850', '"amount_total": 1')
    elif tamper == "garbage_header":
        header = "v1=,t=yesterday"
    kwargs: dict[str, Any] = {"HTTP_HOST": "localhost"}
    if tamper != "missing_header":
        kwargs["HTTP_STRIPE_SIGNATURE"] = header
    before = written()
    response = client.post(
        "/payments/webhooks/stripe/", data=payload, content_type="application/json", **kwargs
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert fresh.events().count() == 0
    assert order_handler.paid == []
    assert written() == before
    session.refresh_from_db()
    assert session.status == CheckoutStatus.OPEN


def test_a_signed_payload_that_is_not_an_event_is_refused(
    fresh: Fresh, client: Client, network: Network, sandbox: None
) -> None:
    assert post_event(client, "[1, 2, 3]").status_code == 400
    assert post_event(client, "not json").status_code == 400
    assert post_event(client, json.dumps({"id": "evt_1", "type": "x"})).status_code == 400
    assert fresh.events().count() == 0


def test_the_webhook_only_takes_post_and_only_on_the_platform(
    client: Client, network: Network, sandbox: None
) -> None:
    assert client.get("/payments/webhooks/stripe/", HTTP_HOST="localhost").status_code == 405
    response = post_event(client, "{}")
    assert response.status_code == 400
    on_a_site = client.post(
        "/payments/webhooks/stripe/",
        data="{}",
        content_type="application/json",
        HTTP_HOST="alpha.localhost",
    )
    assert on_a_site.status_code == 404


def test_stripe_mode_checks_with_stripe_webhook_secret(
    client: Client, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = open_session(network.alpha)
    from shared.payments.conf import sandbox_webhook_secret

    refused = post_event(client, event_for(session), secret=sandbox_webhook_secret())
    assert refused.status_code == 400
    accepted = post_event(client, event_for(session), secret=STRIPE_WEBHOOK_SECRET)
    assert accepted.status_code == 200
    assert len(order_handler.paid) == 1


def test_stripe_mode_without_a_webhook_secret_asks_stripe_to_retry(
    client: Client, network: Network, fake_stripe: FakeStripe, settings: Any
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert post_event(client, "{}", secret="whsec_x").status_code == 503


# --- Once and only once -----------------------------------------------------------------------


def test_the_same_event_posted_50_times_applies_once(
    fresh: Fresh, client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    event = event_for(session, event_id="evt_replayed")
    answers = [post_event(client, event) for _ in range(50)]

    assert {a.status_code for a in answers} == {200}
    assert [a.json()["replay"] for a in answers] == [False] + [True] * 49
    assert len(order_handler.paid) == 1
    assert fresh.events().count() == 1
    assert site_groups(network.alpha) == ["paid r1"]


def test_a_second_event_for_a_paid_session_does_nothing(
    fresh: Fresh, client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    post_event(client, event_for(session))
    again = post_event(client, event_for(session, "checkout.session.async_payment_succeeded"))
    assert again.json()["outcome"] == "ignored"
    assert len(order_handler.paid) == 1
    assert fresh.outcomes() == {"applied": 1, "ignored": 1}


# --- Out of order -----------------------------------------------------------------------------


def test_expired_after_completed_is_ignored(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    post_event(client, event_for(session))
    late = post_event(client, event_for(session, "checkout.session.expired", payment_intent=None))
    assert late.json()["outcome"] == "ignored"
    session.refresh_from_db()
    assert session.status == CheckoutStatus.PAID
    assert order_handler.expired == []


def test_expired_calls_on_expired_once(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    event = event_for(session, "checkout.session.expired", payment_intent=None)
    for _ in range(3):
        post_event(client, event)
    post_event(client, event_for(session, "checkout.session.expired", payment_intent=None))
    assert order_handler.expired == [{"site": "alpha", "reference": "r1"}]
    session.refresh_from_db()
    assert session.status == CheckoutStatus.EXPIRED


def test_a_payment_arriving_after_expiry_still_reaches_the_handler(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    """Money that was taken is never dropped silently: the handler decides."""
    session = open_session(network.alpha)
    post_event(client, event_for(session, "checkout.session.expired", payment_intent=None))
    post_event(client, event_for(session))
    assert len(order_handler.paid) == 1
    session.refresh_from_db()
    assert session.status == CheckoutStatus.PAID


def test_refunded_before_completed_is_harmless(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    refund = {
        "id": "evt_refund_early",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": "pi_test_local_1",
                "amount": 8850,
                "amount_refunded": 8850,
                "currency": "cny",
            }
        },
    }
    assert post_event(client, refund).json()["outcome"] == "ignored"
    assert post_event(client, event_for(session)).json()["outcome"] == "applied"
    assert len(order_handler.paid) == 1


def test_an_unpaid_completion_waits_for_the_async_payment(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    pending = post_event(client, event_for(session, payment_status="unpaid"))
    assert pending.json()["outcome"] == "ignored"
    assert order_handler.paid == []
    succeeded = event_for(
        session, "checkout.session.async_payment_succeeded", payment_status="paid"
    )
    assert post_event(client, succeeded).json()["outcome"] == "applied"
    assert len(order_handler.paid) == 1


def test_a_failed_async_payment_ends_the_checkout(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    post_event(client, event_for(session, "checkout.session.async_payment_failed"))
    session.refresh_from_db()
    assert session.status == CheckoutStatus.EXPIRED
    assert order_handler.expired == [{"site": "alpha", "reference": "r1"}]


# --- Refused events change nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount_total": 885}, "amount_total"),
        ({"amount_total": 8851}, "amount_total"),
        ({"amount_total": "8850"}, "amount_total"),
        ({"amount_total": 88.5}, "amount_total"),
        ({"currency": "usd"}, "currency"),
        ({"currency": None}, "currency"),
        ({"payment_intent": None}, "payment intent"),
    ],
)
def test_tampered_amount_or_currency_is_rejected_and_nothing_is_written(
    fresh: Fresh,
    client: Client,
    network: Network,
    order_handler: OrderHandler,
    sandbox: None,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    session = open_session(network.alpha)
    before = written()
    response = post_event(client, event_for(session, **overrides))

    assert response.status_code == 200
    assert response.json()["outcome"] == "rejected"
    assert reason in fresh.events().get().reason
    assert order_handler.paid == []
    assert site_groups(network.alpha) == []
    assert written() == before
    session.refresh_from_db()
    assert (session.status, session.payment_ref) == (CheckoutStatus.OPEN, "")


@pytest.mark.parametrize("key", ["kameng_site", "kameng_reference", "kameng_purpose"])
def test_an_event_naming_another_sites_order_is_rejected(
    fresh: Fresh,
    client: Client,
    network: Network,
    order_handler: OrderHandler,
    sandbox: None,
    key: str,
) -> None:
    """A session of beta whose metadata names alpha's order (or the reverse) changes nothing
    on either site."""
    ours = open_session(network.alpha, reference="alpha:7")
    theirs = open_session(network.beta, reference="beta:7")
    event = event_for(theirs)
    event["data"]["object"]["metadata"][key] = {
        "kameng_site": ours.site.schema_name,
        "kameng_reference": ours.reference,
        "kameng_purpose": "wallet_top_up",
    }[key]
    before = written()
    response = post_event(client, event)

    assert response.json()["outcome"] == "rejected"
    assert key in fresh.events().get().reason
    assert order_handler.paid == []
    assert site_groups(network.alpha) == site_groups(network.beta) == []
    assert written() == before
    assert set(fresh.sessions().values_list("status", flat=True)) == {CheckoutStatus.OPEN}


def test_an_unknown_session_is_stored_and_ignored(
    fresh: Fresh, client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    event = event_for(session)
    event["data"]["object"]["id"] = "cs_test_not_ours"
    before = written()
    response = post_event(client, event)
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")
    assert fresh.events().get().reason == "Unknown checkout session."
    assert written() == before
    assert order_handler.paid == []


def test_a_payment_the_handler_refuses_is_rejected_and_its_writes_rolled_back(
    fresh: Fresh, client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha, reference="cancelled-order")
    order_handler.refuse.add("cancelled-order")
    before = written()
    response = post_event(client, event_for(session, payment_intent="pi_refused"))

    assert response.json()["outcome"] == "rejected"
    assert "The order was cancelled." in fresh.events().get().reason
    assert site_groups(network.alpha) == []  # the handler's own row was rolled back
    assert written() == before
    session.refresh_from_db()
    # The money was taken: the session says so, for staff to refund.
    assert (session.status, session.payment_ref) == (CheckoutStatus.REJECTED, "pi_refused")
    again = post_event(client, event_for(session, payment_intent="pi_refused"))
    assert again.json()["outcome"] == "ignored"


def test_events_kameng_does_not_act_on_are_stored(
    fresh: Fresh, client: Client, network: Network, sandbox: None
) -> None:
    event = {"id": "evt_other", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    response = post_event(client, event)
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")
    assert fresh.events().get().payload == event


# --- Refund events ----------------------------------------------------------------------------


def _refunded(
    payment_intent: str, refunded: int, refunds: list[tuple[str, int]], n: int
) -> dict[str, Any]:
    return {
        "id": f"evt_charge_refunded_{n}",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": payment_intent,
                "amount": 8850,
                "amount_refunded": refunded,
                "currency": "cny",
                "refunds": {
                    "object": "list",
                    "data": [
                        {"id": rid, "object": "refund", "amount": amount, "status": "succeeded"}
                        for rid, amount in refunds
                    ],
                },
            }
        },
    }


def test_refund_events_in_any_order_keep_the_largest_total(
    client: Client, network: Network, order_handler: OrderHandler, sandbox: None
) -> None:
    session = open_session(network.alpha)
    post_event(client, event_for(session, payment_intent="pi_r"))
    second = _refunded("pi_r", 5000, [("re_2", 3000), ("re_1", 2000)], 2)
    first = _refunded("pi_r", 2000, [("re_1", 2000)], 1)
    assert post_event(client, second).json()["outcome"] == "applied"
    assert post_event(client, first).json()["outcome"] == "applied"
    session.refresh_from_db()
    assert session.amount_refunded == D("50.00")
    assert sorted(session.refunds.values_list("provider_refund_id", "amount")) == [
        ("re_1", D("20.00")),
        ("re_2", D("30.00")),
    ]
    too_much = _refunded("pi_r", 9000, [], 3)
    assert post_event(client, too_much).json()["outcome"] == "rejected"
    session.refresh_from_db()
    assert session.amount_refunded == D("50.00")


# --- Stripe's fee -----------------------------------------------------------------------------


def test_the_fee_comes_from_stripes_balance_transaction(
    client: Client, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    fake_stripe.balance_transaction = {
        "id": "txn_1",
        "object": "balance_transaction",
        "fee": 287,
        "currency": "cny",
    }
    session = open_session(network.alpha)
    post_event(client, event_for(session, payment_intent="pi_fee"), secret=STRIPE_WEBHOOK_SECRET)
    [request] = fake_stripe.to("/v1/payment_intents/pi_fee")
    assert request.form == {"expand[0]": "latest_charge.balance_transaction"}
    assert order_handler.paid[0]["fee"] == D("2.87")


def test_a_fee_in_another_currency_is_converted(
    client: Client, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    fake_stripe.balance_transaction = {"fee": 40, "currency": "usd", "exchange_rate": 0.14}
    session = open_session(network.alpha)
    post_event(client, event_for(session, payment_intent="pi_fx"), secret=STRIPE_WEBHOOK_SECRET)
    assert order_handler.paid[0]["fee"] == D("2.86")  # 0.40 USD / 0.14


def test_a_missing_balance_transaction_or_an_unreachable_stripe_means_no_fee(
    fresh: Fresh,
    client: Client,
    network: Network,
    order_handler: OrderHandler,
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.balance_transaction = None
    one = open_session(network.alpha, reference="one")
    post_event(client, event_for(one, payment_intent="pi_1"), secret=STRIPE_WEBHOOK_SECRET)
    fake_stripe.answers["/v1/payment_intents/pi_2"] = (500, {"error": {"message": "down"}})
    two = open_session(network.alpha, reference="two")
    post_event(client, event_for(two, payment_intent="pi_2"), secret=STRIPE_WEBHOOK_SECRET)
    assert [p["fee"] for p in order_handler.paid] == [D("0"), D("0")]
    assert set(fresh.sessions().values_list("status", flat=True)) == {CheckoutStatus.PAID}


def test_a_replay_does_not_ask_stripe_for_the_fee_again(
    client: Client, network: Network, order_handler: OrderHandler, fake_stripe: FakeStripe
) -> None:
    session = open_session(network.alpha)
    event = event_for(session, payment_intent="pi_once")
    for _ in range(5):
        post_event(client, event, secret=STRIPE_WEBHOOK_SECRET)
    assert len(fake_stripe.to("/v1/payment_intents/pi_once")) == 1


def test_the_sandbox_fee_follows_the_settings(settings: Any) -> None:
    settings.PAYMENT_FEE_PERCENT = "3.4"
    settings.PAYMENT_FEE_FIXED = "2.00"
    assert sandbox_fee(D("100.00"), "CNY") == D("5.40")
    settings.PAYMENT_FEE_FIXED = "0"
    assert sandbox_fee(D("999"), "JPY") == D("34")
