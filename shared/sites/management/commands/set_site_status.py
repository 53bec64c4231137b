"""Suspend, re-activate or close a site: `set_site_status shop1 suspended`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.sites.management.commands.create_site import validation_message
from shared.sites.models import SiteStatus
from shared.sites.selectors import site_get
from shared.sites.services import site_close, site_set_status


class Command(BaseCommand):
    help = "Set a site's status: active, suspended or closed (closing keeps its data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("status", choices=list(SiteStatus.values))

    def handle(self, *args: Any, **options: Any) -> None:
        site = site_get(slug=options["slug"])
        if site is None:
            raise CommandError(f"No site with slug '{options['slug']}'.")
        try:
            if options["status"] == SiteStatus.CLOSED:
                site_close(site=site)
            else:
                site_set_status(site=site, status=SiteStatus(options["status"]))
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{site.slug}: {site.status}"))
