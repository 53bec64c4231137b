"""HQ price tiers and the grid of tier prices per SKU."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from shared.catalog.models import PriceTier
from shared.catalog.services import price_tier_create, tier_price_set
from shared.hq.console import selectors
from shared.hq.console.access import may, staff_view
from shared.hq.console.forms.common import form_data, service_errors_to_form
from shared.hq.console.forms.pricing import PriceTierForm, TierGridChoiceForm, TierPriceGridForm


@require_http_methods(["GET", "POST"])
@staff_view("catalog.view_pricetier", post=("catalog.add_pricetier",))
def tier_list(request: HttpRequest) -> HttpResponse:
    """The tiers, and a form to add one (shown to those who may)."""
    form = PriceTierForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            tier = price_tier_create(**form.cleaned_data)
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, _("Price tier “%(name)s” created.") % {"name": tier.name})
            return redirect("hq_console:tier_list")
    return render(
        request, "hq/console/tier_list.html", {"tiers": PriceTier.objects.all(), "form": form}
    )


class _GridRejected(Exception):
    """Raised inside the transaction so that no price of a rejected grid is saved."""


@require_http_methods(["GET", "POST"])
@staff_view(
    "catalog.view_pricetier",
    "catalog.view_tierprice",
    post=("catalog.add_tierprice", "catalog.change_tierprice"),
)
def tier_prices(request: HttpRequest) -> HttpResponse:
    """Tier prices of one product's SKUs, or of every SKU in a category, in one form."""
    choice = TierGridChoiceForm(request.GET or None)
    product = category = None
    if choice.is_valid():
        product = choice.cleaned_data["product"]
        category = None if product else choice.cleaned_data["category"]
    grid = selectors.tier_grid(product=product, category=category)
    read_only = not may(request, ("catalog.add_tierprice", "catalog.change_tierprice"))
    form = TierPriceGridForm(form_data(request), grid=grid, read_only=read_only)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_prices()
        try:
            with transaction.atomic():
                for name, tier, sku, price in changed:
                    try:
                        tier_price_set(tier=tier, sku=sku, price=price)
                    except ValidationError as exc:
                        form.add_error(name, exc.messages)
                if form.errors:
                    raise _GridRejected
        except _GridRejected:
            pass
        else:
            messages.success(
                request,
                ngettext("%(count)d price saved.", "%(count)d prices saved.", len(changed))
                % {"count": len(changed)},
            )
            return redirect(request.get_full_path())
    if form.errors:
        form.add_error(None, _("Nothing was saved: correct the prices marked below."))
    return render(
        request,
        "hq/console/tier_prices.html",
        {"choice": choice, "grid": grid, "form": form, "product": product, "category": category},
    )
