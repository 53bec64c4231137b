"""Template helpers of the storefront and the console: money, delivery kinds, spec lists, and
the small pieces every listed SKU repeats (its price, its stock badge, a product's image).

A category page shows up to 500 SKUs; a product's list of offers is built here in one tag
(`offer_items`) rather than by a template loop or an `{% include %}` per SKU, which costs a
context push, variable lookups and a node render per SKU. The markup that depends only on the
language (stock badges, labels) is built once per language in a process. Every value from the
catalogue or the site is escaped (`format_html`, or `escape` where strings are joined).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from html import escape
from typing import Any, NamedTuple
from urllib.parse import quote

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_lazy

from tenants.pricing.engine import SkuPrice, format_money
from tenants.storefront.selectors import ProductEntry, SkuOffer

register = template.Library()

DELIVERY_LABELS = {
    "card_key": gettext_lazy("Card key, delivered instantly"),
    "reusable_key": gettext_lazy("Shared code, delivered instantly"),
    "direct_topup": gettext_lazy("Direct top-up to your account"),
    "manual": gettext_lazy("Delivered by our staff"),
}

STOCK_LABELS = {
    "in_stock": gettext_lazy("In stock"),
    "low": gettext_lazy("Low stock"),
    "sold_out": gettext_lazy("Sold out"),
}


@register.filter
def money(amount: Decimal | None, currency: str = "CNY") -> str:
    """`¥12.50`, through the pricing engine's one formatter (no float on the way)."""
    if amount is None:
        return ""
    return format_money(Decimal(amount), currency)


@register.filter
def delivery_label(kind: str) -> str:
    label = DELIVERY_LABELS.get(kind)
    return str(label) if label is not None else gettext("Other delivery")


@register.filter
def spec_items(specs: Any) -> list[tuple[str, str]]:
    """A SKU's specs as (name, value) pairs, whatever HQ stored."""
    if not isinstance(specs, dict):
        return []
    return [(str(k), str(v)) for k, v in specs.items()]


@register.filter
def plain(value: Decimal | None) -> str:
    """A decimal without trailing zeros or exponent: 10.0000 -> "10", 2.50 -> "2.5"."""
    if value is None:
        return ""
    return f"{Decimal(value).normalize():f}"


@register.simple_tag
def price_tag(price: SkuPrice | None) -> SafeString:
    """What the buyer pays, with the retail price struck through when they pay less; "Not
    available" when the site has no price for the SKU."""
    return mark_safe(_price_markup(price, _fixed_markup(get_language())))  # noqa: S308


def _price_markup(price: SkuPrice | None, fixed: _FixedMarkup) -> str:
    if price is None:
        return fixed.unavailable
    return _price_html(price.price, price.retail, price.currency, fixed.retail_title)


@functools.lru_cache(maxsize=4096)
def _price_html(price: Decimal, retail: Decimal, currency: str, retail_title: str) -> str:
    """A price's markup; a page repeats the same few prices (and amounts equal in value format
    the same), so each is built once in a process."""
    # format_money gives a symbol and digits, or digits and the currency's code (escaped).
    shown = escape(format_money(price, currency))
    if price < retail:
        return (
            f'<span class="price" data-testid="price">{shown}</span> <s class="retail muted'
            f' small" data-testid="retail-price" title="{retail_title}">'
            f"{escape(format_money(retail, currency))}</s>"
        )
    return f'<span class="price" data-testid="price">{shown}</span>'


@register.simple_tag
def stock_badge(status: str) -> SafeString:
    """A stock status; buyers see a status, never a count."""
    badge = _fixed_markup(get_language()).badges.get(status)
    return badge if badge is not None else _badge(status, gettext("Sold out"))


@register.simple_tag
def offer_summary(offer: SkuOffer) -> SafeString:
    """A listed SKU's name, price and stock badge (the list item around it is the theme's)."""
    return mark_safe(_offer_summary(offer, _fixed_markup(get_language())))  # noqa: S308


def _offer_summary(offer: SkuOffer, fixed: _FixedMarkup) -> str:
    badge = fixed.badges.get(offer.stock) or _badge(offer.stock, gettext("Sold out"))
    return (
        f'<span class="offer-name">{escape(offer.sku.name)}</span>\n'
        f"{_price_markup(offer.price, fixed)}\n{badge}"
    )


