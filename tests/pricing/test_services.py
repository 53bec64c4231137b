"""Writes of prices: what they store, what they refuse, and that a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from shared.catalog.models import Category, PriceTier, Product, Sku
from shared.sites.models import Site
from tenants.pricing.models import (
    MarkupKind,
    MemberLevel,
    MemberLevelPrice,
    PriceRule,
    ProductOverride,
    QuantityTier,
    Rounding,
    RuleKind,
)
from tenants.pricing.selectors import cost_price_for, prices_for
from tenants.pricing.services import (
    child_site_tier_set,
    member_level_create,
    member_level_price_set,
    member_level_update,
    price_rule_delete,
    price_rule_set,
    product_override_set,
    quantity_tier_set,
)
from tests.conftest import Network
from tests.pricing.conftest import Catalog, on_site, pricing_token

D = Decimal
W, R = RuleKind.WHOLESALE, RuleKind.RETAIL


def _rows(site: Site) -> dict[str, list[tuple[Any, ...]]]:
    """Every pricing row of a site, to compare before and after a refused write."""
    with on_site(site):
        return {
            "rules": list(PriceRule.objects.order_by("pk").values_list()),
            "levels": list(MemberLevel.objects.order_by("pk").values_list()),
            "level_prices": list(MemberLevelPrice.objects.order_by("pk").values_list()),
            "quantity": list(QuantityTier.objects.order_by("pk").values_list()),
            "overrides": list(ProductOverride.objects.order_by("pk").values_list()),
        }


@contextmanager
def refused(site: Site, errors: dict[str, list[str]]) -> Iterator[None]:
    """The block raises exactly `errors` and leaves the site's pricing rows and token alone."""
    rows, token = _rows(site), pricing_token(site)
    with pytest.raises(ValidationError) as caught, on_site(site):
        yield
    assert caught.value.message_dict == errors
    assert _rows(site) == rows
    assert pricing_token(site) == token


# --- Price rules ---------------------------------------------------------------------------


def test_price_rule_set_creates_then_replaces_the_rule_of_a_scope(
    network: Network, catalog: Catalog
) -> None:
    alpha = network.alpha
    token = pricing_token(alpha)
    with on_site(alpha):
        first = price_rule_set(
            kind=W,
            markup_kind=MarkupKind.PERCENT,
            markup_value=D("10"),
            rounding=Rounding.UP_TENTH,
            tier=catalog.gold,
        )
        second = price_rule_set(
            kind=W,
            markup_kind=MarkupKind.FIXED,
            markup_value=D("1.5"),
            rounding=Rounding.NONE,
            tier=catalog.gold,
        )
        other_scope = price_rule_set(
            kind=W, markup_kind=MarkupKind.FIXED, markup_value=D("2"), rounding=Rounding.NONE
        )
        rules = list(
            PriceRule.objects.order_by("pk").values_list(
                "kind", "tier_id", "sku_id", "category_id", "markup_kind", "markup_value"
            )
        )
    assert second.pk == first.pk != other_scope.pk
    assert rules == [
        ("wholesale", catalog.gold.pk, None, None, "fixed", D("1.5000")),
        ("wholesale", None, None, None, "fixed", D("2.0000")),
    ]
    assert pricing_token(alpha) != token


def _rule_kwargs(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": R,
        "markup_kind": MarkupKind.PERCENT,
        "markup_value": D("10"),
        "rounding": Rounding.NONE,
        **overrides,
    }


