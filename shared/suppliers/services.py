"""Writes of suppliers and their offers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.catalog.models import DeliveryKind, Sku
from shared.catalog.services import money
from shared.suppliers.hooks import topup_result_handler
from shared.suppliers.models import (
    Supplier,
    SupplierKind,
    SupplierOffer,
    SupplierOrder,
    SupplierOrderStatus,
    SupplierProtocol,
    SupplierStatus,
)

if TYPE_CHECKING:
    from shared.suppliers.adapters.base import TopupRequest, TopupResult

logger = logging.getLogger("shared.suppliers")

# Which SKUs each kind of supplier can offer.
_KIND_DELIVERY: dict[str, set[str]] = {
    SupplierKind.CARD_STOCK: {DeliveryKind.CARD_KEY, DeliveryKind.REUSABLE_KEY},
    SupplierKind.API_TOPUP: {DeliveryKind.DIRECT_TOPUP},
    SupplierKind.MANUAL: set(DeliveryKind.values),
}


def supplier_create(*, name: str, kind: str, **fields: Any) -> Supplier:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the supplier a name."})
    if kind not in SupplierKind.values:
        raise ValidationError({"kind": f"Unknown supplier kind '{kind}'."})
    if Supplier.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"A supplier named '{name}' already exists."})
    if fields.get("api_protocol", SupplierProtocol.KAMENG) not in SupplierProtocol.values:
        raise ValidationError({"api_protocol": "Unknown API protocol."})
    if kind == SupplierKind.API_TOPUP and not fields.get("api_base_url"):
        raise ValidationError({"api_base_url": "An API supplier needs its API address."})
    supplier = Supplier(name=name, kind=kind, **fields)
    supplier.full_clean()
    try:
        with transaction.atomic():
            supplier.save()
    except IntegrityError as exc:
        raise ValidationError({"name": f"A supplier named '{name}' already exists."}) from exc
    return supplier


def supplier_update(*, supplier: Supplier, **changes: Any) -> Supplier:
    allowed = {"name", "status", "contact_name", "contact_email", "contact_phone",
               "api_base_url", "api_key_id", "api_protocol", "notes"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}"})
    if "status" in changes and changes["status"] not in SupplierStatus.values:
        raise ValidationError({"status": f"Unknown status '{changes['status']}'."})
    if "api_protocol" in changes and changes["api_protocol"] not in SupplierProtocol.values:
        raise ValidationError({"api_protocol": "Unknown API protocol."})
    for field, value in changes.items():
        setattr(supplier, field, value)
    supplier.full_clean()
    supplier.save()
    return supplier


def supplier_offer_set(
    *, supplier: Supplier, sku: Sku, cost: object, priority: int = 100, is_active: bool = True
) -> SupplierOffer:
    """Create or update what `supplier` charges HQ for `sku`, and its priority."""
    if sku.delivery_kind not in _KIND_DELIVERY[SupplierKind(supplier.kind)]:
        raise ValidationError(
            {"sku": f"A {supplier.get_kind_display()} supplier cannot offer a "
                    f"{sku.get_delivery_kind_display()} SKU."}
        )  # fmt: skip
    if not 0 <= priority <= 1000:
        raise ValidationError({"priority": "Priority is 0 (first) to 1000."})
    offer, _ = SupplierOffer.objects.update_or_create(
        supplier=supplier,
        sku=sku,
        defaults={
            "cost": money(cost, field="cost", allow_zero=True),
            "priority": priority,
            "is_active": is_active,
        },
    )
    return offer


# --- Top-up orders sent to suppliers ----------------------------------------------------------


def supplier_order_open(*, supplier: Supplier, request: TopupRequest) -> SupplierOrder:
    """Record that `request` goes to `supplier` (once per supplier and order reference)."""
    order, _ = SupplierOrder.objects.get_or_create(
        supplier=supplier,
        order_ref=request.order_ref,
        defaults={"sku_code": request.sku_code[:64], "quantity": request.quantity},
    )
    return order


def supplier_order_record(
    *, supplier: Supplier, order_ref: str, result: TopupResult, via: str
) -> int:
    """Store what the supplier said about an order. A final state is never overwritten by a
    later "pending", and a second, different final state is kept out and logged (the result
    still reaches the orders handler, which decides). Returns the rows changed."""
    changes: dict[str, Any] = {"message": result.message[:255]}
    if result.supplier_ref:
        changes["supplier_ref"] = result.supplier_ref[:100]
    rows = SupplierOrder.objects.filter(supplier=supplier, order_ref=order_ref)
    if via == "callback":
        rows.update(callbacks=F("callbacks") + 1)
    if result.status == SupplierOrderStatus.PENDING:
        return rows.filter(status=SupplierOrderStatus.PENDING).update(**changes)
    changed = rows.filter(status=SupplierOrderStatus.PENDING).update(
        status=result.status, completed_at=timezone.now(), **changes
    )
    if not changed and rows.exclude(status=result.status).exists():
        logger.warning(
            "supplier.order.conflicting_result",
            extra={"supplier_id": supplier.pk, "order_ref": order_ref, "status": result.status,
                   "via": via},
        )  # fmt: skip
    return changed


class CallbackNotAccepted(Exception):
    """A verified callback the platform will not apply; `status` is the HTTP answer."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def topup_callback_apply(*, supplier: Supplier, order_ref: str, result: TopupResult) -> None:
    """Apply a verified supplier callback: find the order's site from the reference's schema
    prefix, check the order was sent to this supplier, then, in that site's schema and one
    transaction, record the result and call the orders handler."""
    from shared.sites.models import Site

    schema = order_ref.split(":", 1)[0]
    site = Site.objects.filter(schema_name=schema).first() if ":" in order_ref else None
    if (
        site is None
        or not SupplierOrder.objects.filter(supplier=supplier, order_ref=order_ref).exists()
    ):
        # Unknown reference, or an order this supplier was never sent: refused, nothing changed.
        raise CallbackNotAccepted("unknown order", status=404)
    handler = topup_result_handler()
    if handler is None:
        raise CallbackNotAccepted("no handler registered", status=503)
    with tenant_context(site), transaction.atomic():
        supplier_order_record(supplier=supplier, order_ref=order_ref, result=result, via="callback")
        handler(order_ref=order_ref, supplier_id=supplier.pk, result=result)
    logger.info(
        "supplier.callback.applied",
        extra={"supplier_id": supplier.pk, "order_ref": order_ref, "status": result.status},
    )
