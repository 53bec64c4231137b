"""Forms of the HQ price tiers and their per-SKU prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from shared.catalog.models import Category, PriceTier, Product, Sku
from shared.hq.console.forms.common import CategoryChoiceField, positive_amount
from shared.hq.console.selectors import TierGrid


class PriceTierForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=64)
    rank = forms.IntegerField(
        label=_("Rank"), min_value=0, max_value=32767, initial=0, help_text=_("Lower first.")
    )


class TierGridChoiceForm(forms.Form):
    """Which SKUs the grid shows: one product's, or every SKU in a category."""

    product = forms.ModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.order_by("name"),
        required=False,
        empty_label=_("— choose a product —"),
    )
    category = CategoryChoiceField(
        label=_("or category"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("— choose a category —"),
    )


def cell_name(tier: PriceTier, sku: Sku) -> str:
    return f"price_{tier.pk}_{sku.pk}"


class TierPriceGridForm(forms.Form):
    """One optional price per (tier, SKU). An empty cell leaves that price as it is."""

    def __init__(self, *args: Any, grid: TierGrid, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grid = grid
        for sku in grid.skus:
            for tier in grid.tiers:
                label = f"{tier.name} · {sku.code}"
                self.fields[cell_name(tier, sku)] = forms.DecimalField(
                    label=label,
                    required=False,
                    max_digits=12,
                    decimal_places=2,
                    validators=[positive_amount],
                    initial=grid.prices.get((tier.pk, sku.pk)),
                    disabled=read_only,
                    widget=forms.TextInput(
                        attrs={"inputmode": "decimal", "size": 8, "aria-label": label}
                    ),
                )

    def rows(self) -> list[tuple[Sku, list[forms.BoundField]]]:
        return [
            (sku, [self[cell_name(tier, sku)] for tier in self.grid.tiers])
            for sku in self.grid.skus
        ]

    def changed_prices(self) -> list[tuple[str, PriceTier, Sku, Decimal]]:
        """(field name, tier, SKU, new price) for every filled cell whose price differs."""
        changed = []
        for sku in self.grid.skus:
            for tier in self.grid.tiers:
                name = cell_name(tier, sku)
                price = self.cleaned_data.get(name)
                if price is not None and price != self.grid.prices.get((tier.pk, sku.pk)):
                    changed.append((name, tier, sku, price))
        return changed
