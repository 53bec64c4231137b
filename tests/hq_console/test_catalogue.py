"""The catalogue: category tree, products (filters, pagination, images, schedule) and SKUs."""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pytest_django.asserts import assertContains, assertNotContains

from shared.catalog.models import Category, DeliveryKind, ListingStatus, Product, Sku
from tests.hq_console.conftest import CategoryFactory, ProductFactory, SkuFactory, console_url

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def png(name: str = "cover.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# --- Categories -------------------------------------------------------------------------------


def test_category_tree_lists_children_under_parents(admin: Client) -> None:
    games = CategoryFactory(name="Games", slug="games", sort_order=1)
    steam = CategoryFactory(name="Steam", slug="steam", parent=games)
    CategoryFactory(name="Films", slug="films", sort_order=2, is_active=False)
    ProductFactory.create_batch(2, category=steam)

    response = admin.get(console_url("category_list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('data-testid="category-games"') < html.index('data-testid="category-steam"')
    assert html.index('data-testid="category-steam"') < html.index('data-testid="category-films"')
    assertContains(
        response,
        '<tr data-testid="category-steam">'
        '<td style="padding-left: calc(10px + 1 * 1.5em)">'
        f'<a href="{console_url("product_list")}?category={steam.pk}">Steam</a></td>'
        '<td>steam</td><td class="num">2</td><td class="num">0</td>'
        '<td><span class="badge">active</span></td>'
        f'<td><a href="{console_url("category_edit", category_id=steam.pk)}">Edit</a></td></tr>',
        html=True,
    )
    assertContains(response, '<span class="badge inactive">inactive</span>', html=True)


def test_create_category_under_a_parent(admin: Client) -> None:
    games = CategoryFactory(name="Games")
    response = admin.post(
        console_url("category_create"),
        {"name": "手游", "parent": games.pk, "slug": "", "sort_order": "4"},
    )
    assert response.status_code == 302
    assert response["Location"] == console_url("category_list")
    assert list(
        Category.objects.filter(name="手游").values_list("parent_id", "slug", "sort_order")
    ) == [(games.pk, "手游", 4)]


def test_create_category_without_a_name_changes_nothing(admin: Client) -> None:
    count = Category.objects.count()
    response = admin.post(console_url("category_create"), {"name": "  ", "sort_order": "0"})
    assert response.status_code == 200
    assertContains(response, "This field is required.")
    assert Category.objects.count() == count


def test_edit_category_moves_and_deactivates_it(admin: Client) -> None:
    games, films = CategoryFactory(name="Games"), CategoryFactory(name="Films")
    steam = CategoryFactory(name="Steam", parent=games, slug="steam-x")
    response = admin.post(
        console_url("category_edit", category_id=steam.pk),
        {"name": "Steam Wallet", "parent": films.pk, "sort_order": "9"},
    )
    assert response.status_code == 302
    steam.refresh_from_db()
    assert (steam.name, steam.parent_id, steam.sort_order, steam.is_active, steam.slug) == (
        "Steam Wallet",
        films.pk,
        9,
        False,
        "steam-x",
    )


def test_category_cannot_move_under_its_own_child(admin: Client) -> None:
    games = CategoryFactory(name="Games")
    steam = CategoryFactory(name="Steam", parent=games)
    form = admin.get(console_url("category_edit", category_id=games.pk))
    assertNotContains(form, f'<option value="{steam.pk}"')
    response = admin.post(
        console_url("category_edit", category_id=games.pk),
        {"name": "Games 2", "parent": steam.pk, "sort_order": "0", "is_active": "on"},
    )
    assert response.status_code == 200
    assertContains(response, "Select a valid choice.")
    games.refresh_from_db()
    assert (games.name, games.parent_id) == ("Games", None)


# --- Products ---------------------------------------------------------------------------------


def test_product_list_filters_by_category_tree_status_and_search(admin: Client) -> None:
    games = CategoryFactory(name="Games")
    steam = CategoryFactory(name="Steam", parent=games)
    films = CategoryFactory(name="Films")
    wallet = ProductFactory(name="Steam Wallet Zeta", category=steam, tags=["hot"])
    draft = ProductFactory(name="Game Pass Zeta", category=games, status=ListingStatus.DRAFT)
    film = ProductFactory(name="Film Zeta Card", category=films, tags=["zeta-tag"])

    def shown(**params: Any) -> set[int]:
        response = admin.get(console_url("product_list"), params)
        assert response.status_code == 200
        mine = {wallet.pk, draft.pk, film.pk}
        return {pk for pk in mine if f'data-testid="product-{pk}"' in response.content.decode()}

    assert shown(category=games.pk, q="Zeta") == {wallet.pk, draft.pk}
    assert shown(category=games.pk, status="draft") == {draft.pk}
    assert shown(q="zeta-tag") == {film.pk}
    assert shown(q="hot", category=steam.pk) == {wallet.pk}
    assert shown(q="wallet zeta") == {wallet.pk}  # case-insensitive name search


def test_product_list_paginates_and_keeps_filters(admin: Client) -> None:
    category = CategoryFactory(name="Many")
    for n in range(27):
        ProductFactory(name=f"Item {n:02d}", category=category)
    first = admin.get(console_url("product_list"), {"category": category.pk})
    assertContains(first, '<p class="muted" data-testid="product-count">27 products</p>', html=True)
    assert first.content.decode().count('data-testid="product-') == 25 + 1  # rows + count
    assertContains(first, f"?category={category.pk}&amp;page=2")
    second = admin.get(console_url("product_list"), {"category": category.pk, "page": 2})
    assertContains(second, "Page 2 of 2")
    assert second.content.decode().count('data-testid="product-') == 2 + 1


def test_create_product_with_image_tags_and_schedule(admin: Client, media: Path) -> None:
    category = CategoryFactory(name="Games")
    response = admin.post(
        console_url("product_create"),
        {
            "name": "Genshin Crystals",
            "category": category.pk,
            "description": "Top-up <script>alert(1)</script>",
            "image": png(),
            "tags": "mihoyo\uff0c mobile,hot , mobile",  # a full-width comma too
            "is_pinned": "on",
            "status": ListingStatus.LISTED,
            "list_at": "2026-12-01T08:00",
            "delist_at": "2027-01-01T00:00",
        },
    )
    product = Product.objects.get(name="Genshin Crystals")
    assert response.status_code == 302
    assert response["Location"] == console_url("product_detail", product_id=product.pk)
    assert (product.category_id, product.tags, product.is_pinned, product.status) == (
        category.pk,
        ["mihoyo", "mobile", "hot"],
        True,
        "listed",
    )
    assert product.list_at == datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert product.delist_at == datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)
    assert product.image.name.startswith("products/cover")
    assert (media / product.image.name).is_file()

    detail = admin.get(response["Location"])
    assertContains(detail, "Top-up &lt;script&gt;alert(1)&lt;/script&gt;")
    assertNotContains(detail, "<script>alert(1)</script>")
    assertContains(detail, '<dd data-testid="product-tags">mihoyo, mobile, hot</dd>', html=True)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"list_at": "2027-01-02T00:00", "delist_at": "2027-01-01T00:00"},
            "The delisting time must be after the listing time.",
        ),
        (
            {"image": SimpleUploadedFile("x.png", b"not an image", content_type="image/png")},
            "Upload a valid image.",
        ),
        (
            {"image": SimpleUploadedFile("x.gif", b"GIF89a", content_type="image/gif")},
            "Upload a valid image.",
        ),
        ({"tags": "x" * 41}, "is longer than 40 characters."),
        ({"status": "archived"}, "Select a valid choice."),
    ],
)
def test_create_product_rejects_bad_input(
    admin: Client, media: Path, changes: dict[str, Any], error: str
) -> None:
    category = CategoryFactory()
    count = Product.objects.count()
    data = {"name": "Bad", "category": category.pk, "status": "draft", **changes}
    response = admin.post(console_url("product_create"), data)
    assert response.status_code == 200
    assertContains(response, error)
    assert Product.objects.count() == count
    assert list(media.rglob("*.*")) == []


