"""Route each request to HQ (the public schema) or to a site's schema, by host.

The platform domain serves HQ; a site's platform subdomain or verified custom domain serves that
site. Unknown hosts get the "no such site" page (404), suspended sites a "suspended" page (403;
JSON under /api/), closed sites a "closed" page (410).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf
from django.utils import translation

from shared.sites.models import Site, SiteStatus
from shared.sites.selectors import domain_for_host, normalise_host

# Answered on any host: the load balancer's health check and the TLS proxy's "may I issue a
# certificate for this host?" question arrive with internal host names.
HOST_INDEPENDENT_PATHS = frozenset({"/healthz", "/internal/tls-allowed"})


class SiteRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        host = normalise_host(request.get_host())
        if host == settings.PLATFORM_DOMAIN or request.path in HOST_INDEPENDENT_PATHS:
            return self._serve_public(request)

        domain = domain_for_host(host)
        if domain is None:
            return _refusal(request, "sites/unknown_host.html", 404, "unknown_site", host=host)
        site: Site = domain.tenant
        if site.status == SiteStatus.SUSPENDED:
            return _refusal(request, "sites/suspended.html", 403, "site_suspended", site=site)
        if site.status == SiteStatus.CLOSED:
            return _refusal(request, "sites/closed.html", 410, "site_closed", site=site)

        connection.set_tenant(site)  # type: ignore[attr-defined]
        request.tenant = site  # type: ignore[attr-defined]
        request.urlconf = settings.ROOT_URLCONF
        set_urlconf(settings.ROOT_URLCONF)
        return self.get_response(request)

    def _serve_public(self, request: HttpRequest) -> HttpResponse:
        # django-tenants' own helpers (the admin's templates among them) expect a tenant object;
        # on HQ it is the public schema's stand-in, which `request_site` reports as no site.
        request.tenant = connection.tenant  # type: ignore[attr-defined]
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        set_urlconf(settings.PUBLIC_SCHEMA_URLCONF)
        return self.get_response(request)


def _refusal(
    request: HttpRequest, template: str, status: int, code: str, **context: object
) -> HttpResponse:
    if request.path.startswith("/api/"):
        messages = {
            "unknown_site": "No site is served on this host.",
            "site_suspended": "This site is suspended.",
            "site_closed": "This site is closed.",
        }
        return JsonResponse({"error": code, "detail": messages[code]}, status=status)
    with translation.override(_language_for(request, context.get("site"))):
        return render(request, template, context, status=status)


def _language_for(request: HttpRequest, site: object) -> str:
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if cookie in dict(settings.LANGUAGES):
        return str(cookie)
    if isinstance(site, Site):
        return site.language
    return settings.STOREFRONT_DEFAULT_LANGUAGE


def request_site(request: HttpRequest) -> Site | None:
    """The site a request was routed to, or None on HQ."""
    tenant = getattr(request, "tenant", None)
    return tenant if isinstance(tenant, Site) else None


class SiteLocaleMiddleware:
    """Activate the visitor's chosen language, else the site's language (HQ: the browser's).

    Storefronts default to their own language setting (zh-hans unless changed) whatever the
    browser asks for; a visitor's explicit choice (the language cookie) wins.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        site = request_site(request)
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if cookie in dict(settings.LANGUAGES):
            language = str(cookie)
        elif site is not None:
            language = site.language
        else:
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        response.headers.setdefault("Vary", "Cookie, Accept-Language")
        return response
