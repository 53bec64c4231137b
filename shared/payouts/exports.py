"""Reports over HTTP: the filter form both consoles show, and the CSV/XLSX download."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from shared.ledger.money import CURRENCY_EXPONENTS
from shared.payouts.reports import REPORTS, ReportError, Row, report_csv, report_rows, report_xlsx
from shared.sites.models import Site

REPORT_TITLES = {
    "earnings": _("Site earnings by day"),
    "balances": _("Pending and available"),
    "withdrawals": _("Site withdrawals"),
    "member_payouts": _("Commission paid to members"),
    "hq_earnings": _("HQ earnings and fees by day"),
    "trial_balance": _("Trial balance"),
}
assert set(REPORT_TITLES) == set(REPORTS)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportForm(forms.Form):
    report = forms.ChoiceField(label=_("Report"))
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[(c, c) for c in CURRENCY_EXPONENTS], initial="CNY"
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, hq: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["report"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (name, _(title))
            for name, (title, hq_only, _build) in REPORTS.items()
            if hq or not hq_only
        ]
        field.initial = "earnings"

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


def report_download(rows: Sequence[Row], *, name: str, fmt: str) -> HttpResponse:
    """The rows as a CSV or XLSX attachment named after the report."""
    if fmt == "xlsx":
        response = HttpResponse(report_xlsx(rows, title=name), content_type=XLSX)
    else:
        response = HttpResponse(report_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def report_page(
    request: HttpRequest, *, template: str, site: Site | None, download_prefix: str
) -> HttpResponse:
    """A console's report page: the filter form, the rows, and their CSV/XLSX download.
    `site` None is HQ's platform-wide view (public tables only)."""
    form = ReportForm(request.GET or None, hq=site is None)
    rows: list[dict[str, Any]] = []
    name = "earnings"
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        name = data["report"]
        scope = {"site": site} if site is not None else {}
        try:
            rows = report_rows(
                name, currency=data["currency"], start=data["start"], end=data["end"], **scope
            )
        except ReportError as exc:
            form.add_error(None, str(exc))
        else:
            fmt = request.GET.get("format", "")
            if fmt in ("csv", "xlsx"):
                return report_download(rows, name=f"{download_prefix}-{name}", fmt=fmt)
    return render(
        request,
        template,
        {
            "form": form,
            "rows": rows,
            "columns": list(rows[0]) if rows else [],
            "title": REPORT_TITLES.get(name, ""),
            "query": request.GET.urlencode() if form.is_bound else "",
            "currencies": list(CURRENCY_EXPONENTS),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
