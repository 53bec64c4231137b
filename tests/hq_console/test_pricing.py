"""Price tiers and the grid of tier prices per SKU."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from shared.catalog.models import PriceTier, TierPrice
from tests.hq_console.conftest import (
    CategoryFactory,
    PriceTierFactory,
    ProductFactory,
    SkuFactory,
    console_url,
)

pytestmark = pytest.mark.django_db


def prices() -> dict[tuple[str, str], Decimal]:
    return {
        (row.tier.code, row.sku.code): row.price
        for row in TierPrice.objects.select_related("tier", "sku")
    }


def test_tier_list_and_create(admin: Client) -> None:
    PriceTierFactory(code="standard", name="Standard", rank=0)
    page = admin.get(console_url("tier_list"))
    assertContains(
        page,
        '<tr data-testid="tier-standard"><td>standard</td><td>Standard</td>'
        '<td class="num">0</td></tr>',
        html=True,
    )
    response = admin.post(console_url("tier_list"), {"code": "Gold", "name": "金牌", "rank": "2"})
    assert response.status_code == 302
    assert response["Location"] == console_url("tier_list")
    assert list(PriceTier.objects.filter(code="gold").values_list("name", "rank")) == [("金牌", 2)]
    assertContains(admin.get(console_url("tier_list")), "Price tier “金牌” created.")


def test_tier_create_with_a_used_code_changes_nothing(admin: Client) -> None:
    PriceTierFactory(code="gold", name="Gold")
    before = list(PriceTier.objects.values_list("code", "name", "rank"))
    response = admin.post(console_url("tier_list"), {"code": "gold", "name": "Other", "rank": "1"})
    assert response.status_code == 200
    assertContains(response, "The tier code &#x27;gold&#x27; is empty or already used.")
    assert list(PriceTier.objects.values_list("code", "name", "rank")) == before


def test_support_sees_tiers_without_the_form(support: Client) -> None:
    response = support.get(console_url("tier_list"))
    assert response.status_code == 200
    assertNotContains(response, 'name="code"')


@pytest.fixture
def grid(db: None) -> dict[str, Any]:
    games = CategoryFactory(name="Games")
    steam_category = CategoryFactory(name="Steam", parent=games)
    product = ProductFactory(name="Steam Wallet", category=steam_category)
    s50 = SkuFactory(product=product, code="s-50", name="¥50", face_value=Decimal("50"))
    s100 = SkuFactory(product=product, code="s-100", name="¥100", face_value=Decimal("100"))
    other = SkuFactory(code="other-1", product__category=CategoryFactory(name="Films"))
    gold = PriceTierFactory(code="gold", name="Gold", rank=1)
    std = PriceTierFactory(code="std", name="Standard", rank=0)
    TierPrice.objects.create(tier=gold, sku=s50, price=Decimal("48.00"))
    return {
        "games": games,
        "product": product,
        "s50": s50,
        "s100": s100,
        "other": other,
        "gold": gold,
        "std": std,
    }


def cell(tier: PriceTier, sku: Any) -> str:
    return f"price_{tier.pk}_{sku.pk}"


def test_grid_shows_a_products_skus_by_tier(admin: Client, grid: dict[str, Any]) -> None:
    response = admin.get(console_url("tier_prices"), {"product": grid["product"].pk})
    assert response.status_code == 200
    assertContains(response, "<th>Standard</th><th>Gold</th>", html=True)
    assertContains(
        response,
        f'<input type="text" name="{cell(grid["gold"], grid["s50"])}" value="48.00" '
        f'inputmode="decimal" size="8" aria-label="Gold · s-50" '
        f'id="id_{cell(grid["gold"], grid["s50"])}">',
        html=True,
    )
    assertContains(response, 'data-testid="grid-s-100"')
    assertNotContains(response, 'data-testid="grid-other-1"')


def test_grid_of_a_category_includes_its_sub_categories(
    admin: Client, grid: dict[str, Any]
) -> None:
    response = admin.get(console_url("tier_prices"), {"category": grid["games"].pk})
    assertContains(response, 'data-testid="grid-s-50"')
    assertContains(response, 'data-testid="grid-s-100"')
    assertNotContains(response, 'data-testid="grid-other-1"')


def test_grid_saves_filled_cells_and_leaves_empty_ones(admin: Client, grid: dict[str, Any]) -> None:
    path = console_url("tier_prices") + f"?product={grid['product'].pk}"
    response = admin.post(
        path,
        {
            cell(grid["gold"], grid["s50"]): "47.5",
            cell(grid["std"], grid["s50"]): "",
            cell(grid["gold"], grid["s100"]): "95.00",
            cell(grid["std"], grid["s100"]): " 98 ",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == path
    assert prices() == {
        ("gold", "s-50"): Decimal("47.50"),
        ("gold", "s-100"): Decimal("95.00"),
        ("std", "s-100"): Decimal("98.00"),
    }
    assertContains(admin.get(path), "3 prices saved.")


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("0", "The amount must be greater than zero."),
        ("-3", "The amount must be greater than zero."),
        ("1.999", "Ensure that there are no more than 2 decimal places."),
        ("abc", "Enter a number."),
    ],
)
def test_grid_with_one_bad_price_saves_nothing(
    admin: Client, grid: dict[str, Any], bad: str, error: str
) -> None:
    before = prices()
    response = admin.post(
        console_url("tier_prices") + f"?product={grid['product'].pk}",
        {cell(grid["gold"], grid["s100"]): "95.00", cell(grid["std"], grid["s50"]): bad},
    )
    assert response.status_code == 200
    assertContains(response, error)
    assertContains(response, "Nothing was saved: correct the prices marked below.")
    assert prices() == before


def test_grid_is_read_only_for_support(support: Client, grid: dict[str, Any]) -> None:
    response = support.get(console_url("tier_prices"), {"product": grid["product"].pk})
    assert response.status_code == 200
    assertContains(response, 'aria-label="Gold · s-50" disabled')
    assertNotContains(response, "Save prices")
