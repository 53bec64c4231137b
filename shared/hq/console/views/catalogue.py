"""Categories, products and SKUs of HQ's master catalogue."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from shared.catalog.models import Category, Product, Sku
from shared.catalog.services import (
    category_create,
    category_update,
    product_create,
    product_update,
    sku_create,
    sku_update,
)
from shared.hq.console import selectors
from shared.hq.console.access import staff_view
from shared.hq.console.forms.catalogue import CategoryForm, ProductFilterForm, ProductForm, SkuForm
from shared.hq.console.forms.common import form_data, form_files, service_errors_to_form

PRODUCTS_PER_PAGE = 25


# --- Categories -------------------------------------------------------------------------------


@require_safe
@staff_view("catalog.view_category")
def category_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "hq/console/category_list.html", {"tree": selectors.categories_with_counts()}
    )


@require_http_methods(["GET", "POST"])
@staff_view("catalog.add_category")
def category_create_view(request: HttpRequest) -> HttpResponse:
    form = CategoryForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            category = category_create(
                name=data["name"],
                parent=data["parent"],
                slug=data["slug"] or None,
                sort_order=data["sort_order"],
            )
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, _("Category “%(name)s” created.") % {"name": category.name})
            return redirect("hq_console:category_list")
    return render(request, "hq/console/category_form.html", {"form": form, "category": None})


@require_http_methods(["GET", "POST"])
@staff_view("catalog.change_category")
def category_edit(request: HttpRequest, category_id: int) -> HttpResponse:
    category = get_object_or_404(Category, pk=category_id)
    form = CategoryForm(form_data(request), category=category)
    if request.method == "POST" and form.is_valid():
        try:
            category_update(category=category, **form.cleaned_data)
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            category.refresh_from_db()
        else:
            messages.success(request, _("Category “%(name)s” saved.") % {"name": category.name})
            return redirect("hq_console:category_list")
    return render(request, "hq/console/category_form.html", {"form": form, "category": category})


# --- Products ---------------------------------------------------------------------------------


@require_safe
@staff_view("catalog.view_product")
def product_list(request: HttpRequest) -> HttpResponse:
    filters = ProductFilterForm(request.GET or None)
    criteria: dict[str, Any] = {}
    if filters.is_valid():
        criteria = {
            "category": filters.cleaned_data["category"],
            "status": filters.cleaned_data["status"],
            "search": filters.cleaned_data["q"],
        }
    page = Paginator(selectors.products_filtered(**criteria), PRODUCTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "hq/console/product_list.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


@require_http_methods(["GET", "POST"])
@staff_view("catalog.add_product")
def product_create_view(request: HttpRequest) -> HttpResponse:
    form = ProductForm(form_data(request), form_files(request))
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                product = product_create(**form.product_fields())
                if form.cleaned_data["image"]:
                    product_update(product=product, image=form.cleaned_data["image"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, _("Product “%(name)s” created.") % {"name": product.name})
            return redirect("hq_console:product_detail", product_id=product.pk)
    return render(request, "hq/console/product_form.html", {"form": form, "product": None})


@require_safe
@staff_view("catalog.view_product", "catalog.view_sku")
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("category"), pk=product_id)
    skus = product.skus.annotate(available=Coalesce("stock__available", 0)).order_by(
        "sort_order", "face_value", "id"
    )
    return render(request, "hq/console/product_detail.html", {"product": product, "skus": skus})


@require_http_methods(["GET", "POST"])
@staff_view("catalog.change_product")
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    form = ProductForm(form_data(request), form_files(request), product=product)
    if request.method == "POST" and form.is_valid():
        changes = form.product_fields()
        image = form.cleaned_data["image"]
        if image is False:
            changes["image"] = ""  # "clear" ticked
        elif image and image != product.image:
            changes["image"] = image
        try:
            product_update(product=product, **changes)
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            product.refresh_from_db()
        else:
            messages.success(request, _("Product “%(name)s” saved.") % {"name": product.name})
            return redirect("hq_console:product_detail", product_id=product.pk)
    return render(request, "hq/console/product_form.html", {"form": form, "product": product})


# --- SKUs -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_view("catalog.add_sku")
def sku_create_view(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    form = SkuForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                sku = sku_create(
                    product=product,
                    code=data["code"],
                    name=data["name"],
                    face_value=data["face_value"],
                    delivery_kind=data["delivery_kind"],
                    currency=data["currency"],
                    specs=data["specs"],
                    input_fields=data["input_fields"],
                    min_quantity=data["min_quantity"],
                    max_quantity=data["max_quantity"],
                    low_stock_threshold=data["low_stock_threshold"],
                )
                if not data["is_active"]:
                    sku_update(sku=sku, is_active=False)
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, _("SKU “%(code)s” created.") % {"code": sku.code})
            return redirect("hq_console:product_detail", product_id=product.pk)
    return render(
        request, "hq/console/sku_form.html", {"form": form, "product": product, "sku": None}
    )


@require_http_methods(["GET", "POST"])
@staff_view("catalog.change_sku")
def sku_edit(request: HttpRequest, sku_id: int) -> HttpResponse:
    sku = get_object_or_404(Sku.objects.select_related("product"), pk=sku_id)
    form = SkuForm(form_data(request), sku=sku)
    if request.method == "POST" and form.is_valid():
        try:
            sku_update(sku=sku, **form.update_fields())
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            sku.refresh_from_db()
        else:
            messages.success(request, _("SKU “%(code)s” saved.") % {"code": sku.code})
            return redirect("hq_console:product_detail", product_id=sku.product_id)
    return render(
        request, "hq/console/sku_form.html", {"form": form, "product": sku.product, "sku": sku}
    )
