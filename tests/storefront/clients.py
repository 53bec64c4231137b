"""Test clients on a site's domain."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tests.conftest import site_host


def english(client: Client) -> Client:
    """Sites default to Simplified Chinese; tests read the English text unless they say so."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def site_client_for(site: Site, email: str | None = None, password: str | None = None) -> Client:
    """A client on the site's domain, in English, signed in as `email` when given (the account
    and the session are in that site's schema)."""
    client = english(Client(HTTP_HOST=site_host(site)))
    if email is not None:
        with tenant_context(site):
            assert client.login(username=email, password=password)
    return client
