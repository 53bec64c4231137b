"""Storefront pages: each site's prices, visibility, stock badges, search, themes, branding."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.paginator import Paginator
from django.test import Client
from django.urls import reverse, set_urlconf
from django_tenants.utils import tenant_context
from pytest_django import DjangoAssertNumQueries

from shared.catalog.models import DeliveryKind, ListingStatus, Sku
from shared.catalog.services import category_update, product_create, sku_create, tier_price_set
from shared.sites.models import Site
from shared.vault.selectors import stock_levels, stock_status
from tenants.pricing.models import MarkupKind, RuleKind
from tenants.pricing.services import (
    member_level_create,
    price_rule_set,
    product_override_set,
)
from tenants.storefront import selectors, views
from tenants.storefront.services import storefront_settings_update
from tenants.storefront.templatetags.storefront_tags import product_url
from tests.conftest import MEMBER_PASSWORD, Network, site_host
from tests.storefront.catalogue import Catalogue
from tests.storefront.html import offers, page

SiteClient = Callable[..., Client]


def retail_rule(site: Site, kind: str, value: str) -> None:
    with tenant_context(site):
        price_rule_set(kind=RuleKind.RETAIL, markup_kind=kind, markup_value=Decimal(value))


def hide(site: Site, *products: object, **changes: object) -> None:
    with tenant_context(site):
        for product in products:
            product_override_set(product=product, **changes)  # type: ignore[arg-type]


def test_category_page_prices_each_site_at_its_own_prices(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    retail_rule(network.alpha, MarkupKind.PERCENT, "10")
    retail_rule(network.beta, MarkupKind.FIXED, "2")

    alpha = site_client(network.alpha).get("/c/sf-games/")
    beta = site_client(network.beta).get("/c/sf-games/")

    assert alpha.status_code == 200
    # Games and the Steam category inside it; neither the draft nor another category's product.
    assert offers(alpha.content) == {
        "sf-steam-50": ("50 Steam Wallet ¥49.50 In stock", "in_stock"),
        "sf-steam-100": ("100 Steam Wallet ¥99.00 Low stock", "low"),
        "sf-points-10": ("10 Game Points ¥9.90 In stock", "in_stock"),
        "sf-gem-1": ("1 Hidden Gem ¥5.50 In stock", "in_stock"),
    }
    assert offers(beta.content) == {
        "sf-steam-50": ("50 Steam Wallet ¥47.00 In stock", "in_stock"),
        "sf-steam-100": ("100 Steam Wallet ¥92.00 Low stock", "low"),
        "sf-points-10": ("10 Game Points ¥11.00 In stock", "in_stock"),
        "sf-gem-1": ("1 Hidden Gem ¥7.00 In stock", "in_stock"),
    }


def test_sub_site_prices_start_from_its_parents_wholesale_price(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    with tenant_context(network.alpha):
        price_rule_set(
            kind=RuleKind.WHOLESALE, markup_kind=MarkupKind.FIXED, markup_value=Decimal("3")
        )
    retail_rule(network.alpha_kid, MarkupKind.FIXED, "1")

    response = site_client(network.alpha_kid).get("/c/sf-steam/")

    # HQ 45.00 + alpha's wholesale 3.00 + the kid's retail 1.00.
    assert offers(response.content)["sf-steam-50"] == (
        "50 Steam Wallet ¥49.00 In stock",
        "in_stock",
    )


def test_signed_in_member_sees_their_level_price_and_the_retail_price(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    retail_rule(network.alpha, MarkupKind.PERCENT, "20")  # 45.00 -> 54.00
    with tenant_context(network.alpha):
        member_level_create(code="vip", name="VIP", discount_percent=Decimal(10), is_default=True)
    member = site_client(network.alpha, "member@alpha.test", MEMBER_PASSWORD)

    response = member.get("/p/sf-steam-wallet/")

    doc = page(response.content)
    assert offers(response.content)["sf-steam-50"][0].startswith(
        "50 Steam Wallet ¥48.60 ¥54.00 In stock"
    )
    assert doc.find("member-level").text == (
        "Your member level: VIP. Prices shown are your prices."
    )
    # A guest on the same site pays retail, and the level is a member's only.
    guest = site_client(network.alpha).get("/p/sf-steam-wallet/")
    assert offers(guest.content)["sf-steam-50"][0].startswith("50 Steam Wallet ¥54.00 In stock")
    assert page(guest.content).find_all("member-level") == []


def test_hidden_product_is_404_on_that_site_and_visible_on_its_sibling(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    hide(network.alpha, catalogue.steam_wallet, hidden=True)
    alpha, beta = site_client(network.alpha), site_client(network.beta)

    assert alpha.get("/p/sf-steam-wallet/").status_code == 404
    on_beta = beta.get("/p/sf-steam-wallet/")
    assert on_beta.status_code == 200
    assert page(on_beta.content).find("product-name").text == "Steam Wallet"
    # Nor is it listed anywhere on alpha: category, home (it is pinned), search.
    assert set(offers(alpha.get("/c/sf-steam/").content)) == {"sf-gem-1"}
    assert "sf-steam-50" not in offers(alpha.get("/").content)
    assert "sf-steam-50" in offers(beta.get("/").content)
    assert offers(alpha.get("/search/", {"q": "steam"}).content) == {}


@pytest.mark.parametrize("slug", ["sf-draft", "no-such-product"])
def test_products_not_on_sale_are_404(
    network: Network, catalogue: Catalogue, site_client: SiteClient, slug: str
) -> None:
    assert site_client(network.alpha).get(f"/p/{slug}/").status_code == 404


def test_inactive_or_unknown_category_is_404(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    category_update(category=catalogue.phone, is_active=False)
    client = site_client(network.alpha)
    assert client.get("/c/sf-phone/").status_code == 404
    assert client.get("/c/nothing-here/").status_code == 404
    assert client.get("/p/sf-phone-credit/").status_code == 404


def test_product_page_shows_the_sites_name_description_and_sku_details(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    hide(
        network.alpha,
        catalogue.points,
        display_name="Diamond Pack",
        description="Our best <b>seller</b>.",
    )

    response = site_client(network.alpha).get("/p/sf-game-points/")

    doc = page(response.content)
    assert doc.find("product-name").text == "Diamond Pack"
    assert doc.find("product-description").text == "Our best <b>seller</b>."
    assert b"Our best &lt;b&gt;seller&lt;/b&gt;." in response.content  # escaped, not markup
    assert doc.find("delivery").text == "Direct top-up to your account"
    assert doc.find("quantity-limits").text == "1 to 100"
    form = doc.find("buy-form")
    assert "Game account * " in form.text
    assert "Server * — Asia Europe" in form.text
    # The sibling shows HQ's name.
    beta = site_client(network.beta).get("/p/sf-game-points/")
    assert page(beta.content).find("product-name").text == "Game Points"


def test_product_page_lists_specs_and_quantity_limits(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    response = site_client(network.alpha).get("/p/sf-steam-wallet/")

    doc = page(response.content)
    steam_50 = next(o for o in doc.find_all("offer") if o.attrs["data-sku"] == "sf-steam-50")
    assert steam_50.text == (
        "50 Steam Wallet ¥45.00 In stock Face value ¥50.00 Delivery Card key, delivered "
        "instantly Quantity per order 1 to 5 region CN"
    )


def test_stock_badges_show_a_status_and_never_a_count(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    client = site_client(network.alpha)
    for path in ("/c/sf-games/", "/c/sf-phone/", "/p/sf-steam-wallet/", "/"):
        for offer in page(client.get(path).content).find_all("offer"):
            assert offer.find("stock-badge").text in {"In stock", "Low stock", "Sold out"}
    phone = offers(client.get("/c/sf-phone/").content)
    assert phone == {"sf-phone-30": ("30 Phone Credit ¥29.00 Sold out", "sold_out")}
    # 12 and 3 keys are in stock: neither number is anywhere in the listing.
    listing = client.get("/c/sf-steam/").content.decode().split("<main", 1)[1]
    listing = listing.split("</main>", 1)[0]
    assert ">12<" not in listing and " 12 " not in listing and "12 " not in listing
    assert " 3 " not in listing and ">3<" not in listing


def test_search_finds_by_name_tag_and_the_sites_own_name_respecting_visibility(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    hide(network.alpha, catalogue.gem, hidden=True)
    hide(network.alpha, catalogue.points, display_name="Diamond Pack")
    alpha, beta = site_client(network.alpha), site_client(network.beta)

    def found(client: Client, query: str) -> list[str]:
        response = client.get("/search/", {"q": query})
        assert response.status_code == 200
        return [e.attrs["data-product"] for e in page(response.content).find_all("product")]

    assert found(alpha, "wallet") == ["sf-steam-wallet"]
    assert found(alpha, "mobile") == ["sf-phone-credit"]  # a tag
    assert found(alpha, "gem") == []  # hidden on alpha
    assert found(beta, "gem") == ["sf-hidden-gem"]
    assert found(alpha, "diamond") == ["sf-game-points"]  # alpha's own name
    assert found(beta, "diamond") == []
    assert found(alpha, "draft") == []  # not on sale
    assert found(alpha, "") == []


def test_theme_setting_selects_the_theme_template(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    client = site_client(network.alpha)
    classic = client.get("/c/sf-games/")
    assert "storefront/classic/category.html" in [t.name for t in classic.templates]
    assert page(classic.content).find_all("theme-classic") != []

    with tenant_context(network.alpha):
        storefront_settings_update(theme="showcase")
    showcase = client.get("/c/sf-games/")

    names = [t.name for t in showcase.templates]
    assert "storefront/showcase/category.html" in names
    assert "storefront/classic/category.html" not in names
    assert "storefront/partials/product_card.html" in names
    # Same offers, other layout.
    assert offers(showcase.content) == offers(classic.content)
    # The sibling keeps its own theme.
    beta = site_client(network.beta).get("/c/sf-games/")
    assert "storefront/classic/category.html" in [t.name for t in beta.templates]


def test_theme_preview_is_for_staff_only(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    guest = site_client(network.alpha).get("/", {"theme": "showcase"})
    owner = site_client(network.alpha, "owner@alpha.test", "owner-pass-123").get(
        "/", {"theme": "showcase"}
    )
    assert "storefront/classic/home.html" in [t.name for t in guest.templates]
    assert "storefront/showcase/home.html" in [t.name for t in owner.templates]


def test_pages_carry_the_sites_branding(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    with tenant_context(network.alpha):
        storefront_settings_update(
            tagline="Cards <fast>", accent_color="#123ABC", announcement="Sale <script>x</script>"
        )
    for path in ("/", "/c/sf-games/", "/p/sf-steam-wallet/", "/search/?q=steam"):
        response = site_client(network.alpha).get(path)
        doc = page(response.content)
        assert doc.find("announcement").text == "Sale <script>x</script>"
        assert b"Sale &lt;script&gt;x&lt;/script&gt;" in response.content
        assert b":root { --accent: #123abc; }" in response.content
        assert doc.find_all("site-initial")[0].text == "A"
    home = page(site_client(network.alpha).get("/").content)
    assert home.find("site-name").text == "Alpha Cards"
    assert home.find("tagline").text == "Cards <fast>"
    beta = page(site_client(network.beta).get("/").content)
    assert beta.find_all("announcement") == []
    assert beta.find("site-name").text == "Beta Codes"


def test_home_shows_pinned_products_and_categories(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    response = site_client(network.alpha).get("/")

    doc = page(response.content)
    assert [e.attrs["data-product"] for e in doc.find_all("product")] == ["sf-steam-wallet"]
    tiles = [t.text for t in doc.find_all("category-tile")]
    assert "Games Steam" in tiles
    assert "Phone" in tiles


def test_listing_costs_the_same_queries_whatever_the_number_of_products(
    network: Network,
    catalogue: Catalogue,
    site_client: SiteClient,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    retail_rule(network.alpha, MarkupKind.PERCENT, "10")
    with tenant_context(network.alpha):
        member_level_create(code="m", name="M", discount_percent=Decimal(1), is_default=True)
    client = site_client(network.alpha, "member@alpha.test", MEMBER_PASSWORD)
    client.get("/c/sf-games/")  # warm the rule cache

    # Routing 3, session and user 2, member level 1, category tree 1, products 1 (the page,
    # the total and the site's names together), SKUs with their stock 1, branding 1, and one
    # `prices_for` call (3 warm: chain with tiers, tokens, HQ prices with level prices and
    # category chains). Fixed: see below.
    with django_assert_max_num_queries(13) as captured:
        assert len(offers(client.get("/c/sf-games/").content)) == 4
    few = len(captured)
    for n in range(8):
        product = product_create(
            category=catalogue.games,
            name=f"Extra {n}",
            slug=f"sf-extra-{n}",
            status=ListingStatus.LISTED,
        )
        for face in ("10", "20"):
            sku = sku_create(
                product=product,
                code=f"sf-extra-{n}-{face}",
                name=face,
                face_value=face,
                delivery_kind=DeliveryKind.CARD_KEY,
            )
            tier_price_set(tier=catalogue.standard, sku=sku, price=Decimal(face))
        hide(network.alpha, product, display_name=f"Renamed {n}")
    client.get("/c/sf-games/")  # the renames changed alpha's pricing token: warm again
    with django_assert_max_num_queries(few) as many:
        assert len(offers(client.get("/c/sf-games/").content)) == 20
    assert len(many) == few


def test_logo_is_served_by_its_own_site_only(
    network: Network,
    catalogue: Catalogue,
    site_client: SiteClient,
    tmp_path: object,
    settings: object,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.storefront.images import png_bytes

    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    with tenant_context(network.alpha):
        storefront_settings_update(logo=SimpleUploadedFile("mine.png", png_bytes()))

    alpha = site_client(network.alpha)
    response = alpha.get("/brand/logo")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == png_bytes()  # type: ignore[attr-defined]
    assert page(alpha.get("/").content).find_all("site-logo") != []
    assert site_client(network.beta).get("/brand/logo").status_code == 404


def test_storefront_speaks_the_sites_language_by_default(
    network: Network, catalogue: Catalogue
) -> None:
    response = Client(HTTP_HOST=site_host(network.alpha)).get("/c/sf-steam/")

    assert response["Content-Language"] == "zh-hans"
    assert offers(response.content) == {
        "sf-steam-50": ("50 Steam Wallet ¥45.00 有货", "in_stock"),
        "sf-steam-100": ("100 Steam Wallet ¥90.00 库存紧张", "low"),
        "sf-gem-1": ("1 Hidden Gem ¥5.00 有货", "in_stock"),
    }


@pytest.mark.parametrize(
    ("number", "expected"),
    [("1", 1), ("2", 2), (2, 2), ("3", 2), ("0", 2), ("-1", 2), ("two", 1), ("1.5", 1), (None, 1)],
)
def test_products_page_is_the_paginators_page(
    network: Network, catalogue: Catalogue, number: object, expected: int
) -> None:
    with tenant_context(network.alpha):
        products = selectors.visible_products_on_sale()  # 4 listed products: 2 pages of 3
        page = selectors.products_page(products, number, per_page=3)
        reference = Paginator(products, 3).get_page(number)

        assert page.number == reference.number == expected
        assert list(page.object_list) == list(reference.object_list)
        assert (page.paginator.count, page.paginator.num_pages) == (4, 2)
        assert (page.has_previous(), page.has_next()) == (expected == 2, expected == 1)


def test_products_page_reads_the_page_and_the_total_in_one_query(
    network: Network,
    catalogue: Catalogue,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with tenant_context(network.alpha):
        products = selectors.visible_products_on_sale()
        last = list(products)[3:]
        with django_assert_num_queries(1):
            page = selectors.products_page(products, "2", per_page=3)
            assert list(page.object_list) == last
            assert (page.paginator.count, page.paginator.num_pages) == (4, 2)


def test_listing_stock_is_the_vaults_stock_status(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    """Listings read the stock counter with the SKUs: the status must be the one the vault's
    own `stock_levels` gives, for every delivery kind (counted, unlimited, never imported)."""
    with tenant_context(network.alpha):
        products = list(selectors.visible_products_on_sale())
        entries = selectors.product_entries(
            site=network.alpha, products=products, member_level=None
        )
        offers_seen = [o for e in entries for o in e.offers]
        levels = stock_levels([o.sku.pk for o in offers_seen])
        thresholds = dict(
            Sku.objects.filter(pk__in=levels).values_list("pk", "low_stock_threshold")
        )
    assert {o.sku.code: o.stock for o in offers_seen} == {
        "sf-steam-50": "in_stock",
        "sf-steam-100": "low",
        "sf-points-10": "in_stock",
        "sf-phone-30": "sold_out",
        "sf-gem-1": "in_stock",
    }
    for offer in offers_seen:
        assert offer.stock == stock_status(levels[offer.sku.pk], thresholds[offer.sku.pk])


def test_category_page_lists_a_page_of_products_and_links_the_next(
    network: Network,
    catalogue: Catalogue,
    site_client: SiteClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "CATEGORY_PAGE_SIZE", 2)
    client = site_client(network.alpha)

    first = client.get("/c/sf-games/")
    second = client.get("/c/sf-games/", {"page": "2"})

    def listed(response: Any) -> list[str]:
        return [e.attrs["data-product"] for e in page(response.content).find_all("product")]

    assert listed(first) == ["sf-steam-wallet", "sf-game-points"]
    assert listed(second) == ["sf-hidden-gem"]
    assert b'href="?page=2"' in first.content
    assert b'href="?page=1"' in second.content


@pytest.mark.parametrize("slug", ["sf-steam-wallet", "a_b-1", "café", "x y", "50%"])
def test_product_url_is_what_reverse_gives(slug: str) -> None:
    set_urlconf("kameng.urls_tenant")
    try:
        assert product_url(slug) == reverse("storefront:product", kwargs={"slug": slug})
    finally:
        set_urlconf(None)


def test_listing_links_each_product_to_its_page(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    client = site_client(network.alpha)
    listing = client.get("/c/sf-games/").content.decode()
    for slug in ("sf-steam-wallet", "sf-game-points", "sf-hidden-gem"):
        assert f'href="/p/{slug}/"' in listing
        assert client.get(f"/p/{slug}/").status_code == 200


def test_listing_row_shows_pin_name_and_tags_escaped(
    network: Network, catalogue: Catalogue, site_client: SiteClient
) -> None:
    hide(network.alpha, catalogue.steam_wallet, display_name="Wallet <b>top</b>")

    response = site_client(network.alpha).get("/c/sf-steam/")

    rows = {r.attrs["data-product"]: r for r in page(response.content).find_all("product")}
    wallet = rows["sf-steam-wallet"]
    assert wallet.find("product-name").text == "★ Wallet <b>top</b>"  # pinned: the star
    assert rows["sf-hidden-gem"].find("product-name").text == "Hidden Gem"
    assert b"Wallet &lt;b&gt;top&lt;/b&gt;" in response.content
    assert b'<span class="tag">#steam</span><span class="tag">#wallet</span>' in response.content
    assert b'title="Recommended"' in response.content