@register.simple_tag
def offer_items(entry: ProductEntry, css_class: str = "offer") -> SafeString:
    """A listed product's offers, one `<li>` each (its SKU's name, price and stock badge), or
    a line saying there is none yet."""
    fixed = _fixed_markup(get_language())
    if not entry.offers:
        return fixed.no_offers
    opening = f'<li class="{escape(css_class)}" data-testid="offer" data-sku="'
    return mark_safe(  # noqa: S308 - every piece is escaped or fixed markup
        "".join(
            f'{opening}{escape(offer.sku.code)}">{_offer_summary(offer, fixed)}</li>'
            for offer in entry.offers
        )
    )


class _FixedMarkup(NamedTuple):
    badges: dict[str, SafeString]  # by stock status
    unavailable: SafeString
    retail_title: SafeString
    no_offers: SafeString


@functools.cache
def _fixed_markup(language: str | None) -> _FixedMarkup:
    """The markup that depends on nothing but the language, built once per language in a
    process: a page repeats it for every SKU. Called with `language` active, so the labels
    are in it."""
    return _FixedMarkup(
        badges={status: _badge(status, label) for status, label in STOCK_LABELS.items()},
        unavailable=format_html(
            '<span class="price unavailable muted" data-testid="price-unavailable">{}</span>',
            gettext("Not available"),
        ),
        retail_title=conditional_escape(gettext("Retail price")),
        no_offers=format_html(
            '<li class="muted small">{}</li>', gettext("No options on sale yet.")
        ),
    )


def _badge(status: str, label: str) -> SafeString:
    return format_html(
        '<span class="stock stock-{}" data-testid="stock-badge" data-stock="{}">{}</span>',
        status,
        status,
        label,
    )


@register.simple_tag
def product_image(entry: Any, large: bool = False) -> SafeString:
    """A product's image, or its name's first letter when HQ gave it none."""
    size = " large" if large else ""
    image = entry.product.image
    if image:
        return format_html(
            '<img class="product-image{}" src="{}" alt="" loading="lazy">', size, image.url
        )
    return mark_safe(  # noqa: S308 - the letter is escaped
        f'<span class="product-image placeholder{size}" aria-hidden="true">'
        f"{escape(entry.name[:1])}</span>"
    )


@register.simple_tag
def product_row_link(entry: ProductEntry) -> SafeString:
    """The head of a listed product's row: a link holding its image (or initial), its name (a
    star when pinned) and its tags, built in one piece, as a page lists up to 100 products."""
    product = entry.product
    pin = ""
    if product.is_pinned:
        recommended = escape(gettext("Recommended"))
        pin = f'<span class="pin" title="{recommended}">★</span> '
    tags = ""
    if product.tags:
        tags = "".join(f'<span class="tag">#{escape(str(tag))}</span>' for tag in product.tags)
        tags = f'\n<span class="tags small muted">{tags}</span>'
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<a class="product-row-main" href="{escape(product_url(product.slug))}">\n'
        f"{product_image(entry)}\n"
        '<span class="product-row-text">\n<span class="product-name" data-testid="product-name">'
        f"{pin}{escape(entry.name)}</span>{tags}\n</span>\n</a>"
    )


@register.filter
def product_url(slug: str) -> str:
    """`{% url 'storefront:product' slug %}` for a listing's every product, at the cost of one
    `reverse` per URL configuration (reversing is slow, and a page lists up to 100 products):
    the path around a placeholder slug, with this slug quoted as `reverse` quotes it."""
    prefix, suffix = _product_path(get_urlconf(), get_script_prefix())
    return prefix + quote(slug, safe=RFC3986_SUBDELIMS + "~:@") + suffix


@functools.lru_cache(maxsize=64)
def _product_path(urlconf: str | None, script_prefix: str) -> tuple[str, str]:
    placeholder = "slug-placeholder"
    path = reverse("storefront:product", kwargs={"slug": placeholder})
    prefix, _, suffix = path.rpartition(placeholder)
    return prefix, suffix
