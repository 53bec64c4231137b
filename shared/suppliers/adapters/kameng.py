"""The Kameng supplier protocol: signed HTTP-JSON (docs/supplier-protocol.md, "kameng").

The same scheme as a Kameng site's open API, so one Kameng site can dock another as a supplier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache

from shared.suppliers.adapters.base import (
    CallbackAck,
    CallbackRejected,
    HttpAdapter,
    SupplierCallback,
    SupplierUnavailable,
    TopupRequest,
    TopupResult,
    safe_message,
)
from shared.suppliers.signing import ORDER_REF_RE, SignatureInvalid, kameng_sign, kameng_verify

JSON = "application/json"


class CacheNonces:
    """Nonces seen by the platform, shared by every web process through the cache."""

    def add(self, key: str, ttl: int) -> bool:
        return bool(cache.add(f"suppliers:nonce:{key}", 1, ttl))


def encode(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class KamengAdapter(HttpAdapter):
    protocol = "kameng"

    def _signed(self, method: str, path: str, body: bytes = b"") -> requests.PreparedRequest:
        headers = {"Accept": JSON}
        if body:
            headers["Content-Type"] = JSON
        prepared = requests.Request(method, self.url(path), data=body or None, headers=headers)
        ready = self.session.prepare_request(prepared)
        ready.headers.update(
            kameng_sign(
                key_id=self.key_id,
                secret=self.secret(),
                method=method,
                path=ready.path_url,  # exactly the request target that goes on the wire
                body=body,
            )
        )
        return ready

    def send_topup(self, request: TopupRequest) -> TopupResult:
        body = encode(
            {
                "order_ref": request.order_ref,
                "sku": request.sku_code,
                "quantity": request.quantity,
                "fields": dict(request.fields),
                "callback_url": request.callback_url,
            }
        )
        response = self.send(self._signed("POST", "/topups", body), action="submit")
        return self._result(response, request.order_ref)

    def send_query(self, order_ref: str) -> TopupResult:
        response = self.send(self._signed("GET", f"/topups/{order_ref}"), action="query")
        return self._result(response, order_ref)

    def _result(self, response: requests.Response, order_ref: str) -> TopupResult:
        data = self.json_body(response)
        if response.status_code >= 400:
            # An explicit refusal: bad request, unknown SKU, no balance, signature refused,
            # unknown order, or the order reference reused with other content.
            code = safe_message(data.get("error")) or f"http_{response.status_code}"
            text = safe_message(data.get("message"))
            return TopupResult(status="failed", message=f"{code}: {text}" if text else code)
        status = data.get("status")
        if data.get("order_ref") != order_ref or status not in ("pending", "succeeded", "failed"):
            raise SupplierUnavailable(f"{self.supplier.name}: unexpected answer")
        return TopupResult(
            status=status,
            supplier_ref=safe_message(data.get("supplier_ref"))[:100],
            message=safe_message(data.get("message")),
        )

    def callback_parse(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SupplierCallback:
        try:
            kameng_verify(
                headers=headers,
                method=method,
                path=path,
                body=body,
                key_id=self.key_id,
                secret=self.secret(),
                nonces=CacheNonces(),
                tolerance=settings.SUPPLIER_SIGNATURE_TOLERANCE,
            )
        except SignatureInvalid as exc:
            raise CallbackRejected(exc.reason, status=403) from exc
        try:
            data = json.loads(body)
            order_ref = data["order_ref"]
            result = TopupResult(
                status=data["status"],
                supplier_ref=safe_message(data.get("supplier_ref"))[:100],
                message=safe_message(data.get("message")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected("malformed callback") from exc
        if not isinstance(order_ref, str) or not ORDER_REF_RE.match(order_ref):
            raise CallbackRejected("malformed order_ref")
        return SupplierCallback(order_ref=order_ref, result=result)

    def callback_ack(self, *, accepted: bool, status: int = 200, reason: str = "") -> CallbackAck:
        if accepted:
            return CallbackAck(status=200, content_type=JSON, body=encode({"ok": True}))
        return CallbackAck(
            status=status, content_type=JSON, body=encode({"ok": False, "error": reason})
        )
