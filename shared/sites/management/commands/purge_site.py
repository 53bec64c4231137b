"""Delete a closed site's schema and rows for good (asks for the slug again)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.sites.management.commands.create_site import validation_message
from shared.sites.selectors import site_get
from shared.sites.services import site_purge


class Command(BaseCommand):
    help = "Permanently delete a CLOSED site and all of its data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--confirm", help="repeat the slug to confirm without a prompt")

    def handle(self, *args: Any, **options: Any) -> None:
        site = site_get(slug=options["slug"])
        if site is None:
            raise CommandError(f"No site with slug '{options['slug']}'.")
        confirm = options["confirm"]
        if confirm is None:
            if not options.get("interactive", True) or not self.stdin_isatty():
                raise CommandError("Pass --confirm <slug> to purge without a prompt.")
            confirm = input(f"This deletes every record of '{site.slug}'. Type its slug: ")
        try:
            site_purge(site=site, confirm_slug=confirm.strip())
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Purged site '{options['slug']}'."))

    @staticmethod
    def stdin_isatty() -> bool:
        import sys

        return sys.stdin.isatty()
