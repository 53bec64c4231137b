"""Vault fixtures: catalogue rows (factory_boy), an import helper and a two-key keyring."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import factory
import pytest
from factory.django import DjangoModelFactory

from shared.catalog.models import Category, DeliveryKind, Product, Sku
from shared.suppliers.models import Supplier, SupplierKind
from shared.vault import crypto
from shared.vault.models import CardKey, ImportBatch
from shared.vault.services import card_keys_import

ACTOR = "staff@hq.test"


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Vault category {n}")
    slug = factory.Sequence(lambda n: f"vault-category-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Vault product {n}")
    slug = factory.Sequence(lambda n: f"vault-product-{n}")


class SkuFactory(DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"vault-sku-{n}")
    name = factory.Sequence(lambda n: f"Card {n}")
    face_value = Decimal("50.00")
    delivery_kind = DeliveryKind.CARD_KEY
    low_stock_threshold = 2


class SupplierFactory(DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Vault supplier {n}")
    kind = SupplierKind.CARD_STOCK


@pytest.fixture
def sku(db: None) -> Sku:
    return SkuFactory()


@pytest.fixture
def reusable_sku(db: None) -> Sku:
    return SkuFactory(delivery_kind=DeliveryKind.REUSABLE_KEY)


@pytest.fixture
def supplier(db: None) -> Supplier:
    return SupplierFactory()


ImportKeys = Callable[..., ImportBatch]


@pytest.fixture
def import_keys(db: None) -> ImportKeys:
    """Paste keys (one per line) into a SKU's stock."""

    def run(sku: Sku, keys: list[str], **kwargs: Any) -> ImportBatch:
        kwargs.setdefault("source", "paste")
        kwargs.setdefault("actor_email", ACTOR)
        return card_keys_import(sku=sku, content="\n".join(keys), **kwargs)

    return run


def key_ids(batch: ImportBatch) -> list[int]:
    return list(CardKey.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def statuses(sku: Sku) -> dict[int, tuple[str, str | None]]:
    """Every key of the SKU: id -> (status, order_ref)."""
    return {
        key_id: (status, order_ref)
        for key_id, status, order_ref in CardKey.objects.filter(sku=sku).values_list(
            "id", "status", "order_ref"
        )
    }


def random_key() -> str:
    return base64.b32encode(os.urandom(10)).decode()


@pytest.fixture
def two_vault_keys(settings: Any) -> Iterator[dict[str, str]]:
    """A keyring of two AES keys, k1 active; the cached keyring is rebuilt before and after."""
    keys = {name: base64.b64encode(os.urandom(32)).decode() for name in ("k1", "k2")}
    settings.VAULT_KEYS = ",".join(f"{name}:{value}" for name, value in keys.items())
    settings.VAULT_ACTIVE_KEY_ID = "k1"
    crypto.keyring.cache_clear()
    yield keys
    crypto.keyring.cache_clear()
