"""What the console's pages do, seen from the storefront where it matters."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from shared.catalog.selectors import products_on_sale
from shared.sites.models import Site
from tenants.pricing.models import (
    MemberLevel,
    MemberLevelPrice,
    PriceRule,
    ProductOverride,
    QuantityTier,
    RuleKind,
)
from tenants.pricing.services import member_level_create
from tenants.storefront.selectors import storefront_settings
from tests.conftest import MEMBER_PASSWORD, Network, site_host
from tests.storefront.catalogue import Catalogue
from tests.storefront.clients import english
from tests.storefront.html import offers, page
from tests.storefront.images import image_bytes

ConsoleAs = Callable[[Site, str], Client]


def storefront(site: Site) -> Client:
    return english(Client(HTTP_HOST=site_host(site)))


def messages_of(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


def test_hiding_and_showing_a_product(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")

    hidden = owner.post(
        f"/console/products/{catalogue.steam_wallet.pk}/visibility/", {"hidden": "1"}, follow=True
    )

    assert messages_of(hidden) == ["“Steam Wallet” is now hidden from buyers."]
    row = next(
        r
        for r in page(hidden.content).find_all("product-row")
        if r.attrs["data-product"] == str(catalogue.steam_wallet.pk)
    )
    assert row.find("state").text == "Hidden"
    assert storefront(network.alpha).get("/p/sf-steam-wallet/").status_code == 404
    assert storefront(network.beta).get("/p/sf-steam-wallet/").status_code == 200

    owner.post(f"/console/products/{catalogue.steam_wallet.pk}/visibility/", {"hidden": "0"})
    assert storefront(network.alpha).get("/p/sf-steam-wallet/").status_code == 200


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/console/products/?state=hidden", "/console/products/?state=hidden"),
        ("https://evil.example/", "/console/products/"),
        ("//evil.example/", "/console/products/"),
    ],
)
def test_the_visibility_toggle_returns_to_the_list_only_on_this_site(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs, next_url: str, location: str
) -> None:
    response = console_as(network.alpha, "owner").post(
        f"/console/products/{catalogue.gem.pk}/visibility/", {"hidden": "1", "next": next_url}
    )
    assert response["Location"] == location


def test_products_not_on_sale_cannot_be_touched(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")
    response = owner.post(f"/console/products/{catalogue.draft.pk}/visibility/", {"hidden": "1"})
    assert response.status_code == 404
    assert owner.get(f"/console/products/{catalogue.draft.pk}/").status_code == 404
    with tenant_context(network.alpha):
        assert ProductOverride.objects.count() == 0


def test_renaming_a_product_shows_the_new_name_escaped(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")

    response = owner.post(
        f"/console/products/{catalogue.points.pk}/",
        {"display_name": "<script>alert(1)</script>", "description": "Ours & only ours"},
    )

    assert response.status_code == 302
    listing = owner.get("/console/products/", {"q": "script"})
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in listing.content
    assert b"<script>alert(1)" not in listing.content
    product = storefront(network.alpha).get("/p/sf-game-points/")
    doc = page(product.content)
    assert doc.find("product-name").text == "<script>alert(1)</script>"
    assert doc.find("product-description").text == "Ours & only ours"
    assert b"<script>alert(1)" not in product.content


def test_retail_rule_is_created_replaced_and_removed(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")
    rule = {"scope": "all", "markup_kind": "percent", "markup_value": "10", "rounding": "none"}

    assert owner.post("/console/prices/retail/", rule)["Location"] == "/console/prices/retail/"
    assert offers(storefront(network.alpha).get("/c/sf-phone/").content)["sf-phone-30"][0] == (
        "30 Phone Credit ¥31.90 Sold out"
    )
    # The same scope again replaces the rule; the edit link fills the form with it.
    owner.post("/console/prices/retail/", {**rule, "markup_kind": "fixed", "markup_value": "3"})
    with tenant_context(network.alpha):
        saved = PriceRule.objects.get()
    assert (saved.kind, saved.markup_kind, saved.markup_value) == ("retail", "fixed", Decimal(3))
    form = owner.get("/console/prices/retail/", {"rule": saved.pk}).context["form"]
    assert form.initial["markup_kind"] == "fixed"
    assert form.initial["markup_value"] == Decimal(3)
    assert offers(storefront(network.alpha).get("/c/sf-phone/").content)["sf-phone-30"][0] == (
        "30 Phone Credit ¥32.00 Sold out"
    )

    owner.post(f"/console/prices/retail/{saved.pk}/delete/")

    with tenant_context(network.alpha):
        assert PriceRule.objects.count() == 0
    assert offers(storefront(network.alpha).get("/c/sf-phone/").content)["sf-phone-30"][0] == (
        "30 Phone Credit ¥29.00 Sold out"
    )


def test_a_negative_markup_is_refused_with_a_clear_error(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    response = console_as(network.alpha, "owner").post(
        "/console/prices/retail/",
        {"scope": "all", "markup_kind": "fixed", "markup_value": "-1", "rounding": "none"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "markup_value": ["The markup cannot be negative: this site never sells below its cost."]
    }
    with tenant_context(network.alpha):
        assert PriceRule.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"scope": "category"}, {"category": ["Choose the category."]}),
        ({"scope": "sku"}, {"sku": ["Choose the SKU."]}),
    ],
)
def test_a_scoped_rule_needs_its_scope(
    network: Network,
    catalogue: Catalogue,
    console_as: ConsoleAs,
    data: dict[str, str],
    errors: dict[str, list[str]],
) -> None:
    response = console_as(network.alpha, "owner").post(
        "/console/prices/retail/",
        {"markup_kind": "fixed", "markup_value": "1", "rounding": "none", **data},
    )
    assert response.context["form"].errors == errors
    with tenant_context(network.alpha):
        assert PriceRule.objects.count() == 0


def test_wholesale_rule_for_a_tier_prices_the_child_on_that_tier(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")
    owner.post(f"/console/sites/{network.alpha_kid.pk}/tier/", {"tier": catalogue.gold.pk})
    owner.post(
        "/console/prices/wholesale/",
        {
            "scope": "category",
            "category": catalogue.steam.pk,
            "tier": catalogue.gold.pk,
            "markup_kind": "fixed",
            "markup_value": "4",
            "rounding": "up_unit",
        },
    )

    rules = page(owner.get("/console/prices/wholesale/").content).find_all("rule-row")
    assert [r.text for r in rules] == ["Category: Steam Gold +4 Up to 1 Edit Remove"]
    # The kid buys at alpha's cost (HQ standard 45.00) + 4 = 49.00 and sells at that cost.
    kid = offers(storefront(network.alpha_kid).get("/c/sf-steam/").content)
    assert kid["sf-steam-50"][0] == "50 Steam Wallet ¥49.00 In stock"
    # Products outside the category are at alpha's cost.
    assert offers(storefront(network.alpha_kid).get("/c/sf-phone/").content)["sf-phone-30"][0] == (
        "30 Phone Credit ¥29.00 Sold out"
    )


def test_member_levels_and_fixed_prices(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")
    owner.post(
        "/console/prices/retail/",
        {"scope": "all", "markup_kind": "percent", "markup_value": "20", "rounding": "none"},
    )
    created = owner.post(
        "/console/levels/",
        {"code": "vip", "name": "VIP", "rank": "1", "discount_percent": "5", "is_default": "on"},
    )
    with tenant_context(network.alpha):
        level = MemberLevel.objects.get()
    assert created["Location"] == f"/console/levels/{level.pk}/"

    duplicate = owner.post(
        "/console/levels/", {"code": "vip", "name": "Again", "rank": "2", "discount_percent": "1"}
    )
    assert duplicate.context["form"].errors == {
        "code": ["A member level with code 'vip' already exists."]
    }

    below_cost = owner.post(
        f"/console/levels/{level.pk}/prices/", {"sku": catalogue.steam_50.pk, "price": "40.00"}
    )
    assert below_cost.status_code == 200
    assert below_cost.context["price_form"].errors == {
        "price": ["¥40.00 is below this site's cost ¥45.00 for sf-steam-50."]
    }
    with tenant_context(network.alpha):
        assert MemberLevelPrice.objects.count() == 0

    owner.post(
        f"/console/levels/{level.pk}/prices/", {"sku": catalogue.steam_50.pk, "price": "46.00"}
    )
    member = english(Client(HTTP_HOST=site_host(network.alpha)))
    with tenant_context(network.alpha):
        assert member.login(username="member@alpha.test", password=MEMBER_PASSWORD)
    seen = offers(member.get("/p/sf-steam-wallet/").content)
    assert seen["sf-steam-50"][0].startswith("50 Steam Wallet ¥46.00 ¥54.00 In stock")
    assert seen["sf-steam-100"][0].startswith("100 Steam Wallet ¥102.60 ¥108.00 Low stock")

    removed = owner.post(
        f"/console/levels/{level.pk}/prices/",
        {"sku": catalogue.steam_50.pk, "price": ""},
        follow=True,
    )
    assert messages_of(removed) == ["Fixed price saved.", "Fixed price removed."]
    with tenant_context(network.alpha):
        assert MemberLevelPrice.objects.count() == 0

    owner.post(
        f"/console/levels/{level.pk}/", {"name": "V.I.P.", "rank": "3", "discount_percent": "7.5"}
    )
    with tenant_context(network.alpha):
        level.refresh_from_db()
    assert (level.name, level.rank, level.discount_percent, level.is_default) == (
        "V.I.P.",
        3,
        Decimal("7.50"),
        False,
    )


def test_quantity_tier_shows_in_the_price_check(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")
    owner.post(
        "/console/prices/retail/",
        {"scope": "all", "markup_kind": "percent", "markup_value": "10", "rounding": "none"},
    )
    owner.post(
        "/console/prices/quantity/",
        {
            "scope": "sku",
            "sku": catalogue.steam_50.pk,
            "min_quantity": "5",
            "discount_percent": "5",
        },
    )
    with tenant_context(network.alpha):
        level = member_level_create(code="m", name="Members", discount_percent=Decimal(2))

    response = owner.get(
        "/console/prices/explain/",
        {"sku": catalogue.steam_50.pk, "member_level": level.pk, "quantity": 5},
    )

    doc = page(response.content)
    steps = [(s.attrs["data-code"], s.find("step-amount").text) for s in doc.find_all("step")]
    assert steps == [
        ("hq_price", "¥45.00"),
        ("retail", "¥49.50"),
        ("member_level", "¥48.51"),
        ("quantity_tier", "¥46.08"),
    ]
    assert [s.text for s in doc.find("price-summary").find_all("cost")] == ["¥45.00"]
    assert doc.find("final").text == "¥46.08"

    with tenant_context(network.alpha):
        tier = QuantityTier.objects.get()
    owner.post(f"/console/prices/quantity/{tier.pk}/delete/")
    with tenant_context(network.alpha):
        assert QuantityTier.objects.count() == 0


def test_child_site_tier_assignment(
    network: Network, catalogue: Catalogue, console_as: ConsoleAs
) -> None:
    owner = console_as(network.alpha, "owner")

    response = owner.post(
        f"/console/sites/{network.alpha_kid.pk}/tier/", {"tier": catalogue.gold.pk}, follow=True
    )

    assert messages_of(response) == ["Kid now buys at tier Gold."]
    assert Site.objects.get(pk=network.alpha_kid.pk).price_tier_id == catalogue.gold.pk
    owner.post(f"/console/sites/{network.alpha_kid.pk}/tier/", {"tier": ""})
    assert Site.objects.get(pk=network.alpha_kid.pk).price_tier_id is None


def test_branding_update_is_visible_on_the_storefront(
    network: Network,
    catalogue: Catalogue,
    console_as: ConsoleAs,
    settings: object,
    tmp_path: object,
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    owner = console_as(network.alpha, "owner")

    response = owner.post(
        "/console/branding/",
        {
            "tagline": "Fast <cards>",
            "accent_color": "#0A7A3B",
            "announcement": "Double points today",
            "theme": "showcase",
            "logo": SimpleUploadedFile("brand.png", image_bytes("PNG")),
        },
    )

    assert response.status_code == 302
    home = storefront(network.alpha).get("/")
    doc = page(home.content)
    assert doc.find("tagline").text == "Fast <cards>"
    assert doc.find("announcement").text == "Double points today"
    assert b":root { --accent: #0a7a3b; }" in home.content
    assert "storefront/showcase/home.html" in [t.name for t in home.templates]
    assert doc.find_all("site-logo") != []
    logo = storefront(network.alpha).get("/brand/logo")
    assert logo["Content-Type"] == "image/png"
    # Beta is untouched.
    beta = page(storefront(network.beta).get("/").content)
    assert beta.find_all("announcement") == []
    assert beta.find_all("site-initial") != []


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (
            SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (512 * 1024)),
            "The logo is larger than 512 KB.",
        ),
        (
            SimpleUploadedFile("logo.png", b"not an image at all"),
            "Upload a valid image. The file you uploaded was either not an image or a "
            "corrupted image.",
        ),
        (
            SimpleUploadedFile("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
            "Upload a valid image. The file you uploaded was either not an image or a "
            "corrupted image.",
        ),
        (
            SimpleUploadedFile("logo.bmp", image_bytes("BMP")),
            "Upload a PNG, JPEG, GIF or WebP image.",
        ),
        (
            SimpleUploadedFile("wide.png", image_bytes("PNG", (2049, 4))),
            "The logo is larger than 2048 x 2048 pixels.",
        ),
    ],
)
def test_bad_logos_are_refused_and_nothing_changes(
    network: Network,
    console_as: ConsoleAs,
    upload: SimpleUploadedFile,
    error: str,
    settings: object,
    tmp_path: object,
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    with tenant_context(network.alpha):
        before = storefront_settings()

    response = console_as(network.alpha, "owner").post(
        "/console/branding/",
        {
            "tagline": "Changed",
            "accent_color": "#000000",
            "announcement": "",
            "theme": "classic",
            "logo": upload,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"logo": [error]}
    with tenant_context(network.alpha):
        after = storefront_settings()
    assert (after.tagline, after.accent_color, after.logo.name) == (
        before.tagline,
        before.accent_color,
        before.logo.name,
    )


def test_owner_gives_and_takes_a_staff_role(network: Network, console_as: ConsoleAs) -> None:
    owner = console_as(network.alpha, "owner")
    member = console_as(network.alpha, "member")
    assert member.get("/console/").status_code == 403

    given = owner.post(
        "/console/staff/", {"email": "MEMBER@alpha.test", "role": "support"}, follow=True
    )

    assert messages_of(given) == ["member@alpha.test is now staff."]
    dashboard = member.get("/console/")
    assert dashboard.status_code == 200
    assert page(dashboard.content).find("console-role").text == (
        "You are signed in as Support (read-only)."
    )
    with tenant_context(network.alpha):
        user = get_user_model().objects.get(email="member@alpha.test")
    owner.post(f"/console/staff/{user.pk}/revoke/")
    assert member.get("/console/").status_code == 403
    with tenant_context(network.alpha):
        user.refresh_from_db()
        assert (user.is_staff, list(user.groups.all())) == (False, [])


def test_staff_role_needs_an_account_on_this_site(network: Network, console_as: ConsoleAs) -> None:
    response = console_as(network.alpha, "owner").post(
        "/console/staff/", {"email": "member@beta.test", "role": "admin"}
    )
    assert response.context["form"].errors == {
        "email": ["No member of this site has that email address."]
    }
    with tenant_context(network.alpha):
        assert not get_user_model().objects.filter(email="member@beta.test").exists()


def test_the_owner_cannot_lose_the_owner_role(network: Network, console_as: ConsoleAs) -> None:
    owner = console_as(network.alpha, "owner")
    with tenant_context(network.alpha):
        me = get_user_model().objects.get(email="owner@alpha.test")

    response = owner.post(f"/console/staff/{me.pk}/revoke/", follow=True)

    assert messages_of(response) == ["The site owner's role cannot be taken away."]
    with tenant_context(network.alpha):
        me.refresh_from_db()
        assert (me.is_superuser, me.is_staff) == (True, True)


def test_dashboard_counts(network: Network, catalogue: Catalogue, console_as: ConsoleAs) -> None:
    owner = console_as(network.alpha, "owner")
    owner.post(f"/console/products/{catalogue.gem.pk}/visibility/", {"hidden": "1"})

    doc = page(owner.get("/console/").content)

    assert doc.find("stat-products").text == str(products_on_sale().count())
    assert doc.find("stat-hidden").text == "1"
    assert doc.find("stat-children").text == "1"
    assert doc.find_all("no-retail-rule") != []
    with tenant_context(network.alpha):
        assert RuleKind.RETAIL not in PriceRule.objects.values_list("kind", flat=True)
