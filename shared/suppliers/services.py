"""Writes of suppliers and their offers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from shared.catalog.models import DeliveryKind, Sku
from shared.catalog.services import money
from shared.suppliers.models import Supplier, SupplierKind, SupplierOffer, SupplierStatus

# Which SKUs each kind of supplier can offer.
_KIND_DELIVERY = {
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
               "api_base_url", "api_key_id", "notes"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}"})
    if "status" in changes and changes["status"] not in SupplierStatus.values:
        raise ValidationError({"status": f"Unknown status '{changes['status']}'."})
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
