"""Money reports from the public ledger: exact figures, and the same rows as CSV and XLSX."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from shared.ledger.models import AccountKind
from shared.ledger.services import account_get
from shared.ledger.settlement import ChainLink, settle_sale, settlement_confirm, settlement_refund
from shared.payouts.reports import (
    hq_earnings_by_day,
    report_csv,
    report_xlsx,
    site_balances,
    site_earnings_by_day,
    trial_balance,
    withdrawals_summary,
)
from shared.payouts.services import withdrawal_approve, withdrawal_mark_paid, withdrawal_request
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from shared.suppliers.models import Supplier

D = Decimal
EUR = "EUR"  # no other test posts in euros, so platform-wide figures are this test's alone


@pytest.fixture
def books(
    make_site: Callable[..., ProvisionedSite], hq_staff: Any, settings: Any
) -> dict[str, Site]:
    """Two sales on a depth-3 site (costs: root 80, mid 90, leaf 95, supplier 70), the first
    confirmed, half of the second refunded, and a paid withdrawal by the root."""
    settings.STRIPE_SECRET_KEY = ""
    settings.WITHDRAWAL_MINIMUM = D("5.00")
    settings.WITHDRAWAL_FEE_FIXED = D("1.00")
    root = make_site(slug="r-root").site
    mid = make_site(slug="r-mid", parent=root).site
    leaf = make_site(slug="r-leaf", parent=mid).site
    supplier = Supplier.objects.create(name="Stock Co", kind="card_stock")
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency=EUR)

    def sale(key: str, quantity: int, paid: str, fee: str) -> Any:
        return settle_sale(
            sale_key=key,
            site=leaf,
            currency=EUR,
            amount_paid=D(paid),
            quantity=quantity,
            chain=[ChainLink(root, D("80")), ChainLink(mid, D("90")), ChainLink(leaf, D("95"))],
            supplier=supplier,
            supplier_unit_cost=D("70"),
            paid_from=clearing,
            fee=D(fee),
        )

    first = sale("r1", 1, "100.00", "3.00")
    second = sale("r2", 2, "200.00", "6.00")
    settlement_confirm(settlement=first)
    settlement_refund(settlement=second, amount=D("100.00"), refund_key="r2-half", pay_to=clearing)
    withdrawal = withdrawal_request(
        site=root,
        amount=D("8.00"),
        requested_by=hq_staff,
        idempotency_key="r-w1",
        currency=EUR,
    )
    withdrawal_approve(withdrawal=withdrawal, actor=hq_staff)
    withdrawal_mark_paid(withdrawal=withdrawal, actor=hq_staff, reference="SEPA-1")
    return {"root": root, "mid": mid, "leaf": leaf}


def test_site_earnings_by_day(books: dict[str, Site]) -> None:
    today = timezone.localdate()
    rows = site_earnings_by_day(currency=EUR)
    assert rows == [
        {"day": today, "site": "r-leaf", "currency": EUR, "sales": D("15.00"),
         "refunds": D("5.00"), "net": D("10.00"), "sale_count": 2},
        {"day": today, "site": "r-mid", "currency": EUR, "sales": D("15.00"),
         "refunds": D("5.00"), "net": D("10.00"), "sale_count": 2},
        {"day": today, "site": "r-root", "currency": EUR, "sales": D("30.00"),
         "refunds": D("10.00"), "net": D("20.00"), "sale_count": 2},
    ]  # fmt: skip
    assert site_earnings_by_day(currency=EUR, site=books["mid"]) == [rows[1]]
    assert site_earnings_by_day(currency=EUR, start=today + timedelta(days=1)) == []
    assert site_earnings_by_day(currency="USD", site=books["mid"]) == []


def test_hq_earnings_by_day(books: dict[str, Site]) -> None:
    assert hq_earnings_by_day(currency=EUR) == [
        {
            "day": timezone.localdate(),
            "currency": EUR,
            "margin": D("30.00"),
            "refunds": D("10.00"),
            "payout_fees": D("1.00"),
            "payment_fees": D("9.00"),
            "net": D("12.00"),
        }
    ]


def test_pending_and_available_balances(books: dict[str, Site]) -> None:
    assert site_balances(currency=EUR) == [
        {"site": "r-leaf", "currency": EUR, "pending": D("5.00"), "available": D("5.00"),
         "withdrawing": D("0.00")},
        {"site": "r-mid", "currency": EUR, "pending": D("5.00"), "available": D("5.00"),
         "withdrawing": D("0.00")},
        {"site": "r-root", "currency": EUR, "pending": D("10.00"), "available": D("1.00"),
         "withdrawing": D("0.00")},
    ]  # fmt: skip


def test_withdrawals_summary(books: dict[str, Site]) -> None:
    assert withdrawals_summary(currency=EUR) == [
        {"site": "r-root", "currency": EUR, "status": "paid", "count": 1,
         "amount": D("8.00"), "fee": D("1.00")},
    ]  # fmt: skip
    assert withdrawals_summary(currency=EUR, site=books["leaf"]) == []


def test_trial_balance_debits_equal_credits(books: dict[str, Site]) -> None:
    rows = trial_balance(currency=EUR)
    figures = {(r["kind"], r["owner"]): (r["debit"], r["credit"]) for r in rows}
    assert figures == {
        ("fees", "platform"): (D("9.00"), D("0.00")),
        ("hq_revenue", "platform"): (D("0.00"), D("21.00")),
        ("payment_clearing", "platform"): (D("191.00"), D("0.00")),
        ("payout_clearing", "platform"): (D("0.00"), D("8.00")),
        ("site_available", "r-leaf"): (D("0.00"), D("5.00")),
        ("site_available", "r-mid"): (D("0.00"), D("5.00")),
        ("site_available", "r-root"): (D("0.00"), D("1.00")),
        ("site_pending", "r-leaf"): (D("0.00"), D("5.00")),
        ("site_pending", "r-mid"): (D("0.00"), D("5.00")),
        ("site_pending", "r-root"): (D("0.00"), D("10.00")),
        ("site_withdrawing", "r-root"): (D("0.00"), D("0.00")),
        ("supplier_payable", "supplier:Stock Co"): (D("0.00"), D("140.00")),
        ("total", ""): (D("200.00"), D("200.00")),
    }
    assert rows[-1]["kind"] == "total"
    everything = trial_balance()
    for total in (r for r in everything if r["kind"] == "total"):
        assert total["debit"] == total["credit"], total["currency"]


def test_csv_export(books: dict[str, Site]) -> None:
    assert report_csv(site_balances(currency=EUR)) == (
        b"site,currency,pending,available,withdrawing\n"
        b"r-leaf,EUR,5.00,5.00,0.00\n"
        b"r-mid,EUR,5.00,5.00,0.00\n"
        b"r-root,EUR,10.00,1.00,0.00\n"
    )
    day = timezone.localdate().isoformat()
    assert report_csv(hq_earnings_by_day(currency=EUR)).decode().splitlines() == [
        "day,currency,margin,refunds,payout_fees,payment_fees,net",
        f"{day},EUR,30.00,10.00,1.00,9.00,12.00",
    ]
    assert report_csv([], columns=["site", "amount"]) == b"site,amount\n"


def test_xlsx_export(books: dict[str, Site]) -> None:
    data = report_xlsx(site_earnings_by_day(currency=EUR), title="Site earnings")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Site earnings"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["day", "site", "currency", "sales", "refunds", "net", "sale_count"]
    assert [row[1:] for row in values[1:]] == [
        ["r-leaf", "EUR", 15, 5, 10, 2],
        ["r-mid", "EUR", 15, 5, 10, 2],
        ["r-root", "EUR", 30, 10, 20, 2],
    ]
    assert values[1][0].date() == timezone.localdate()
    assert sheet["D2"].number_format == "0.00"


def test_exports_defuse_formulas() -> None:
    rows = [{"site": '=HYPERLINK("http://x")', "amount": D("-1.00")}]
    assert report_csv(rows) == b'site,amount\n"\'=HYPERLINK(""http://x"")",-1.00\n'
    sheet = load_workbook(io.BytesIO(report_xlsx(rows))).active
    assert sheet["A2"].value == '\'=HYPERLINK("http://x")'
    assert sheet["A2"].data_type == "s"
    assert sheet["B2"].value == -1
