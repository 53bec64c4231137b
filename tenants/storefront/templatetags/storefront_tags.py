"""Template helpers of the storefront and the console: money, delivery kinds, spec lists, and
the small pieces every listed SKU repeats (its price, its stock badge, a product's image).

A category page shows about 120 SKUs; those pieces are built here, once per SKU, rather than
by an `{% include %}` each, which costs a context push and a template render per SKU. The
markup is the one the partials had; every value goes through `format_html`, so it is escaped.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, NamedTuple

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, gettext_lazy

from tenants.pricing.engine import SkuPrice, format_money
from tenants.storefront.selectors import SkuOffer

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
    if price is None:
        return _fixed_markup(get_language()).unavailable
    shown = format_money(price.price, price.currency)
    if price.price < price.retail:
        return format_html(
            '<span class="price" data-testid="price">{}</span> <s class="retail muted small"'
            ' data-testid="retail-price" title="{}">{}</s>',
            shown,
            _fixed_markup(get_language()).retail_title,
            format_money(price.retail, price.currency),
        )
    return format_html('<span class="price" data-testid="price">{}</span>', shown)


@register.simple_tag
def stock_badge(status: str) -> SafeString:
    """A stock status; buyers see a status, never a count."""
    badge = _fixed_markup(get_language()).badges.get(status)
    return badge if badge is not None else _badge(status, gettext("Sold out"))


@register.simple_tag
def offer_summary(offer: SkuOffer) -> SafeString:
    """A listed SKU's name, price and stock badge (the list item around it is the theme's)."""
    return format_html(
        '<span class="offer-name">{}</span>\n{}\n{}',
        offer.sku.name,
        price_tag(offer.price),
        stock_badge(offer.stock),
    )


class _FixedMarkup(NamedTuple):
    badges: dict[str, SafeString]  # by stock status
    unavailable: SafeString
    retail_title: SafeString


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
    return format_html(
        '<span class="product-image placeholder{}" aria-hidden="true">{}</span>',
        size,
        entry.name[:1],
    )
