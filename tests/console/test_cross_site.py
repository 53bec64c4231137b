"""A site's console acts on that site only: other sites' ids are refused, sessions do not
travel, and the sub-site list holds the site's own direct children."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.test import Client
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tenants.pricing.models import MarkupKind, MemberLevel, PriceRule, QuantityTier, RuleKind
from tenants.pricing.services import member_level_create, price_rule_set, quantity_tier_set
from tests.conftest import OWNER_PASSWORD, Network, site_host
from tests.storefront.catalogue import Catalogue
from tests.storefront.html import page

ConsoleAs = Callable[[Site, str], Client]


def test_tier_of_another_sites_child_is_refused_and_unchanged(
    network: Network,
    catalogue: Catalogue,
    console_as: ConsoleAs,
    make_site: Callable[..., ProvisionedSite],
) -> None:
    betas_child = make_site(parent=network.beta).site
    alpha = console_as(network.alpha, "owner")

    response = alpha.post(f"/console/sites/{betas_child.pk}/tier/", {"tier": catalogue.gold.pk})

    assert response.status_code == 404
    assert Site.objects.get(pk=betas_child.pk).price_tier_id is None


def test_tier_of_a_grandchild_is_refused_and_unchanged(
    network: Network,
    catalogue: Catalogue,
    console_as: ConsoleAs,
    make_site: Callable[..., ProvisionedSite],
) -> None:
    grandchild = make_site(parent=network.alpha_kid).site
    alpha = console_as(network.alpha, "owner")

    response = alpha.post(f"/console/sites/{grandchild.pk}/tier/", {"tier": catalogue.gold.pk})

    assert response.status_code == 404
    assert Site.objects.get(pk=grandchild.pk).price_tier_id is None
    # The child's own parent may.
    kid = console_as(network.alpha_kid, "owner")
    assert kid.post(f"/console/sites/{grandchild.pk}/tier/", {"tier": catalogue.gold.pk})[
        "Location"
    ] == ("/console/sites/")
    assert Site.objects.get(pk=grandchild.pk).price_tier_id == catalogue.gold.pk


def test_the_sub_site_list_holds_direct_children_only(
    network: Network, console_as: ConsoleAs, make_site: Callable[..., ProvisionedSite]
) -> None:
    make_site(parent=network.beta, slug="betakid", name="Beta kid")
    make_site(parent=network.alpha_kid, slug="grandkid", name="Grand kid")

    response = console_as(network.alpha, "owner").get("/console/sites/")

    rows = page(response.content).find_all("child-row")
    assert [row.attrs["data-site"] for row in rows] == ["alpha-kid"]


def test_an_owners_session_is_anonymous_on_another_sites_console(
    network: Network, console_as: ConsoleAs
) -> None:
    alpha = console_as(network.alpha, "owner")
    assert alpha.get("/console/").status_code == 200
    session = alpha.cookies["sessionid"].value

    beta = Client(HTTP_HOST=site_host(network.beta))
    beta.cookies["sessionid"] = session
    response = beta.get("/console/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/console/"
    # Nor do alpha's owner's credentials exist on beta.
    with tenant_context(network.beta):
        assert not Client().login(username="owner@alpha.test", password=OWNER_PASSWORD)


def test_another_sites_price_rule_cannot_be_removed(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    with tenant_context(network.beta):
        rule = price_rule_set(
            kind=RuleKind.RETAIL, markup_kind=MarkupKind.FIXED, markup_value=Decimal("2")
        )

    response = console_as(network.alpha, "owner").post(f"/console/prices/retail/{rule.pk}/delete/")

    assert response.status_code == 404
    with tenant_context(network.beta):
        assert list(PriceRule.objects.values_list("pk", flat=True)) == [rule.pk]


def test_another_sites_member_level_and_quantity_tier_are_not_found(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    with tenant_context(network.beta):
        level = member_level_create(code="vip", name="VIP", discount_percent=Decimal(5))
        tier = quantity_tier_set(min_quantity=5, discount_percent=Decimal(3))
    assert tier is not None
    alpha = console_as(network.alpha, "owner")

    assert alpha.get(f"/console/levels/{level.pk}/").status_code == 404
    assert (
        alpha.post(f"/console/levels/{level.pk}/", {"name": "Hacked", "rank": 0}).status_code == 404
    )
    assert alpha.post(f"/console/prices/quantity/{tier.pk}/delete/").status_code == 404
    with tenant_context(network.beta):
        assert list(MemberLevel.objects.values_list("name", flat=True)) == ["VIP"]
        assert list(QuantityTier.objects.values_list("pk", flat=True)) == [tier.pk]
