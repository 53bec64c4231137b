"""Who reaches the console: roles, permissions, hosts and sessions."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from shared.catalog.models import Category, PriceTier, Product, TierPrice
from shared.hq.roles import HQ_ADMIN, HQ_CATALOGUE, HQ_SUPPORT, ROLE_PERMISSIONS
from shared.suppliers.models import Supplier, SupplierOffer
from shared.vault import services as vault
from shared.vault.models import CardKey, CardKeyStatus, ImportBatch, KeyReveal
from tests.conftest import OWNER_PASSWORD, site_host
from tests.hq_console.conftest import (
    CategoryFactory,
    PriceTierFactory,
    ProductFactory,
    SkuFactory,
    SupplierFactory,
    client_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(db: None) -> dict[str, Any]:
    """One of everything the console's pages show, with two keys in one import batch."""
    category = CategoryFactory(name="Games")
    product = ProductFactory(category=category, name="Steam card")
    sku = SkuFactory(product=product, code="steam-100", name="¥100")
    supplier = SupplierFactory(name="Card House")
    offer = SupplierOffer.objects.create(supplier=supplier, sku=sku, cost=Decimal("95.00"))
    tier = PriceTierFactory(code="gold", name="Gold")
    batch = vault.card_keys_import(
        sku=sku, content="AAAA-1111\nBBBB-2222\n", source="paste", actor_email="x@hq.test"
    )
    key_ids = list(CardKey.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))
    return {
        "category": category.pk,
        "product": product.pk,
        "sku": sku.pk,
        "supplier": supplier.pk,
        "offer": offer.pk,
        "tier": tier.pk,
        "batch": batch.pk,
        "key": key_ids[0],
        "keys": key_ids,
    }


# Pages anyone holding a console role may read.
READ_PAGES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("overview", lambda r: {}),
    ("alert_list", lambda r: {}),
    ("supplier_list", lambda r: {}),
    ("supplier_detail", lambda r: {"supplier_id": r["supplier"]}),
    ("category_list", lambda r: {}),
    ("product_list", lambda r: {}),
    ("product_detail", lambda r: {"product_id": r["product"]}),
    ("tier_list", lambda r: {}),
    ("tier_prices", lambda r: {}),
    ("batch_list", lambda r: {}),
    ("batch_detail", lambda r: {"batch_id": r["batch"]}),
]
# Pages whose very purpose is a change (forms) or a secret: not for a read-only role.
WRITE_PAGES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("supplier_create", lambda r: {}),
    ("supplier_edit", lambda r: {"supplier_id": r["supplier"]}),
    ("supplier_offer_create", lambda r: {"supplier_id": r["supplier"]}),
    ("supplier_offer_edit", lambda r: {"supplier_id": r["supplier"], "offer_id": r["offer"]}),
    ("category_create", lambda r: {}),
    ("category_edit", lambda r: {"category_id": r["category"]}),
    ("product_create", lambda r: {}),
    ("product_edit", lambda r: {"product_id": r["product"]}),
    ("sku_create", lambda r: {"product_id": r["product"]}),
    ("sku_edit", lambda r: {"sku_id": r["sku"]}),
    ("key_import", lambda r: {}),
    ("key_reveal", lambda r: {"key_id": r["key"]}),
    ("keys_export", lambda r: {}),
]
ALL_PAGES = READ_PAGES + WRITE_PAGES


def url(name: str, kwargs: dict[str, Any]) -> str:
    return reverse(f"hq_console:{name}", kwargs=kwargs, urlconf="kameng.urls_public")


