"""Who may open and change what in the site console: the permission matrix of the roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.pricing.models import MemberLevel, PriceRule, ProductOverride, QuantityTier
from tenants.storefront.selectors import storefront_settings
from tests.conftest import Network
from tests.storefront.catalogue import Catalogue

ConsoleAs = Callable[[Site, str], Client]

ROLES = ["owner", "admin", "operations", "support", "marketing"]
EVERYONE = set(ROLES)
FINANCE = {"owner", "admin", "operations", "support"}

# Each page and the roles that may open it.
PAGES = {
    "/console/": EVERYONE,
    "/console/products/": EVERYONE,
    "/console/prices/retail/": FINANCE,
    "/console/prices/wholesale/": FINANCE,
    "/console/prices/quantity/": FINANCE,
    "/console/prices/explain/": FINANCE,
    "/console/levels/": EVERYONE,
    "/console/sites/": FINANCE,
    "/console/branding/": EVERYONE,
    "/console/staff/": {"owner"},
}


@pytest.mark.parametrize("path", list(PAGES))
def test_anonymous_visitors_are_sent_to_the_login_page(
    network: Network, console_as: ConsoleAs, path: str
) -> None:
    response = console_as(network.alpha, "anonymous").get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", list(PAGES))
def test_members_without_a_staff_role_are_refused(
    network: Network, console_as: ConsoleAs, path: str
) -> None:
    response = console_as(network.alpha, "member").get(path)
    assert response.status_code == 403
    assert b"Your account has no staff role here." in response.content


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_pages(
    network: Network, console_as: ConsoleAs, role: str
) -> None:
    client = console_as(network.alpha, role)
    opened = {path for path in PAGES if client.get(path).status_code == 200}
    refused = {path for path in PAGES if client.get(path).status_code == 403}
    assert opened == {path for path, roles in PAGES.items() if role in roles}
    assert refused == set(PAGES) - opened


@dataclass(frozen=True)
class Write:
    """A change made through the console, and how to read what it would change."""

    path: Callable[[Network, Catalogue], str]
    data: Callable[[Network, Catalogue], dict[str, Any]]
    state: Callable[[Network, Catalogue], object]
    roles: set[str]


def _branding_state(network: Network, catalogue: Catalogue) -> object:
    row = storefront_settings()
    return (row.tagline, row.accent_color, row.announcement, row.theme)


def _staff_state(network: Network, catalogue: Catalogue) -> object:
    member = get_user_model().objects.get(email="member@alpha.test")
    return (member.is_staff, sorted(member.groups.values_list("name", flat=True)))


WRITES = {
    "retail rule": Write(
        path=lambda n, c: "/console/prices/retail/",
        data=lambda n, c: {
            "scope": "all",
            "markup_kind": "percent",
            "markup_value": "10",
            "rounding": "none",
        },
        state=lambda n, c: list(PriceRule.objects.values_list("kind", "markup_value")),
        roles={"owner", "admin"},
    ),
    "wholesale rule": Write(
        path=lambda n, c: "/console/prices/wholesale/",
        data=lambda n, c: {
            "scope": "all",
            "tier": c.gold.pk,
            "markup_kind": "fixed",
            "markup_value": "1.5",
            "rounding": "none",
        },
        state=lambda n, c: list(PriceRule.objects.values_list("kind", "markup_value")),
        roles={"owner", "admin"},
    ),
    "hide product": Write(
        path=lambda n, c: f"/console/products/{c.points.pk}/visibility/",
        data=lambda n, c: {"hidden": "1"},
        state=lambda n, c: list(ProductOverride.objects.values_list("product_id", "hidden")),
        roles={"owner", "admin", "operations", "marketing"},
    ),
    "rename product": Write(
        path=lambda n, c: f"/console/products/{c.points.pk}/",
        data=lambda n, c: {"display_name": "Diamonds", "description": ""},
        state=lambda n, c: list(ProductOverride.objects.values_list("product_id", "display_name")),
        roles={"owner", "admin", "operations", "marketing"},
    ),
    "member level": Write(
        path=lambda n, c: "/console/levels/",
        data=lambda n, c: {"code": "gold", "name": "Gold", "rank": "1", "discount_percent": "5"},
        state=lambda n, c: list(MemberLevel.objects.values_list("code", flat=True)),
        roles={"owner", "admin"},
    ),
    "quantity tier": Write(
        path=lambda n, c: "/console/prices/quantity/",
        data=lambda n, c: {"scope": "all", "min_quantity": "10", "discount_percent": "5"},
        state=lambda n, c: list(QuantityTier.objects.values_list("min_quantity", flat=True)),
        roles={"owner", "admin"},
    ),
    "branding": Write(
        path=lambda n, c: "/console/branding/",
        data=lambda n, c: {
            "tagline": "New tagline",
            "accent_color": "#112233",
            "announcement": "Hello",
            "theme": "showcase",
        },
        state=_branding_state,
        roles={"owner", "admin", "operations", "marketing"},
    ),
    "child site tier": Write(
        path=lambda n, c: f"/console/sites/{n.alpha_kid.pk}/tier/",
        data=lambda n, c: {"tier": c.gold.pk},
        state=lambda n, c: Site.objects.get(pk=n.alpha_kid.pk).price_tier_id,
        roles={"owner", "admin"},
    ),
    "staff role": Write(
        path=lambda n, c: "/console/staff/",
        data=lambda n, c: {"email": "member@alpha.test", "role": "support"},
        state=_staff_state,
        roles={"owner"},
    ),
}


@pytest.mark.parametrize("who", ["anonymous", "member", *ROLES])
@pytest.mark.parametrize("action", list(WRITES))
def test_changes_are_made_only_by_roles_allowed_to(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs, who: str, action: str
) -> None:
    write = WRITES[action]
    client = console_as(network.alpha, who)
    with tenant_context(network.alpha):
        before = write.state(network, catalogue)

    response = client.post(write.path(network, catalogue), write.data(network, catalogue))

    with tenant_context(network.alpha):
        after = write.state(network, catalogue)
    if who in write.roles:
        assert response.status_code == 302
        assert after != before
    else:
        assert response.status_code == (302 if who == "anonymous" else 403)
        if who == "anonymous":
            assert response["Location"].startswith("/accounts/login/")
        assert after == before


def test_support_sees_pages_without_forms(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    client = console_as(network.alpha, "support")
    for path in ("/console/prices/retail/", "/console/branding/", "/console/products/"):
        content = client.get(path).content
        assert b'data-testid="read-only"' in content
        assert b'method="post"' not in content.split(b"</header>", 1)[1]


def test_actions_refuse_get(network: Network, console_as: ConsoleAs) -> None:
    client = console_as(network.alpha, "owner")
    response = client.get(f"/console/sites/{network.alpha_kid.pk}/tier/")
    assert response.status_code == 405
    with tenant_context(network.alpha):
        assert Site.objects.get(pk=network.alpha_kid.pk).price_tier_id is None
