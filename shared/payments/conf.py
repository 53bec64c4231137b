"""Payment settings, read in one place on every call (so a test's override applies at once).

`STRIPE_SECRET_KEY` empty means sandbox mode: Kameng's own checkout page plays Stripe's role and
sends webhooks signed exactly as Stripe signs them, with `sandbox_webhook_secret()`.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from shared.sites.selectors import hq_base_url


def _decimal(name: str, default: str) -> Decimal:
    value = getattr(settings, name, default)
    return Decimal(str(value) if value not in (None, "") else default)


def stripe_secret_key() -> str:
    return str(getattr(settings, "STRIPE_SECRET_KEY", "") or "")


def sandbox_mode() -> bool:
    """No Stripe key: checkouts and refunds go through the built-in sandbox."""
    return not stripe_secret_key()


def stripe_webhook_secret() -> str:
    return str(getattr(settings, "STRIPE_WEBHOOK_SECRET", "") or "")


def sandbox_webhook_secret() -> str:
    """PAYMENT_SANDBOX_WEBHOOK_SECRET, or one derived from SECRET_KEY (Stripe's `whsec_` form)."""
    configured = str(getattr(settings, "PAYMENT_SANDBOX_WEBHOOK_SECRET", "") or "")
    if configured:
        return configured
    digest = hmac.new(
        settings.SECRET_KEY.encode(), b"kameng-payments-sandbox-webhook", hashlib.sha256
    ).hexdigest()
    return f"whsec_{digest}"


def webhook_secret() -> str:
    """The secret incoming webhook signatures are checked with, in the current mode."""
    return sandbox_webhook_secret() if sandbox_mode() else stripe_webhook_secret()


def sandbox_fee_percent() -> Decimal:
    return _decimal("PAYMENT_FEE_PERCENT", "2.9")


def sandbox_fee_fixed() -> Decimal:
    return _decimal("PAYMENT_FEE_FIXED", "0.30")


def checkout_expiry_minutes() -> int:
    return int(getattr(settings, "PAYMENT_CHECKOUT_EXPIRY_MINUTES", 30) or 30)


def wallet_top_up_minimum() -> Decimal:
    return _decimal("WALLET_TOP_UP_MIN", "10.00")


def wallet_top_up_maximum() -> Decimal:
    return _decimal("WALLET_TOP_UP_MAX", "5000.00")


def platform_url(path: str) -> str:
    """An absolute address on the platform domain (PUBLIC_URL_SCHEME, PLATFORM_DOMAIN,
    PUBLIC_URL_PORT)."""
    return hq_base_url().rstrip("/") + path


def platform_reverse(name: str, **kwargs: str) -> str:
    """The absolute address of a named page on the platform domain, from any schema."""
    return platform_url(reverse(name, kwargs=kwargs, urlconf=settings.PUBLIC_SCHEMA_URLCONF))


def webhook_url() -> str:
    """Where the sandbox delivers its events: the platform's own webhook endpoint."""
    return platform_reverse("payments:stripe_webhook")
