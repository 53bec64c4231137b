"""The console's front page and the low-stock alerts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from shared.catalog.models import ListingStatus, StockAlert
from shared.vault import services as vault
from tests.hq_console.conftest import (
    PriceTierFactory,
    ProductFactory,
    SkuFactory,
    SupplierFactory,
    console_url,
)

pytestmark = pytest.mark.django_db

COUNTS = ("suppliers", "products-listed", "products-draft", "skus", "tiers", "keys", "alerts")


def counts(response: Any) -> dict[str, int]:
    html = response.content.decode()
    return {
        name: int(re.search(rf'data-testid="count-{name}">(\d+)<', html).group(1))  # type: ignore[union-attr]
        for name in COUNTS
    }


def test_overview_counts_what_hq_has(admin: Client) -> None:
    before = counts(admin.get(console_url("overview")))
    SupplierFactory.create_batch(2)
    listed = ProductFactory(status=ListingStatus.LISTED)
    ProductFactory.create_batch(3, status=ListingStatus.DRAFT)
    ProductFactory(status=ListingStatus.DELISTED)
    sku = SkuFactory(product=listed, low_stock_threshold=10)
    SkuFactory(product=listed)
    PriceTierFactory()
    vault.card_keys_import(sku=sku, content="K1\nK2\nK3", source="paste", actor_email="a@hq.test")
    # Three keys against a threshold of ten: the import itself opened the alert.
    assert StockAlert.objects.filter(sku=sku, resolved_at__isnull=True, available=3).exists()
    resolved = SkuFactory(product=listed)
    StockAlert.objects.create(sku=resolved, available=0, threshold=5, resolved_at=timezone.now())

    response = admin.get(console_url("overview"))

    assert response.status_code == 200
    after = counts(response)
    assert {name: after[name] - before[name] for name in COUNTS} == {
        "suppliers": 2,
        "products-listed": 1,
        "products-draft": 3,
        "skus": 3,
        "tiers": 1,
        "keys": 3,
        "alerts": 1,
    }
    for link in ("supplier_list", "product_list", "tier_list", "key_import", "alert_list"):
        assertContains(response, f'href="{console_url(link)}"')


def test_overview_links_only_what_the_role_may_open(support: Client) -> None:
    response = support.get(console_url("overview"))
    assert response.status_code == 200
    assertContains(response, f'href="{console_url("batch_list")}"')
    assertNotContains(response, f'href="{console_url("key_import")}"')


def test_overview_speaks_chinese(admin: Client) -> None:
    response = admin.get(console_url("overview"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assertContains(response, '<html lang="zh-hans">')


def test_alerts_list_open_alerts_with_stock_now_and_an_import_link(admin: Client) -> None:
    sku = SkuFactory(
        code="psn-100", name="HK$100", product__name="PSN card", low_stock_threshold=10
    )
    vault.card_keys_import(sku=sku, content="A1\nA2", source="paste", actor_email="a@hq.test")
    alert = StockAlert.objects.get(sku=sku, resolved_at__isnull=True)  # opened by the import
    closed = SkuFactory(code="closed-1")
    StockAlert.objects.create(sku=closed, available=0, threshold=5, resolved_at=timezone.now())

    response = admin.get(console_url("alert_list"))

    assert response.status_code == 200
    since = timezone.localtime(alert.created_at).strftime("%Y-%m-%d %H:%M")
    assertContains(
        response,
        f'<tr data-testid="alert-psn-100"><td>psn-100</td><td>PSN card · HK$100</td>'
        f'<td class="num">2</td><td class="num">10</td><td>{since}</td>'
        f'<td><a class="button secondary" href="{console_url("key_import")}?sku={sku.pk}">'
        f"Import keys</a></td></tr>",
        html=True,
    )
    assertNotContains(response, "closed-1")


def test_alerts_page_without_import_permission_has_no_import_link(support: Client) -> None:
    sku = SkuFactory(code="psn-200")
    StockAlert.objects.create(sku=sku, available=0, threshold=10)
    response = support.get(console_url("alert_list"))
    assertContains(response, 'data-testid="alert-psn-200"')
    assertNotContains(response, f"{console_url('key_import')}?sku=")