NEGATIVE = "The markup cannot be negative: this site never sells below its cost."
TOO_MUCH = "A percentage markup is at most 1000%."


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"markup_value": D("-0.01")}, {"markup_value": [NEGATIVE]}),
        ({"markup_value": D("10.00001")}, {"markup_value": ["Use at most 4 decimal places."]}),
        ({"markup_value": D("1000.0001")}, {"markup_value": [TOO_MUCH]}),
        ({"markup_value": 10.5}, {"markup_value": ["Give an exact decimal amount (not a float)."]}),
        ({"markup_value": D("NaN")}, {"markup_value": ["Give a finite number."]}),
        ({"markup_value": "ten"}, {"markup_value": ["'ten' is not a number."]}),
        ({"markup_kind": MarkupKind.FIXED, "markup_value": D("100000000")},
         {"markup_value": ["A fixed markup is at most 99999999.9999."]}),
        ({"kind": "cost"}, {"kind": ["Choose wholesale or retail."]}),
        ({"markup_kind": "double"}, {"markup_kind": ["Choose a fixed amount or a percentage."]}),
        ({"rounding": "down"}, {"rounding": ["Choose none, cent, up_tenth or up_unit."]}),
        ({"tier": "gold"}, {"tier": ["Only wholesale rules (for child sites) apply to one tier."]}),
        ({"sku": "card_100", "category": "games"},
         {"category": ["A rule applies to one SKU, one category or everything, not both."]}),
        ({"kind": W, "sku": "missing_sku"}, {"sku": ["Unknown sku."]}),
        ({"kind": W, "category": "missing_category"}, {"category": ["Unknown category."]}),
        ({"kind": W, "tier": "missing_tier"}, {"tier": ["Unknown price tier."]}),
    ],
)  # fmt: skip
def test_price_rule_set_refuses_bad_input_and_writes_nothing(
    network: Network, catalog: Catalog, overrides: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    refs: dict[str, Any] = {
        "gold": catalog.gold,
        "card_100": catalog.card_100,
        "games": catalog.games,
        "missing_sku": Sku(pk=999_999, code="gone"),
        "missing_category": Category(pk=999_999),
        "missing_tier": PriceTier(pk=999_999),
    }
    kwargs = _rule_kwargs(**{k: refs.get(v, v) if isinstance(v, str) else v
                             for k, v in overrides.items()})  # fmt: skip
    with on_site(network.alpha):
        price_rule_set(**_rule_kwargs(markup_value=D("3")))  # an existing rule stays as it is
    with refused(network.alpha, errors):
        price_rule_set(**kwargs)


def test_price_rule_delete_falls_back_to_the_next_rule(network: Network, catalog: Catalog) -> None:
    alpha = network.alpha
    with on_site(alpha):
        price_rule_set(**_rule_kwargs(markup_value=D("10")))
        sku_rule = price_rule_set(**_rule_kwargs(markup_value=D("50"), sku=catalog.card_100))
    assert prices_for(site=alpha, skus=[catalog.card_100])[catalog.card_100.pk].retail == D("15.00")
    with on_site(alpha):
        price_rule_delete(rule=sku_rule)
    assert prices_for(site=alpha, skus=[catalog.card_100])[catalog.card_100.pk].retail == D("11.00")
    with refused(alpha, {"rule": ["This price rule does not exist on this site."]}):
        price_rule_delete(rule=sku_rule)


# --- Member levels and their prices --------------------------------------------------------


@pytest.fixture
def kid_costs_11(network: Network, catalog: Catalog) -> Site:
    """alpha sells to alpha-kid at +¥1: alpha-kid's cost of card_100 is ¥11.00."""
    with on_site(network.alpha):
        price_rule_set(kind=W, markup_kind=MarkupKind.FIXED, markup_value=D("1"))
    assert cost_price_for(site=network.alpha_kid, sku=catalog.card_100) == D("11.00")
    return network.alpha_kid


def test_member_level_price_below_cost_is_refused(kid_costs_11: Site, catalog: Catalog) -> None:
    kid = kid_costs_11
    with on_site(kid):
        gold = member_level_create(code="gold", name="Gold")
    with refused(kid, {"price": ["¥10.99 is below this site's cost ¥11.00 for p-card-100."]}):
        member_level_price_set(level=gold, sku=catalog.card_100, price=D("10.99"))
    with on_site(kid):
        member_level_price_set(level=gold, sku=catalog.card_100, price=D("11.00"))
        member_level_price_set(level=gold, sku=catalog.card_100, price=D("11.50"))
        assert list(MemberLevelPrice.objects.values_list("level_id", "sku_id", "price")) == [
            (gold.pk, catalog.card_100.pk, D("11.50"))
        ]
        member_level_price_set(level=gold, sku=catalog.card_100, price=None)
        assert not MemberLevelPrice.objects.exists()


@pytest.mark.parametrize(
    ("sku", "price", "errors"),
    [
        ("card_100", D("11.001"), {"price": ["Use at most 2 decimal places."]}),
        ("yen", D("1200.5"), {"price": ["Use at most 0 decimal places."]}),
        ("card_100", D("0"), {"price": ["A price is more than 0."]}),
        ("card_100", 12.0, {"price": ["Give an exact decimal amount (not a float)."]}),
        ("unpriced", D("5"), {"sku": ["p-unpriced has no price for this site yet."]}),
    ],
)
def test_member_level_price_set_refuses_bad_prices(
    kid_costs_11: Site, catalog: Catalog, sku: str, price: Any, errors: dict[str, list[str]]
) -> None:
    with on_site(kid_costs_11):
        gold = member_level_create(code="gold", name="Gold")
    with refused(kid_costs_11, errors):
        member_level_price_set(level=gold, sku=getattr(catalog, sku), price=price)


def test_member_levels_keep_one_default(network: Network) -> None:
    with on_site(network.beta):
        bronze = member_level_create(code="bronze", name="Bronze", is_default=True)
        silver = member_level_create(code="silver", name="Silver", is_default=True, rank=1)
        assert list(MemberLevel.objects.filter(is_default=True)) == [silver]
        member_level_update(level=bronze, is_default=True, discount_percent=D("2.5"), name="B")
        assert list(MemberLevel.objects.values_list("code", "name", "discount_percent",
                                                    "is_default")) == [
            ("bronze", "B", D("2.50"), True),
            ("silver", "Silver", D("0.00"), False),
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"code": "Gold Level"}, {"code": ["Use 1-32 lower-case letters, digits, '-' or '_'."]}),
        ({"code": "bronze"}, {"code": ["A member level with code 'bronze' already exists."]}),
        ({"name": " "}, {"name": ["Give a name of 1 to 64 characters."]}),
        ({"discount_percent": D("100")},
         {"discount_percent": ["A discount is at least 0% and less than 100%."]}),
        ({"discount_percent": D("-1")},
         {"discount_percent": ["A discount is at least 0% and less than 100%."]}),
        ({"rank": -1}, {"rank": ["A rank is a whole number from 0 to 32767."]}),
    ],
)  # fmt: skip
def test_member_level_create_refuses_bad_input(
    network: Network, kwargs: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    with on_site(network.beta):
        member_level_create(code="bronze", name="Bronze", is_default=True)
    with refused(network.beta, errors):
        member_level_create(**{"code": "gold", "name": "Gold", **kwargs})


# --- Quantity tiers ------------------------------------------------------------------------


def test_quantity_tier_set_creates_replaces_and_removes(network: Network, catalog: Catalog) -> None:
    with on_site(network.beta):
        quantity_tier_set(min_quantity=10, discount_percent=D("5"))
        quantity_tier_set(min_quantity=10, discount_percent=D("6"))
        quantity_tier_set(min_quantity=10, discount_percent=D("7"), category=catalog.games)
        rows = list(
            QuantityTier.objects.order_by("pk").values_list(
                "category_id", "min_quantity", "discount_percent"
            )
        )
        assert rows == [(None, 10, D("6.00")), (catalog.games.pk, 10, D("7.00"))]
        assert quantity_tier_set(min_quantity=10, discount_percent=None) is None
        assert list(QuantityTier.objects.values_list("category_id", flat=True)) == [
            catalog.games.pk
        ]


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"min_quantity": 1}, {"min_quantity": ["A quantity tier starts at 2 units or more."]}),
        ({"discount_percent": D("0")},
         {"discount_percent": ["A quantity discount is more than 0% and less than 100%."]}),
        ({"discount_percent": D("100")},
         {"discount_percent": ["A discount is at least 0% and less than 100%."]}),
        ({"sku": "card_100", "category": "games"},
         {"category": ["A tier applies to one SKU, one category or everything, not both."]}),
    ],
)  # fmt: skip
def test_quantity_tier_set_refuses_bad_input(
    network: Network, catalog: Catalog, kwargs: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    args = {"min_quantity": 5, "discount_percent": D("3"), **kwargs}
    args = {k: getattr(catalog, v) if k in ("sku", "category") else v for k, v in args.items()}
    with refused(network.beta, errors):
        quantity_tier_set(**args)


# --- Product overrides ---------------------------------------------------------------------


def test_product_override_set_changes_only_what_is_given(
    network: Network, catalog: Catalog
) -> None:
    with on_site(network.beta):
        product_override_set(product=catalog.card, display_name="Beta card", description="Ours")
        product_override_set(product=catalog.card, hidden=True)
        product_override_set(product=catalog.card, description="")
        overrides = ProductOverride.objects.values_list(
            "product_id", "hidden", "display_name", "description"
        )
        assert list(overrides) == [(catalog.card.pk, True, "Beta card", "")]


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"product": Product(pk=999_999)}, {"product": ["Unknown product."]}),
        ({"display_name": "x" * 201},
         {"display_name": ["A product name is at most 200 characters."]}),
    ],
)  # fmt: skip
def test_product_override_set_refuses_bad_input(
    network: Network, catalog: Catalog, kwargs: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    with refused(network.beta, errors):
        product_override_set(**{"product": catalog.card, **kwargs})


# --- The tier of a child site --------------------------------------------------------------


def _tiers() -> dict[str, int | None]:
    return dict(Site.objects.order_by("slug").values_list("slug", "price_tier_id"))


def test_child_site_tier_set_assigns_its_own_childs_tier(
    network: Network, catalog: Catalog
) -> None:
    with on_site(network.alpha):
        child = child_site_tier_set(
            parent=network.alpha, child=network.alpha_kid, tier=catalog.gold
        )
    assert child.price_tier_id == catalog.gold.pk
    assert Site.objects.get(pk=network.alpha_kid.pk).price_tier_id == catalog.gold.pk
    with on_site(network.alpha):
        child_site_tier_set(parent=network.alpha, child=network.alpha_kid, tier=None)
    assert Site.objects.get(pk=network.alpha_kid.pk).price_tier_id is None


def test_child_site_tier_set_refuses_another_sites_child_and_changes_nothing(
    network: Network, catalog: Catalog, make_site: Callable[..., Any]
) -> None:
    beta_kid = make_site(slug="beta-kid", parent=network.beta).site
    grandchild = make_site(slug="alpha-grandkid", parent=network.alpha_kid).site
    before = _tiers()
    cases = [
        (network.alpha, beta_kid),  # cross-site: beta's child
        (network.alpha, grandchild),  # not a direct child
        (network.alpha, network.alpha),  # itself
        (network.alpha_kid, network.alpha),  # its own parent
        (network.beta, network.alpha_kid),
    ]
    for parent, child in cases:
        with pytest.raises(ValidationError) as caught, on_site(parent):
            child_site_tier_set(parent=parent, child=child, tier=catalog.gold)
        assert caught.value.message_dict == {
            "child": [f"'{child.slug}' is not a sub-site of '{parent.slug}'."]
        }
    with pytest.raises(ValidationError) as caught, on_site(network.alpha):
        child_site_tier_set(parent=network.alpha, child=network.alpha_kid, tier=PriceTier(pk=999))
    assert caught.value.message_dict == {"tier": ["Unknown price tier."]}
    assert _tiers() == before
