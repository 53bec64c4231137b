"""Money amounts: Decimal with an ISO currency, quantised per currency in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor-unit exponents of the currencies Kameng prices in (ISO 4217).
CURRENCY_EXPONENTS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "GBP": 2, "JPY": 0, "KRW": 0}


class MoneyError(ValueError):
    """An amount or currency that money code refuses."""


def currency_exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency '{currency}'.") from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round an amount to the currency's minor unit (explicitly; half up by default)."""
    if not isinstance(amount, Decimal):
        raise MoneyError("Money amounts must be Decimal.")
    if not amount.is_finite():
        raise MoneyError("Money amounts must be finite.")
    return amount.quantize(quantum(currency), rounding=rounding)


def exact(amount: object, currency: str) -> Decimal:
    """An amount that must already be in the currency's minor unit (no silent rounding)."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"'{amount}' is not an amount.") from exc
    if isinstance(amount, float):
        raise MoneyError("Money amounts must not be floats.")
    if not value.is_finite() or value != quantize(value, currency):
        raise MoneyError(f"'{amount}' is not a whole number of {currency} minor units.")
    return quantize(value, currency)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer minor units, for payment providers only."""
    return int(exact(amount, currency).scaleb(currency_exponent(currency)))
