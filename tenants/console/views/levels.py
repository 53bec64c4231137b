"""Member levels: their discount off retail, and fixed prices per SKU."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.console import roles, selectors
from tenants.console.access import console_action, console_view
from tenants.console.forms import MemberLevelForm, MemberLevelPriceForm, add_service_errors
from tenants.pricing.models import MemberLevel
from tenants.pricing.services import (
    member_level_create,
    member_level_price_set,
    member_level_update,
)


@console_view(view=roles.VIEW_LEVELS, change=roles.CHANGE_LEVELS)
def member_levels(request: HttpRequest) -> HttpResponse:
    form = MemberLevelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            level = member_level_create(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Member level “%(name)s” created.") % {"name": level.name})
            return redirect("console:member_level", level_id=level.pk)
    return render(
        request,
        "console/member_levels.html",
        {"levels": selectors.member_levels(), "form": form},
    )


@console_view(view=roles.VIEW_LEVELS, change=roles.CHANGE_LEVELS)
def member_level_edit(request: HttpRequest, level_id: int) -> HttpResponse:
    level = selectors.member_level_get(level_id=level_id)
    form = MemberLevelForm(request.POST or None, initial=_initial(level), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            member_level_update(level=level, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Member level saved."))
            return redirect("console:member_level", level_id=level.pk)
    return _level_page(request, level, form=form, price_form=MemberLevelPriceForm())


@console_action(change=roles.CHANGE_LEVEL_PRICES)
def member_level_price(request: HttpRequest, level_id: int) -> HttpResponse:
    level = selectors.member_level_get(level_id=level_id)
    price_form = MemberLevelPriceForm(request.POST)
    if price_form.is_valid():
        data = price_form.cleaned_data
        try:
            member_level_price_set(level=level, sku=data["sku"], price=data["price"])
        except ValidationError as exc:
            add_service_errors(price_form, exc)
        else:
            if data["price"] is None:
                messages.success(request, _("Fixed price removed."))
            else:
                messages.success(request, _("Fixed price saved."))
            return redirect("console:member_level", level_id=level.pk)
    form = MemberLevelForm(initial=_initial(level), editing=True)
    return _level_page(request, level, form=form, price_form=price_form)


def _initial(level: MemberLevel) -> dict[str, Any]:
    return {
        "name": level.name,
        "rank": level.rank,
        "discount_percent": level.discount_percent,
        "is_default": level.is_default,
    }


def _level_page(
    request: HttpRequest,
    level: MemberLevel,
    *,
    form: MemberLevelForm,
    price_form: MemberLevelPriceForm,
) -> HttpResponse:
    return render(
        request,
        "console/member_level.html",
        {
            "level": level,
            "form": form,
            "price_form": price_form,
            "prices": selectors.member_level_prices(level),
        },
    )
