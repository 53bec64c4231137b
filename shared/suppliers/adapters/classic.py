"""The classic 卡盟 upstream protocol: form parameters signed with an MD5 of the sorted
parameters plus the secret (docs/supplier-protocol.md, "classic")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

import requests
from django.conf import settings

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
from shared.suppliers.signing import ORDER_REF_RE, SignatureInvalid, classic_signed, classic_verify

# The supplier's words for an order's state, and ours.
STATUS_IN = {"processing": "pending", "success": "succeeded", "failed": "failed"}
CODE_ORDER_NOT_FOUND = 1004


def primary_account(fields: Mapping[str, str]) -> str:
    """The account the supplier credits: `account`, else `phone`, else the first field."""
    for name in ("account", "phone"):
        if fields.get(name):
            return fields[name]
    return next(iter(fields.values()), "")


class ClassicAdapter(HttpAdapter):
    protocol = "classic"

    def _form(self, path: str, params: Mapping[str, str]) -> requests.PreparedRequest:
        signed = classic_signed({"userid": self.key_id, **params}, self.secret())
        return self.session.prepare_request(
            requests.Request("POST", self.url(path), data=signed, headers={"Accept": "*/*"})
        )

    def send_topup(self, request: TopupRequest) -> TopupResult:
        params = {
            "orderid": request.order_ref,
            "goodsid": request.sku_code,
            "num": str(request.quantity),
            "charge_account": primary_account(request.fields),
            "charge_extra": json.dumps(
                dict(request.fields), ensure_ascii=False, separators=(",", ":"), sort_keys=True
            ),
            "notify_url": request.callback_url,
        }
        response = self.send(self._form("/order/submit", params), action="submit")
        return self._result(response, request.order_ref)

    def send_query(self, order_ref: str) -> TopupResult:
        response = self.send(self._form("/order/query", {"orderid": order_ref}), action="query")
        return self._result(response, order_ref)

    def _result(self, response: requests.Response, order_ref: str) -> TopupResult:
        data = self.json_body(response)
        code = data.get("code")
        if not isinstance(code, int):
            raise SupplierUnavailable(f"{self.supplier.name}: unexpected answer")
        if code != 0:
            text = safe_message(data.get("msg"))
            return TopupResult(status="failed", message=f"{code}: {text}" if text else str(code))
        order = data.get("data")
        if not isinstance(order, dict) or order.get("orderid") != order_ref:
            raise SupplierUnavailable(f"{self.supplier.name}: unexpected answer")
        status = STATUS_IN.get(str(order.get("status")))
        if status is None:
            raise SupplierUnavailable(f"{self.supplier.name}: unexpected answer")
        return TopupResult(
            status=status,
            supplier_ref=safe_message(order.get("supplier_orderid"))[:100],
            message=safe_message(order.get("msg") or data.get("msg")),
        )

    def callback_parse(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SupplierCallback:
        try:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError as exc:
            raise CallbackRejected("malformed callback") from exc
        try:
            classic_verify(
                params=params,
                user_id=self.key_id,
                secret=self.secret(),
                tolerance=settings.SUPPLIER_SIGNATURE_TOLERANCE,
            )
        except SignatureInvalid as exc:
            raise CallbackRejected(exc.reason, status=403) from exc
        order_ref = params.get("orderid", "")
        status = STATUS_IN.get(params.get("status", ""))
        if not ORDER_REF_RE.match(order_ref) or status is None:
            raise CallbackRejected("malformed callback")
        return SupplierCallback(
            order_ref=order_ref,
            result=TopupResult(
                status=status,
                supplier_ref=safe_message(params.get("supplier_orderid"))[:100],
                message=safe_message(params.get("msg")),
            ),
        )

    def callback_ack(self, *, accepted: bool, status: int = 200, reason: str = "") -> CallbackAck:
        # Classic suppliers stop retrying when the body is exactly "success".
        if accepted:
            return CallbackAck(status=200, content_type="text/plain", body=b"success")
        return CallbackAck(status=status, content_type="text/plain", body=b"fail")
