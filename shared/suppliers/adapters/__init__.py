"""Supplier adapters: how the platform asks an API supplier for a direct top-up.

    from shared.suppliers.adapters import (TopupRequest, TopupResult, SupplierUnavailable,
                                           adapter_for, topup_offers)

`adapter_for(supplier).submit(request)` sends a top-up (idempotent on `request.order_ref`),
`.query(order_ref=...)` asks for its state; both raise `SupplierUnavailable` on transport errors,
timeouts and server errors (retry), and return `TopupResult(status="failed")` when the supplier
refuses. The supplier's final answer may also arrive as a signed callback to
`supplier_callback_url(supplier)`, handled by `shared.suppliers.views`.
"""

from __future__ import annotations

from shared.catalog.models import Sku
from shared.suppliers.adapters.base import (
    CallbackAck,
    CallbackRejected,
    SupplierAdapter,
    SupplierCallback,
    SupplierUnavailable,
    TopupRequest,
    TopupResult,
)
from shared.suppliers.adapters.classic import ClassicAdapter
from shared.suppliers.adapters.kameng import KamengAdapter
from shared.suppliers.models import Supplier, SupplierKind, SupplierOffer, SupplierProtocol
from shared.suppliers.selectors import offers_for_sku, supplier_callback_url

__all__ = [
    "CallbackAck",
    "CallbackRejected",
    "SupplierAdapter",
    "SupplierCallback",
    "SupplierUnavailable",
    "TopupRequest",
    "TopupResult",
    "adapter_for",
    "supplier_callback_url",
    "topup_offers",
]

ADAPTERS: dict[str, type[KamengAdapter] | type[ClassicAdapter]] = {
    SupplierProtocol.KAMENG: KamengAdapter,
    SupplierProtocol.CLASSIC: ClassicAdapter,
}


def adapter_for(supplier: Supplier) -> SupplierAdapter:
    """The adapter that speaks `supplier`'s API protocol."""
    if supplier.kind != SupplierKind.API_TOPUP:
        raise ValueError(f"Supplier {supplier.pk} is not an API top-up supplier.")
    try:
        adapter_class = ADAPTERS[supplier.api_protocol]
    except KeyError:
        raise ValueError(
            f"Supplier {supplier.pk} speaks an unknown protocol {supplier.api_protocol!r}."
        ) from None
    return adapter_class(supplier)


def topup_offers(sku: Sku) -> list[SupplierOffer]:
    """Active offers of active API suppliers for the SKU, best (lowest priority number) first,
    the cheaper first within a priority."""
    return list(offers_for_sku(sku).filter(supplier__kind=SupplierKind.API_TOPUP))
