"""Suppliers, their offers of SKUs and the card-key stock each one delivered."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from shared.catalog.models import Sku
from shared.hq.console.access import staff_view
from shared.hq.console.forms.common import form_data, service_errors_to_form
from shared.hq.console.forms.suppliers import SupplierForm, SupplierOfferForm
from shared.suppliers.models import Supplier, SupplierOffer
from shared.suppliers.selectors import supplier_stock
from shared.suppliers.services import supplier_create, supplier_offer_set, supplier_update
from shared.vault.services import supplier_secret_set


@require_safe
@staff_view("suppliers.view_supplier")
def supplier_list(request: HttpRequest) -> HttpResponse:
    suppliers = Supplier.objects.order_by("name")
    return render(request, "hq/console/supplier_list.html", {"suppliers": suppliers})


@require_http_methods(["GET", "POST"])
@staff_view("suppliers.add_supplier")
def supplier_create_view(request: HttpRequest) -> HttpResponse:
    form = SupplierForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                supplier = supplier_create(
                    name=data["name"], kind=data["kind"], **form.supplier_fields()
                )
                if data["api_secret"]:
                    supplier_secret_set(supplier=supplier, secret=data["api_secret"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, _("Supplier “%(name)s” created.") % {"name": supplier.name})
            return redirect("hq_console:supplier_detail", supplier_id=supplier.pk)
    return render(request, "hq/console/supplier_form.html", {"form": form, "supplier": None})


@require_http_methods(["GET", "POST"])
@staff_view("suppliers.change_supplier")
def supplier_edit(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    form = SupplierForm(form_data(request), supplier=supplier)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                supplier_update(supplier=supplier, name=data["name"], **form.supplier_fields())
                if data["api_secret"]:
                    supplier_secret_set(supplier=supplier, secret=data["api_secret"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            supplier.refresh_from_db()
        else:
            messages.success(request, _("Supplier “%(name)s” saved.") % {"name": supplier.name})
            return redirect("hq_console:supplier_detail", supplier_id=supplier.pk)
    return render(request, "hq/console/supplier_form.html", {"form": form, "supplier": supplier})


@require_safe
@staff_view("suppliers.view_supplier", "suppliers.view_supplieroffer")
def supplier_detail(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    offers = supplier.offers.select_related("sku__product").order_by("priority", "sku__code")
    stock = supplier_stock(supplier)
    stocked = Sku.objects.filter(pk__in=stock).select_related("product").order_by("code")
    return render(
        request,
        "hq/console/supplier_detail.html",
        {
            "supplier": supplier,
            "offers": offers,
            "stock_rows": [(sku, stock[sku.pk]) for sku in stocked],
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view("suppliers.add_supplieroffer", "suppliers.change_supplieroffer")
def supplier_offer_create(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    form = SupplierOfferForm(form_data(request), supplier=supplier)
    return _offer_form(request, form, supplier, offer=None)


@require_http_methods(["GET", "POST"])
@staff_view("suppliers.change_supplieroffer")
def supplier_offer_edit(request: HttpRequest, supplier_id: int, offer_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    offer = get_object_or_404(
        SupplierOffer.objects.select_related("sku__product"), pk=offer_id, supplier=supplier
    )
    form = SupplierOfferForm(form_data(request), supplier=supplier, offer=offer)
    return _offer_form(request, form, supplier, offer=offer)


def _offer_form(
    request: HttpRequest,
    form: SupplierOfferForm,
    supplier: Supplier,
    *,
    offer: SupplierOffer | None,
) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = supplier_offer_set(
                supplier=supplier,
                sku=offer.sku if offer else data["sku"],
                cost=data["cost"],
                priority=data["priority"],
                is_active=data["is_active"],
            )
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Offer of “%(sku)s” by %(supplier)s saved.")
                % {"sku": saved.sku.code, "supplier": supplier.name},
            )
            return redirect("hq_console:supplier_detail", supplier_id=supplier.pk)
    return render(
        request,
        "hq/console/supplier_offer_form.html",
        {"form": form, "supplier": supplier, "offer": offer},
    )
