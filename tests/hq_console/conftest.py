"""Fixtures of the HQ console tests: staff in each role, clients on the platform domain, and
factories of catalogue and supplier rows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import factory
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from shared.catalog.models import Category, DeliveryKind, ListingStatus, PriceTier, Product, Sku
from shared.hq.roles import HQ_ADMIN, HQ_CATALOGUE, HQ_SUPPORT
from shared.suppliers.models import Supplier, SupplierKind

PASSWORD = "console-pass-123"
HQ_HOST = "localhost"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    status = ListingStatus.LISTED


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"sku-{n}")
    name = factory.Sequence(lambda n: f"SKU {n}")
    face_value = Decimal("10.00")
    delivery_kind = DeliveryKind.CARD_KEY


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Supplier {n}")
    kind = SupplierKind.CARD_STOCK


class PriceTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceTier

    code = factory.Sequence(lambda n: f"tier-{n}")
    name = factory.Sequence(lambda n: f"Tier {n}")


@pytest.fixture
def make_staff(db: None) -> Callable[..., Any]:
    """An HQ account in the public schema: staff unless told not, in the given role group."""

    def make(email: str, *, role: str | None = None, is_staff: bool = True, **extra: Any) -> Any:
        user = get_user_model().objects.create_user(
            username=email, email=email, password=PASSWORD, is_staff=is_staff, **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def console_url(name: str, **kwargs: Any) -> str:
    """A console address (tests run outside a request, where the site URLconf is current)."""
    return reverse(f"hq_console:{name}", kwargs=kwargs, urlconf="kameng.urls_public")


def client_for(user: Any | None) -> Client:
    client = Client(HTTP_HOST=HQ_HOST)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def admin(make_staff: Callable[..., Any]) -> Client:
    return client_for(make_staff("admin@hq.test", role=HQ_ADMIN))


@pytest.fixture
def catalogue(make_staff: Callable[..., Any]) -> Client:
    return client_for(make_staff("catalogue@hq.test", role=HQ_CATALOGUE))


@pytest.fixture
def support(make_staff: Callable[..., Any]) -> Client:
    return client_for(make_staff("support@hq.test", role=HQ_SUPPORT))


@pytest.fixture
def anonymous(db: None) -> Client:
    return client_for(None)
