"""What each payment purpose does once its money has arrived.

An app that takes card payments registers a handler for its purpose (an order, a wallet
top-up) at start-up, in its AppConfig.ready():

    payment_handler_register(purpose="order", handler=order_payment_confirmed,
                             on_expired=order_checkout_expired)

The webhook calls the handler inside its database transaction, with the connection set to the
site's schema (search_path `<site>, public`), holding a row lock on the checkout session, at
most once per session. A handler raises PaymentMismatch when the payment does not fit what it
expects: the event is stored as rejected and everything the handler wrote is rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from shared.sites.models import Site

logger = logging.getLogger(__name__)


class PaymentError(Exception):
    """The payment provider or Kameng refused a payment operation (nothing was done)."""


class PaymentUnavailable(PaymentError):
    """No clear answer from the provider (network, 5xx, rate limit): retry with the same
    idempotency key."""


class PaymentMismatch(PaymentError):
    """A confirmed payment does not match what its purpose expected (amount, currency,
    reference, state). Raised by handlers; the event is rejected and nothing is applied."""


class PaymentHandler(Protocol):
    def __call__(
        self,
        *,
        site: Site,
        reference: str,
        amount: Decimal,
        currency: str,
        payment_ref: str,
        fee: Decimal,
    ) -> None: ...


class ExpiredHandler(Protocol):
    def __call__(self, *, site: Site, reference: str) -> None: ...


@dataclass(frozen=True)
class Registration:
    purpose: str
    handler: PaymentHandler
    on_expired: ExpiredHandler | None = None


_registry: dict[str, Registration] = {}


def payment_handler_register(
    *, purpose: str, handler: PaymentHandler, on_expired: ExpiredHandler | None = None
) -> None:
    """Register (or replace) what happens when a checkout of `purpose` is paid or expires."""
    if not purpose or len(purpose) > 32:
        raise ValueError("A purpose of 1 to 32 characters is required.")
    previous = _registry.get(purpose)
    if previous is not None and previous.handler is not handler:
        logger.info("payments.handler_replaced", extra={"purpose": purpose})
    _registry[purpose] = Registration(purpose=purpose, handler=handler, on_expired=on_expired)


def payment_handler_for(purpose: str) -> Registration | None:
    return _registry.get(purpose)


def registered_purposes() -> frozenset[str]:
    return frozenset(_registry)
