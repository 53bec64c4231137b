"""HQ's money pages: site owners' withdrawals approved, rejected and paid (by hand or through
Stripe Connect against the local Stripe), HQ-wide reports from public tables, and roles."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from openpyxl import load_workbook

from shared.hq.roles import HQ_ADMIN, HQ_SUPPORT
from shared.ledger.models import AccountKind
from shared.payouts.models import ConnectedAccount, ConnectedAccountState, WithdrawalStatus
from shared.payouts.services import withdrawal_request
from shared.sites.models import Site
from tests.conftest import OWNER_PASSWORD
from tests.payouts.conftest import FakeStripe, balance, written
from tests.storefront.clients import site_client_for

D = Decimal


def _hq(role: str) -> Client:
    email = f"{uuid.uuid4().hex[:8]}@hq.test"
    user = get_user_model().objects.create_user(
        username=email, email=email, password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def _request(site: Site, owner: Any, amount: str = "150.00") -> Any:
    return withdrawal_request(
        site=site, amount=D(amount), requested_by=owner, idempotency_key=uuid.uuid4().hex
    )


def test_hq_pays_a_withdrawal_by_hand(site: Site, owner: Any, no_stripe: None) -> None:
    withdrawal = _request(site, owner)
    client = _hq(HQ_ADMIN)

    listing = client.get("/console/withdrawals/").content.decode()
    assert f"{site.name} ({site.slug})" in listing
    client.post(f"/console/withdrawals/{withdrawal.pk}/approve/", {"method": "manual"})
    client.post(f"/console/withdrawals/{withdrawal.pk}/paid/", {"reference": "BANK-1"})

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.manual_reference) == (WithdrawalStatus.PAID, "BANK-1")
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("348.00")
    assert balance(AccountKind.SITE_WITHDRAWING, site) == D("0.00")


def test_hq_rejects_and_the_funds_come_back(site: Site, owner: Any, no_stripe: None) -> None:
    withdrawal = _request(site, owner)
    client = _hq(HQ_ADMIN)

    client.post(f"/console/withdrawals/{withdrawal.pk}/reject/", {"reason": "Documents missing"})

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.reason) == (
        WithdrawalStatus.REJECTED,
        "Documents missing",
    )
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("500.00")


def test_hq_approval_pays_through_stripe_connect(
    site: Site, owner: Any, fake_stripe: FakeStripe
) -> None:
    ConnectedAccount.objects.create(
        site=site, stripe_account_id="acct_site_1", state=ConnectedAccountState.ACTIVE
    )
    withdrawal = _request(site, owner)

    _hq(HQ_ADMIN).post(f"/console/withdrawals/{withdrawal.pk}/approve/", {"method": ""})

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.stripe_transfer_id) == (
        WithdrawalStatus.PAID,
        "tr_local_1",
    )
    [transfer] = fake_stripe.to("/v1/transfers")
    assert (transfer.form["amount"], transfer.form["destination"]) == ("15000", "acct_site_1")


def test_a_stripe_refusal_fails_the_withdrawal_and_releases_it(
    site: Site, owner: Any, fake_stripe: FakeStripe
) -> None:
    ConnectedAccount.objects.create(
        site=site, stripe_account_id="acct_site_2", state=ConnectedAccountState.ACTIVE
    )
    fake_stripe.answers["/v1/transfers"] = (
        400,
        {"error": {"type": "invalid_request_error", "message": "Insufficient platform balance"}},
    )
    withdrawal = _request(site, owner)

    response = _hq(HQ_ADMIN).post(f"/console/withdrawals/{withdrawal.pk}/approve/", follow=True)

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.FAILED
    assert "Insufficient platform balance" in response.content.decode()
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("500.00")


def test_support_sees_withdrawals_but_changes_nothing(site: Site, owner: Any) -> None:
    withdrawal = _request(site, owner)
    client = _hq(HQ_SUPPORT)
    before = written()

    assert client.get("/console/withdrawals/").status_code == 200
    assert client.post(f"/console/withdrawals/{withdrawal.pk}/approve/").status_code == 403
    assert (
        client.post(f"/console/withdrawals/{withdrawal.pk}/reject/", {"reason": "x"}).status_code
        == 403
    )

    assert written() == before
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REQUESTED


def test_hq_pages_are_not_served_on_a_sites_domain(site: Site, owner: Any) -> None:
    withdrawal = _request(site, owner)
    client = site_client_for(site, f"owner@{site.slug}.test", OWNER_PASSWORD)

    assert client.get("/console/withdrawals/").status_code == 404
    assert client.post(f"/console/withdrawals/{withdrawal.pk}/approve/").status_code == 404
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REQUESTED


def test_hq_reports_trial_balance_csv_and_xlsx(site: Site) -> None:
    client = _hq(HQ_ADMIN)
    query = "?report=trial_balance&currency=CNY"

    response = client.get(f"/console/reports/{query}&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["account", "kind", "owner", "currency", "debit", "credit"]
    [total] = [r for r in rows if r[1] == "total"]
    assert total[4] == total[5]  # debits equal credits
    [mine] = [r for r in rows if r[1] == "site_available" and r[2] == site.slug]
    assert mine[2:] == [site.slug, "CNY", "0.00", "500.00"]

    response = client.get(f"/console/reports/{query}&format=xlsx")
    assert response["Content-Disposition"] == 'attachment; filename="hq-trial_balance.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]] == [
        "account",
        "kind",
        "owner",
        "currency",
        "debit",
        "credit",
    ]

    page = client.get(f"/console/reports/{query}").content.decode()
    assert 'data-testid="report-row"' in page


def test_reports_need_the_ledger_permission(db: None) -> None:
    email = f"{uuid.uuid4().hex[:8]}@hq.test"
    user = get_user_model().objects.create_user(
        username=email, email=email, password="x", is_staff=True
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    assert client.get("/console/reports/").status_code == 403
    assert client.get("/console/withdrawals/").status_code == 403
