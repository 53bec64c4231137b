"""Fixtures of the order tests: a small catalogue with suppliers and keys, clients on a site's
domain, funded members, the payment webhook driven over HTTP, and readers of what was written.

| SKU (prefix-…) | delivery     | HQ price | supplier cost | stock           |
|----------------|--------------|----------|---------------|-----------------|
| card           | card key     | 9.00     | 8.00          | 5 keys (max 3)  |
| reuse          | reusable key | 2.00     | 1.00          | 1 shared key    |
| manual         | manual       | 20.00    | 15.00         | unlimited       |
| topup          | direct topup | 30.00    | 25.00 / 26.00 | two API offers  |

Sites price at HQ's standard tier; `alpha` adds a retail markup of 1.00 (`alpha_markup`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from shared.catalog.models import DeliveryKind, ListingStatus, PriceTier, Sku
from shared.catalog.services import category_create, product_create, sku_create, tier_price_set
from shared.ledger.models import Leg, Settlement, Transaction
from shared.payments import conf as payments_conf
from shared.payments import sandbox
from shared.payments.models import CheckoutSession
from shared.sites.models import Site
from shared.suppliers.models import Supplier
from shared.suppliers.services import supplier_create, supplier_offer_set
from shared.vault.models import CardKey, CardKeySale
from shared.vault.services import card_keys_import
from tenants.members.services import member_create
from tenants.orders.models import Order, OrderEvent, OrderRefund
from tenants.pricing.services import price_rule_set
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind, MemberTransaction
from tenants.wallets.services import wallet_top_up
from tests.conftest import MEMBER_PASSWORD, Network, site_host

D = Decimal
WEBHOOK_PATH = "/payments/webhooks/stripe/"
TOPUP_FIELDS = [
    {"name": "phone", "label": "Phone number", "kind": "phone", "required": True},
]


@dataclass
class Shop:
    card: Sku
    reuse: Sku
    manual: Sku
    topup: Sku
    keys_supplier: Supplier
    manual_supplier: Supplier


def build_shop(prefix: str, *, card_keys: int = 5) -> Shop:
    """The catalogue above, built through HQ's services (inside the caller's transaction)."""
    standard, _ = PriceTier.objects.get_or_create(
        code="standard", defaults={"name": "Standard", "rank": 0}
    )
    category = category_create(name=f"Orders {prefix}", slug=f"{prefix}-cat")
    product = product_create(
        category=category, name="Game Card", slug=f"{prefix}-game-card", status=ListingStatus.LISTED
    )
    skus = {}
    for code, kind, price, extra in [
        ("card", DeliveryKind.CARD_KEY, "9.00", {"max_quantity": 3}),
        ("reuse", DeliveryKind.REUSABLE_KEY, "2.00", {}),
        ("manual", DeliveryKind.MANUAL, "20.00", {}),
        ("topup", DeliveryKind.DIRECT_TOPUP, "30.00", {"input_fields": TOPUP_FIELDS}),
    ]:
        sku = sku_create(
            product=product,
            code=f"{prefix}-{code}",
            name=code.title(),
            face_value=price,
            delivery_kind=kind,
            low_stock_threshold=0,
            **extra,  # type: ignore[arg-type]
        )
        tier_price_set(tier=standard, sku=sku, price=D(price))
        skus[code] = sku
    keys_supplier = supplier_create(name=f"Keys {prefix}", kind="card_stock")
    manual_supplier = supplier_create(name=f"Hands {prefix}", kind="manual")
    supplier_offer_set(supplier=keys_supplier, sku=skus["card"], cost="8.00")
    supplier_offer_set(supplier=keys_supplier, sku=skus["reuse"], cost="1.00")
    supplier_offer_set(supplier=manual_supplier, sku=skus["manual"], cost="15.00")
    card_keys_import(
        sku=skus["card"],
        content="\n".join(f"{prefix.upper()}-CARD-{n:04d}" for n in range(card_keys)),
        source="paste",
        actor_email="hq@kameng.test",
        supplier=keys_supplier,
    )
    card_keys_import(
        sku=skus["reuse"],
        content=f"{prefix.upper()}-SHARED-KEY",
        source="paste",
        actor_email="hq@kameng.test",
        supplier=keys_supplier,
    )
    return Shop(
        card=skus["card"],
        reuse=skus["reuse"],
        manual=skus["manual"],
        topup=skus["topup"],
        keys_supplier=keys_supplier,
        manual_supplier=manual_supplier,
    )


@pytest.fixture
def shop(db: None) -> Shop:
    return build_shop("ord")


@pytest.fixture
def alpha_markup(network: Network) -> None:
    """`alpha` sells at HQ's price plus 1.00."""
    with tenant_context(network.alpha):
        price_rule_set(kind="retail", markup_kind="fixed", markup_value=D("1.00"))


