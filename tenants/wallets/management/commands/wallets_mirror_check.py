"""Prove every site's member wallets and commissions equal the public ledger's mirror
accounts, and every cached member balance equal to its entries. Exits non-zero on any
difference."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tenants.wallets.mirror import wallets_mirror_check


class Command(BaseCommand):
    help = "Check that every site's member ledger agrees with the public mirror accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = wallets_mirror_check()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} wallet mirror problem(s) found.")
        self.stdout.write(self.style.SUCCESS("Member wallets and commissions match the mirror."))
