"""Forms of the console's money pages. They check the input's shape; the wallet and payout
services check the rules (balances, minimums, ranges)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.wallets.models import MAX_COMMISSION_LEVELS


def _amount(label: str | Promise, **kwargs: object) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=16, decimal_places=2, **kwargs)  # type: ignore[arg-type]


class SiteWithdrawalForm(forms.Form):
    amount = _amount(_("Amount"), min_value=Decimal("0.01"))
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class MarkPaidForm(forms.Form):
    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=200,
        help_text=_("The Alipay or bank transfer's number."),
    )


class WalletAdjustForm(forms.Form):
    email = forms.EmailField(label=_("Member's email"))
    amount = _amount(
        _("Amount"), help_text=_("Positive adds to the wallet, negative takes from it.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("The amount must not be zero."))
        return amount


class CommissionProgrammeForm(forms.Form):
    levels = forms.IntegerField(
        label=_("Levels"), min_value=1, max_value=MAX_COMMISSION_LEVELS, initial=3
    )
    percents = forms.CharField(
        label=_("Percent of your margin per level"),
        max_length=200,
        help_text=_("One per level, nearest referrer first, e.g. “10, 5, 2”."),
    )

    def clean_percents(self) -> list[Decimal]:
        raw = self.cleaned_data["percents"].replace("，", ",")
        try:
            values = [Decimal(part.strip().rstrip("%")) for part in raw.split(",") if part.strip()]
        except InvalidOperation:
            raise forms.ValidationError(_("Give numbers separated by commas.")) from None
        if not values:
            raise forms.ValidationError(_("Give one percent per level."))
        return values


class WithdrawalTermsForm(forms.Form):
    minimum = _amount(
        _("Minimum withdrawal"),
        required=False,
        min_value=Decimal("0.01"),
        help_text=_("Empty: the platform's default."),
    )
    fee_percent = forms.DecimalField(
        label=_("Fee, percent of the amount"),
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal("99.99"),
    )
    fee_fixed = _amount(_("Fee, fixed part"), required=False, min_value=Decimal(0))
