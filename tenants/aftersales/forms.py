"""Forms of the ticket pages (buyer and console). They check shapes; `services` decides."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.aftersales.models import TicketKind, TicketStatus
from tenants.aftersales.selectors import VisibleKey
from tenants.aftersales.services import MESSAGE_MAX, REASON_MAX


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Several files in one input; each is checked by `attachments_check` in the service."""

    widget = MultipleFileInput(
        attrs={
            "accept": "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,.txt"
        }
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments (images, PDF or text)"))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if data is None or data == "":
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(FilesField, self).clean(item, initial) for item in items if item]


def _key_label(key: VisibleKey) -> str:
    secret = key.secret
    return secret if len(secret) <= 40 else f"{secret[:18]}…{secret[-18:]}"


class TicketOpenForm(forms.Form):
    kind = forms.ChoiceField(label=_("What is wrong?"), choices=TicketKind.choices)
    key = forms.TypedChoiceField(
        label=_("Which key?"), required=False, coerce=int, empty_value=None
    )
    message = forms.CharField(
        label=_("Message"), max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = FilesField()

    def __init__(self, *args: Any, keys: list[VisibleKey], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        live = [key for key in keys if not key.replaced]
        if len(live) > 1:
            self.fields["key"].choices = [("", "—")] + [  # type: ignore[attr-defined]
                (key.card_key_id, _key_label(key)) for key in live
            ]
        else:
            del self.fields["key"]
        if not keys:
            self.fields["kind"].choices = [  # type: ignore[attr-defined]
                c for c in TicketKind.choices if c[0] != TicketKind.INVALID_KEY
            ]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = FilesField()


# --- Console --------------------------------------------------------------------------------


class TicketFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *list(TicketStatus.choices)]
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *list(TicketKind.choices)]
    )
    flagged = forms.BooleanField(label=_("Flagged buyers only"), required=False)
    q = forms.CharField(label=_("Ticket, order or email"), required=False, max_length=254)


class ReissueForm(forms.Form):
    key = forms.TypedChoiceField(label=_("Key to replace"), coerce=int)
    note = forms.CharField(
        label=_("Note to the buyer (optional)"), required=False, max_length=REASON_MAX
    )

    def __init__(self, *args: Any, key_ids: list[int], reported: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["key"]
        field.choices = [  # type: ignore[attr-defined]
            (
                key_id,
                _("Key #%(id)s (reported)") % {"id": key_id}
                if key_id == reported
                else _("Key #%(id)s") % {"id": key_id},
            )
            for key_id in key_ids
        ]
        if reported in key_ids:
            field.initial = reported


class TicketRefundForm(forms.Form):
    whole = forms.BooleanField(label=_("Refund everything left"), required=False)
    amount = forms.DecimalField(
        label=_("Amount"), required=False, min_value=Decimal("0.01"), decimal_places=2
    )
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX)
    reviewed = forms.BooleanField(
        label=_("I have reviewed this buyer's refund history"), required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("whole") and data.get("amount") is None and not self.errors:
            raise ValidationError(_("Enter an amount, or tick “Refund everything left”."))
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the buyer sees it)"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