def test_edit_product_changes_exactly_the_fields(admin: Client, media: Path) -> None:
    games, films = CategoryFactory(), CategoryFactory()
    product = ProductFactory(
        name="Old", category=games, tags=["a"], description="d", status=ListingStatus.DRAFT
    )
    slug = product.slug
    response = admin.post(
        console_url("product_edit", product_id=product.pk),
        {
            "name": "New",
            "category": films.pk,
            "description": "new text",
            "tags": "b, c",
            "status": "listed",
            "image": png("new.png"),
        },
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (
        product.name,
        product.category_id,
        product.description,
        product.tags,
        product.status,
        product.is_pinned,
        product.list_at,
        product.slug,
    ) == (
        "New",
        films.pk,
        "new text",
        ["b", "c"],
        "listed",
        False,
        None,
        slug,
    )
    assert product.image.name.startswith("products/new")

    cleared = admin.post(
        console_url("product_edit", product_id=product.pk),
        {"name": "New", "category": films.pk, "status": "listed", "image-clear": "on"},
    )
    assert cleared.status_code == 302
    product.refresh_from_db()
    assert product.image.name == ""


def test_edit_product_invalid_changes_nothing(admin: Client) -> None:
    product = ProductFactory(name="Keep", status=ListingStatus.DRAFT)
    response = admin.post(
        console_url("product_edit", product_id=product.pk),
        {
            "name": "Changed",
            "category": product.category_id,
            "status": "listed",
            "list_at": "2027-01-02T00:00",
            "delist_at": "2026-01-01T00:00",
        },
    )
    assert response.status_code == 200
    assertContains(response, "The delisting time must be after the listing time.")
    assertContains(response, "<h1>Edit product Keep</h1>", html=True)
    product.refresh_from_db()
    assert (product.name, product.status, product.delist_at) == ("Keep", "draft", None)


def test_product_detail_lists_skus_with_stock(admin: Client) -> None:
    product = ProductFactory(name="Steam")
    sku = SkuFactory(
        product=product, code="steam-10", name="¥10", specs={"region": "CN"}, low_stock_threshold=5
    )
    SkuFactory(
        product=product,
        code="steam-topup",
        delivery_kind=DeliveryKind.DIRECT_TOPUP,
        face_value=Decimal("30.00"),
        is_active=False,
    )
    response = admin.get(console_url("product_detail", product_id=product.pk))
    assert response.status_code == 200
    assertContains(
        response,
        '<tr data-testid="sku-steam-10"><td>steam-10</td>'
        '<td>¥10<br><span class="muted small">region: CN</span></td>'
        '<td class="num">10.00 CNY</td><td>Card key</td><td class="num">1\u2013100</td>'
        '<td class="num">0 / 5</td><td><span class="badge">active</span></td>'
        f'<td><a href="{console_url("sku_edit", sku_id=sku.pk)}">Edit</a></td></tr>',
        html=True,
    )
    assertContains(response, '<span class="badge inactive">inactive</span>', html=True)


# --- SKUs -------------------------------------------------------------------------------------

TOPUP_FIELDS = [{"name": "account", "label": "Game account", "kind": "qq"}]


def sku_values(sku: Sku) -> tuple[Any, ...]:
    sku.refresh_from_db()
    return (
        sku.code,
        sku.name,
        sku.face_value,
        sku.currency,
        sku.specs,
        sku.delivery_kind,
        [f["name"] for f in sku.input_fields],
        sku.min_quantity,
        sku.max_quantity,
        sku.low_stock_threshold,
        sku.is_active,
    )


def test_create_card_key_sku(admin: Client) -> None:
    product = ProductFactory()
    response = admin.post(
        console_url("sku_create", product_id=product.pk),
        {
            "code": "Steam-100",
            "name": "¥100",
            "face_value": "100",
            "currency": "cny",
            "delivery_kind": "card_key",
            "specs": "region = CN\n\nserver=Asia=East\n",
            "input_fields": "",
            "min_quantity": "1",
            "max_quantity": "20",
            "low_stock_threshold": "15",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == console_url("product_detail", product_id=product.pk)
    assert sku_values(Sku.objects.get(product=product)) == (
        "steam-100",
        "¥100",
        Decimal("100.00"),
        "CNY",
        {"region": "CN", "server": "Asia=East"},
        "card_key",
        [],
        1,
        20,
        15,
        True,
    )


def test_create_direct_topup_sku_inactive(admin: Client) -> None:
    product = ProductFactory()
    response = admin.post(
        console_url("sku_create", product_id=product.pk),
        {
            "code": "qq-60",
            "name": "60 点券",
            "face_value": "6.00",
            "currency": "CNY",
            "delivery_kind": "direct_topup",
            "input_fields": json.dumps(TOPUP_FIELDS),
            "min_quantity": "1",
            "max_quantity": "5",
            "low_stock_threshold": "0",
        },
    )
    assert response.status_code == 302
    sku = Sku.objects.get(code="qq-60")
    assert sku_values(sku) == (
        "qq-60",
        "60 点券",
        Decimal("6.00"),
        "CNY",
        {},
        "direct_topup",
        ["account"],
        1,
        5,
        0,
        False,
    )
    assert sku.input_fields[0] == {
        "name": "account",
        "label": "Game account",
        "kind": "qq",
        "required": True,
        "pattern": "",
        "max_length": 64,
        "choices": [],
        "help": "",
    }


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code": "taken"}, "The SKU code &#x27;taken&#x27; is already used."),
        ({"delivery_kind": "direct_topup"}, "A direct top-up needs at least one input field."),
        ({"input_fields": "[{"}, "Not valid JSON (line 1, column 3)."),
        ({"input_fields": '[{"name": "Bad Name"}]'}, "Input field 1: name must be snake_case."),
        (
            {"input_fields": '[{"name": "x", "kind": "choice"}]'},
            "Input field 1: a choice field needs choices.",
        ),
        ({"specs": "region CN"}, "Line 1: write each spec as key=value."),
        ({"specs": "a=1\na=2"}, "Line 2: the spec “a” is given twice."),
        ({"min_quantity": "5", "max_quantity": "2"}, "The maximum must be at least the minimum."),
        ({"face_value": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"face_value": "1.234"}, "Ensure that there are no more than 2 decimal places."),
        ({"currency": "RMB1"}, "Use a three-letter currency code, e.g. CNY."),
    ],
)
def test_create_sku_rejects_bad_input(admin: Client, changes: dict[str, str], error: str) -> None:
    product = ProductFactory()
    SkuFactory(code="taken")
    count = Sku.objects.count()
    data = {
        "code": "new-sku",
        "name": "n",
        "face_value": "1",
        "currency": "CNY",
        "delivery_kind": "card_key",
        "min_quantity": "1",
        "max_quantity": "10",
        "low_stock_threshold": "1",
        "is_active": "on",
        **changes,
    }
    response = admin.post(console_url("sku_create", product_id=product.pk), data)
    assert response.status_code == 200
    assertContains(response, error)
    assert Sku.objects.count() == count


def test_edit_sku_changes_what_may_change(admin: Client) -> None:
    sku = SkuFactory(code="keep-code", delivery_kind=DeliveryKind.CARD_KEY, specs={"a": "1"})
    form = admin.get(console_url("sku_edit", sku_id=sku.pk))
    assertContains(form, 'name="code" value="keep-code"')
    assertContains(form, "disabled", count=3)  # code, currency, delivery kind
    response = admin.post(
        console_url("sku_edit", sku_id=sku.pk),
        {
            "code": "other",
            "name": "Renamed",
            "face_value": "12.50",
            "currency": "USD",
            "delivery_kind": "direct_topup",
            "specs": "b=2",
            "min_quantity": "2",
            "max_quantity": "3",
            "low_stock_threshold": "4",
        },
    )
    assert response.status_code == 302
    assert sku_values(sku) == (
        "keep-code",
        "Renamed",
        Decimal("12.50"),
        "CNY",
        {"b": "2"},
        "card_key",
        [],
        2,
        3,
        4,
        False,
    )


def test_edit_sku_invalid_changes_nothing(admin: Client) -> None:
    sku = SkuFactory(
        delivery_kind=DeliveryKind.DIRECT_TOPUP, input_fields=TOPUP_FIELDS, name="Keep"
    )
    before = sku_values(sku)
    response = admin.post(
        console_url("sku_edit", sku_id=sku.pk),
        {
            "name": "Changed",
            "face_value": "1",
            "input_fields": "[]",
            "min_quantity": "1",
            "max_quantity": "1",
            "low_stock_threshold": "1",
        },
    )
    assert response.status_code == 200
    assertContains(response, "A direct top-up needs at least one input field.")
    assert sku_values(sku) == before
