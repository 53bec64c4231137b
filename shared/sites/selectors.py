"""Reads of sites and domains."""

from __future__ import annotations

import copy
import time

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


# Every request is routed by its host, and a host's answer rarely changes: each process keeps
# the routable domains it has read (host -> (expiry, row)) for SITE_ROUTE_CACHE_SECONDS.
# Saving or deleting a site or a domain clears it in the process that did (`routes_forget`, on
# the model signals and again on commit); other processes see the change within that time.
# Unknown hosts are not kept (anyone can send any host).
_routes: dict[str, tuple[float, Domain]] = {}
_ROUTES_MAX = 10_000


def domain_for_host(host: str) -> Domain | None:
    """The routable domain row for a request host, with its site, or None. The rows are the
    caller's own: changing them changes nothing for another request."""
    host = normalise_host(host)
    now = time.monotonic()
    hit = _routes.get(host)
    if hit is not None and hit[0] > now:
        return _own_copy(hit[1])
    domain = _domain_read(host)
    if domain is None:
        _routes.pop(host, None)
        return None
    seconds = settings.SITE_ROUTE_CACHE_SECONDS
    if seconds > 0:
        if len(_routes) >= _ROUTES_MAX:
            _routes.clear()
        _routes[host] = (now + seconds, domain)
    return _own_copy(domain)


def routes_forget() -> None:
    """Forget every routed host in this process (a site or domain changed)."""
    _routes.clear()


def _own_copy(domain: Domain) -> Domain:
    site = copy.copy(domain.tenant)
    domain = copy.copy(domain)
    domain.tenant = site
    return domain


def _domain_read(host: str) -> Domain | None:
    domain = (
        Domain.objects.select_related("tenant")
        .filter(domain=host)
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
