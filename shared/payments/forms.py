"""Forms of the payment pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from shared.ledger.money import currency_exponent, quantum


class WalletTopUpForm(forms.Form):
    """The amount of a top-up, within the configured limits, in the currency's minor unit."""

    def __init__(
        self, *args: Any, minimum: Decimal, maximum: Decimal, currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = forms.DecimalField(
            label=_("Amount (%(currency)s)") % {"currency": currency},
            min_value=minimum,
            max_value=maximum,
            max_digits=14,
            decimal_places=currency_exponent(currency),
            help_text=_("From %(min)s to %(max)s %(currency)s.")
            % {"min": minimum, "max": maximum, "currency": currency},
            widget=forms.NumberInput(
                attrs={"step": str(quantum(currency)), "inputmode": "decimal"}
            ),
        )
