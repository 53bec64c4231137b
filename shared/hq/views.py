"""HQ pages on the platform domain, and the host-independent operational endpoints."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from shared.sites import provisioning
from shared.sites.models import Site, SiteStatus
from shared.sites.selectors import domain_for_host, normalise_host, site_base_url


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "hq/landing.html")


@staff_member_required(login_url="account_login")
def dashboard(request: HttpRequest) -> HttpResponse:
    sites = list(Site.objects.select_related("plan", "parent").order_by("path"))
    for site in sites:
        site.url = site_base_url(site)
    by_status = dict(
        Site.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return render(
        request,
        "hq/dashboard.html",
        {
            "sites": sites,
            "active": by_status.get(SiteStatus.ACTIVE, 0),
            "suspended": by_status.get(SiteStatus.SUSPENDED, 0),
            "closed": by_status.get(SiteStatus.CLOSED, 0),
            "spares": provisioning.spare_schemas_count(),
        },
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and readiness: the database and Redis answer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    cache.get("healthz")
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_GET
def tls_allowed(request: HttpRequest) -> HttpResponse:
    """The TLS proxy asks before issuing a certificate: yes only for hosts we serve."""
    from django.conf import settings

    host = normalise_host(request.GET.get("domain", ""))
    allowed = host == settings.PLATFORM_DOMAIN or domain_for_host(host) is not None
    return HttpResponse("yes" if allowed else "no", status=200 if allowed else 404)
