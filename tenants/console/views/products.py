"""Which catalogue products the site shows, under which name and description."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from tenants.console import roles, selectors
from tenants.console.access import console_action, console_view
from tenants.console.forms import ProductOverrideForm, VisibilityForm, add_service_errors
from tenants.pricing.services import product_override_set

PAGE_SIZE = 50


@console_view(view=roles.VIEW_PRODUCTS)
def product_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    state = request.GET.get("state", "")
    page = Paginator(selectors.console_products(query=query, state=state), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "console/products.html",
        {
            "rows": selectors.product_rows(list(page.object_list)),
            "page_obj": page,
            "query": query,
            "state": state,
        },
    )


@console_action(change=roles.CHANGE_PRODUCTS)
def product_visibility(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_get(product_id=product_id)
    form = VisibilityForm(request.POST)
    if form.is_valid():
        hidden = form.cleaned_data["hidden"]
        product_override_set(product=product, hidden=hidden)
        if hidden:
            messages.success(
                request, _("“%(name)s” is now hidden from buyers.") % {"name": product.name}
            )
        else:
            messages.success(
                request, _("“%(name)s” is now shown to buyers.") % {"name": product.name}
            )
    else:
        messages.error(request, _("Choose to hide or to show the product."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return redirect(back or "console:products")


@console_view(view=roles.VIEW_PRODUCTS, change=roles.CHANGE_PRODUCTS)
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_get(product_id=product_id)
    override = selectors.product_override_of(product)
    initial = {
        "display_name": override.display_name if override else "",
        "description": override.description if override else "",
    }
    form = ProductOverrideForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            product_override_set(
                product=product,
                display_name=form.cleaned_data["display_name"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved how “%(name)s” is shown.") % {"name": product.name})
            return redirect("console:products")
    return render(
        request,
        "console/product_edit.html",
        {"product": product, "override": override, "form": form},
    )