# --- Clients and members ---------------------------------------------------------------------


def client_on(site: Site, user: AbstractUser | None = None) -> Client:
    """A client on the site's domain in English, signed in as `user` when given."""
    # A fresh address per client: lookup throttling counts per IP address.
    a, b, c = uuid.uuid4().bytes[:3]
    client = Client(HTTP_HOST=site_host(site), REMOTE_ADDR=f"10.{a}.{b}.{c}")
    client.cookies["django_language"] = "en"
    if user is not None:
        with tenant_context(site):
            client.force_login(user)
    return client


def new_member(site: Site, *, funds: str = "0", name: str = "buyer") -> AbstractUser:
    with tenant_context(site):
        user = member_create(
            email=f"{name}-{uuid.uuid4().hex[:10]}@{site.slug}.test", password=MEMBER_PASSWORD
        )
        if D(funds):
            wallet_top_up(
                user=user,
                amount=D(funds),
                idempotency_key=f"fund-{uuid.uuid4().hex}",
                source="test funding",
            )
    return user


def wallet_of(site: Site, user: AbstractUser) -> Decimal:
    with tenant_context(site):
        return member_balance(user=user, kind=MemberAccountKind.WALLET, currency="CNY")


# --- Payments over HTTP ----------------------------------------------------------------------


def checkout_session_for(order_ref: str) -> CheckoutSession:
    return CheckoutSession.objects.filter(purpose="order", reference=order_ref).latest("id")


def webhook_post(event: dict[str, Any]) -> Any:
    """POST a signed event to the platform's webhook endpoint (HQ's domain), as Stripe would."""
    payload = json.dumps(event, separators=(",", ":"))
    client = Client(HTTP_HOST="localhost")
    return client.post(
        WEBHOOK_PATH,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sandbox.sign(payload, payments_conf.webhook_secret()),
    )


def pay_by_card(order_ref: str) -> Any:
    """The buyer paid the order's checkout session: the completed event reaches the webhook."""
    session = checkout_session_for(order_ref)
    return webhook_post(sandbox.session_event(session, "checkout.session.completed"))


# --- What was written ---------------------------------------------------------------------------


def public_rows() -> tuple[int, int, int, int, int]:
    """Rows of the public tables an order writes (ledger, settlements, key sales)."""
    return (
        Transaction.objects.count(),
        Leg.objects.count(),
        Settlement.objects.count(),
        CardKeySale.objects.count(),
        CardKey.objects.filter(status="reserved").count(),
    )


def site_rows(site: Site) -> tuple[int, int, int, int]:
    with tenant_context(site):
        return (
            Order.objects.count(),
            OrderEvent.objects.count(),
            OrderRefund.objects.count(),
            MemberTransaction.objects.count(),
        )


@pytest.fixture
def snapshot(network: Network) -> Callable[[], tuple[Any, ...]]:
    """Everything an order could write, on every committed site and in public."""

    def take() -> tuple[Any, ...]:
        connection.set_schema_to_public()
        return (
            public_rows(),
            *(site_rows(site) for site in (network.alpha, network.beta, network.alpha_kid)),
        )

    return take


@pytest.fixture
def in_site() -> Callable[[Site], Any]:
    return tenant_context


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this folder's browser tests after its other tests (Playwright's event loop keeps the
    main thread from synchronous database work afterwards; see tests/storefront/conftest.py)."""
    here = Path(__file__).parent
    browser = [
        item for item in items if item.get_closest_marker("browser") and here in item.path.parents
    ]
    items[:] = [item for item in items if item not in browser] + browser
