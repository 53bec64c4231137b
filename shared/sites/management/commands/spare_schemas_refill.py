"""Fill the pool of ready site schemas now (the worker also refills it in the background)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shared.sites import provisioning


class Command(BaseCommand):
    help = "Create spare schemas until the pool holds SPARE_SCHEMA_POOL_SIZE (or --size)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        created = provisioning.spare_schemas_refill(target=options["size"])
        self.stdout.write(
            f"Created {created} spare schema(s); {provisioning.spare_schemas_count()} ready."
        )
