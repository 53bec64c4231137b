"""Create a site: `create_site --slug shop9 --name "Shop 9" --parent main --owner-email ...`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.sites.models import Plan
from shared.sites.selectors import site_base_url, site_get
from shared.sites.services import site_create


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a site (its schema, domains and owner account) and print its URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--parent", help="slug of the parent site (omit for a main site)")
        parser.add_argument("--plan", help="plan code (default: standard)")
        parser.add_argument("--domain", help="a custom domain, routed once HQ verifies it")
        parser.add_argument("--owner-password", help="default: the owner sets one by email link")
        parser.add_argument("--language", choices=["zh-hans", "en"])
        parser.add_argument(
            "--no-pool", action="store_true", help="build the schema instead of claiming a spare"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        parent = None
        if options["parent"]:
            parent = site_get(slug=options["parent"])
            if parent is None:
                raise CommandError(f"parent: no site with slug '{options['parent']}'.")
        plan = None
        if options["plan"]:
            plan = Plan.objects.filter(code=options["plan"]).first()
            if plan is None:
                raise CommandError(f"plan: no plan with code '{options['plan']}'.")
        try:
            result = site_create(
                slug=options["slug"],
                name=options["name"],
                owner_email=options["owner_email"],
                parent=parent,
                plan=plan,
                custom_domain=options["domain"],
                owner_password=options["owner_password"],
                language=options["language"],
                use_pool=not options["no_pool"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        site = result.site
        self.stdout.write(
            self.style.SUCCESS(f"Created site '{site.slug}' ({result.source}): ")
            + site_base_url(site)
        )
        if not options["owner_password"]:
            from tenants.members.services import owner_password_reset_url

            self.stdout.write(f"Owner sets a password at: {owner_password_reset_url(site)}")
