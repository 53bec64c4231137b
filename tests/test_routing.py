"""Requests are routed by host: HQ, a site's subdomain or verified custom domain, or refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from shared.sites.models import SiteStatus
from shared.sites.services import domain_add, domain_verify, site_set_status
from tests.conftest import Network, site_host


def test_platform_domain_serves_hq(client: Client, db: None) -> None:
    response = client.get("/", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert b'data-testid="hq-title"' in response.content
    assert response.context["site"] is None


@pytest.mark.parametrize("host", ["localhost:8000", "LOCALHOST", "localhost."])
def test_platform_domain_matches_regardless_of_port_case_and_dot(
    client: Client, db: None, host: str
) -> None:
    assert b'data-testid="hq-title"' in client.get("/", HTTP_HOST=host).content


def test_site_subdomain_serves_that_site_in_its_schema(client: Client, network: Network) -> None:
    response = client.get("/", HTTP_HOST=site_host(network.alpha) + ":8000")
    assert response.status_code == 200
    assert response.context["site"].slug == "alpha"
    assert b"Alpha Cards" in response.content
    assert b"Beta Codes" not in response.content
    assert connection.schema_name == network.alpha.schema_name


def test_each_site_shows_its_own_name(client: Client, network: Network) -> None:
    for site in (network.alpha, network.beta, network.alpha_kid):
        response = client.get("/", HTTP_HOST=site_host(site))
        assert response.context["site"].pk == site.pk
        assert site.name.encode() in response.content


def test_unknown_host_gets_404_page(client: Client, db: None) -> None:
    response = client.get("/", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404
    assert b"nobody.localhost" in response.content


def test_unknown_host_api_gets_404_json(client: Client, db: None) -> None:
    response = client.get("/api/v1/schema/", HTTP_HOST="nobody.example.com")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_site", "detail": "No site is served on this host."}


def test_suspended_site_gets_403_page_and_api_json(client: Client, network: Network) -> None:
    site_set_status(site=network.beta, status=SiteStatus.SUSPENDED)
    page = client.get("/", HTTP_HOST=site_host(network.beta))
    assert page.status_code == 403
    assert "suspended" in page.content.decode().lower() or "暂停" in page.content.decode()
    api = client.get("/api/v1/schema/", HTTP_HOST=site_host(network.beta))
    assert api.status_code == 403
    assert api.json()["error"] == "site_suspended"
    # Other sites are unaffected.
    assert client.get("/", HTTP_HOST=site_host(network.alpha)).status_code == 200


def test_suspended_site_does_not_serve_login(client: Client, network: Network) -> None:
    site_set_status(site=network.beta, status=SiteStatus.SUSPENDED)
    response = client.post(
        "/accounts/login/",
        {"login": "member@beta.test", "password": "member-pass-123"},
        HTTP_HOST=site_host(network.beta),
    )
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_closed_site_gets_410(client: Client, network: Network) -> None:
    site_set_status(site=network.beta, status=SiteStatus.CLOSED)
    assert client.get("/", HTTP_HOST=site_host(network.beta)).status_code == 410


def test_custom_domain_routes_only_once_verified(client: Client, network: Network) -> None:
    domain = domain_add(site=network.alpha, domain="Cards.Example.COM")
    assert domain.domain == "cards.example.com"
    assert client.get("/", HTTP_HOST="cards.example.com").status_code == 404
    domain_verify(domain=domain)
    response = client.get("/", HTTP_HOST="cards.example.com")
    assert response.status_code == 200
    assert response.context["site"].slug == "alpha"


def test_site_api_schema_is_served_on_site_domain(client: Client, network: Network) -> None:
    response = client.get("/api/v1/schema/", HTTP_HOST=site_host(network.alpha))
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_healthz_answers_on_any_host(client: Client, db: None) -> None:
    response = client.get("/healthz", HTTP_HOST="web:8000")
    assert (response.status_code, response.content) == (200, b"ok")


@pytest.mark.parametrize(
    ("domain", "status"),
    [("localhost", 200), ("alpha.localhost", 200), ("evil.example", 404), ("", 404)],
)
def test_tls_allowed_answers_only_for_served_hosts(
    client: Client, network: Network, domain: str, status: int
) -> None:
    response = client.get("/internal/tls-allowed", {"domain": domain}, HTTP_HOST="web:8000")
    assert response.status_code == status


def test_storefront_defaults_to_site_language_and_honours_choice(
    client: Client, network: Network
) -> None:
    zh = client.get("/", HTTP_HOST=site_host(network.alpha), HTTP_ACCEPT_LANGUAGE="en")
    assert zh.headers["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in zh.content.decode()
    client.cookies["django_language"] = "en"
    en = client.get("/", HTTP_HOST=site_host(network.alpha))
    assert en.headers["Content-Language"] == "en"


def test_hq_uses_browser_language(client: Client, db: None) -> None:
    response = client.get("/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    assert response.headers["Content-Language"] == "en"


def test_hq_admin_renders_for_superuser(client: Client, db: None) -> None:
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context("public"):
        admin = get_user_model().objects.create_superuser(
            username="root@hq.test", email="root@hq.test", password="root-pass-123"
        )
    client.force_login(admin)
    for path in ("/admin/", "/admin/sites/site/", "/admin/vault/importbatch/"):
        response = client.get(path, HTTP_HOST="localhost")
        assert response.status_code == 200, path
    assert b"alpha" in client.get("/admin/sites/site/", HTTP_HOST="localhost").content


# --- The per-process routing cache ------------------------------------------------------------


def test_a_status_change_applies_at_once_in_the_process_that_made_it(
    client: Client, network: Network
) -> None:
    host = site_host(network.beta)
    assert client.get("/", HTTP_HOST=host).status_code == 200  # routed, and kept
    site_set_status(site=network.beta, status=SiteStatus.SUSPENDED)
    assert client.get("/", HTTP_HOST=host).status_code == 403
    site_set_status(site=network.beta, status=SiteStatus.ACTIVE)
    assert client.get("/", HTTP_HOST=host).status_code == 200


def test_another_process_change_is_seen_within_the_cache_time(
    client: Client, network: Network, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    """A change another process made (no signal here: a bare UPDATE) shows once the host's
    entry is older than SITE_ROUTE_CACHE_SECONDS."""
    from shared.sites import selectors
    from shared.sites.models import Site

    settings.SITE_ROUTE_CACHE_SECONDS = 5
    now = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now[0])
    host = site_host(network.beta)
    assert client.get("/", HTTP_HOST=host).status_code == 200
    Site.objects.filter(pk=network.beta.pk).update(status=SiteStatus.SUSPENDED)
    now[0] += 4.9
    assert client.get("/", HTTP_HOST=host).status_code == 200  # still the kept answer
    now[0] += 0.2
    assert client.get("/", HTTP_HOST=host).status_code == 403


def test_each_request_gets_its_own_site_object(network: Network) -> None:
    from shared.sites.selectors import domain_for_host

    first = domain_for_host(site_host(network.alpha))
    assert first is not None
    first.tenant.name = "Changed by one request"
    second = domain_for_host(site_host(network.alpha))
    assert second is not None and second.tenant.name == network.alpha.name
    assert second.tenant is not first.tenant


def test_unknown_hosts_are_not_kept(network: Network) -> None:
    from shared.sites import selectors

    assert selectors.domain_for_host("nobody.localhost") is None
    assert "nobody.localhost" not in selectors._routes
