"""A small HQ catalogue for storefront and console tests, built through HQ's services.

| product (category)             | SKU          | delivery     | standard | gold  | stock       |
|--------------------------------|--------------|--------------|----------|-------|-------------|
| Steam Wallet (Games > Steam)   | sf-steam-50  | card key     | 45.00    | 44.00 | 12 keys     |
| pinned, tags steam/wallet      | sf-steam-100 | card key     | 90.00    | 88.00 | 3 keys (low)|
| Game Points (Games)            | sf-points-10 | direct topup | 9.00     | 8.80  | unlimited   |
| Phone Credit (Phone)           | sf-phone-30  | card key     | 29.00    | 28.50 | none (out)  |
| Hidden Gem (Games > Steam)     | sf-gem-1     | reusable key | 5.00     | 4.80  | unlimited   |
| Draft Thing (Games), a draft   | sf-draft-1   | card key     | 1.00     | 1.00  | none        |

Prices are HQ's tier prices: a main site on no tier buys at "standard".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.catalog.models import Category, DeliveryKind, ListingStatus, PriceTier, Product, Sku
from shared.catalog.services import (
    category_create,
    product_create,
    sku_create,
    tier_price_set,
)
from shared.vault.models import CardKey, ImportBatch
from shared.vault.services import card_keys_import

TOPUP_FIELDS = [
    {"name": "account", "label": "Game account", "kind": "text", "required": True},
    {"name": "server", "label": "Server", "kind": "choice", "choices": ["Asia", "Europe"]},
]


@dataclass
class Catalogue:
    standard: PriceTier
    gold: PriceTier
    games: Category
    steam: Category  # inside games
    phone: Category
    steam_wallet: Product
    points: Product
    phone_credit: Product
    gem: Product
    draft: Product
    steam_50: Sku
    steam_100: Sku
    points_10: Sku
    phone_30: Sku
    gem_1: Sku
    draft_1: Sku

    @property
    def categories(self) -> list[Category]:
        return [self.steam, self.games, self.phone]  # children first, for deletion

    @property
    def products(self) -> list[Product]:
        return [self.steam_wallet, self.points, self.phone_credit, self.gem, self.draft]


def _sku(product: Product, code: str, kind: str, face: str, **extra: object) -> Sku:
    return sku_create(
        product=product,
        code=code,
        name=f"{face} {product.name}",
        face_value=face,
        delivery_kind=kind,
        **extra,  # type: ignore[arg-type]
    )


def build_catalogue(*, prefix: str = "sf") -> Catalogue:
    standard, _ = PriceTier.objects.get_or_create(
        code="standard", defaults={"name": "Standard", "rank": 0}
    )
    gold, _ = PriceTier.objects.get_or_create(code="gold", defaults={"name": "Gold", "rank": 1})
    games = category_create(name="Games", slug=f"{prefix}-games")
    steam = category_create(name="Steam", slug=f"{prefix}-steam", parent=games)
    phone = category_create(name="Phone", slug=f"{prefix}-phone")
    listed = ListingStatus.LISTED
    steam_wallet = product_create(
        category=steam,
        name="Steam Wallet",
        slug=f"{prefix}-steam-wallet",
        status=listed,
        tags=["steam", "wallet"],
        is_pinned=True,
        description="Top up your Steam wallet.",
    )
    points = product_create(
        category=games, name="Game Points", slug=f"{prefix}-game-points", status=listed
    )
    phone_credit = product_create(
        category=phone,
        name="Phone Credit",
        slug=f"{prefix}-phone-credit",
        status=listed,
        tags=["mobile"],
    )
    gem = product_create(
        category=steam,
        name="Hidden Gem",
        slug=f"{prefix}-hidden-gem",
        status=listed,
        tags=["gem"],
    )
    draft = product_create(category=games, name="Draft Thing", slug=f"{prefix}-draft")
    steam_50 = _sku(
        steam_wallet,
        f"{prefix}-steam-50",
        DeliveryKind.CARD_KEY,
        "50",
        specs={"region": "CN"},
        max_quantity=5,
    )
    steam_100 = _sku(steam_wallet, f"{prefix}-steam-100", DeliveryKind.CARD_KEY, "100")
    points_10 = _sku(
        points, f"{prefix}-points-10", DeliveryKind.DIRECT_TOPUP, "10", input_fields=TOPUP_FIELDS
    )
    phone_30 = _sku(phone_credit, f"{prefix}-phone-30", DeliveryKind.CARD_KEY, "30")
    gem_1 = _sku(gem, f"{prefix}-gem-1", DeliveryKind.REUSABLE_KEY, "1")
    draft_1 = _sku(draft, f"{prefix}-draft-1", DeliveryKind.CARD_KEY, "1")
    for sku, std, gld in [
        (steam_50, "45.00", "44.00"),
        (steam_100, "90.00", "88.00"),
        (points_10, "9.00", "8.80"),
        (phone_30, "29.00", "28.50"),
        (gem_1, "5.00", "4.80"),
        (draft_1, "1.00", "1.00"),
    ]:
        tier_price_set(tier=standard, sku=sku, price=Decimal(std))
        tier_price_set(tier=gold, sku=sku, price=Decimal(gld))
    _keys(steam_50, 12, prefix)
    _keys(steam_100, 3, prefix)
    return Catalogue(
        standard,
        gold,
        games,
        steam,
        phone,
        steam_wallet,
        points,
        phone_credit,
        gem,
        draft,
        steam_50,
        steam_100,
        points_10,
        phone_30,
        gem_1,
        draft_1,
    )


def _keys(sku: Sku, count: int, prefix: str) -> None:
    content = "\n".join(f"{prefix.upper()}-{sku.code.upper()}-KEY-{n:04d}" for n in range(count))
    card_keys_import(sku=sku, content=content, source="paste", actor_email="hq@kameng.test")


def delete_catalogue(catalogue: Catalogue) -> None:
    """Remove a committed catalogue again (for tests that must commit, like browser tests).
    The price tiers stay: other committed data may use them."""
    skus = [
        catalogue.steam_50,
        catalogue.steam_100,
        catalogue.points_10,
        catalogue.phone_30,
        catalogue.gem_1,
        catalogue.draft_1,
    ]
    CardKey.objects.filter(sku__in=skus).delete()
    ImportBatch.objects.filter(sku__in=skus).delete()
    Sku.objects.filter(pk__in=[s.pk for s in skus]).delete()  # stock and tier prices cascade
    Product.objects.filter(pk__in=[p.pk for p in catalogue.products]).delete()
    for category in catalogue.categories:
        Category.objects.filter(pk=category.pk).delete()
