"""Prove the ledger consistent: every transaction balanced, every running balance equal to
the sum of its legs. Exits non-zero on any difference."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shared.ledger.services import ledger_verify


class Command(BaseCommand):
    help = "Check that every ledger transaction balances and every running balance is exact."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_verify()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found.")
        self.stdout.write(self.style.SUCCESS("Ledger consistent: balanced and exact."))
