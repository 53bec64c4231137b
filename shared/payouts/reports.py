"""Money reports for HQ and site owners, read from the public ledger only (no schema loops):
earnings by day (per site and HQ's own), pending vs available balances, withdrawals, and a trial
balance. Each report is a list of rows (dicts, in column order) that `report_csv` and
`report_xlsx` turn into files. Days are local days in the project's time zone.

Signs: site and HQ accounts are credit-normal, so an amount they are owed is shown positive;
refunds are shown as positive amounts taken back.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from openpyxl import Workbook

from shared.ledger.models import Account, AccountBalance, AccountKind, Leg
from shared.payouts.models import Withdrawal
from shared.sites.models import Site

Row = dict[str, Any]
ZERO = Decimal("0.00")
SITE_EARNING_KINDS = [
    AccountKind.SITE_PENDING,
    AccountKind.SITE_AVAILABLE,
    AccountKind.SITE_WITHDRAWING,
]


def _legs(
    *, currency: str, start: date | None, end: date | None, kinds: Sequence[str]
) -> QuerySet[Leg]:
    legs = Leg.objects.filter(currency=currency, account__kind__in=kinds)
    if start is not None:
        legs = legs.filter(transaction__created_at__date__gte=start)
    if end is not None:
        legs = legs.filter(transaction__created_at__date__lte=end)
    return legs


def _sum(kind: str) -> Sum:
    return Sum("amount", filter=Q(transaction__kind=kind), default=ZERO)


def site_earnings_by_day(
    *,
    currency: str,
    site: Site | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """Each site's earnings per day (every site, or one): its shares of sales, what refunds
    took back, and the net. Moves between a site's own accounts (confirmation, withdrawal
    holds) are not earnings and cancel out."""
    legs = _legs(currency=currency, start=start, end=end, kinds=SITE_EARNING_KINDS).filter(
        transaction__kind__in=["sale", "refund"]
    )
    if site is not None:
        legs = legs.filter(account__site=site)
    grouped = (
        legs.annotate(day=TruncDate("transaction__created_at"))
        .values("day", "account__site__slug")
        .annotate(
            sales=_sum("sale"),
            refunds=_sum("refund"),
            sale_count=Count("transaction", distinct=True, filter=Q(transaction__kind="sale")),
        )
        .order_by("day", "account__site__slug")
    )
    return [
        {
            "day": g["day"],
            "site": g["account__site__slug"],
            "currency": currency,
            "sales": -g["sales"] + ZERO,
            "refunds": g["refunds"] + ZERO,
            "net": -(g["sales"] + g["refunds"]) + ZERO,
            "sale_count": g["sale_count"],
        }
        for g in grouped
    ]


def hq_earnings_by_day(
    *, currency: str, start: date | None = None, end: date | None = None
) -> list[Row]:
    """HQ's own earnings per day: its margin on sales, refunds of it, payout fees charged to
    sites (income), payment fees paid to the provider (expense), and the net."""
    legs = _legs(
        currency=currency,
        start=start,
        end=end,
        kinds=[AccountKind.HQ_REVENUE, AccountKind.FEES],
    )
    revenue = Q(account__kind=AccountKind.HQ_REVENUE)
    fees = Q(account__kind=AccountKind.FEES)
    grouped = (
        legs.annotate(day=TruncDate("transaction__created_at"))
        .values("day")
        .annotate(
            margin=Sum("amount", filter=revenue & Q(transaction__kind="sale"), default=ZERO),
            refunds=Sum("amount", filter=revenue & Q(transaction__kind="refund"), default=ZERO),
            payout_fees=Sum(
                "amount",
                filter=revenue & Q(transaction__kind="withdrawal_payout"),
                default=ZERO,
            ),
            payment_fees=Sum("amount", filter=fees, default=ZERO),
        )
        .order_by("day")
    )
    rows = []
    for g in grouped:
        margin, refunds = -g["margin"] + ZERO, g["refunds"] + ZERO
        payout_fees, payment_fees = -g["payout_fees"] + ZERO, g["payment_fees"] + ZERO
        rows.append(
            {
                "day": g["day"],
                "currency": currency,
                "margin": margin,
                "refunds": refunds,
                "payout_fees": payout_fees,
                "payment_fees": payment_fees,
                "net": margin - refunds + payout_fees - payment_fees,
            }
        )
    return rows


def site_balances(*, currency: str, site: Site | None = None) -> list[Row]:
    """Per site: pending (awaiting confirmation), available (withdrawable) and withdrawing
    (locked by requested withdrawals), from the running balances."""
    balances = AccountBalance.objects.filter(
        account__currency=currency, account__kind__in=SITE_EARNING_KINDS
    )
    if site is not None:
        balances = balances.filter(account__site=site)
    totals: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for b in balances.values("account__site__slug", "account__kind").annotate(total=Sum("balance")):
        totals[b["account__site__slug"]][b["account__kind"]] = -b["total"] + ZERO
    return [
        {
            "site": slug,
            "currency": currency,
            "pending": kinds.get(AccountKind.SITE_PENDING, ZERO),
            "available": kinds.get(AccountKind.SITE_AVAILABLE, ZERO),
            "withdrawing": kinds.get(AccountKind.SITE_WITHDRAWING, ZERO),
        }
        for slug, kinds in sorted(totals.items())
    ]


def withdrawals_summary(
    *,
    currency: str | None = None,
    site: Site | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """Withdrawals requested in the period, per site, currency and status: count, amounts, fees."""
    withdrawals = Withdrawal.objects.all()
    if currency is not None:
        withdrawals = withdrawals.filter(currency=currency)
    if site is not None:
        withdrawals = withdrawals.filter(site=site)
    if start is not None:
        withdrawals = withdrawals.filter(created_at__date__gte=start)
    if end is not None:
        withdrawals = withdrawals.filter(created_at__date__lte=end)
    grouped = (
        withdrawals.values("site__slug", "currency", "status")
        .annotate(count=Count("pk"), amount=Sum("amount"), fee=Sum("fee"))
        .order_by("site__slug", "currency", "status")
    )
    return [
        {
            "site": g["site__slug"],
            "currency": g["currency"],
            "status": g["status"],
            "count": g["count"],
            "amount": g["amount"],
            "fee": g["fee"],
        }
        for g in grouped
    ]


def trial_balance(*, currency: str | None = None) -> list[Row]:
    """Every account's balance from its legs, in a debit or a credit column, then one total
    row per currency; in a sound ledger each total row's debits equal its credits."""
    legs = Leg.objects.all() if currency is None else Leg.objects.filter(currency=currency)
    sums = dict(
        legs.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    accounts = Account.objects.filter(pk__in=sums).select_related("site", "supplier")
    rows: list[Row] = []
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for account in sorted(accounts, key=lambda a: (a.currency, a.kind, _owner(a), a.pk)):
        total = sums[account.pk]
        debit, credit = (total, ZERO) if total > 0 else (ZERO, -total + ZERO)
        totals[account.currency][0] += debit
        totals[account.currency][1] += credit
        rows.append(
            {
                "account": account.pk,
                "kind": account.kind,
                "owner": _owner(account),
                "currency": account.currency,
                "debit": debit,
                "credit": credit,
            }
        )
    for code, (debit, credit) in sorted(totals.items()):
        rows.append(
            {
                "account": "",
                "kind": "total",
                "owner": "",
                "currency": code,
                "debit": debit,
                "credit": credit,
            }
        )
    return rows


def _owner(account: Account) -> str:
    if account.site is not None:
        return account.site.slug
    if account.supplier is not None:
        return f"supplier:{account.supplier.name}"
    return "platform"


# --- Export ----------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (a site named "=HYPERLINK(…)") is
    prefixed with an apostrophe; numbers and dates pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _columns(rows: Sequence[Row], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    return list(rows[0]) if rows else []


def report_csv(rows: Sequence[Row], columns: Sequence[str] | None = None) -> bytes:
    """The rows as UTF-8 CSV with a header line (amounts as plain decimals, dates ISO)."""
    names = _columns(rows, columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_text(_cell(row.get(name, ""))) for name in names])
    return out.getvalue().encode()


def _text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def report_xlsx(
    rows: Sequence[Row], columns: Sequence[str] | None = None, title: str = "Report"
) -> bytes:
    """The rows as an XLSX workbook of one sheet (amounts as numbers with two decimals)."""
    names = _columns(rows, columns)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(names)
    for row in rows:
        sheet.append([_cell(row.get(name)) for name in names])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- Named reports (consoles and `ledger_report`) ---------------------------------------------


def member_payouts_by_day(
    *,
    currency: str,
    site: Site | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """Referral commission paid out to members per day and site, from the public mirror (the
    members' own withdrawals live in each site's schema): amount paid, and the fees the sites
    kept."""
    legs = _legs(
        currency=currency,
        start=start,
        end=end,
        kinds=[AccountKind.SITE_COMMISSIONS, AccountKind.SITE_AVAILABLE],
    ).filter(transaction__kind="wallet_withdrawal_paid")
    if site is not None:
        legs = legs.filter(transaction__site=site)
    commissions = Q(account__kind=AccountKind.SITE_COMMISSIONS)
    grouped = (
        legs.annotate(day=TruncDate("transaction__created_at"))
        .values("day", "transaction__site__slug")
        .annotate(
            total=Sum("amount", filter=commissions, default=ZERO),
            fees=Sum("amount", filter=~commissions, default=ZERO),
            count=Count("transaction", distinct=True),
        )
        .order_by("day", "transaction__site__slug")
    )
    return [
        {
            "day": g["day"],
            "site": g["transaction__site__slug"],
            "currency": currency,
            "count": g["count"],
            "paid": g["total"] + g["fees"] + ZERO,
            "fees": -g["fees"] + ZERO,
        }
        for g in grouped
    ]


# name → (title, HQ only, builder(currency, site, start, end))
REPORTS: dict[str, tuple[str, bool, Any]] = {
    "earnings": (
        "Site earnings by day",
        False,
        lambda c, s, a, b: site_earnings_by_day(currency=c, site=s, start=a, end=b),
    ),
    "balances": (
        "Pending and available",
        False,
        lambda c, s, a, b: site_balances(currency=c, site=s),
    ),
    "withdrawals": (
        "Site withdrawals",
        False,
        lambda c, s, a, b: withdrawals_summary(currency=c, site=s, start=a, end=b),
    ),
    "member_payouts": (
        "Commission paid to members",
        False,
        lambda c, s, a, b: member_payouts_by_day(currency=c, site=s, start=a, end=b),
    ),
    "hq_earnings": (
        "HQ earnings and fees by day",
        True,
        lambda c, s, a, b: hq_earnings_by_day(currency=c, start=a, end=b),
    ),
    "trial_balance": ("Trial balance", True, lambda c, s, a, b: trial_balance(currency=c)),
}


class ReportError(ValueError):
    """An unknown report, or one that is not available for a site."""


def report_rows(
    name: str,
    *,
    currency: str,
    site: Site | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """The rows of a named report: HQ-wide (site None) or for one site. Reads public tables."""
    if name not in REPORTS:
        raise ReportError(f"Unknown report '{name}'. Choose from: {', '.join(REPORTS)}.")
    _, hq_only, build = REPORTS[name]
    if hq_only and site is not None:
        raise ReportError(f"The '{name}' report is HQ-wide only.")
    if start is not None and end is not None and start > end:
        raise ReportError("The start date is after the end date.")
    rows: list[Row] = build(currency, site, start, end)
    return rows


def report_table(rows: Sequence[Row], columns: Sequence[str] | None = None) -> str:
    """The rows as a plain-text table (for a terminal)."""
    names = _columns(rows, columns)
    cells = [[_text(row.get(name, "")) for name in names] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines) + "\n"
