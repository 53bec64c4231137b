"""Where a supplier's verified result goes: the handler the orders app registers.

The platform's callback endpoint calls it with the connection set to the order's site schema,
inside a transaction; it must be idempotent, because suppliers repeat callbacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.suppliers.adapters.base import TopupResult


class TopupResultHandler(Protocol):
    def __call__(self, *, order_ref: str, supplier_id: int, result: TopupResult) -> None: ...


_handler: TopupResultHandler | None = None


def topup_result_handler_register(handler: TopupResultHandler) -> None:
    """Register the one handler of supplier results (the last registration wins, so a test can
    register its own and restore the previous one)."""
    global _handler
    _handler = handler


def topup_result_handler() -> TopupResultHandler | None:
    return _handler