@pytest.mark.parametrize(("name", "kwargs"), ALL_PAGES)
def test_anonymous_is_sent_to_login(
    anonymous: Client, rows: dict[str, Any], name: str, kwargs: Callable[..., Any]
) -> None:
    path = url(name, kwargs(rows))
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize(("name", "kwargs"), ALL_PAGES)
@pytest.mark.parametrize("who", ["member", "staff_without_role", "role_without_staff"])
def test_accounts_without_staff_role_get_403(
    make_staff: Callable[..., Any],
    rows: dict[str, Any],
    who: str,
    name: str,
    kwargs: Callable[..., Any],
) -> None:
    user = {
        "member": lambda: make_staff("member@hq.test", is_staff=False),
        "staff_without_role": lambda: make_staff("plain@hq.test"),
        # The admin group without is_staff: a role alone does not make HQ staff.
        "role_without_staff": lambda: make_staff("ex@hq.test", role=HQ_ADMIN, is_staff=False),
    }[who]()
    assert client_for(user).get(url(name, kwargs(rows))).status_code == 403


@pytest.mark.parametrize(("name", "kwargs"), ALL_PAGES)
@pytest.mark.parametrize("role", [HQ_ADMIN, HQ_CATALOGUE, "superuser"])
def test_admin_catalogue_and_superuser_reach_every_page(
    make_staff: Callable[..., Any],
    rows: dict[str, Any],
    role: str,
    name: str,
    kwargs: Callable[..., Any],
) -> None:
    if role == "superuser":
        user = make_staff("root@hq.test", is_superuser=True)
    else:
        user = make_staff("role@hq.test", role=role)
    assert client_for(user).get(url(name, kwargs(rows))).status_code == 200


@pytest.mark.parametrize(("name", "kwargs"), READ_PAGES)
def test_support_reads(support: Client, rows: dict[str, Any], name: str, kwargs: Any) -> None:
    assert support.get(url(name, kwargs(rows))).status_code == 200


@pytest.mark.parametrize(("name", "kwargs"), WRITE_PAGES)
def test_support_cannot_open_forms(
    support: Client, rows: dict[str, Any], name: str, kwargs: Any
) -> None:
    assert support.get(url(name, kwargs(rows))).status_code == 403


def _snapshot() -> dict[str, Any]:
    return {
        "suppliers": list(Supplier.objects.values_list("name", "status", "api_secret_key_id")),
        "offers": list(SupplierOffer.objects.values_list("sku_id", "cost", "priority")),
        "categories": list(Category.objects.values_list("name", "parent_id", "sort_order")),
        "products": list(Product.objects.values_list("name", "status", "tags")),
        "tiers": list(PriceTier.objects.values_list("code", "name")),
        "tier_prices": list(TierPrice.objects.values_list("tier_id", "sku_id", "price")),
        "batches": ImportBatch.objects.count(),
        "keys": list(CardKey.objects.order_by("id").values_list("id", "status")),
        "reveals": KeyReveal.objects.count(),
    }


SUPPORT_POSTS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Any]] = [
    (
        "supplier_create",
        lambda r: {},
        lambda r: {"name": "New", "kind": "card_stock", "status": "active"},
    ),
    (
        "supplier_edit",
        lambda r: {"supplier_id": r["supplier"]},
        lambda r: {"name": "Renamed", "status": "paused", "api_secret": "s3cret"},
    ),
    (
        "supplier_offer_edit",
        lambda r: {"supplier_id": r["supplier"], "offer_id": r["offer"]},
        lambda r: {"cost": "1.00", "priority": "1", "is_active": "on"},
    ),
    ("category_create", lambda r: {}, lambda r: {"name": "Films", "sort_order": "0"}),
    (
        "product_edit",
        lambda r: {"product_id": r["product"]},
        lambda r: {"name": "Renamed", "category": r["category"], "status": "draft"},
    ),
    ("tier_list", lambda r: {}, lambda r: {"code": "silver", "name": "Silver", "rank": "1"}),
    ("tier_prices", lambda r: {}, lambda r: {f"price_{r['tier']}_{r['sku']}": "90.00"}),
    (
        "key_import",
        lambda r: {},
        lambda r: {"sku": r["sku"], "text": "CCCC-3333", "deduplicate": "on"},
    ),
    ("keys_void", lambda r: {"batch_id": r["batch"]}, lambda r: {"keys": r["keys"]}),
    ("keys_delete", lambda r: {"batch_id": r["batch"]}, lambda r: {"keys": r["keys"]}),
    ("key_reveal", lambda r: {"key_id": r["key"]}, lambda r: {"reason": "curious"}),
]


