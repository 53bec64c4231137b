"""Money reports from the public ledger, HQ-wide or for one site, to a terminal or a file.

manage.py ledger_report earnings --from 2026-11-01 --to 2026-11-30 --format csv
manage.py ledger_report balances --site alpha --format table
manage.py ledger_report trial_balance --format xlsx --output trial.xlsx
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.ledger.money import CURRENCY_EXPONENTS
from shared.payouts.reports import (
    REPORTS,
    ReportError,
    report_csv,
    report_rows,
    report_table,
    report_xlsx,
)
from shared.sites.models import Site


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Write a money report (HQ-wide, or one site's) as a table, CSV or XLSX."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report", nargs="?", default="earnings", choices=list(REPORTS))
        parser.add_argument("--site", help="the site's slug (default: HQ-wide)")
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD")
        parser.add_argument("--currency", default="CNY", choices=list(CURRENCY_EXPONENTS))
        parser.add_argument("--format", default="table", choices=["table", "csv", "xlsx"])
        parser.add_argument("--output", help="write to this file (XLSX needs one)")

    def handle(self, *args: Any, **options: Any) -> None:
        site = None
        if options["site"]:
            site = Site.objects.filter(slug=options["site"]).first()
            if site is None:
                raise CommandError(f"There is no site '{options['site']}'.")
        fmt, output = options["format"], options["output"]
        if fmt == "xlsx" and not output:
            raise CommandError("An XLSX report needs --output FILE.")
        try:
            rows = report_rows(
                options["report"],
                currency=options["currency"],
                site=site,
                start=_day(options["start"]) if options["start"] else None,
                end=_day(options["end"]) if options["end"] else None,
            )
        except ReportError as exc:
            raise CommandError(str(exc)) from exc
        if fmt == "xlsx":
            data = report_xlsx(rows, title=options["report"])
        elif fmt == "csv":
            data = report_csv(rows)
        else:
            data = report_table(rows).encode()
        if output:
            Path(output).write_bytes(data)
            self.stderr.write(f"{len(rows)} row(s) written to {output}.")
        else:
            self.stdout.write(data.decode(), ending="")
