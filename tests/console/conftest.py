"""Fixtures of the console tests: HQ's catalogue, and clients signed in with each role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.console.roles import Role
from tenants.console.services import staff_role_assign
from tenants.members.services import member_create
from tests.conftest import MEMBER_PASSWORD, OWNER_PASSWORD
from tests.storefront.catalogue import Catalogue, build_catalogue
from tests.storefront.clients import site_client_for

STAFF_PASSWORD = "staff-pass-123"


@pytest.fixture
def catalogue(db: None) -> Catalogue:
    return build_catalogue()


@pytest.fixture
def console_as(db: None) -> Callable[[Site, str], Client]:
    """A client on the site for "anonymous", "member" (the site's member), "owner", or a staff
    role: a new member of the site given that role."""

    def make(site: Site, who: str) -> Client:
        if who == "anonymous":
            return site_client_for(site)
        if who == "member":
            return site_client_for(site, f"member@{site.slug}.test", MEMBER_PASSWORD)
        if who == "owner":
            return site_client_for(site, f"owner@{site.slug}.test", OWNER_PASSWORD)
        email = f"{who}@{site.slug}.test"
        with tenant_context(site):
            user = member_create(email=email, password=STAFF_PASSWORD)
            staff_role_assign(user=user, role=Role(who))
        return site_client_for(site, email, STAFF_PASSWORD)

    return make
