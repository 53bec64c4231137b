"""Payouts through Stripe Connect, against a local HTTP server answering like Stripe's API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from shared.ledger.models import AccountKind
from shared.ledger.services import ledger_verify
from shared.payouts.models import (
    ConnectedAccount,
    ConnectedAccountState,
    Withdrawal,
    WithdrawalMethod,
    WithdrawalStatus,
)
from shared.payouts.services import (
    connect_onboarding_link,
    connected_account_refresh,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from shared.sites.models import Site
from tests.payouts.conftest import FakeStripe, balance, written

D = Decimal
AVAILABLE, WITHDRAWING = AccountKind.SITE_AVAILABLE, AccountKind.SITE_WITHDRAWING


@pytest.fixture
def connected(site: Site) -> ConnectedAccount:
    return ConnectedAccount.objects.create(
        site=site,
        stripe_account_id="acct_site_1",
        state=ConnectedAccountState.ACTIVE,
        details_submitted=True,
        payouts_enabled=True,
    )


@pytest.fixture
def withdrawal(site: Site, owner: Any) -> Withdrawal:
    return withdrawal_request(
        site=site, amount=D("123.45"), requested_by=owner, idempotency_key="payout-1"
    )


def test_approve_transfers_through_stripe(
    site: Site,
    withdrawal: Withdrawal,
    connected: ConnectedAccount,
    hq_staff: Any,
    fake_stripe: FakeStripe,
) -> None:
    clearing_before = balance(AccountKind.PAYOUT_CLEARING)
    hq_before = balance(AccountKind.HQ_REVENUE)
    paid = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)

    assert (paid.status, paid.method) == (WithdrawalStatus.PAID, WithdrawalMethod.STRIPE)
    assert (paid.stripe_transfer_id, paid.stripe_destination) == ("tr_local_1", "acct_site_1")
    [request] = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/transfers")
    assert request.form == {
        "amount": "12345",
        "currency": "cny",
        "destination": "acct_site_1",
        "metadata[site]": site.slug,
        "metadata[withdrawal]": str(withdrawal.pk),
    }
    assert request.headers["Idempotency-Key"] == f"kameng-withdrawal-{withdrawal.pk}"
    assert request.headers["Authorization"] == "Bearer sk_test_local"
    assert balance(AVAILABLE, site) == D("374.55")  # 500 - 123.45 - 2.00
    assert balance(WITHDRAWING, site) == D("0.00")
    assert balance(AccountKind.PAYOUT_CLEARING) - clearing_before == D("-123.45")
    assert balance(AccountKind.HQ_REVENUE) - hq_before == D("2.00")
    assert list(paid.events.values_list("to_status", flat=True)) == [
        WithdrawalStatus.REQUESTED,
        WithdrawalStatus.APPROVED,
        WithdrawalStatus.PAID,
    ]

    before = written()
    assert withdrawal_approve(withdrawal=withdrawal, actor=hq_staff).status == "paid"
    assert len(fake_stripe.requests) == 1  # a second approve does not call Stripe again
    assert written() == before
    assert ledger_verify() == []


def test_refused_transfer_fails_and_releases_funds(
    site: Site,
    withdrawal: Withdrawal,
    connected: ConnectedAccount,
    hq_staff: Any,
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.answers["/v1/transfers"] = (
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "balance_insufficient",
                "message": "Insufficient funds in Stripe account sk_test_abc123XYZ.",
            }
        },
    )
    failed = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)

    assert failed.status == WithdrawalStatus.FAILED
    assert failed.error == "balance_insufficient: Insufficient funds in Stripe account [redacted]."
    assert failed.stripe_transfer_id == ""
    assert balance(AVAILABLE, site) == D("500.00")
    assert balance(WITHDRAWING, site) == D("0.00")
    before = written()
    assert withdrawal_approve(withdrawal=withdrawal, actor=hq_staff).status == "failed"
    assert len(fake_stripe.to("/v1/transfers")) == 1
    assert written() == before
    assert ledger_verify() == []


def test_unknown_outcome_keeps_funds_locked_and_retries_with_the_same_key(
    site: Site,
    withdrawal: Withdrawal,
    connected: ConnectedAccount,
    hq_staff: Any,
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.answers["/v1/transfers"] = (
        500,
        {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}},
    )
    pending = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    assert pending.status == WithdrawalStatus.APPROVED
    assert pending.error == "Something went wrong on Stripe's end."
    assert balance(WITHDRAWING, site) == D("125.45")
    with pytest.raises(ValidationError, match="cannot be rejected"):
        withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="Give up")

    del fake_stripe.answers["/v1/transfers"]
    paid = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    assert (paid.status, paid.error, paid.stripe_transfer_id) == ("paid", "", "tr_local_1")
    keys = [r.headers["Idempotency-Key"] for r in fake_stripe.to("/v1/transfers")]
    assert keys == [f"kameng-withdrawal-{withdrawal.pk}"] * 2
    assert balance(WITHDRAWING, site) == D("0.00")
    assert ledger_verify() == []


def test_without_an_active_connected_account_the_payout_is_manual(
    site: Site, withdrawal: Withdrawal, hq_staff: Any, fake_stripe: FakeStripe
) -> None:
    ConnectedAccount.objects.create(site=site, stripe_account_id="acct_new")  # onboarding
    approved = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    assert (approved.status, approved.method) == ("approved", "manual")
    assert fake_stripe.requests == []


def test_onboarding_creates_the_express_account_once(site: Site, fake_stripe: FakeStripe) -> None:
    url = connect_onboarding_link(
        site=site, refresh_url="https://x.test/refresh", return_url="https://x.test/done"
    )
    assert url == "https://connect.stripe.test/setup/e/acct_local_1/onboard"
    account_request, link_request = fake_stripe.requests
    assert account_request.path == "/v1/accounts"
    assert account_request.form == {
        "type": "express",
        "email": f"owner@{site.slug}.test",
        "capabilities[transfers][requested]": "true",
        "metadata[site]": site.slug,
        "metadata[site_id]": str(site.pk),
    }
    assert account_request.headers["Idempotency-Key"] == f"kameng-connect-site-{site.pk}"
    assert link_request.path == "/v1/account_links"
    assert link_request.form == {
        "account": "acct_local_1",
        "refresh_url": "https://x.test/refresh",
        "return_url": "https://x.test/done",
        "type": "account_onboarding",
    }
    connected = ConnectedAccount.objects.get(site=site)
    assert (connected.stripe_account_id, connected.state) == ("acct_local_1", "onboarding")

    connect_onboarding_link(
        site=site, refresh_url="https://x.test/r", return_url="https://x.test/d"
    )
    assert [r.path for r in fake_stripe.requests[2:]] == ["/v1/account_links"]
    assert ConnectedAccount.objects.filter(site=site).count() == 1

    refreshed = connected_account_refresh(site=site)
    assert fake_stripe.requests[-1].path == "/v1/accounts/acct_local_1"
    assert (refreshed.state, refreshed.payouts_enabled) == (ConnectedAccountState.ACTIVE, True)


def test_onboarding_refused_by_stripe_writes_nothing(site: Site, fake_stripe: FakeStripe) -> None:
    fake_stripe.answers["/v1/accounts"] = (
        400,
        {"error": {"type": "invalid_request_error", "message": "Connect is not enabled."}},
    )
    with pytest.raises(ValidationError, match="Connect is not enabled"):
        connect_onboarding_link(
            site=site, refresh_url="https://x.test/r", return_url="https://x.test/d"
        )
    assert not ConnectedAccount.objects.filter(site=site).exists()


def test_onboarding_needs_stripe(site: Site, no_stripe: None) -> None:
    with pytest.raises(ValidationError, match="Stripe is not configured"):
        connect_onboarding_link(
            site=site, refresh_url="https://x.test/r", return_url="https://x.test/d"
        )
