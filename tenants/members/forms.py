"""Forms of the member's account pages. They check the input's shape; the wallet services check
the rules (balances, minimums) and their errors are shown on the form."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _


def new_key() -> str:
    """A fresh key for one form: submitting the same form twice acts once."""
    return uuid.uuid4().hex


class KeyedForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not self.is_bound:
            self.initial.setdefault("key", new_key())


class AmountField(forms.DecimalField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label=_("Amount"),
            max_digits=16,
            decimal_places=2,
            min_value=Decimal("0.01"),
            **kwargs,  # type: ignore[arg-type]
        )


class CommissionToWalletForm(KeyedForm):
    amount = AmountField()


class WithdrawalRequestForm(KeyedForm):
    amount = AmountField()
    payee = forms.CharField(
        label=_("Pay to"),
        max_length=200,
        help_text=_("Where the shop should send the money, e.g. your Alipay account or bank."),
    )


class ReferrerForm(forms.Form):
    code = forms.CharField(label=_("Referral code of the member who invited you"), max_length=40)
