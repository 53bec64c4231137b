"""Prices read through the selectors, against real site schemas, with exact values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from shared.catalog.models import ListingStatus, PriceTier, Product
from shared.catalog.services import tier_price_set
from shared.sites.models import Site
from tenants.pricing.engine import ExplanationStep, SkuPrice
from tenants.pricing.models import MarkupKind, MemberLevel, Rounding, RuleKind
from tenants.pricing.selectors import (
    ProductDisplay,
    SkuNotPriced,
    cost_price_for,
    local_rules_cache_clear,
    member_level_for,
    price_explanation,
    prices_for,
    product_display,
    sale_chain_for,
    visible_products,
    wholesale_price_for,
)
from tenants.pricing.services import (
    child_site_tier_set,
    member_level_assign,
    member_level_create,
    member_level_price_set,
    member_level_update,
    price_rule_set,
    product_override_set,
    quantity_tier_set,
)
from tests.conftest import Network
from tests.pricing.conftest import Catalog, on_site, set_tier

D = Decimal
W, R = RuleKind.WHOLESALE, RuleKind.RETAIL
FIXED, PERCENT = MarkupKind.FIXED, MarkupKind.PERCENT


def rule(site: Site, kind: str, markup_kind: str, value: str, rounding: str, **scope: Any) -> None:
    with on_site(site):
        price_rule_set(
            kind=kind,
            markup_kind=markup_kind,
            markup_value=D(value),
            rounding=rounding,
            **scope,
        )


def cny(cost: str, retail: str, price: str | None = None) -> SkuPrice:
    return SkuPrice(cost=D(cost), retail=D(retail), price=D(price or retail), currency="CNY")


# --- Depth 1 -------------------------------------------------------------------------------


def test_main_site_sells_hq_tier_price_plus_its_retail_rules(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    (main,) = make_chain(1)
    rule(main, R, PERCENT, "15", Rounding.CENT)
    rule(main, R, FIXED, "2", Rounding.NONE, category=catalog.games)
    c = catalog
    skus = [c.card_100, c.card_500, c.yen, c.loose, c.unpriced]

    prices = prices_for(site=main, skus=skus)

    assert prices == {
        c.card_100.pk: cny("10.00", "12.00"),  # mobile < games: the games rule, +¥2
        c.card_500.pk: cny("48.00", "50.00"),
        c.yen.pk: SkuPrice(D("1000"), D("1002"), D("1002"), "JPY"),  # +2 yen, whole yen
        c.loose.pk: cny("3.00", "3.45"),  # no category rule: the default +15%
    }  # the unpriced SKU cannot be sold: left out
    assert str(prices[c.yen.pk].retail) == "1002"
    assert str(prices[c.card_100.pk].cost) == "10.00"


def test_without_rules_a_main_site_sells_at_its_cost(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    (main,) = make_chain(1)
    assert prices_for(site=main, skus=[catalog.card_100.pk]) == {
        catalog.card_100.pk: cny("10.00", "10.00")
    }


def test_main_site_tier_picks_the_hq_price_list(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    (main,) = make_chain(1)
    set_tier(main, catalog.gold)
    prices = prices_for(site=main, skus=[catalog.card_100, catalog.loose])
    assert prices == {catalog.card_100.pk: cny("9.50", "9.50")}  # no gold price for `loose`
    with pytest.raises(SkuNotPriced, match=r"no price for SKU \d+ in tier gold"):
        cost_price_for(site=main, sku=catalog.loose)


def test_without_a_standard_tier_the_lowest_ranked_tier_is_the_default(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    (main,) = make_chain(1)
    PriceTier.objects.filter(pk=catalog.standard.pk).update(code="basic", rank=5)
    assert cost_price_for(site=main, sku=catalog.card_100) == D("9.50")  # gold, rank 1


# --- Depth 2 -------------------------------------------------------------------------------


def test_sub_site_buys_at_its_parents_wholesale_price_for_its_tier(
    network: Network, catalog: Catalog
) -> None:
    alpha, kid = network.alpha, network.alpha_kid
    rule(alpha, W, FIXED, "1", Rounding.NONE)
    rule(alpha, W, FIXED, "0.5", Rounding.NONE, tier=catalog.gold)
    rule(alpha, W, FIXED, "0.2", Rounding.NONE, sku=catalog.card_500)  # every tier
    rule(alpha, R, PERCENT, "50", Rounding.NONE)  # alpha's own buyers only
    skus = [catalog.card_100, catalog.card_500]

    assert prices_for(site=kid, skus=skus) == {
        catalog.card_100.pk: cny("11.00", "11.00"),  # no retail rule: sells at cost
        catalog.card_500.pk: cny("48.20", "48.20"),
    }
    with on_site(alpha):
        child_site_tier_set(parent=alpha, child=kid, tier=catalog.gold)
    assert prices_for(site=kid, skus=skus) == {
        catalog.card_100.pk: cny("10.50", "10.50"),  # gold's own default rule beats "all tiers"
        catalog.card_500.pk: cny("48.20", "48.20"),  # a SKU rule beats any default rule
    }
    assert wholesale_price_for(site=alpha, child_tier=catalog.gold, sku=catalog.card_100) == D(
        "10.50"
    )
    assert wholesale_price_for(site=alpha, child_tier=None, sku=catalog.card_100) == D("11.00")
    assert prices_for(site=alpha, skus=skus) == {
        catalog.card_100.pk: cny("10.00", "15.00"),
        catalog.card_500.pk: cny("48.00", "72.00"),
    }


# --- Depth 5 -------------------------------------------------------------------------------


@pytest.fixture
def depth5(make_chain: Callable[..., list[Site]], catalog: Catalog) -> list[Site]:
    """root > a > b > c (gold) > d, with rules at every level."""
    root, a, b, c, d = make_chain(5)
    set_tier(c, catalog.gold)
    rule(root, W, PERCENT, "10", Rounding.UP_TENTH)
    rule(a, W, FIXED, "0.35", Rounding.NONE, category=catalog.mobile)
    rule(a, W, FIXED, "1", Rounding.NONE, category=catalog.games)
    rule(b, W, PERCENT, "1", Rounding.NONE)
    rule(b, W, PERCENT, "5", Rounding.UP_TENTH, tier=catalog.gold)
    rule(c, W, PERCENT, "3", Rounding.CENT, sku=catalog.card_100)
    rule(c, W, FIXED, "2", Rounding.NONE)
    rule(d, R, PERCENT, "20", Rounding.UP_UNIT)
    with on_site(d):
        member_level_create(code="vip", name="VIP", discount_percent=D("5"))
        quantity_tier_set(min_quantity=10, discount_percent=D("10"))
        quantity_tier_set(min_quantity=20, discount_percent=D("15"), sku=catalog.card_100)
    return [root, a, b, c, d]


def _level(site: Site, code: str) -> MemberLevel:
    with on_site(site):
        return MemberLevel.objects.get(code=code)


def test_depth_five_guest_prices(depth5: list[Site], catalog: Catalog) -> None:
    d = depth5[-1]
    prices = prices_for(site=d, skus=[catalog.card_100, catalog.card_500, catalog.yen])
    assert prices == {
        # 10.00 +10%↑0.1 = 11.00, +0.35 = 11.35, +5%↑0.1 (gold) = 12.00, +3% = 12.36; +20%↑1
        catalog.card_100.pk: cny("12.36", "15.00"),
        # 48.00 → 52.80 → 53.15 → 55.90 → +2 = 57.90; +20% = 69.48 ↑ 70
        catalog.card_500.pk: cny("57.90", "70.00"),
        # 1000 → 1100 → +1 (games) 1101 → +5% 1156.05 ↑ 1157 → +2 = 1159; +20% 1390.8 ↑ 1391
        catalog.yen.pk: SkuPrice(D("1159"), D("1391"), D("1391"), "JPY"),
    }


def test_depth_five_member_and_quantity_prices(depth5: list[Site], catalog: Catalog) -> None:
    d = depth5[-1]
    vip = _level(d, "vip")
    skus = [catalog.card_100, catalog.card_500]
    assert prices_for(site=d, skus=skus, member_level=vip) == {
        catalog.card_100.pk: cny("12.36", "15.00", "14.25"),
        catalog.card_500.pk: cny("57.90", "70.00", "66.50"),
    }
    assert prices_for(site=d, skus=skus, member_level=vip, quantity=10) == {
        catalog.card_100.pk: cny("12.36", "15.00", "12.83"),  # 14.25 x 0.9 = 12.825
        catalog.card_500.pk: cny("57.90", "70.00", "59.85"),
    }
    assert prices_for(site=d, skus=skus, member_level=vip, quantity=20) == {
        catalog.card_100.pk: cny("12.36", "15.00", "12.36"),  # 12.11 clamped at cost
        catalog.card_500.pk: cny("57.90", "70.00", "59.85"),  # the SKU tier is card_100's
    }
    with on_site(d):
        member_level_price_set(level=vip, sku=catalog.card_500, price=D("60.00"))
    assert prices_for(site=d, skus=skus, member_level=vip)[catalog.card_500.pk] == cny(
        "57.90", "70.00", "60.00"
    )


def test_depth_five_explanation(depth5: list[Site], catalog: Catalog) -> None:
    root, a, b, c, d = depth5
    vip = _level(d, "vip")

    steps = price_explanation(site=d, sku=catalog.card_100, member_level=vip, quantity=20)

    assert [(s.code, s.label, s.amount) for s in steps] == [
        ("hq_price", "HQ price for tier Standard", D("10.00")),
        (
            "wholesale",
            f"{root.slug} → {a.slug} (tier Standard): +10% (default rule), rounded up to 0.1",
            D("11.00"),
        ),
        (
            "wholesale",
            f"{a.slug} → {b.slug} (tier Standard): +¥0.35 (category Mobile games), rounded to 0.01",
            D("11.35"),
        ),
        (
            "wholesale",
            f"{b.slug} → {c.slug} (tier Gold): +5% (default rule, tier Gold), rounded up to 0.1",
            D("12.00"),
        ),
        (
            "wholesale",
            f"{c.slug} → {d.slug} (tier Standard): +3% (SKU rule), rounded to 0.01",
            D("12.36"),
        ),
        ("retail", f"{d.slug} retail: +20% (default rule), rounded up to 1", D("15.00")),
        ("member_level", "Member level VIP: -5%", D("14.25")),
        ("quantity_tier", "Quantity ≥ 20: -15% (SKU tier)", D("12.11")),
        ("clamp", "Clamped at cost ¥12.36", D("12.36")),
    ]
    assert steps[4] == ExplanationStep(
        code="wholesale",
        label=steps[4].label,
        amount=D("12.36"),
        unrounded=D("12.3600"),
        rounding=Rounding.CENT,
        site=c.slug,
    )
    assert steps[7].unrounded == D("12.1125")


def test_explanation_without_rules_says_so(network: Network, catalog: Catalog) -> None:
    alpha, kid = network.alpha, network.alpha_kid
    steps = price_explanation(site=kid, sku=catalog.loose)
    assert [(s.code, s.label, s.amount) for s in steps] == [
        ("hq_price", "HQ price for tier Standard", D("3.00")),
        (
            "wholesale",
            f"{alpha.slug} → {kid.slug} (tier Standard): no wholesale rule, at cost",
            D("3.00"),
        ),
        ("retail", f"{kid.slug} retail: no retail rule, selling at cost", D("3.00")),
    ]


def test_cost_and_wholesale_agree_down_the_chain(depth5: list[Site], catalog: Catalog) -> None:
    for parent, child in pairwise(depth5):
        child_cost = cost_price_for(site=child, sku=catalog.card_500)
        tier = child.price_tier
        assert wholesale_price_for(site=parent, child_tier=tier, sku=catalog.card_500) == (
            child_cost
        )
        assert child_cost >= cost_price_for(site=parent, sku=catalog.card_500)


def test_sale_chain_gives_each_sites_own_cost_root_first(
    depth5: list[Site], catalog: Catalog
) -> None:
    links = sale_chain_for(site=depth5[-1], sku=catalog.card_500)
    assert [link.site.pk for link in links] == [site.pk for site in depth5]
    assert [link.unit_cost for link in links] == [
        cost_price_for(site=site, sku=catalog.card_500) for site in depth5
    ]
    assert len({link.unit_cost for link in links}) > 1  # the tree's rules mark it up


# --- Queries and the cache -----------------------------------------------------------------


def test_prices_for_many_skus_take_a_fixed_number_of_queries(
    depth5: list[Site], catalog: Catalog, django_assert_num_queries: Any
) -> None:
    d = depth5[-1]
    vip = _level(d, "vip")
    skus = [catalog.card_100, catalog.card_500, catalog.yen, catalog.loose]
    cache.clear()
    local_rules_cache_clear()
    Site.objects.exists()  # leaving the site's schema left a search_path to restore: done
    # chain with the tiers, tokens, rules of the 5 schemas, SKUs with member prices and
    # category chains
    with django_assert_num_queries(4):
        cold = prices_for(site=d, skus=skus, member_level=vip)
    # the same, the rule sets now from this process's memory
    with django_assert_num_queries(3):
        warm = prices_for(site=d, skus=skus, member_level=vip)
    # a process that has not read them yet: from Django's cache
    local_rules_cache_clear()
    with django_assert_num_queries(3):
        shared = prices_for(site=d, skus=skus, member_level=vip)
    assert warm == cold == shared
    assert len(warm) == 4


def test_a_rule_change_is_seen_at_once_despite_the_cache(
    depth5: list[Site], catalog: Catalog
) -> None:
    root, d = depth5[0], depth5[-1]
    before = prices_for(site=d, skus=[catalog.card_100])  # caches every schema's rules
    assert before[catalog.card_100.pk].cost == D("12.36")
    rule(root, W, PERCENT, "20", Rounding.UP_TENTH)  # the root's default: 10% -> 20%
    after = prices_for(site=d, skus=[catalog.card_100])
    # 12.00 → 12.35 → 12.97 ↑ 13.00 → 13.39
    assert after[catalog.card_100.pk] == cny("13.39", "17.00")


def test_hq_prices_tiers_and_levels_changes_are_seen_at_once_despite_computed_prices(
    make_chain: Callable[..., list[Site]], catalog: Catalog
) -> None:
    """Computed prices are kept between calls (per chain, rule sets, member discount and
    quantity), keyed by every other input: HQ's price (which changes no site token), a
    site's tier and a level's discount all show at once."""
    (main,) = make_chain(1)
    rule(main, R, PERCENT, "10", Rounding.NONE)
    with on_site(main):
        level = member_level_create(code="m", name="M", discount_percent=D("5"))
    skus = [catalog.card_100, catalog.card_500]

    def prices() -> dict[int, SkuPrice]:
        return prices_for(site=main, skus=skus, member_level=level)

    assert prices()[catalog.card_100.pk] == cny("10.00", "11.00", "10.45")
    assert prices() == prices()  # computed once, then from memory: the same
    for sku in skus:  # HQ's price list changes in the public schema: no site token moves
        tier_price_set(tier=catalog.standard, sku=sku, price=D("20.00"))
    assert prices() == {sku.pk: cny("20.00", "22.00", "20.90") for sku in skus}
    with on_site(main):
        level = member_level_update(level=level, discount_percent=D("8"))
    assert prices() == {sku.pk: cny("20.00", "22.00", "20.24") for sku in skus}
    set_tier(main, catalog.gold)  # gold: card_100 9.50
    assert prices()[catalog.card_100.pk] == cny("9.50", "10.45", "9.61")
    assert prices_for(site=main, skus=skus)[catalog.card_100.pk] == cny("9.50", "10.45")


# --- Member levels -------------------------------------------------------------------------


def test_member_level_for_assigned_default_and_guest(network: Network) -> None:
    with on_site(network.beta):
        member = get_user_model().objects.get(email="member@beta.test")
        assert member_level_for(member) is None  # no levels at all
        bronze = member_level_create(code="bronze", name="Bronze", is_default=True)
        gold = member_level_create(code="gold", name="Gold", discount_percent=D("8"), rank=2)
        assert member_level_for(member) == bronze
        member_level_assign(user=member, level=gold)
        assert member_level_for(member) == gold
        member_level_assign(user=member, level=None)
        assert member_level_for(member) == bronze
        assert member_level_for(AnonymousUser()) is None
        assert member_level_for(None) is None


def test_member_level_for_reads_one_query_and_the_sites_own_levels(
    network: Network, django_assert_num_queries: Any
) -> None:
    with on_site(network.alpha):
        member = get_user_model().objects.get(email="member@alpha.test")
        member_level_create(code="alpha-base", name="Alpha base", is_default=True)
        alpha_gold = member_level_create(code="alpha-gold", name="Alpha gold", rank=2)
        member_level_assign(user=member, level=alpha_gold)
        with django_assert_num_queries(1):
            assert member_level_for(member) == alpha_gold
    with on_site(network.beta):
        beta_member = get_user_model().objects.get(email="member@beta.test")
        beta_default = member_level_create(code="beta-base", name="Beta base", is_default=True)
        with django_assert_num_queries(1):
            assert member_level_for(beta_member) == beta_default
        # A user id of alpha's means nothing on beta: beta's default level, never alpha's.
        found = member_level_for(member)
        assert found is not None and found.code == "beta-base"


# --- Products ------------------------------------------------------------------------------


def test_visible_products_honour_the_sites_overrides(network: Network, catalog: Catalog) -> None:
    alpha, beta = network.alpha, network.beta
    Product.objects.filter(pk=catalog.card.pk).update(description="HQ text")
    draft = Product.objects.create(category=catalog.games, name="Draft", slug="p-draft")
    yen_product = catalog.yen.product
    with on_site(alpha):
        product_override_set(product=yen_product, hidden=True)
        product_override_set(product=catalog.card, display_name="  Alpha card ", description="")
    card = Product.objects.get(pk=catalog.card.pk)

    ours = {d.product.slug: (d.name, d.description) for d in visible_products(site=alpha)}
    theirs = {d.product.slug: (d.name, d.description) for d in visible_products(site=beta)}

    assert {k: v for k, v in ours.items() if k.startswith("p-")} == {
        "p-card": ("Alpha card", "HQ text"),
        "p-loose": ("Loose", ""),
    }
    assert {k: v for k, v in theirs.items() if k.startswith("p-")} == {
        "p-card": ("Game card", "HQ text"),
        "p-yen": ("Yen card", ""),
        "p-loose": ("Loose", ""),
    }
    assert draft.slug not in ours
    assert product_display(site=alpha, product=yen_product) is None
    assert product_display(site=alpha, product=card) == ProductDisplay(
        card, "Alpha card", "HQ text"
    )
    assert [p.product.slug for p in visible_products(site=alpha, category=catalog.mobile)] == [
        "p-card"
    ]


def test_scheduled_and_delisted_products_are_not_visible(
    network: Network, catalog: Catalog
) -> None:
    now = timezone.now()
    Product.objects.filter(pk=catalog.card.pk).update(list_at=now + timedelta(days=1))
    Product.objects.filter(pk=catalog.loose.product_id).update(status=ListingStatus.DELISTED)
    Product.objects.filter(pk=catalog.yen.product_id).update(delist_at=now - timedelta(hours=1))
    slugs = {d.product.slug for d in visible_products(site=network.alpha)}
    assert not slugs & {"p-card", "p-loose", "p-yen"}
