"""Forms of suppliers and their offers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from shared.catalog.models import Sku
from shared.hq.console.forms.common import SkuChoiceField
from shared.suppliers.models import (
    Supplier,
    SupplierKind,
    SupplierOffer,
    SupplierProtocol,
    SupplierStatus,
)

# Fields supplier_create and supplier_update take as they are.
SUPPLIER_FIELDS = (
    "status",
    "contact_name",
    "contact_email",
    "contact_phone",
    "api_base_url",
    "api_key_id",
    "api_protocol",
    "notes",
)


class SupplierForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=SupplierKind.choices)
    status = forms.ChoiceField(
        label=_("Status"), choices=SupplierStatus.choices, initial=SupplierStatus.ACTIVE
    )
    contact_name = forms.CharField(label=_("Contact name"), max_length=100, required=False)
    contact_email = forms.EmailField(label=_("Contact email"), required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=32, required=False)
    api_base_url = forms.URLField(
        label=_("API base URL"), required=False, assume_scheme="https", max_length=200
    )
    api_key_id = forms.CharField(label=_("API key id"), max_length=100, required=False)
    api_protocol = forms.TypedChoiceField(
        label=_("API protocol"),
        choices=SupplierProtocol.choices,
        required=False,
        empty_value=SupplierProtocol.KAMENG,
        help_text=_("How this supplier's API is called (docs/supplier-protocol.md)."),
    )
    api_secret = forms.CharField(
        label=_("API secret"),
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only: it is stored encrypted and never shown. Leave empty to keep."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea({"rows": 3}))

    def __init__(self, *args: Any, supplier: Supplier | None = None, **kwargs: Any) -> None:
        if supplier is not None:
            kwargs.setdefault(
                "initial",
                {"name": supplier.name, "kind": supplier.kind}
                | {field: getattr(supplier, field) for field in SUPPLIER_FIELDS},
            )
        super().__init__(*args, **kwargs)
        if supplier is not None:
            # The kind decides which SKUs the supplier can offer; it is fixed once created.
            self.fields["kind"].disabled = True

    def supplier_fields(self) -> dict[str, Any]:
        return {field: self.cleaned_data[field] for field in SUPPLIER_FIELDS}


class SupplierOfferForm(forms.Form):
    sku = SkuChoiceField(label=_("SKU"), queryset=Sku.objects.none())
    cost = forms.DecimalField(
        label=_("Cost"), max_digits=12, decimal_places=2, min_value=Decimal("0")
    )
    priority = forms.IntegerField(
        label=_("Priority"),
        min_value=0,
        max_value=1000,
        initial=100,
        help_text=_("0 is tried first."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        supplier: Supplier,
        offer: SupplierOffer | None = None,
        **kwargs: Any,
    ) -> None:
        if offer is not None:
            kwargs.setdefault(
                "initial",
                {
                    "sku": offer.sku_id,
                    "cost": offer.cost,
                    "priority": offer.priority,
                    "is_active": offer.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        self.supplier = supplier
        self.offer = offer
        sku_field = self.fields["sku"]
        assert isinstance(sku_field, forms.ModelChoiceField)
        sku_field.queryset = Sku.objects.select_related("product").order_by(
            "product__name", "sort_order", "id"
        )
        if offer is not None:
            sku_field.disabled = True  # an offer is edited for its SKU; another SKU is a new offer

    def clean_sku(self) -> Sku:
        sku: Sku = self.cleaned_data["sku"]
        if self.offer is None and self.supplier.offers.filter(sku=sku).exists():
            raise forms.ValidationError(
                _("This supplier already offers this SKU: edit that offer instead.")
            )
        return sku
