"""One site's prices never leak into another's: siblings, parents, other trees, the cache."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from shared.sites.models import Site
from tenants.pricing.engine import SkuPrice
from tenants.pricing.models import MarkupKind, MemberLevel, Rounding, RuleKind
from tenants.pricing.selectors import prices_for, visible_products
from tenants.pricing.services import (
    member_level_create,
    price_rule_set,
    product_override_set,
    quantity_tier_set,
)
from tests.conftest import Network
from tests.pricing.conftest import Catalog, on_site

D = Decimal
W, R = RuleKind.WHOLESALE, RuleKind.RETAIL


def _snapshot(sites: list[Site], catalog: Catalog) -> dict[str, dict[int, SkuPrice]]:
    skus = [catalog.card_100, catalog.card_500, catalog.yen, catalog.loose]
    return {site.slug: prices_for(site=site, skus=skus, quantity=50) for site in sites}


def _everything_on(site: Site, catalog: Catalog) -> None:
    """Every kind of price setting a site has, generous ones included."""
    with on_site(site):
        price_rule_set(kind=W, markup_kind=MarkupKind.PERCENT, markup_value=D("30"))
        price_rule_set(
            kind=W,
            markup_kind=MarkupKind.FIXED,
            markup_value=D("5"),
            rounding=Rounding.UP_UNIT,
            tier=catalog.gold,
            sku=catalog.card_100,
        )
        price_rule_set(kind=R, markup_kind=MarkupKind.PERCENT, markup_value=D("200"))
        price_rule_set(
            kind=R, markup_kind=MarkupKind.FIXED, markup_value=D("9"), category=catalog.games
        )
        quantity_tier_set(min_quantity=2, discount_percent=D("50"))
        member_level_create(code="all", name="All", discount_percent=D("90"), is_default=True)
        product_override_set(product=catalog.card, hidden=True)


def test_a_sites_rules_never_affect_its_sibling_or_its_parent(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    (root,) = make_chain(1)
    (left,) = make_chain(1, parent=root)
    (right,) = make_chain(1, parent=root)
    with on_site(root):
        price_rule_set(kind=W, markup_kind=MarkupKind.FIXED, markup_value=D("1"))
        price_rule_set(kind=R, markup_kind=MarkupKind.PERCENT, markup_value=D("10"))
    before = _snapshot([root, right], catalog)

    _everything_on(left, catalog)

    assert _snapshot([root, right], catalog) == before
    assert before[right.slug][catalog.card_100.pk] == SkuPrice(
        D("11.00"), D("11.00"), D("11.00"), "CNY"
    )
    assert prices_for(site=left, skus=[catalog.card_100])[catalog.card_100.pk] == SkuPrice(
        D("11.00"), D("20.00"), D("20.00"), "CNY"
    )
    assert "p-card" in {p.product.slug for p in visible_products(site=right)}
    assert "p-card" not in {p.product.slug for p in visible_products(site=left)}


def test_a_childs_wholesale_rules_reach_only_its_own_descendants(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    root, child, grandchild = make_chain(3)
    (sibling,) = make_chain(1, parent=root)
    before = _snapshot([root, child, sibling, grandchild], catalog)

    _everything_on(child, catalog)

    after = _snapshot([root, child, sibling, grandchild], catalog)
    assert after[root.slug] == before[root.slug]
    assert after[sibling.slug] == before[sibling.slug]
    assert after[child.slug] != before[child.slug]  # its own retail
    assert after[grandchild.slug][catalog.card_100.pk] == SkuPrice(
        D("13.00"),
        D("13.00"),
        D("13.00"),
        "CNY",  # the child's +30%
    )


def test_one_trees_rules_never_affect_another_tree(network: Network, catalog: Catalog) -> None:
    before = _snapshot([network.beta], catalog)
    _everything_on(network.alpha, catalog)
    _everything_on(network.alpha_kid, catalog)
    assert _snapshot([network.beta], catalog) == before


def test_a_member_level_prices_only_on_its_own_site(network: Network, catalog: Catalog) -> None:
    alpha, beta = network.alpha, network.beta
    with on_site(alpha):
        price_rule_set(kind=R, markup_kind=MarkupKind.PERCENT, markup_value=D("100"))
    with on_site(beta):
        price_rule_set(kind=R, markup_kind=MarkupKind.PERCENT, markup_value=D("100"))
        half = member_level_create(code="half", name="Half", discount_percent=D("50"))
    with on_site(alpha):
        assert not MemberLevel.objects.filter(code="half").exists()
    assert prices_for(site=beta, skus=[catalog.card_100], member_level=half) == {
        catalog.card_100.pk: SkuPrice(D("10.00"), D("20.00"), D("10.00"), "CNY")
    }


def test_a_rolled_back_change_leaves_no_trace_in_the_cache(
    network: Network, catalog: Catalog
) -> None:
    """The cache key follows the schema's token, which a rollback restores with the rules."""
    alpha = network.alpha
    with on_site(alpha):
        price_rule_set(kind=R, markup_kind=MarkupKind.FIXED, markup_value=D("1"))
    assert prices_for(site=alpha, skus=[catalog.card_100])[catalog.card_100.pk].retail == D("11.00")
    try:
        with transaction.atomic():
            with on_site(alpha):
                price_rule_set(kind=R, markup_kind=MarkupKind.FIXED, markup_value=D("7"))
            inside = prices_for(site=alpha, skus=[catalog.card_100])  # cached under the new token
            assert inside[catalog.card_100.pk].retail == D("17.00")
            raise _Abandon
    except _Abandon:
        pass
    assert prices_for(site=alpha, skus=[catalog.card_100])[catalog.card_100.pk].retail == D("11.00")


class _Abandon(Exception):
    pass
