"""The money pages of a site's console: exact figures, roles, actions that act on this site
only (another site's ids and members are refused and nothing changes), reports downloads."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, override_settings
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from shared.ledger.models import AccountKind
from shared.payouts.models import ConnectedAccount, Withdrawal
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tenants.console.roles import Role
from tenants.console.services import staff_role_assign
from tenants.members.services import member_create
from tenants.wallets.commissions import commission_settings_get
from tenants.wallets.models import MemberTransaction, MemberWithdrawal, MemberWithdrawalStatus
from tenants.wallets.withdrawals import member_withdrawal_request
from tests.conftest import OWNER_PASSWORD, Network, site_host
from tests.payouts.conftest import FakeStripe, balance, fund, written
from tests.storefront.clients import site_client_for
from tests.storefront.html import page
from tests.wallets.conftest import available, earn_commission, new_member, wallet
from tests.wallets.conftest import written as member_written

D = Decimal
STAFF_PASSWORD = "staff-pass-123"


@pytest.fixture(autouse=True)
def _terms(settings: Any) -> None:
    settings.MEMBER_WITHDRAWAL_MINIMUM = "50.00"
    settings.MEMBER_WITHDRAWAL_FEE_PERCENT = "0"
    settings.MEMBER_WITHDRAWAL_FEE_FIXED = "2.00"
    settings.WITHDRAWAL_MINIMUM = "100.00"
    settings.WITHDRAWAL_FEE_PERCENT = "0"
    settings.WITHDRAWAL_FEE_FIXED = "2.00"
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def site(make_site: Callable[..., ProvisionedSite]) -> Site:
    created = make_site().site
    fund(created, D("500.00"), key=f"fund:{created.slug}")
    return created


def _owner(site: Site) -> Client:
    return site_client_for(site, f"owner@{site.slug}.test", OWNER_PASSWORD)


def _staff(site: Site, role: Role) -> Client:
    email = f"{role.value}-{uuid.uuid4().hex[:6]}@{site.slug}.test"
    with tenant_context(site):
        user = member_create(email=email, password=STAFF_PASSWORD)
        staff_role_assign(user=user, role=role)
    return site_client_for(site, email, STAFF_PASSWORD)


def _open_withdrawal(site: Site, amount: str = "60.00") -> MemberWithdrawal:
    with tenant_context(site):
        member = new_member(site, "w")
        earn_commission(site, member, D("100"), key=f"earn:{uuid.uuid4().hex}")
        return member_withdrawal_request(
            user=member, amount=D(amount), payee="Alipay 139", idempotency_key="k"
        )


def test_earnings_page_shows_exact_balances(site: Site) -> None:
    html = page(_owner(site).get("/console/money/").content)

    assert html.find("earnings-pending").text == "0.00"
    assert html.find("earnings-available").text == "500.00"
    assert html.find("earnings-withdrawing").text == "0.00"
    assert html.find_all("site-withdrawal-form")  # the owner may withdraw


def test_owner_requests_a_withdrawal_from_the_console(site: Site) -> None:
    client = _owner(site)

    response = client.post("/console/money/withdraw/", {"amount": "150.00", "key": "k1"})
    client.post("/console/money/withdraw/", {"amount": "150.00", "key": "k1"})  # sent twice

    assert response.status_code == 302
    [withdrawal] = Withdrawal.objects.filter(site=site)
    assert (withdrawal.amount, withdrawal.fee, withdrawal.requested_by) == (
        D("150.00"),
        D("2.00"),
        f"owner@{site.slug}.test",
    )
    html = page(client.get("/console/money/").content)
    assert html.find("earnings-available").text == "348.00"
    assert html.find("earnings-withdrawing").text == "152.00"
    assert len(html.find_all("site-withdrawal-row")) == 1


def test_a_withdrawal_above_the_balance_writes_nothing(site: Site) -> None:
    before = written()

    response = _owner(site).post("/console/money/withdraw/", {"amount": "499.00", "key": "k"})

    assert response.status_code == 400
    assert "exceeds the available 500.00 CNY" in response.content.decode()
    assert written() == before


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPPORT])
def test_only_the_owner_withdraws_the_sites_earnings(site: Site, role: Role) -> None:
    client = _staff(site, role)
    before = written()

    assert client.get("/console/money/").status_code == 200
    assert client.post("/console/money/withdraw/", {"amount": "150", "key": "k"}).status_code == 403
    assert written() == before


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.MARKETING])
def test_roles_without_finance_see_no_money_pages(site: Site, role: Role) -> None:
    client = _staff(site, role)
    for path in ("/console/money/", "/console/money/reports/", "/console/money/wallets/"):
        assert client.get(path).status_code == 403


def test_staff_approve_and_pay_a_members_withdrawal(site: Site) -> None:
    withdrawal = _open_withdrawal(site)
    client = _staff(site, Role.ADMIN)

    listing = page(client.get("/console/money/commission-withdrawals/").content)
    [row] = listing.find_all("member-withdrawal-row")
    assert "60.00 2.00 Alipay 139 Requested" in row.text

    base = f"/console/money/commission-withdrawals/{withdrawal.pk}"
    assert client.post(f"{base}/approve/").status_code == 302
    assert client.post(f"{base}/paid/", {"reference": "ALI-77"}).status_code == 302

    with tenant_context(site):
        withdrawal.refresh_from_db()
        assert (withdrawal.status, withdrawal.reference) == (MemberWithdrawalStatus.PAID, "ALI-77")
    # The site keeps the 2.00 fee.
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("502.00")


def test_staff_reject_releases_the_members_commission(site: Site) -> None:
    withdrawal = _open_withdrawal(site)
    client = _owner(site)

    base = f"/console/money/commission-withdrawals/{withdrawal.pk}"
    assert client.post(f"{base}/reject/", {"reason": ""}).status_code == 302  # refused: no reason
    with tenant_context(site):
        withdrawal.refresh_from_db()
        assert withdrawal.status == MemberWithdrawalStatus.REQUESTED
    client.post(f"{base}/reject/", {"reason": "Wrong account"})

    with tenant_context(site):
        withdrawal.refresh_from_db()
        assert withdrawal.status == MemberWithdrawalStatus.REJECTED
        assert available(withdrawal.user) == D("100.00")


def test_support_cannot_decide_withdrawals(site: Site) -> None:
    withdrawal = _open_withdrawal(site)
    client = _staff(site, Role.SUPPORT)

    base = f"/console/money/commission-withdrawals/{withdrawal.pk}"
    assert client.post(f"{base}/approve/").status_code == 403
    with tenant_context(site):
        withdrawal.refresh_from_db()
        assert withdrawal.status == MemberWithdrawalStatus.REQUESTED


def test_another_sites_withdrawal_id_is_refused_and_unchanged(site: Site, network: Network) -> None:
    withdrawal = _open_withdrawal(site)
    with tenant_context(network.beta):
        assert not MemberWithdrawal.objects.filter(pk=withdrawal.pk).exists()
    beta = _owner(network.beta)

    for action, data in (
        ("approve", {}),
        ("reject", {"reason": "x"}),
        ("paid", {"reference": "r"}),
    ):
        url = f"/console/money/commission-withdrawals/{withdrawal.pk}/{action}/"
        assert beta.post(url, data).status_code == 404

    with tenant_context(site):
        withdrawal.refresh_from_db()
        assert withdrawal.status == MemberWithdrawalStatus.REQUESTED


def test_another_sites_earnings_and_withdrawals_are_not_listed(
    site: Site, network: Network
) -> None:
    """The money pages list this site's figures only: another site's owner sees neither its
    earnings' withdrawals nor its members' commission withdrawals, and its own figures do not
    move."""
    beta = _owner(network.beta)
    figures = ("earnings-pending", "earnings-available", "earnings-withdrawing")

    def beta_figures() -> list[str]:
        html = page(beta.get("/console/money/").content)
        return [html.find(name).text for name in figures]

    before = beta_figures()
    payee = f"Alipay {uuid.uuid4().hex[:8]}"
    with tenant_context(site):
        member = new_member(site, "w")
        earn_commission(site, member, D("100"), key=f"earn:{uuid.uuid4().hex}")
        member_withdrawal_request(user=member, amount=D("60.00"), payee=payee, idempotency_key="k")
    owner = _owner(site)
    assert (
        owner.post("/console/money/withdraw/", {"amount": "137.00", "key": "k"}).status_code == 302
    )
    mine = page(owner.get("/console/money/commission-withdrawals/").content)
    assert any(payee in row.text for row in mine.find_all("member-withdrawal-row"))
    own_rows = page(owner.get("/console/money/").content).find_all("site-withdrawal-row")
    assert any("137.00" in row.text for row in own_rows)

    theirs = page(beta.get("/console/money/commission-withdrawals/").content)
    assert not any(payee in row.text for row in theirs.find_all("member-withdrawal-row"))
    rows = page(beta.get("/console/money/").content).find_all("site-withdrawal-row")
    assert not any("137.00" in row.text for row in rows)
    assert beta_figures() == before


def test_wallet_adjustment_by_staff_with_a_reason(site: Site) -> None:
    with tenant_context(site):
        member = new_member(site, "adj")
    client = _owner(site)

    response = client.post(
        "/console/money/wallets/",
        {"email": member.email, "amount": "25.00", "reason": "Goodwill", "key": "a1"},
    )

    assert response.status_code == 302
    with tenant_context(site):
        assert wallet(member) == D("25.00")
        txn = MemberTransaction.objects.get(kind="adjustment")
        assert (txn.reason, txn.actor) == ("Goodwill", f"owner@{site.slug}.test")
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("475.00")
    html = page(client.get("/console/money/wallets/").content)
    [row] = html.find_all("adjustment-row")
    assert f"{member.email} +25.00 Goodwill owner@{site.slug}.test" in row.text


def test_adjusting_another_sites_member_writes_nothing(site: Site, network: Network) -> None:
    with tenant_context(network.beta):
        stranger = new_member(network.beta, "stranger")
    with tenant_context(site):
        before = member_written()

    response = _owner(site).post(
        "/console/money/wallets/",
        {"email": stranger.email, "amount": "25.00", "reason": "x", "key": "a"},
    )

    assert response.status_code == 400
    assert "No member of this site has that email address." in response.content.decode()
    with tenant_context(site):
        assert member_written() == before
    assert balance(AccountKind.SITE_AVAILABLE, site) == D("500.00")


def test_a_debit_below_zero_is_refused(site: Site) -> None:
    with tenant_context(site):
        member = new_member(site, "poor")
        before = member_written()

    response = _owner(site).post(
        "/console/money/wallets/",
        {"email": member.email, "amount": "-5.00", "reason": "x", "key": "a"},
    )

    assert response.status_code == 400
    assert "Insufficient funds" in response.content.decode()
    with tenant_context(site):
        assert member_written() == before


def test_referral_programme_settings(site: Site) -> None:
    client = _owner(site)

    response = client.post(
        "/console/money/referrals/",
        {
            "levels": "2",
            "percents": "10, 5",
            "minimum": "20.00",
            "fee_percent": "",
            "fee_fixed": "0",
        },
    )

    assert response.status_code == 302
    with tenant_context(site):
        programme = commission_settings_get()
        assert (programme.levels, programme.percents) == (2, [D("10.00"), D("5.00")])
        assert (programme.withdrawal_minimum, programme.withdrawal_fee_fixed) == (
            D("20.00"),
            D("0.00"),
        )
    html = page(client.get("/console/money/referrals/").content)
    assert html.find("programme-percents").text == "10.00%, 5.00%"
    assert html.find("programme-terms").text == "minimum 20.00 CNY, fee 0% plus 0.00 CNY"

    bad = client.post(
        "/console/money/referrals/",
        {"levels": "2", "percents": "60, 50", "minimum": "", "fee_percent": "", "fee_fixed": ""},
    )
    assert bad.status_code == 400
    with tenant_context(site):
        assert commission_settings_get().percents == [D("10.00"), D("5.00")]


def test_site_reports_as_page_csv_and_xlsx(site: Site) -> None:
    client = _owner(site)
    client.post("/console/money/withdraw/", {"amount": "150.00", "key": "k1"})
    query = "?report=balances&currency=CNY&start=&end="

    html = page(client.get(f"/console/money/reports/{query}").content)
    [row] = html.find_all("report-row")
    assert row.text == f"{site.slug} CNY 0.00 348.00 152.00"

    response = client.get(f"/console/money/reports/{query}&format=csv")
    assert response["Content-Disposition"] == f'attachment; filename="{site.slug}-balances.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["site", "currency", "pending", "available", "withdrawing"],
        [site.slug, "CNY", "0.00", "348.00", "152.00"],
    ]

    response = client.get(f"/console/money/reports/{query}&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[2]] == [site.slug, "CNY", 0, 348, 152]


def test_site_reports_never_show_another_site_or_hq_reports(site: Site, network: Network) -> None:
    fund(network.beta, D("10.00"), key=f"fund:beta:{uuid.uuid4().hex}")
    client = _owner(site)

    html = page(client.get("/console/money/reports/?report=balances&currency=CNY").content)
    assert [r.text.split()[0] for r in html.find_all("report-row")] == [site.slug]
    assert (
        client.get("/console/money/reports/?report=trial_balance&currency=CNY").status_code == 400
    )


@override_settings(LANGUAGE_CODE="zh-hans")
def test_console_money_pages_in_simplified_chinese(site: Site) -> None:
    client = _owner(site)
    client.cookies.pop("django_language", None)
    content = client.get("/console/money/").content.decode()
    assert "可提现" in content  # "available to withdraw"


def test_owner_connects_stripe_from_the_console(site: Site, fake_stripe: FakeStripe) -> None:
    client = _owner(site)

    response = client.post("/console/money/connect/")

    assert response.status_code == 302
    assert response["Location"] == "https://connect.stripe.test/setup/e/acct_local_1/onboard"
    [link] = fake_stripe.to("/v1/account_links")
    assert link.form["return_url"] == f"http://{site_host(site)}/console/money/connect/return/"
    assert client.get("/console/money/connect/return/")["Location"] == "/console/money/"
    connected = ConnectedAccount.objects.get(site=site)
    assert (connected.stripe_account_id, connected.state) == ("acct_local_1", "active")
    html = page(client.get("/console/money/").content)
    assert "acct_local_1" in html.find("stripe-connect").text


def test_stripe_onboarding_is_the_owners_alone(site: Site, fake_stripe: FakeStripe) -> None:
    response = _staff(site, Role.ADMIN).post("/console/money/connect/")

    assert response.status_code == 403
    assert fake_stripe.requests == []
    assert not ConnectedAccount.objects.filter(site=site).exists()
