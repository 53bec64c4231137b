"""Pieces shared by the console's forms: putting a service's errors on a form, tree-ordered
category choices, and the text formats people type (tags, key=value specs)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.models import ModelChoiceIterator
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from shared.hq.console.selectors import category_tree

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def form_data(request: HttpRequest) -> QueryDict | None:
    """What a form is bound to: the POST data, or nothing on GET (the form starts unbound)."""
    return request.POST if request.method == "POST" else None


def form_files(request: HttpRequest) -> MultiValueDict[str, UploadedFile] | None:
    return request.FILES if request.method == "POST" else None


def service_errors_to_form(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names when the form has
    that field, otherwise above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class _TreeChoiceIterator(ModelChoiceIterator):
    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for category, depth in category_tree(self.queryset):
            value, label = self.choice(category)
            yield (value, "\u2003" * depth + label)


class CategoryChoiceField(forms.ModelChoiceField):
    """Categories indented under their parents."""

    iterator = _TreeChoiceIterator


class SkuChoiceField(forms.ModelChoiceField):
    """SKUs labelled by code, product and name (select_related the product)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} — {obj.product.name} · {obj.name}"


def tags_parse(text: str) -> list[str]:
    """Comma-separated tags; the full-width comma of Chinese input counts too."""
    return [tag.strip() for tag in text.replace("\uff0c", ",").split(",") if tag.strip()]


def specs_parse(text: str) -> dict[str, str]:
    specs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValidationError(
                _("Line %(line)s: write each spec as key=value."), params={"line": number}
            )
        if key in specs:
            raise ValidationError(
                _("Line %(line)s: the spec “%(key)s” is given twice."),
                params={"line": number, "key": key},
            )
        specs[key] = value
    return specs


def specs_text(specs: dict[str, Any]) -> str:
    return "\n".join(f"{key}={value}" for key, value in specs.items())


def positive_amount(value: Decimal) -> None:
    if value is not None and value <= 0:
        raise ValidationError(_("The amount must be greater than zero."))


class UploadLimit:
    """Refuse files over `max_bytes` or with another extension (checked before any parsing)."""

    def __init__(self, *, max_bytes: int, extensions: tuple[str, ...]) -> None:
        self.max_bytes = max_bytes
        self.extensions = extensions

    def __call__(self, upload: Any) -> None:
        if upload is None or upload is False:
            return
        name = str(getattr(upload, "name", "")).lower()
        if not name.endswith(self.extensions):
            raise ValidationError(
                _("Upload a file ending in %(extensions)s."),
                params={"extensions": ", ".join(self.extensions)},
            )
        if upload.size > self.max_bytes:
            raise ValidationError(
                _("The file is larger than %(size)s MB."),
                params={"size": self.max_bytes // (1024 * 1024)},
            )
