"""Forms of the order pages: the buy form (with a SKU's top-up fields), the guest lookup, and
the console's actions. They check shapes; `services` decides."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from shared.catalog.models import DeliveryKind, Sku
from shared.catalog.topup import InputField, input_fields_parse
from tenants.orders.models import PaymentMethod
from tenants.orders.services import QUERY_PASSWORD_MAX, QUERY_PASSWORD_MIN
from tenants.orders.states import OrderStatus

INPUT_PREFIX = "input_"


def sku_input_fields(sku: Sku) -> list[InputField]:
    if sku.delivery_kind != DeliveryKind.DIRECT_TOPUP:
        return []
    try:
        return input_fields_parse(sku.input_fields)
    except ValidationError:
        return []


class BuyForm(forms.Form):
    sku = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1)
    payment_method = forms.ChoiceField(
        label=_("Pay with"),
        choices=[(PaymentMethod.WALLET, _("My balance")), (PaymentMethod.CARD, _("Card"))],
        widget=forms.RadioSelect,
    )
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone (optional)"), required=False, max_length=32)
    query_password = forms.CharField(
        label=_("Query password"),
        required=False,
        max_length=QUERY_PASSWORD_MAX,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("Choose one to look this order up later with its number."),
    )

    def __init__(
        self, *args: Any, sku: Sku, user: AbstractBaseUser | AnonymousUser, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sku_obj, self.member = sku, user.is_authenticated
        self.fields["quantity"] = forms.IntegerField(
            label=_("Quantity"),
            min_value=sku.min_quantity,
            max_value=sku.max_quantity,
            initial=sku.min_quantity,
        )
        self.fields["sku"].initial = sku.pk
        if self.member:
            for name in ("email", "phone", "query_password"):
                del self.fields[name]
            self.fields["payment_method"].initial = PaymentMethod.WALLET
        else:
            method = self.fields["payment_method"]
            assert isinstance(method, forms.ChoiceField)
            method.choices = [(PaymentMethod.CARD, _("Card"))]
            self.fields["payment_method"].initial = PaymentMethod.CARD
            self.fields["email"].required = True
            self.fields["query_password"] = forms.CharField(
                label=_("Query password"),
                min_length=QUERY_PASSWORD_MIN,
                max_length=QUERY_PASSWORD_MAX,
                widget=forms.PasswordInput(render_value=True),
                help_text=_("Choose one to look this order up later with its number."),
            )
        self.input_specs = sku_input_fields(sku)
        for spec in self.input_specs:
            name = INPUT_PREFIX + spec.name
            if spec.kind == "choice":
                self.fields[name] = forms.ChoiceField(
                    label=spec.label,
                    required=spec.required,
                    choices=[("", "—"), *[(c, c) for c in spec.choices]],
                    help_text=spec.help,
                )
            else:
                self.fields[name] = forms.CharField(
                    label=spec.label,
                    required=spec.required,
                    max_length=spec.max_length,
                    help_text=spec.help,
                )

    def input_values(self) -> dict[str, str]:
        return {
            spec.name: self.cleaned_data.get(INPUT_PREFIX + spec.name, "") or ""
            for spec in self.input_specs
        }


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=32)
    password = forms.CharField(
        label=_("Query password"), max_length=QUERY_PASSWORD_MAX, widget=forms.PasswordInput
    )


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *OrderStatus.choices]
    )
    method = forms.ChoiceField(
        label=_("Payment"),
        required=False,
        choices=[
            ("", _("Any payment")),
            (PaymentMethod.WALLET, _("Balance")),
            (PaymentMethod.CARD, _("Card")),
        ],
    )
    kind = forms.ChoiceField(
        label=_("Delivery"),
        required=False,
        choices=[
            ("", _("Any delivery")),
            (DeliveryKind.CARD_KEY, _("Card key")),
            (DeliveryKind.REUSABLE_KEY, _("Reusable key")),
            (DeliveryKind.DIRECT_TOPUP, _("Direct top-up")),
            (DeliveryKind.MANUAL, _("Manual")),
        ],
    )
    q = forms.CharField(label=_("Number, email or phone"), required=False, max_length=254)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class RefundForm(forms.Form):
    whole = forms.BooleanField(label=_("Refund everything left"), required=False)
    amount = forms.DecimalField(
        label=_("Amount"), required=False, min_value=Decimal("0.01"), decimal_places=2
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)
    # One token per form shown: submitting the same form twice refunds once.
    token = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token"].initial = uuid.uuid4().hex

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("whole") and data.get("amount") is None:
            raise ValidationError(_("Enter an amount, or tick “Refund everything left”."))
        return data


class DeliverForm(forms.Form):
    note = forms.CharField(
        label=_("What was delivered"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
