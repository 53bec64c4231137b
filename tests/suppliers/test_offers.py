"""Which offers a direct top-up tries and in what order; the protocol field in the HQ console;
and the demo's simulator suppliers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shared.catalog.models import DeliveryKind, Sku
from shared.suppliers.adapters import supplier_callback_url, topup_offers
from shared.suppliers.models import Supplier, SupplierOffer, SupplierProtocol, SupplierStatus
from shared.suppliers.services import supplier_create, supplier_offer_set, supplier_update
from shared.vault.services import supplier_secret_get
from tests.hq_console.conftest import SkuFactory, client_for, console_url

pytestmark = pytest.mark.django_db

PHONE_FIELD = [{"name": "phone", "label": "Phone", "kind": "phone"}]


def topup_sku(code: str) -> Sku:
    sku: Sku = SkuFactory(
        code=code, delivery_kind=DeliveryKind.DIRECT_TOPUP, input_fields=PHONE_FIELD
    )
    return sku


def api(name: str, **fields: Any) -> Supplier:
    return supplier_create(
        name=name, kind="api_topup", api_base_url=f"https://{name}.test/api", **fields
    )


def test_topup_offers_best_first_and_only_usable_ones() -> None:
    sku, other_sku = topup_sku("qb-10"), topup_sku("qb-50")
    second = api("second")
    first = api("first")
    dearer_same_priority = api("dearer")
    paused = api("paused")
    inactive_offer = api("inactive")
    manual = supplier_create(name="by hand", kind="manual")
    supplier_offer_set(supplier=second, sku=sku, cost=Decimal("9.00"), priority=20)
    supplier_offer_set(supplier=first, sku=sku, cost=Decimal("9.50"), priority=10)
    supplier_offer_set(supplier=dearer_same_priority, sku=sku, cost=Decimal("9.40"), priority=20)
    supplier_offer_set(supplier=paused, sku=sku, cost=Decimal("1.00"), priority=0)
    supplier_update(supplier=paused, status=SupplierStatus.PAUSED)
    supplier_offer_set(supplier=inactive_offer, sku=sku, cost=Decimal("1"), priority=0,
                       is_active=False)  # fmt: skip
    supplier_offer_set(supplier=manual, sku=sku, cost=Decimal("1.00"), priority=0)
    supplier_offer_set(supplier=first, sku=other_sku, cost=Decimal("1.00"), priority=0)

    offers = topup_offers(sku)

    # Lower priority number first; within a priority, the cheaper first.
    assert [(o.supplier.name, o.priority, o.cost) for o in offers] == [
        ("first", 10, Decimal("9.50")),
        ("second", 20, Decimal("9.00")),
        ("dearer", 20, Decimal("9.40")),
    ]
    assert all(isinstance(o, SupplierOffer) for o in offers)
    assert topup_offers(topup_sku("qb-100")) == []


def test_callback_url_is_on_the_platform_domain(settings: Any) -> None:
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "https", "8443"
    supplier = api("calls-back")
    assert supplier_callback_url(supplier) == (
        f"https://localhost:8443/suppliers/callback/{supplier.pk}/"
    )


def test_protocol_is_chosen_in_the_console_and_validated() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from shared.hq.roles import HQ_ADMIN

    staff = get_user_model().objects.create_user(
        username="admin@hq.test", email="admin@hq.test", password="x-pass-123", is_staff=True
    )
    staff.groups.add(Group.objects.get(name=HQ_ADMIN))
    admin: Client = client_for(staff)
    response = admin.post(
        console_url("supplier_create"),
        {
            "name": "Classic Co",
            "kind": "api_topup",
            "status": "active",
            "api_base_url": "https://classic.test/api",
            "api_key_id": "10086",
            "api_protocol": "classic",
            "api_secret": "md5-key",
        },
    )
    supplier = Supplier.objects.get(name="Classic Co")
    assert response.status_code == 302
    assert supplier.api_protocol == SupplierProtocol.CLASSIC

    form = admin.get(console_url("supplier_edit", supplier_id=supplier.pk))
    assert '<option value="classic" selected>' in form.content.decode()

    bad = admin.post(
        console_url("supplier_edit", supplier_id=supplier.pk),
        {"name": "Classic Co", "kind": "api_topup", "status": "active",
         "api_base_url": "https://classic.test/api", "api_protocol": "soap"},
    )  # fmt: skip
    assert bad.status_code == 200
    assert "Select a valid choice. soap is not one of the available choices." in (
        bad.content.decode()
    )
    supplier.refresh_from_db()
    assert supplier.api_protocol == "classic"
    with pytest.raises(Exception, match="Unknown API protocol"):
        supplier_update(supplier=supplier, api_protocol="soap")


def test_demo_simulator_suppliers_are_seeded_idempotently(settings: Any) -> None:
    from shared.hq.demo_catalog import demo_topup_suppliers_seed

    skus = [topup_sku("cmcc-30"), topup_sku("wzry-60")]
    card_sku = SkuFactory(code="steam-50")  # a card-key SKU: no top-up offer

    first = demo_topup_suppliers_seed()
    again = demo_topup_suppliers_seed()

    assert (
        first
        == again
        == [
            f"星河直充 (kameng) http://127.0.0.1:{settings.SUPPLIER_SIMULATOR_KAMENG_PORT}/api/v1",
            f"云海卡盟 (classic) http://127.0.0.1:{settings.SUPPLIER_SIMULATOR_CLASSIC_PORT}/api",
        ]
    )
    kameng, classic = Supplier.objects.get(name="星河直充"), Supplier.objects.get(name="云海卡盟")
    assert (kameng.api_protocol, classic.api_protocol) == ("kameng", "classic")
    assert supplier_secret_get(supplier=classic) == settings.SUPPLIER_SIMULATOR_SECRET
    for sku in skus:
        assert [(o.supplier.name, o.priority) for o in topup_offers(sku)] == [
            ("星河直充", 10),
            ("云海卡盟", 20),
        ]
    assert SupplierOffer.objects.filter(sku__in=skus).count() == 4
    assert not SupplierOffer.objects.filter(sku=card_sku).exists()
