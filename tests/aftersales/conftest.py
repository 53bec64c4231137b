"""Fixtures of the after-sales tests: the orders' catalogue (see tests/orders/conftest.py),
orders bought over HTTP by members and guests, staff clients, private storage in a temporary
folder, and readers of everything a ticket step could write."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from PIL import Image

from shared.ledger.models import Leg, Transaction
from shared.sites.models import Site
from shared.vault.models import CardKey, CardKeySale
from tenants.aftersales.models import Attachment, KeyReissue, Ticket, TicketEvent
from tenants.orders.models import Order, OrderEvent, OrderRefund
from tests.conftest import Network
from tests.orders.conftest import (  # noqa: F401 - fixtures used by the tests
    Shop,
    alpha_markup,
    build_shop,
    client_on,
    new_member,
    pay_by_card,
)

D = Decimal
GUEST_PASSWORD = "guest-pass-123"


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = root
    settings.MEDIA_ROOT = tmp_path / "public"
    return root


@pytest.fixture
def shop(db: None) -> Shop:
    return build_shop("as")


def order_number(response: Any) -> str:
    assert response.status_code == 302, response.content[:2000]
    match = re.fullmatch(r"/order/(K\d{16})/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def order_of(site: Site, number: str) -> Order:
    with tenant_context(site):
        return Order.objects.select_related("sku").get(number=number)


def member_buys(site: Site, member: AbstractUser, sku_id: int, quantity: int = 1) -> str:
    """A member's order paid from the wallet (in the one step of the buy form), over HTTP;
    returns its number."""
    client = client_on(site, member)
    return order_number(
        client.post(
            "/order/new/", {"sku": sku_id, "quantity": quantity, "payment_method": "wallet"}
        )
    )


@dataclass
class GuestOrder:
    client: Client
    number: str
    email: str


def guest_buys(site: Site, sku_id: int, *, email: str, quantity: int = 1) -> GuestOrder:
    """A guest's order paid by card (the signed webhook), over HTTP, then looked up by number
    and query password from a fresh browser (as a guest coming back later would)."""
    buying = client_on(site)
    number = order_number(
        buying.post(
            "/order/new/",
            {
                "sku": sku_id,
                "quantity": quantity,
                "payment_method": "card",
                "email": email,
                "query_password": GUEST_PASSWORD,
            },
        )
    )
    assert buying.post(f"/order/{number}/pay/").status_code == 302
    order = order_of(site, number)
    assert pay_by_card(f"{site.schema_name}:{order.pk}").status_code == 200
    later = client_on(site)
    found = later.post("/order/lookup/", {"number": number, "password": GUEST_PASSWORD})
    assert found.status_code == 302 and found["Location"] == f"/order/{number}/"
    return GuestOrder(later, number, email)


def staff_client(site: Site) -> Client:
    with tenant_context(site):
        owner = get_user_model().objects.get(email=f"owner@{site.slug}.test")
    return client_on(site, owner)


def ticket_id_of(response: Any) -> int:
    assert response.status_code == 302, response.content[:3000]
    match = re.fullmatch(r"/support/(\d+)/", response["Location"])
    assert match, response["Location"]
    return int(match.group(1))


def png(name: str = "shot.png", size: int = 8) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def keys_on(html: str) -> list[str]:
    return re.findall(r"<code[^>]*>([^<]+)</code>", html)


def site_state(site: Site) -> tuple[Any, ...]:
    """Everything a ticket step may write in the site, and the public rows it may touch."""
    with tenant_context(site):
        local = (
            Ticket.objects.count(),
            list(Ticket.objects.order_by("id").values_list("status", "resolution")),
            TicketEvent.objects.count(),
            Attachment.objects.count(),
            KeyReissue.objects.count(),
            list(Order.objects.order_by("id").values_list("status", "amount_refunded")),
            OrderEvent.objects.count(),
            OrderRefund.objects.count(),
        )
    connection.set_schema_to_public()
    public = (
        Transaction.objects.count(),
        Leg.objects.count(),
        CardKeySale.objects.count(),
        CardKey.objects.filter(status="reserved").count(),
        CardKey.objects.filter(status="available").count(),
    )
    return (*local, *public)


@pytest.fixture
def state() -> Callable[[Site], tuple[Any, ...]]:
    return site_state


@pytest.fixture
def alpha(network: Network, alpha_markup: None) -> Site:  # noqa: F811
    return network.alpha