@pytest.mark.parametrize(("name", "kwargs", "data"), SUPPORT_POSTS)
def test_support_posts_are_refused_and_change_nothing(
    support: Client, rows: dict[str, Any], name: str, kwargs: Any, data: Any
) -> None:
    before = _snapshot()
    path = url(name, kwargs(rows))
    if name == "tier_prices":
        path += f"?product={rows['product']}"
    response = support.post(path, data(rows))
    assert response.status_code == 403
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "kwargs", "data"), SUPPORT_POSTS)
@pytest.mark.parametrize("who", ["anonymous", "member", "staff_without_role"])
def test_posts_by_outsiders_are_refused_and_change_nothing(
    make_staff: Callable[..., Any],
    rows: dict[str, Any],
    who: str,
    name: str,
    kwargs: Any,
    data: Any,
) -> None:
    user = {
        "anonymous": lambda: None,
        "member": lambda: make_staff("member@hq.test", is_staff=False),
        "staff_without_role": lambda: make_staff("plain@hq.test"),
    }[who]()
    before = _snapshot()
    path = url(name, kwargs(rows))
    response = client_for(user).post(path, data(rows))
    if user is None:
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"
    else:
        assert response.status_code == 403
    assert _snapshot() == before


def test_catalogue_role_may_change_the_catalogue_and_keys(
    catalogue: Client, rows: dict[str, Any]
) -> None:
    response = catalogue.post(url("category_create", {}), {"name": "Films", "sort_order": "3"})
    assert response.status_code == 302
    assert Category.objects.filter(name="Films", sort_order=3, parent=None).count() == 1
    response = catalogue.post(
        url("key_import", {}), {"sku": rows["sku"], "text": "CAT-1\nCAT-2", "deduplicate": "on"}
    )
    assert response.status_code == 302
    assert ImportBatch.objects.filter(created_by="catalogue@hq.test", accepted=2).count() == 1
    response = catalogue.post(url("keys_void", {"batch_id": rows["batch"]}), {"keys": rows["keys"]})
    assert response.status_code == 302
    assert set(CardKey.objects.filter(batch_id=rows["batch"]).values_list("status", flat=True)) == {
        CardKeyStatus.VOID
    }


