"""Template helpers of the storefront and the console: money, delivery kinds, spec lists, and
the small pieces every listed SKU repeats (its price, its stock badge, a product's image).

A category page shows about 120 SKUs; those pieces are built here, once per SKU, rather than
by an `{% include %}` each, which costs a context push and a template render per SKU. The
markup is the one the partials had; every value goes through `format_html`, so it is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy

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
        return format_html(
            '<span class="price unavailable muted" data-testid="price-unavailable">{}</span>',
            gettext("Not available"),
        )
    shown = format_html(
        '<span class="price" data-testid="price">{}</span>',
        format_money(price.price, price.currency),
    )
    if price.price < price.retail:
        return format_html(
            '{} <s class="retail muted small" data-testid="retail-price" title="{}">{}</s>',
            shown,
            gettext("Retail price"),
            format_money(price.retail, price.currency),
        )
    return shown


@register.simple_tag
def stock_badge(status: str) -> SafeString:
    """A stock status; buyers see a status, never a count."""
    label = STOCK_LABELS.get(status)
    return format_html(
        '<span class="stock stock-{}" data-testid="stock-badge" data-stock="{}">{}</span>',
        status,
        status,
        label if label is not None else gettext("Sold out"),
    )


@register.simple_tag
def offer_summary(offer: SkuOffer) -> SafeString:
    """A listed SKU's name, price and stock badge (the list item around it is the theme's)."""
    return format_html(
        '<span class="offer-name">{}</span>\n{}\n{}',
        offer.sku.name,
        price_tag(offer.price),
        stock_badge(offer.stock),
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
