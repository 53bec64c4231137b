"""Compare each card-key SKU's stock counter with its available keys: `vault_stock_check`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.vault.selectors import StockDifference, stock_differences
from shared.vault.services import sku_stocks_repair


class Command(BaseCommand):
    help = (
        "Recount the available single-use keys of every card-key SKU and compare them with its "
        "stock counter. Exits with status 1 if any differ, unless --fix repaired them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="set the counters to the keys")

    def handle(self, *args: Any, **options: Any) -> None:
        differences = sku_stocks_repair() if options["fix"] else stock_differences()
        for difference in differences:
            self.stdout.write(_describe(difference))
        if not differences:
            self.stdout.write(self.style.SUCCESS("Every stock counter matches its keys."))
        elif options["fix"]:
            self.stdout.write(self.style.SUCCESS(f"Repaired {len(differences)} counter(s)."))
        else:
            raise CommandError(
                f"{len(differences)} counter(s) differ from the keys; run with --fix to repair."
            )


def _describe(difference: StockDifference) -> str:
    counter = "none" if difference.counter is None else difference.counter
    sku = f"{difference.sku_code} (id {difference.sku_id})"
    return f"{sku}: counter {counter}, keys {difference.keys}"
