"""Add a custom domain to a site and/or mark it verified (HQ checked its DNS)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.sites.management.commands.create_site import validation_message
from shared.sites.models import Domain
from shared.sites.selectors import site_get
from shared.sites.services import domain_add, domain_verify


class Command(BaseCommand):
    help = "Mark a site's custom domain verified (adding it first with --site)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("--site", help="slug of the site, to add the domain first")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["domain"].strip().lower()
        try:
            domain = Domain.objects.filter(domain=name).first()
            if domain is None:
                if not options["site"]:
                    raise CommandError(f"Unknown domain '{name}'; pass --site to add it.")
                site = site_get(slug=options["site"])
                if site is None:
                    raise CommandError(f"No site with slug '{options['site']}'.")
                domain = domain_add(site=site, domain=name)
            domain_verify(domain=domain)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{domain.domain} → {domain.tenant.slug}: verified"))
