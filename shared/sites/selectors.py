"""Reads of sites and domains."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from shared.sites.models import Domain, Site, SiteStatus


def normalise_host(host: str) -> str:
    """Lower-case host name without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def platform_subdomain(slug: str) -> str:
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


def domain_for_host(host: str) -> Domain | None:
    """The routable domain row for a request host, with its site, or None."""
    domain = (
        Domain.objects.select_related("tenant")
        .filter(domain=normalise_host(host))
        .only(
            "domain",
            "is_custom",
            "verified_at",
            "tenant__id",
            "tenant__schema_name",
            "tenant__slug",
            "tenant__name",
            "tenant__status",
            "tenant__language",
            "tenant__depth",
        )
        .first()
    )
    if domain is None or not domain.is_routable:
        return None
    return domain


def site_get(*, slug: str) -> Site | None:
    return Site.objects.filter(slug=slug).first()


def site_ancestors(site: Site) -> list[Site]:
    """The site's ancestors from the root down to its parent, in one query."""
    by_id = {s.id: s for s in Site.objects.filter(id__in=site.ancestor_ids)}
    return [by_id[i] for i in site.ancestor_ids]


def site_descendants(site: Site) -> QuerySet[Site]:
    return Site.objects.filter(path__contains=[site.id]).exclude(id=site.id)


def active_site_schemas() -> list[str]:
    return list(
        Site.objects.filter(status=SiteStatus.ACTIVE)
        .order_by("id")
        .values_list("schema_name", flat=True)
    )


def site_base_url(site: Site) -> str:
    """The address of a site on its platform subdomain, as printed and emailed."""
    port = f":{settings.PUBLIC_URL_PORT}" if settings.PUBLIC_URL_PORT else ""
    return f"{settings.PUBLIC_URL_SCHEME}://{platform_subdomain(site.slug)}{port}/"


def hq_base_url() -> str:
    port = f":{settings.PUBLIC_URL_PORT}" if settings.PUBLIC_URL_PORT else ""
    return f"{settings.PUBLIC_URL_SCHEME}://{settings.PLATFORM_DOMAIN}{port}/"
