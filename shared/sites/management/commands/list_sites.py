"""Print the site tree with status and addresses."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from shared.sites.models import Site
from shared.sites.selectors import site_base_url


class Command(BaseCommand):
    help = "List every site as a tree: slug, name, status, plan, URL."

    def handle(self, *args: Any, **options: Any) -> None:
        for site in Site.objects.select_related("plan").order_by("path"):
            indent = "  " * (site.depth - 1)
            self.stdout.write(
                f"{indent}{site.slug:<20} {site.name:<24} {site.status:<10} "
                f"{site.plan.code:<10} {site_base_url(site)}"
            )
