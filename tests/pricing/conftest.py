"""Fixtures for pricing: a small HQ catalogue with two price tiers, and chains of sites."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from shared.catalog.models import (
    Category,
    DeliveryKind,
    ListingStatus,
    PriceTier,
    Product,
    Sku,
    TierPrice,
)
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tenants.pricing.models import PricingState


@dataclass
class Catalog:
    standard: PriceTier
    gold: PriceTier
    games: Category  # top category
    mobile: Category  # under games
    other: Category  # top category, no rules anywhere
    card: Product  # in mobile
    card_100: Sku  # CNY, standard 10.00, gold 9.50
    card_500: Sku  # CNY, standard 48.00, gold 45.00
    yen: Sku  # JPY, in games, standard 1000, gold 950
    loose: Sku  # CNY, in other, standard 3.00 only
    unpriced: Sku  # no tier price at all


def _sku(product: Product, code: str, currency: str = "CNY") -> Sku:
    return Sku.objects.create(
        product=product,
        code=code,
        name=code,
        face_value=Decimal(100),
        currency=currency,
        delivery_kind=DeliveryKind.CARD_KEY,
    )


def _prices(sku: Sku, *prices: tuple[PriceTier, str]) -> None:
    for tier, price in prices:
        TierPrice.objects.create(tier=tier, sku=sku, price=Decimal(price))


@pytest.fixture
def catalog(db: None) -> Catalog:
    standard, _ = PriceTier.objects.get_or_create(
        code="standard", defaults={"name": "Standard", "rank": 0}
    )
    gold, _ = PriceTier.objects.get_or_create(code="gold", defaults={"name": "Gold", "rank": 1})
    games = Category.objects.create(name="Games", slug="p-games")
    mobile = Category.objects.create(name="Mobile games", slug="p-mobile", parent=games)
    other = Category.objects.create(name="Other", slug="p-other")
    card = Product.objects.create(
        category=mobile, name="Game card", slug="p-card", status=ListingStatus.LISTED
    )
    yen_product = Product.objects.create(
        category=games, name="Yen card", slug="p-yen", status=ListingStatus.LISTED
    )
    loose_product = Product.objects.create(
        category=other, name="Loose", slug="p-loose", status=ListingStatus.LISTED
    )
    card_100, card_500 = _sku(card, "p-card-100"), _sku(card, "p-card-500")
    yen, loose = _sku(yen_product, "p-yen-1000", "JPY"), _sku(loose_product, "p-loose")
    unpriced = _sku(loose_product, "p-unpriced")
    _prices(card_100, (standard, "10.00"), (gold, "9.50"))
    _prices(card_500, (standard, "48.00"), (gold, "45.00"))
    _prices(yen, (standard, "1000"), (gold, "950"))
    _prices(loose, (standard, "3.00"))
    return Catalog(
        standard, gold, games, mobile, other, card, card_100, card_500, yen, loose, unpriced
    )


@pytest.fixture
def make_chain(make_site: Callable[..., ProvisionedSite]) -> Callable[..., list[Site]]:
    """`make_chain(depth)`: a fresh chain of sites, root first (`parent=` hangs it below a site)."""

    def make(depth: int, *, parent: Site | None = None) -> list[Site]:
        sites: list[Site] = []
        for _ in range(depth):
            sites.append(make_site(parent=sites[-1] if sites else parent).site)
        return sites

    return make


@contextmanager
def on_site(site: Site) -> Iterator[None]:
    """Act as the site (its schema), as a request on its domain does."""
    with tenant_context(site):
        yield


def pricing_token(site: Site) -> str:
    with tenant_context(site):
        return str(PricingState.objects.get().version)


def set_tier(site: Site, tier: PriceTier | None) -> None:
    """HQ's (or a test's) direct assignment of a site's tier."""
    site.price_tier = tier
    site.save(update_fields=["price_tier"])
