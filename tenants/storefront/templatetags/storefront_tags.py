"""Template helpers of the storefront and the console: money, delivery kinds, spec lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext, gettext_lazy

from tenants.pricing.engine import format_money

register = template.Library()

DELIVERY_LABELS = {
    "card_key": gettext_lazy("Card key, delivered instantly"),
    "reusable_key": gettext_lazy("Shared code, delivered instantly"),
    "direct_topup": gettext_lazy("Direct top-up to your account"),
    "manual": gettext_lazy("Delivered by our staff"),
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
