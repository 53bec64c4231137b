"""`manage.py ledger_report`: HQ-wide or one site's reports as a table, CSV or XLSX; bad input
gives a clear error and no file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from openpyxl import load_workbook

from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tests.payouts.conftest import fund

D = Decimal


@pytest.fixture
def funded(make_site: Callable[..., ProvisionedSite]) -> Site:
    site = make_site().site
    fund(site, D("75.50"), key=f"fund:{site.slug}")
    return site


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("ledger_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_site_balances_as_csv(funded: Site) -> None:
    rows = list(csv.reader(io.StringIO(_run("balances", "--site", funded.slug, "--format", "csv"))))
    assert rows == [
        ["site", "currency", "pending", "available", "withdrawing"],
        [funded.slug, "CNY", "0.00", "75.50", "0.00"],
    ]


def test_hq_trial_balance_as_a_table_balances(funded: Site) -> None:
    text = _run("trial_balance", "--format", "table")
    lines = text.splitlines()
    assert lines[0].split() == ["account", "kind", "owner", "currency", "debit", "credit"]
    [total] = [line.split() for line in lines if " total " in f" {line} "]
    assert total[-2] == total[-1]  # debits equal credits
    assert any(funded.slug in line and "75.50" in line for line in lines)


def test_xlsx_to_a_file(funded: Site, tmp_path: Path) -> None:
    target = tmp_path / "balances.xlsx"
    today = timezone.localdate().isoformat()

    call_command(
        "ledger_report", "balances", "--site", funded.slug, "--from", today, "--to", today,
        "--format", "xlsx", "--output", str(target), stderr=io.StringIO(),
    )  # fmt: skip

    sheet = load_workbook(target).active
    assert [c.value for c in sheet[2]][:2] == [funded.slug, "CNY"]
    assert float(sheet[2][3].value) == 75.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["balances", "--site", "nowhere"], "There is no site 'nowhere'."),
        (["balances", "--format", "xlsx"], "An XLSX report needs --output FILE."),
        (["earnings", "--from", "2026-13-01"], "'2026-13-01' is not a date"),
        (["earnings", "--from", "2026-11-02", "--to", "2026-11-01"], "start date is after"),
    ],
)
def test_bad_input_is_a_clear_error(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_hq_only_reports_refuse_a_site(funded: Site, tmp_path: Path) -> None:
    target = tmp_path / "tb.csv"
    with pytest.raises(CommandError, match="HQ-wide only"):
        _run("trial_balance", "--site", funded.slug, "--format", "csv", "--output", str(target))
    assert not target.exists()
