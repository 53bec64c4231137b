"""Retail and wholesale price rules, quantity tiers, and the price explanation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.console import roles, selectors
from tenants.console.access import console_action, console_site, console_view
from tenants.console.forms import (
    SCOPE_ALL,
    SCOPE_CATEGORY,
    SCOPE_SKU,
    ExplanationForm,
    PriceRuleForm,
    QuantityTierForm,
    add_service_errors,
)
from tenants.pricing.models import PriceRule, QuantityTier, RuleKind
from tenants.pricing.selectors import SkuNotPriced, price_explanation, prices_for
from tenants.pricing.services import price_rule_delete, price_rule_set, quantity_tier_set

RULE_PAGES = {
    RuleKind.RETAIL: "console:retail_rules",
    RuleKind.WHOLESALE: "console:wholesale_rules",
}


def _scope_initial(row: PriceRule | QuantityTier) -> dict[str, object]:
    if row.sku_id:
        return {"scope": SCOPE_SKU, "sku": row.sku_id}
    if row.category_id:
        return {"scope": SCOPE_CATEGORY, "category": row.category_id}
    return {"scope": SCOPE_ALL}


@console_view(view=roles.VIEW_PRICES, change=roles.CHANGE_PRICES)
def price_rules(request: HttpRequest, kind: str) -> HttpResponse:
    wholesale = kind == RuleKind.WHOLESALE
    initial: dict[str, object] = {}
    editing = request.GET.get("rule", "")
    if editing.isdigit():
        rule = selectors.price_rule_get(rule_id=int(editing), kind=kind)
        initial = {
            **_scope_initial(rule),
            "tier": rule.tier_id,
            "markup_kind": rule.markup_kind,
            "markup_value": rule.markup_value.normalize(),
            "rounding": rule.rounding,
        }
    form = PriceRuleForm(request.POST or None, initial=initial, wholesale=wholesale)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            price_rule_set(
                kind=kind,
                markup_kind=data["markup_kind"],
                markup_value=data["markup_value"],
                rounding=data["rounding"],
                tier=data.get("tier"),
                sku=data["sku"],
                category=data["category"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Price rule saved."))
            return redirect(RULE_PAGES[RuleKind(kind)])
    rules = selectors.price_rules(kind)
    return render(
        request,
        "console/price_rules.html",
        {
            "kind": kind,
            "wholesale": wholesale,
            "rules": rules,
            "form": form,
            "has_default_rule": any(not (r.sku_id or r.category_id or r.tier_id) for r in rules),
        },
    )


@console_action(change=roles.DELETE_PRICES)
def price_rule_remove(request: HttpRequest, kind: str, rule_id: int) -> HttpResponse:
    rule = selectors.price_rule_get(rule_id=rule_id, kind=kind)
    price_rule_delete(rule=rule)
    messages.success(request, _("Price rule removed."))
    return redirect(RULE_PAGES[RuleKind(kind)])


@console_view(view=roles.VIEW_QUANTITY_TIERS, change=roles.CHANGE_QUANTITY_TIERS)
def quantity_tiers(request: HttpRequest) -> HttpResponse:
    form = QuantityTierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            quantity_tier_set(
                min_quantity=data["min_quantity"],
                discount_percent=data["discount_percent"],
                sku=data["sku"],
                category=data["category"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Quantity tier saved."))
            return redirect("console:quantity_tiers")
    return render(
        request,
        "console/quantity_tiers.html",
        {"tiers": selectors.quantity_tiers(), "form": form},
    )


@console_action(change=roles.CHANGE_QUANTITY_TIERS)
def quantity_tier_remove(request: HttpRequest, tier_id: int) -> HttpResponse:
    tier = selectors.quantity_tier_get(tier_id=tier_id)
    quantity_tier_set(
        min_quantity=tier.min_quantity,
        discount_percent=None,
        sku=tier.sku,
        category=tier.category,
    )
    messages.success(request, _("Quantity tier removed."))
    return redirect("console:quantity_tiers")


@console_view(view=roles.VIEW_PRICES)
def explanation(request: HttpRequest) -> HttpResponse:
    form = ExplanationForm(request.GET if "sku" in request.GET else None)
    steps, price, error = None, None, ""
    if form.is_valid():
        data = form.cleaned_data
        site = console_site(request)
        try:
            steps = price_explanation(
                site=site,
                sku=data["sku"],
                member_level=data["member_level"],
                quantity=data["quantity"],
            )
            price = prices_for(
                site=site,
                skus=[data["sku"]],
                member_level=data["member_level"],
                quantity=data["quantity"],
            ).get(data["sku"].pk)
        except SkuNotPriced:
            error = _("HQ has no price for this SKU in the tier your site buys at yet.")
    return render(
        request,
        "console/explanation.html",
        {"form": form, "steps": steps, "price": price, "error": error},
    )
