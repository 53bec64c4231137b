"""Forms of the card-key vault: import, audited reveal, void/delete selection and export."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from shared.hq.console.forms.common import SkuChoiceField, UploadLimit
from shared.hq.console.selectors import card_key_skus
from shared.suppliers.models import Supplier
from shared.vault.models import CardKey, CardKeyStatus, ImportBatch, ImportSource

IMPORT_MAX_BYTES = 50 * 1024 * 1024
IMPORT_EXTENSIONS = (".txt", ".csv", ".xlsx")
_SOURCE_BY_EXTENSION = {
    ".txt": ImportSource.TXT,
    ".csv": ImportSource.CSV,
    ".xlsx": ImportSource.XLSX,
}


class SecretTextarea(forms.Textarea):
    """A textarea that never sends its value back: pasted keys are secrets, so a form shown
    again after an error comes back empty."""

    def format_value(self, value: Any) -> None:
        return None


class KeyImportForm(forms.Form):
    sku = SkuChoiceField(
        label=_("SKU"),
        queryset=card_key_skus(),
        help_text=_("Only SKUs delivered by card key or reusable card key."),
    )
    supplier = forms.ModelChoiceField(
        label=_("Supplier"),
        queryset=Supplier.objects.order_by("name"),
        required=False,
        empty_label=_("— none —"),
    )
    deduplicate = forms.BooleanField(
        label=_("Skip duplicates"),
        required=False,
        initial=True,
        help_text=_(
            "Keys already in stock for this SKU, or repeated in this import, are skipped and "
            "reported. Untick to refuse the whole import if there is any duplicate."
        ),
    )
    text = forms.CharField(
        label=_("Paste keys"),
        required=False,
        strip=False,
        widget=SecretTextarea(
            attrs={
                "rows": 10,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "KEY-0001\n6200123456789----PASS123",
            }
        ),
        help_text=_(
            "One key per line, or a card number and its password separated by ----, a comma, "
            "| or a tab. Up to about 2 MB of text; upload a file for more. After an error the "
            "text is not shown again."
        ),
    )
    file = forms.FileField(
        label=_("or upload a file"),
        required=False,
        validators=[UploadLimit(max_bytes=IMPORT_MAX_BYTES, extensions=IMPORT_EXTENSIONS)],
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(IMPORT_EXTENSIONS)}),
        help_text=_(".txt, .csv or .xlsx (first sheet), up to 50 MB."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        has_text = bool(cleaned.get("text", "").strip())
        has_file = bool(cleaned.get("file"))
        if "file" in self.errors:
            return cleaned
        if has_text and has_file:
            raise forms.ValidationError(_("Paste keys or upload a file, not both."))
        if not has_text and not has_file:
            raise forms.ValidationError(_("Paste keys or upload a file."))
        return cleaned

    def source(self) -> str:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if not upload:
            return ImportSource.PASTE
        return _SOURCE_BY_EXTENSION[PurePath(str(upload.name)).suffix.lower()]

    def content(self) -> Any:
        return self.cleaned_data.get("file") or self.cleaned_data["text"]

    def filename(self) -> str:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        return PurePath(str(upload.name)).name if upload else ""


class KeyRevealForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Recorded with your email. For example: buyer reports the key invalid."),
    )


class KeyIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return sorted({int(item) for item in value})
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(_("Tick keys from the list.")) from exc


class KeySelectionForm(forms.Form):
    """Keys ticked on a batch's page: every one must belong to that batch."""

    keys = KeyIdsField(error_messages={"required": _("Tick at least one key.")})

    def __init__(self, *args: Any, batch: ImportBatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch = batch

    def clean_keys(self) -> list[int]:
        key_ids: list[int] = self.cleaned_data["keys"]
        found = set(
            CardKey.objects.filter(batch=self.batch, id__in=key_ids).values_list("id", flat=True)
        )
        if found != set(key_ids):
            raise forms.ValidationError(_("A ticked key is not in this batch."))
        return key_ids


class KeyExportForm(forms.Form):
    sku = SkuChoiceField(label=_("SKU"), queryset=card_key_skus())
    statuses = forms.MultipleChoiceField(
        label=_("Keys to export"),
        choices=[
            (CardKeyStatus.AVAILABLE, _("available")),
            (CardKeyStatus.RESERVED, _("reserved")),
            (CardKeyStatus.VOID, _("void")),
        ],
        initial=[CardKeyStatus.AVAILABLE],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Sold keys belong to their buyers and are never exported."),
    )