def test_roles_hold_exactly_their_permissions(db: None) -> None:
    for name, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=name)
        held = {
            f"{app}.{codename}"
            for app, codename in group.permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert held == set(perms), name
    support = ROLE_PERMISSIONS[HQ_SUPPORT]
    assert all(perm.split(".")[1].startswith("view_") for perm in support)
    assert "vault.reveal_cardkey" not in support
    assert "vault.export_cardkey" not in support
    assert "vault.reveal_cardkey" in ROLE_PERMISSIONS[HQ_CATALOGUE]
    assert "catalog.delete_product" not in ROLE_PERMISSIONS[HQ_CATALOGUE]
    assert "catalog.delete_product" in ROLE_PERMISSIONS[HQ_ADMIN]


# --- Hosts and sessions -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), ALL_PAGES)
def test_console_is_not_routed_on_a_site_domain(
    network: Any, rows: dict[str, Any], name: str, kwargs: Any
) -> None:
    path = url(name, kwargs(rows))
    try:
        match = resolve(path, urlconf="kameng.urls_tenant")
    except Resolver404:
        return
    assert not match.func.__module__.startswith("shared.hq.console"), match


def test_site_domain_answers_404_for_the_console_even_to_hq_staff(
    network: Any, rows: dict[str, Any], make_staff: Callable[..., Any]
) -> None:
    """The HQ session cookie sent to a site's host grants nothing there, and the pages
    do not exist there."""
    staff = client_for(make_staff("admin@hq.test", role=HQ_ADMIN))
    host = site_host(network.alpha)
    before = _snapshot()
    for path in ("/console/suppliers/", "/console/keys/import/", "/console/keys/batches/"):
        assert staff.get(path, HTTP_HOST=host).status_code == 404
    response = staff.post(
        "/console/suppliers/new/",
        {"name": "Sneaky", "kind": "card_stock", "status": "active"},
        HTTP_HOST=host,
    )
    assert response.status_code == 404
    assert _snapshot() == before


def test_site_owner_session_does_not_open_the_hq_console(
    network: Any, rows: dict[str, Any]
) -> None:
    client = Client()
    host = site_host(network.alpha)
    response = client.post(
        "/accounts/login/",
        {"login": "owner@alpha.test", "password": OWNER_PASSWORD},
        HTTP_HOST=host,
    )
    assert response.status_code == 302  # signed in on the site
    assert client.cookies["sessionid"].value
    console = client.get("/console/", HTTP_HOST="localhost")
    assert console.status_code == 302
    assert console["Location"] == "/accounts/login/?next=/console/"
    before = _snapshot()
    refused = client.post(
        "/console/suppliers/new/",
        {"name": "Sneaky", "kind": "card_stock", "status": "active"},
        HTTP_HOST="localhost",
    )
    assert refused.status_code == 302
    assert refused["Location"] == "/accounts/login/?next=/console/suppliers/new/"
    assert _snapshot() == before


def test_landing_links_staff_to_the_console(make_staff: Callable[..., Any]) -> None:
    staff = client_for(make_staff("admin@hq.test", role=HQ_ADMIN))
    assert b'href="/console/" data-testid="hq-console-link"' in staff.get("/").content
    member = client_for(make_staff("member@hq.test", is_staff=False))
    assert b'data-testid="hq-console-link"' not in member.get("/").content


def test_key_statuses_unchanged_by_reads(admin: Client, rows: dict[str, Any]) -> None:
    before = _snapshot()
    for name, kwargs in READ_PAGES:
        admin.get(url(name, kwargs(rows)))
    assert _snapshot() == before
    assert set(CardKey.objects.values_list("status", flat=True)) == {CardKeyStatus.AVAILABLE}


def test_posts_without_a_csrf_token_are_refused(make_staff: Callable[..., Any]) -> None:
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.force_login(make_staff("admin@hq.test", role=HQ_ADMIN))
    before = _snapshot()
    response = client.post(url("category_create", {}), {"name": "Films", "sort_order": "0"})
    assert response.status_code == 403
    assert _snapshot() == before
    form = client.get(url("category_create", {}))
    assert b'name="csrfmiddlewaretoken"' in form.content


XSS = '<img src=x onerror="alert(1)">'


def test_names_from_the_database_are_escaped_everywhere(admin: Client) -> None:
    category = CategoryFactory(name=XSS)
    product = ProductFactory(name=XSS, category=category, tags=[XSS])
    sku = SkuFactory(product=product, name=XSS, specs={XSS: XSS})
    supplier = SupplierFactory(name=XSS, contact_name=XSS, notes=XSS)
    SupplierOffer.objects.create(supplier=supplier, sku=sku, cost=Decimal("1.00"))
    batch = vault.card_keys_import(
        sku=sku, content="K-1", source="paste", supplier=supplier, actor_email=XSS
    )
    pages = [
        ("supplier_list", {}),
        ("supplier_detail", {"supplier_id": supplier.pk}),
        ("supplier_edit", {"supplier_id": supplier.pk}),
        ("category_list", {}),
        ("category_edit", {"category_id": category.pk}),
        ("product_list", {}),
        ("product_detail", {"product_id": product.pk}),
        ("product_edit", {"product_id": product.pk}),
        ("sku_edit", {"sku_id": sku.pk}),
        ("batch_list", {}),
        ("batch_detail", {"batch_id": batch.pk}),
        ("key_import", {}),
    ]
    for name, kwargs in pages:
        response = admin.get(url(name, kwargs))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert XSS not in html, name
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html, name
    grid = admin.get(url("tier_prices", {}), {"product": product.pk})
    assert XSS not in grid.content.decode()
