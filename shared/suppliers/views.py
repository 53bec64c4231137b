"""The platform's endpoint for suppliers' signed callbacks (platform domain, public schema)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shared.suppliers.adapters import CallbackAck, CallbackRejected, adapter_for
from shared.suppliers.models import Supplier, SupplierKind
from shared.suppliers.services import CallbackNotAccepted, topup_callback_apply

logger = logging.getLogger("shared.suppliers")


def _answer(ack: CallbackAck) -> HttpResponse:
    return HttpResponse(ack.body, status=ack.status, content_type=ack.content_type)


@csrf_exempt  # authenticated by the supplier's signature, not by a browser session
@require_POST
def topup_callback(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = Supplier.objects.filter(pk=supplier_id, kind=SupplierKind.API_TOPUP).first()
    if supplier is None or not supplier.has_api_secret:
        return HttpResponse(b"unknown supplier", status=404, content_type="text/plain")
    adapter = adapter_for(supplier)
    log = {"supplier_id": supplier.pk, "protocol": supplier.api_protocol}
    try:
        callback = adapter.callback_parse(
            method=request.method or "POST",
            path=request.get_full_path(),
            headers=request.headers,
            body=request.body,
        )
    except CallbackRejected as exc:
        logger.warning("supplier.callback.rejected", extra=log | {"reason": exc.reason})
        return _answer(adapter.callback_ack(accepted=False, status=exc.status, reason=exc.reason))
    try:
        topup_callback_apply(
            supplier=supplier, order_ref=callback.order_ref, result=callback.result
        )
    except CallbackNotAccepted as exc:
        logger.warning(
            "supplier.callback.refused",
            extra=log | {"order_ref": callback.order_ref, "reason": exc.reason},
        )
        return _answer(adapter.callback_ack(accepted=False, status=exc.status, reason=exc.reason))
    return _answer(adapter.callback_ack(accepted=True))
