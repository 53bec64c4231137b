"""Withdrawals: funds locked on request, released on rejection, paid out by hand; every refusal
writes nothing; every step is idempotent; one site cannot reach another's withdrawals."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import Posting, account_get, ledger_verify, transaction_post
from shared.payouts.models import (
    WITHDRAWAL_TRANSITIONS,
    Withdrawal,
    WithdrawalMethod,
    WithdrawalStatus,
)
from shared.payouts.selectors import withdrawal_get
from shared.payouts.services import (
    _transition,
    withdrawal_approve,
    withdrawal_fee,
    withdrawal_mark_paid,
    withdrawal_reject,
    withdrawal_request,
)
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tests.payouts.conftest import balance, fund, written

D = Decimal
AVAILABLE, WITHDRAWING = AccountKind.SITE_AVAILABLE, AccountKind.SITE_WITHDRAWING


def _request(site: Site, owner: Any, amount: str = "100.00", key: str = "w1", **kw: Any) -> Any:
    return withdrawal_request(
        site=site, amount=D(amount), requested_by=owner, idempotency_key=key, **kw
    )


def test_request_locks_amount_plus_fee(site: Site, owner: Any) -> None:
    withdrawal = _request(site, owner)
    assert (withdrawal.amount, withdrawal.fee, withdrawal.currency) == (
        D("100.00"),
        D("2.00"),
        "CNY",
    )
    assert withdrawal.status == WithdrawalStatus.REQUESTED
    assert withdrawal.requested_by == f"owner@{site.slug}.test"
    assert balance(AVAILABLE, site) == D("398.00")
    assert balance(WITHDRAWING, site) == D("102.00")
    hold = Transaction.objects.get(idempotency_key=f"withdrawal:{withdrawal.pk}:hold")
    assert sorted(hold.legs.values_list("account__kind", "amount")) == [
        (AVAILABLE, D("102.00")),
        (WITHDRAWING, D("-102.00")),
    ]
    assert list(withdrawal.events.values_list("from_status", "to_status")) == [
        ("", WithdrawalStatus.REQUESTED)
    ]
    assert ledger_verify() == []


def test_the_whole_available_balance_can_be_withdrawn(site: Site, owner: Any) -> None:
    _request(site, owner, amount="498.00")
    assert balance(AVAILABLE, site) == D("0.00")
    assert balance(WITHDRAWING, site) == D("500.00")


def test_fee_follows_settings(site: Site, owner: Any, settings: Any) -> None:
    settings.WITHDRAWAL_FEE_PERCENT = D("1.5")
    settings.WITHDRAWAL_FEE_FIXED = D("0.50")
    settings.WITHDRAWAL_MINIMUM = D("300")
    # 1.5 % of 333.33 is 4.99995, rounded half up to 5.00, plus 0.50.
    assert withdrawal_fee(amount=D("333.33"), currency="CNY") == D("5.50")
    assert withdrawal_fee(amount=D("1000"), currency="JPY") == D("16")
    withdrawal = _request(site, owner, amount="333.33")
    assert withdrawal.fee == D("5.50")
    assert balance(AVAILABLE, site) == D("161.17")
    with pytest.raises(ValidationError, match=re.escape("minimum withdrawal is 300.00 CNY")):
        _request(site, owner, amount="150.00", key="w2")


def test_replay_returns_the_original_and_writes_nothing(site: Site, owner: Any) -> None:
    first = _request(site, owner)
    before = written()
    again = _request(site, owner)
    assert again.pk == first.pk
    assert written() == before
    assert balance(AVAILABLE, site) == D("398.00")
    with pytest.raises(ValidationError, match="already used"):
        _request(site, owner, amount="150.00")
    assert written() == before


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "CNY", "greater than zero"),
        ("-5.00", "CNY", "greater than zero"),
        ("99.99", "CNY", "minimum withdrawal is 100.00 CNY"),
        ("100.001", "CNY", "whole number of CNY minor units"),
        ("499.00", "CNY", "exceeds the available 500.00 CNY"),  # 499 + 2 fee > 500
        ("100.00", "USD", "exceeds the available 0 USD"),  # funded in CNY only
        ("100.00", "XYZ", "Unsupported currency"),
        ("NaN", "CNY", "whole number"),
    ],
)
def test_bad_requests_write_nothing(
    site: Site, owner: Any, amount: str, currency: str, message: str
) -> None:
    before = written()
    with pytest.raises(ValidationError, match=re.escape(message)):
        _request(site, owner, amount=amount, currency=currency)
    assert written() == before
    assert balance(AVAILABLE, site) == D("500.00")
    assert balance(WITHDRAWING, site) == D("0")


def test_bad_idempotency_key_is_refused(site: Site, owner: Any) -> None:
    before = written()
    for key in ("", "k" * 201):
        with pytest.raises(ValidationError, match="idempotency key"):
            _request(site, owner, key=key)
    assert written() == before


def test_negative_available_balance_blocks_withdrawal(site: Site, owner: Any) -> None:
    # A refund clawed back more than the site had available.
    transaction_post(
        idempotency_key=f"clawback:{site.slug}",
        kind="refund",
        postings=[
            Posting(account_get(kind=AVAILABLE, currency="CNY", site=site), D("600.00")),
            Posting(account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"), D("-600.00")),
        ],
    )
    assert balance(AVAILABLE, site) == D("-100.00")
    before = written()
    with pytest.raises(ValidationError, match="available balance is negative"):
        _request(site, owner)
    assert written() == before
    assert balance(AVAILABLE, site) == D("-100.00")


def test_reject_releases_funds_once(site: Site, owner: Any, hq_staff: Any) -> None:
    withdrawal = _request(site, owner)
    with pytest.raises(ValidationError, match="reason is required"):
        withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="  ")
    rejected = withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="Bank unknown")
    assert (rejected.status, rejected.reason) == (WithdrawalStatus.REJECTED, "Bank unknown")
    assert rejected.completed_at is not None
    assert balance(AVAILABLE, site) == D("500.00")
    assert balance(WITHDRAWING, site) == D("0.00")
    before = written()
    again = withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="Again")
    assert (again.status, again.reason) == (WithdrawalStatus.REJECTED, "Bank unknown")
    assert withdrawal_approve(withdrawal=withdrawal, actor=hq_staff).status == "rejected"
    with pytest.raises(ValidationError, match="rejected withdrawal cannot be marked paid"):
        withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="BANK-1")
    assert written() == before
    assert list(rejected.events.values_list("to_status", "actor")) == [
        (WithdrawalStatus.REQUESTED, f"owner@{site.slug}.test"),
        (WithdrawalStatus.REJECTED, hq_staff.email),
    ]
    assert ledger_verify() == []


def test_manual_payout(site: Site, owner: Any, hq_staff: Any, no_stripe: None) -> None:
    clearing_before = balance(AccountKind.PAYOUT_CLEARING)
    hq_before = balance(AccountKind.HQ_REVENUE)
    withdrawal = _request(site, owner)
    with pytest.raises(ValidationError, match="requested withdrawal cannot be marked paid"):
        withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="BANK-1")

    approved = withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    assert (approved.status, approved.method) == (WithdrawalStatus.APPROVED, "manual")
    assert balance(WITHDRAWING, site) == D("102.00")
    before = written()
    assert withdrawal_approve(withdrawal=withdrawal, actor=hq_staff).status == "approved"
    assert written() == before
    with pytest.raises(ValidationError, match="reference is required"):
        withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="")

    paid = withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="BANK-7731")
    assert (paid.status, paid.manual_reference) == (WithdrawalStatus.PAID, "BANK-7731")
    assert balance(AVAILABLE, site) == D("398.00")
    assert balance(WITHDRAWING, site) == D("0.00")
    # Sent, not yet reconciled: a credit on the debit-normal clearing account.
    assert balance(AccountKind.PAYOUT_CLEARING) - clearing_before == D("-100.00")
    assert balance(AccountKind.HQ_REVENUE) - hq_before == D("2.00")

    before = written()
    assert withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="X").status == (
        "paid"
    )
    assert withdrawal_approve(withdrawal=withdrawal, actor=hq_staff).status == "paid"
    with pytest.raises(ValidationError, match="paid withdrawal cannot become rejected"):
        withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="Too late")
    assert written() == before
    assert Withdrawal.objects.get(pk=withdrawal.pk).manual_reference == "BANK-7731"
    assert ledger_verify() == []


def test_approved_manual_payout_can_still_be_rejected(
    site: Site, owner: Any, hq_staff: Any, no_stripe: None
) -> None:
    withdrawal = _request(site, owner)
    withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    withdrawal_reject(withdrawal=withdrawal, actor=hq_staff, reason="Account closed")
    assert balance(AVAILABLE, site) == D("500.00")


def test_stripe_method_needs_stripe(site: Site, owner: Any, hq_staff: Any, no_stripe: None) -> None:
    withdrawal = _request(site, owner)
    before = written()
    with pytest.raises(ValidationError, match="Stripe payouts need"):
        withdrawal_approve(withdrawal=withdrawal, actor=hq_staff, method=WithdrawalMethod.STRIPE)
    assert written() == before
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.REQUESTED


def test_status_table_is_enforced(site: Site, owner: Any, hq_staff: Any) -> None:
    withdrawal = _request(site, owner)
    for status, allowed in WITHDRAWAL_TRANSITIONS.items():
        for target in WithdrawalStatus:
            if target in allowed:
                continue
            withdrawal.status = status
            with pytest.raises(ValidationError, match="cannot become"):
                _transition(withdrawal, target, actor=hq_staff.email, note="")


def test_another_sites_withdrawal_is_out_of_reach(
    site: Site, owner: Any, make_site: Callable[..., ProvisionedSite]
) -> None:
    withdrawal = _request(site, owner, key="shared-key")
    other = make_site().site
    fund(other, D("300.00"), key=f"fund:{other.slug}")
    missing = Withdrawal.objects.order_by("-pk").first().pk + 1000  # type: ignore[union-attr]
    for withdrawal_id in (withdrawal.pk, missing):
        with pytest.raises(Withdrawal.DoesNotExist):
            withdrawal_get(site=other, withdrawal_id=withdrawal_id)
    assert withdrawal_get(site=site, withdrawal_id=withdrawal.pk).pk == withdrawal.pk
    # The same client key on another site is that site's own withdrawal, not a replay.
    own = _request(other, owner, amount="150.00", key="shared-key")
    assert own.pk != withdrawal.pk and own.site_id == other.pk
    assert balance(AVAILABLE, other) == D("148.00")
    assert balance(AVAILABLE, site) == D("398.00")
    assert Withdrawal.objects.get(pk=withdrawal.pk).amount == D("100.00")
