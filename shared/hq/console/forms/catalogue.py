"""Forms of the catalogue: categories, products and SKUs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from shared.catalog.models import Category, DeliveryKind, ListingStatus, Product, Sku
from shared.catalog.selectors import category_descendant_ids
from shared.catalog.topup import input_fields_parse
from shared.hq.console.forms.common import (
    DATETIME_WIDGET,
    CategoryChoiceField,
    UploadLimit,
    specs_parse,
    specs_text,
    tags_parse,
)

IMAGE_MAX_BYTES = 5 * 1024 * 1024


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    parent = CategoryChoiceField(
        label=_("Parent category"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("— none (top level) —"),
    )
    slug = forms.SlugField(
        label=_("Slug"),
        max_length=90,
        required=False,
        allow_unicode=True,
        help_text=_("Optional; made from the name when empty."),
    )
    sort_order = forms.IntegerField(label=_("Sort order"), initial=0)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, category: Category | None = None, **kwargs: Any) -> None:
        if category is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": category.name,
                    "parent": category.parent_id,
                    "sort_order": category.sort_order,
                    "is_active": category.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        if category is None:
            del self.fields["is_active"]  # a new category starts active
        else:
            del self.fields["slug"]  # addresses keep their slug
            parent = self.fields["parent"]
            assert isinstance(parent, forms.ModelChoiceField)
            # A category cannot move under itself or one of its own sub-categories.
            parent.queryset = Category.objects.exclude(pk__in=category_descendant_ids(category))


class ProductFilterForm(forms.Form):
    category = CategoryChoiceField(
        label=_("Category"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("All categories"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status")), *ListingStatus.choices],
        required=False,
    )
    q = forms.CharField(label=_("Name or tag"), max_length=100, required=False)


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    category = CategoryChoiceField(label=_("Category"), queryset=Category.objects.all())
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea({"rows": 5})
    )
    image = forms.ImageField(
        label=_("Image"),
        required=False,
        validators=[
            UploadLimit(max_bytes=IMAGE_MAX_BYTES, extensions=(".png", ".jpg", ".jpeg", ".webp"))
        ],
        help_text=_("PNG, JPEG or WebP, up to 5 MB."),
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("Separated by commas."),
    )
    is_pinned = forms.BooleanField(label=_("Pinned"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=ListingStatus.choices, initial=ListingStatus.DRAFT
    )
    list_at = forms.DateTimeField(label=_("List from"), required=False, widget=DATETIME_WIDGET)
    delist_at = forms.DateTimeField(label=_("Delist at"), required=False, widget=DATETIME_WIDGET)

    def __init__(self, *args: Any, product: Product | None = None, **kwargs: Any) -> None:
        if product is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": product.name,
                    "category": product.category_id,
                    "description": product.description,
                    "image": product.image,
                    "tags": ", ".join(product.tags),
                    "is_pinned": product.is_pinned,
                    "status": product.status,
                    "list_at": product.list_at,
                    "delist_at": product.delist_at,
                },
            )
        super().__init__(*args, **kwargs)

    def clean_tags(self) -> list[str]:
        return tags_parse(self.cleaned_data["tags"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        list_at, delist_at = cleaned.get("list_at"), cleaned.get("delist_at")
        if list_at and delist_at and delist_at <= list_at:
            self.add_error("delist_at", _("The delisting time must be after the listing time."))
        return cleaned

    def product_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            field: data[field]
            for field in (
                "category",
                "name",
                "description",
                "tags",
                "is_pinned",
                "status",
                "list_at",
                "delist_at",
            )
        }


_CURRENCY = RegexValidator(r"^[A-Za-z]{3}$", _("Use a three-letter currency code, e.g. CNY."))


class SkuForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    face_value = forms.DecimalField(
        label=_("Face value"), max_digits=12, decimal_places=2, min_value=Decimal("0")
    )
    currency = forms.CharField(label=_("Currency"), initial="CNY", validators=[_CURRENCY])
    delivery_kind = forms.ChoiceField(label=_("Delivery"), choices=DeliveryKind.choices)
    specs = forms.CharField(
        label=_("Specs"),
        required=False,
        widget=forms.Textarea({"rows": 3, "placeholder": "region=CN"}),
        help_text=_("One key=value per line."),
    )
    input_fields = forms.CharField(
        label=_("Input fields (JSON)"),
        required=False,
        widget=forms.Textarea({"rows": 5, "spellcheck": "false"}),
        help_text=_(
            "For direct top-ups: what the buyer enters, e.g. "
            '[{"name": "account", "label": "Game account", "kind": "text"}].'
        ),
    )
    min_quantity = forms.IntegerField(label=_("Minimum quantity"), min_value=1, initial=1)
    max_quantity = forms.IntegerField(label=_("Maximum quantity"), min_value=1, initial=100)
    low_stock_threshold = forms.IntegerField(
        label=_("Low-stock threshold"), min_value=0, initial=10
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, sku: Sku | None = None, **kwargs: Any) -> None:
        if sku is not None:
            kwargs.setdefault(
                "initial",
                {
                    "code": sku.code,
                    "name": sku.name,
                    "face_value": sku.face_value,
                    "currency": sku.currency,
                    "delivery_kind": sku.delivery_kind,
                    "specs": specs_text(sku.specs),
                    "input_fields": json.dumps(sku.input_fields, ensure_ascii=False, indent=2)
                    if sku.input_fields
                    else "",
                    "min_quantity": sku.min_quantity,
                    "max_quantity": sku.max_quantity,
                    "low_stock_threshold": sku.low_stock_threshold,
                    "is_active": sku.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        if sku is not None:
            # Orders, stock and prices refer to these; they are fixed once the SKU exists.
            for field in ("code", "currency", "delivery_kind"):
                self.fields[field].disabled = True

    def clean_specs(self) -> dict[str, str]:
        return specs_parse(self.cleaned_data["specs"])

    def clean_input_fields(self) -> list[dict[str, Any]]:
        text = self.cleaned_data["input_fields"].strip()
        if not text:
            return []
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("Not valid JSON (line %(line)s, column %(column)s)."),
                params={"line": exc.lineno, "column": exc.colno},
            ) from exc
        try:
            return [field.as_dict() for field in input_fields_parse(spec)]
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_quantity"), cleaned.get("max_quantity")
        if low is not None and high is not None and high < low:
            self.add_error("max_quantity", _("The maximum must be at least the minimum."))
        kind = cleaned.get("delivery_kind")
        if kind == DeliveryKind.DIRECT_TOPUP and cleaned.get("input_fields") == []:
            self.add_error("input_fields", _("A direct top-up needs at least one input field."))
        return cleaned

    def update_fields(self) -> dict[str, Any]:
        """What sku_update may change."""
        data = self.cleaned_data
        return {
            field: data[field]
            for field in (
                "name",
                "face_value",
                "specs",
                "input_fields",
                "min_quantity",
                "max_quantity",
                "low_stock_threshold",
                "is_active",
            )
        }
