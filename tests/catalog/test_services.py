"""Catalogue and supplier services: valid writes, and bad input that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from shared.catalog import services
from shared.catalog.models import ListingStatus, Product, Sku, TierPrice
from shared.catalog.selectors import (
    active_sku,
    category_ancestry,
    category_descendant_ids,
    products_on_sale,
)
from shared.suppliers.models import Supplier, SupplierOffer
from shared.suppliers.selectors import offers_for_sku
from shared.suppliers.services import supplier_create, supplier_offer_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def product() -> Product:
    games = services.category_create(name="Game cards")
    return services.product_create(category=games, name="Steam wallet", status="listed")


def test_sku_money_is_decimal_with_two_places(product: Product) -> None:
    sku = services.sku_create(
        product=product, code="STEAM-100", name="100", face_value="100", delivery_kind="card_key"
    )
    assert sku.code == "steam-100"
    assert sku.face_value == Decimal("100.00")
    tier = services.price_tier_create(code="gold", name="Gold")
    row = services.tier_price_set(tier=tier, sku=sku, price="95.5")
    assert row.price == Decimal("95.50")
    services.tier_price_set(tier=tier, sku=sku, price="94.00")
    assert TierPrice.objects.get(tier=tier, sku=sku).price == Decimal("94.00")


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("0", "The amount must be greater than zero."),
        ("-1", "The amount must be greater than zero."),
        ("1.001", "Use at most 2 decimal places."),
        ("abc", "'abc' is not an amount."),
        ("NaN", "'NaN' is not an amount."),
        ("1e12", "The amount is too large."),
    ],
)
def test_bad_tier_prices_change_nothing(product: Product, price: str, message: str) -> None:
    sku = services.sku_create(
        product=product, code="s1", name="s1", face_value="10", delivery_kind="card_key"
    )
    tier = services.price_tier_create(code="std", name="Standard")
    with pytest.raises(ValidationError) as excinfo:
        services.tier_price_set(tier=tier, sku=sku, price=price)
    assert excinfo.value.message_dict == {"price": [message]}
    assert not TierPrice.objects.filter(sku=sku).exists()


def test_direct_topup_needs_fields_and_duplicate_codes_are_refused(product: Product) -> None:
    with pytest.raises(ValidationError, match="at least one input field"):
        services.sku_create(
            product=product, code="t1", name="t1", face_value="10", delivery_kind="direct_topup"
        )
    services.sku_create(
        product=product,
        code="t1",
        name="t1",
        face_value="10",
        delivery_kind="direct_topup",
        input_fields=[{"name": "phone", "kind": "phone"}],
    )
    with pytest.raises(ValidationError, match="already used"):
        services.sku_create(
            product=product, code="T1", name="x", face_value="1", delivery_kind="card_key"
        )
    assert Sku.objects.filter(product=product).count() == 1


def test_active_sku_reads_the_sku_and_its_product_as_the_orm_does(
    product: Product, django_assert_num_queries
) -> None:
    sku = services.sku_create(
        product=product,
        code="t2",
        name="Top-up",
        face_value="10",
        delivery_kind="direct_topup",
        input_fields=[{"name": "phone", "kind": "phone"}],
        specs={"region": "CN"},
    )
    Product.objects.filter(pk=product.pk).update(tags=["steam", "hot"])
    orm = Sku.objects.select_related("product").get(pk=sku.pk)
    with django_assert_num_queries(1):
        read = active_sku(sku.pk)
        assert read is not None
        assert read.product.tags == ["steam", "hot"]
    fields = [f.attname for f in Sku._meta.concrete_fields]
    assert [getattr(read, f) for f in fields] == [getattr(orm, f) for f in fields]
    assert read.input_fields[0]["name"] == "phone"
    assert read.face_value == Decimal("10.00")
    assert read.product.name == orm.product.name
    assert read.product.created_at == orm.product.created_at
    assert not read._state.adding
    Sku.objects.filter(pk=sku.pk).update(is_active=False)
    assert active_sku(sku.pk) is None
    assert active_sku(10**30) is None  # out of any id's range: no match, no error


def test_listing_schedule_is_applied_at_read_time(product: Product) -> None:
    now = timezone.now()
    later = services.product_create(
        category=product.category,
        name="Coming soon",
        status=ListingStatus.LISTED,
        list_at=now + timedelta(hours=1),
        delist_at=now + timedelta(hours=2),
    )
    assert list(products_on_sale(at=now)) == [product]
    assert set(products_on_sale(at=now + timedelta(minutes=90))) == {product, later}
    assert list(products_on_sale(at=now + timedelta(hours=3))) == [product]
    with pytest.raises(ValidationError, match="after the listing time"):
        services.product_update(product=later, delist_at=now)
    later.refresh_from_db()
    assert later.delist_at == now + timedelta(hours=2)


def test_category_tree_helpers_and_cycles(product: Product) -> None:
    root = product.category
    child = services.category_create(name="Steam", parent=root)
    grandchild = services.category_create(name="Steam CN", parent=child)
    assert set(category_descendant_ids(root)) == {root.pk, child.pk, grandchild.pk}
    assert category_ancestry(grandchild.pk) == [grandchild.pk, child.pk, root.pk]
    with pytest.raises(ValidationError, match="inside itself"):
        services.category_update(category=root, parent=grandchild)
    root.refresh_from_db()
    assert root.parent is None


def test_supplier_offers_match_delivery_kind_and_sort_by_priority(product: Product) -> None:
    keys = services.sku_create(
        product=product, code="k1", name="k1", face_value="10", delivery_kind="card_key"
    )
    stock = supplier_create(name="Stock A", kind="card_stock")
    cheap = supplier_create(name="Stock B", kind="card_stock")
    api = supplier_create(name="API", kind="api_topup", api_base_url="https://api.example.com")
    supplier_offer_set(supplier=stock, sku=keys, cost="9.00", priority=10)
    supplier_offer_set(supplier=cheap, sku=keys, cost="8.50", priority=10)
    with pytest.raises(ValidationError, match="cannot offer"):
        supplier_offer_set(supplier=api, sku=keys, cost="8")
    assert [o.supplier.name for o in offers_for_sku(keys)] == ["Stock B", "Stock A"]
    assert not SupplierOffer.objects.filter(supplier=api).exists()
    with pytest.raises(ValidationError, match="already exists"):
        supplier_create(name="stock a", kind="card_stock")
    assert Supplier.objects.count() == 3
