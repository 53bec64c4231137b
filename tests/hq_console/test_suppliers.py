"""Suppliers: list, create, edit (write-only secret), offers and live card-key stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from shared.catalog.models import DeliveryKind
from shared.suppliers.models import Supplier, SupplierKind, SupplierOffer, SupplierStatus
from shared.vault import services as vault
from tests.hq_console.conftest import SkuFactory, SupplierFactory, console_url

pytestmark = pytest.mark.django_db

SECRET = "sk-live-Zq8pW3nT"


def supplier_row(supplier: Supplier) -> tuple[Any, ...]:
    supplier.refresh_from_db()
    return (
        supplier.name,
        supplier.kind,
        supplier.status,
        supplier.contact_name,
        supplier.contact_email,
        supplier.contact_phone,
        supplier.api_base_url,
        supplier.api_key_id,
        supplier.notes,
        bytes(supplier.api_secret_ciphertext or b""),
    )


def test_list_shows_suppliers_and_whether_a_secret_is_set(admin: Client) -> None:
    with_secret = SupplierFactory(name="Alpha Cards Co", contact_name="Li", contact_email="li@a.cn")
    vault.supplier_secret_set(supplier=with_secret, secret=SECRET)
    SupplierFactory(name="Beta Keys", status=SupplierStatus.PAUSED)

    response = admin.get(console_url("supplier_list"))

    assert response.status_code == 200
    assertContains(
        response,
        f'<tr><td><a href="{console_url("supplier_detail", supplier_id=with_secret.pk)}">'
        "Alpha Cards Co</a></td><td>Card-key stock</td>"
        '<td><span class="badge active">Active</span></td><td>Li · li@a.cn</td>'
        "<td>secret set ✓</td></tr>",
        html=True,
    )
    assertContains(response, '<span class="badge paused">Paused</span>', html=True)
    assertNotContains(response, SECRET)
    assertContains(response, f'href="{console_url("supplier_create")}"')


def test_create_supplier_with_secret(admin: Client) -> None:
    response = admin.post(
        console_url("supplier_create"),
        {
            "name": "Top-up Gateway",
            "kind": SupplierKind.API_TOPUP,
            "status": SupplierStatus.ACTIVE,
            "contact_name": "Wang",
            "contact_email": "wang@gw.cn",
            "contact_phone": "13800000000",
            "api_base_url": "https://api.gw.cn/v2",
            "api_key_id": "kid-42",
            "api_secret": SECRET,
            "notes": "Pays <b>weekly</b>",
        },
    )

    supplier = Supplier.objects.get(name="Top-up Gateway")
    assert response.status_code == 302
    assert response["Location"] == console_url("supplier_detail", supplier_id=supplier.pk)
    assert supplier_row(supplier)[:9] == (
        "Top-up Gateway",
        "api_topup",
        "active",
        "Wang",
        "wang@gw.cn",
        "13800000000",
        "https://api.gw.cn/v2",
        "kid-42",
        "Pays <b>weekly</b>",
    )
    assert vault.supplier_secret_get(supplier=supplier) == SECRET
    assert SECRET.encode() not in bytes(supplier.api_secret_ciphertext or b"")

    detail = admin.get(response["Location"])
    assertContains(detail, '<dd data-testid="secret-state">secret set ✓</dd>', html=True)
    assertContains(detail, "Pays &lt;b&gt;weekly&lt;/b&gt;")  # escaped, never raw HTML
    assertNotContains(detail, SECRET)
    assertContains(detail, "Supplier “Top-up Gateway” created.")


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"name": "", "kind": "card_stock"}, "This field is required."),
        (
            {"name": "Dup Co", "kind": "card_stock"},
            "A supplier named &#x27;Dup Co&#x27; already exists.",
        ),
        ({"name": "New API", "kind": "api_topup"}, "An API supplier needs its API address."),
        (
            {"name": "Bad mail", "kind": "card_stock", "contact_email": "nope"},
            "Enter a valid email address.",
        ),
        (
            {"name": "Bad kind", "kind": "pirate"},
            "Select a valid choice. pirate is not one of the available choices.",
        ),
    ],
)
def test_create_supplier_rejects_bad_input(
    admin: Client, data: dict[str, str], field_error: str
) -> None:
    SupplierFactory(name="Dup Co")
    before = list(Supplier.objects.order_by("id").values_list("id", "name"))

    response = admin.post(
        console_url("supplier_create"), {"status": "active", "api_secret": SECRET, **data}
    )

    assert response.status_code == 200
    assertContains(response, field_error)
    assertNotContains(response, SECRET)  # the secret field never renders its value
    assert list(Supplier.objects.order_by("id").values_list("id", "name")) == before


def test_edit_supplier_keeps_the_secret_when_left_empty(admin: Client) -> None:
    supplier = SupplierFactory(name="Old Name", kind=SupplierKind.CARD_STOCK)
    vault.supplier_secret_set(supplier=supplier, secret=SECRET)
    ciphertext = bytes(supplier.api_secret_ciphertext or b"")

    form = admin.get(console_url("supplier_edit", supplier_id=supplier.pk))
    assertContains(form, '<strong data-testid="secret-state">secret set ✓</strong>', html=True)
    assertNotContains(form, SECRET)

    response = admin.post(
        console_url("supplier_edit", supplier_id=supplier.pk),
        {
            "name": "New Name",
            "kind": SupplierKind.MANUAL,
            "status": "paused",
            "contact_name": "Zhao",
            "api_secret": "",
        },
    )

    assert response.status_code == 302
    assert supplier_row(supplier) == (
        "New Name",
        "card_stock",
        "paused",
        "Zhao",
        "",
        "",
        "",
        "",
        "",
        ciphertext,
    )  # the kind is fixed once created: the posted one is ignored


def test_edit_supplier_replaces_the_secret(admin: Client) -> None:
    supplier = SupplierFactory(name="Rotating")
    vault.supplier_secret_set(supplier=supplier, secret="old-secret")
    admin.post(
        console_url("supplier_edit", supplier_id=supplier.pk),
        {"name": "Rotating", "status": "active", "api_secret": "new-secret"},
    )
    assert vault.supplier_secret_get(supplier=supplier) == "new-secret"


def test_edit_supplier_invalid_changes_nothing(admin: Client) -> None:
    SupplierFactory(name="Taken")
    supplier = SupplierFactory(name="Mine")
    before = supplier_row(supplier)
    response = admin.post(
        console_url("supplier_edit", supplier_id=supplier.pk),
        {"name": "Taken", "status": "active", "api_secret": "would-be-new"},
    )
    assert response.status_code == 200
    assertContains(response, "Supplier with this Name already exists.")
    assertContains(response, "<h1>Edit supplier Mine</h1>", html=True)
    assert supplier_row(supplier) == before


def test_detail_shows_offers_and_live_stock(admin: Client) -> None:
    supplier = SupplierFactory(name="Card House")
    sku = SkuFactory(code="steam-50", name="¥50", product__name="Steam")
    other = SkuFactory(code="steam-20", name="¥20", product__name="Steam")
    SupplierOffer.objects.create(supplier=supplier, sku=sku, cost=Decimal("47.50"), priority=5)
    vault.card_keys_import(
        sku=sku, content="S1\nS2\nS3", source="paste", supplier=supplier, actor_email="a@hq.test"
    )
    vault.card_keys_import(sku=other, content="X1", source="paste", actor_email="a@hq.test")

    response = admin.get(console_url("supplier_detail", supplier_id=supplier.pk))

    assert response.status_code == 200
    offer = SupplierOffer.objects.get(supplier=supplier)
    edit = console_url("supplier_offer_edit", supplier_id=supplier.pk, offer_id=offer.pk)
    assertContains(
        response,
        '<tr data-testid="offer-steam-50"><td>steam-50</td><td>Steam · ¥50</td>'
        '<td class="num">47.50 CNY</td><td class="num">5</td>'
        f'<td><span class="badge">active</span></td><td><a href="{edit}">Edit</a></td></tr>',
        html=True,
    )
    assertContains(
        response,
        '<tr data-testid="stock-steam-50"><td>steam-50</td><td>Steam · ¥50</td>'
        '<td class="num">3</td></tr>',
        html=True,
    )
    assertNotContains(response, 'data-testid="stock-steam-20"')  # not this supplier's keys


def test_add_offer(admin: Client) -> None:
    supplier = SupplierFactory(kind=SupplierKind.CARD_STOCK)
    sku = SkuFactory(delivery_kind=DeliveryKind.CARD_KEY)
    response = admin.post(
        console_url("supplier_offer_create", supplier_id=supplier.pk),
        {"sku": sku.pk, "cost": "88.80", "priority": "20", "is_active": "on"},
    )
    assert response.status_code == 302
    assert list(supplier.offers.values_list("sku_id", "cost", "priority", "is_active")) == [
        (sku.pk, Decimal("88.80"), 20, True)
    ]


@pytest.mark.parametrize(
    ("kind", "delivery", "data", "error"),
    [
        (
            SupplierKind.API_TOPUP,
            DeliveryKind.CARD_KEY,
            {"cost": "1.00", "priority": "1"},
            "A Direct top-up via API supplier cannot offer a Card key SKU.",
        ),
        (
            SupplierKind.CARD_STOCK,
            DeliveryKind.CARD_KEY,
            {"cost": "-1", "priority": "1"},
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            SupplierKind.CARD_STOCK,
            DeliveryKind.CARD_KEY,
            {"cost": "1.00", "priority": "1001"},
            "Ensure this value is less than or equal to 1000.",
        ),
    ],
)
def test_add_offer_rejects_bad_input(
    admin: Client, kind: str, delivery: str, data: dict[str, str], error: str
) -> None:
    supplier = SupplierFactory(kind=kind)
    sku = SkuFactory(delivery_kind=delivery)
    response = admin.post(
        console_url("supplier_offer_create", supplier_id=supplier.pk), {"sku": sku.pk, **data}
    )
    assert response.status_code == 200
    assertContains(response, error)
    assert not SupplierOffer.objects.filter(supplier=supplier).exists()


def test_add_offer_twice_for_a_sku_is_refused(admin: Client) -> None:
    supplier = SupplierFactory()
    sku = SkuFactory()
    SupplierOffer.objects.create(supplier=supplier, sku=sku, cost=Decimal("5.00"))
    response = admin.post(
        console_url("supplier_offer_create", supplier_id=supplier.pk),
        {"sku": sku.pk, "cost": "1.00", "priority": "1"},
    )
    assertContains(response, "This supplier already offers this SKU: edit that offer instead.")
    assert list(supplier.offers.values_list("cost", flat=True)) == [Decimal("5.00")]


def test_edit_offer(admin: Client) -> None:
    supplier = SupplierFactory()
    sku = SkuFactory()
    other_sku = SkuFactory()
    offer = SupplierOffer.objects.create(supplier=supplier, sku=sku, cost=Decimal("5.00"))
    response = admin.post(
        console_url("supplier_offer_edit", supplier_id=supplier.pk, offer_id=offer.pk),
        {"sku": other_sku.pk, "cost": "4.20", "priority": "7"},  # the SKU cannot change
    )
    assert response.status_code == 302
    assert list(supplier.offers.values_list("sku_id", "cost", "priority", "is_active")) == [
        (sku.pk, Decimal("4.20"), 7, False)
    ]


def test_offer_of_another_supplier_is_404_and_unchanged(admin: Client) -> None:
    mine, theirs = SupplierFactory(), SupplierFactory()
    offer = SupplierOffer.objects.create(supplier=theirs, sku=SkuFactory(), cost=Decimal("5.00"))
    response = admin.post(
        console_url("supplier_offer_edit", supplier_id=mine.pk, offer_id=offer.pk),
        {"cost": "0.01", "priority": "0", "is_active": "on"},
    )
    assert response.status_code == 404
    offer.refresh_from_db()
    assert (offer.cost, offer.priority, offer.is_active) == (Decimal("5.00"), 100, True)
