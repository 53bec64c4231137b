"""Payout settings, read in one place with typed defaults.

The project's settings module defines these from the environment (`WITHDRAWAL_MINIMUM`,
`WITHDRAWAL_FEE_PERCENT`, `WITHDRAWAL_FEE_FIXED`); the defaults here apply when it does not.
They are read on every call, so a change of settings (or a test's override) takes effect at once.
Amounts are in whatever currency a withdrawal is made in, rounded to that currency's minor unit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

DEFAULT_MINIMUM = Decimal("100.00")
DEFAULT_FEE_PERCENT = Decimal("0")
DEFAULT_FEE_FIXED = Decimal("2.00")


def _decimal(name: str, default: Decimal) -> Decimal:
    value = getattr(settings, name, default)
    if isinstance(value, float):  # never let a float near money; str() keeps what was typed
        value = str(value)
    return Decimal(value)


def withdrawal_minimum() -> Decimal:
    """The smallest amount a site may withdraw (before the fee)."""
    return _decimal("WITHDRAWAL_MINIMUM", DEFAULT_MINIMUM)


def withdrawal_fee_percent() -> Decimal:
    """Percentage of the amount charged as the payout fee (HQ income), e.g. 1.5 for 1.5 %."""
    return _decimal("WITHDRAWAL_FEE_PERCENT", DEFAULT_FEE_PERCENT)


def withdrawal_fee_fixed() -> Decimal:
    """Fixed part of the payout fee, per withdrawal."""
    return _decimal("WITHDRAWAL_FEE_FIXED", DEFAULT_FEE_FIXED)


def stripe_secret_key() -> str:
    return str(getattr(settings, "STRIPE_SECRET_KEY", "") or "")


def stripe_configured() -> bool:
    """Whether payouts can go through Stripe Connect (without a key they are paid by hand)."""
    return bool(stripe_secret_key())
