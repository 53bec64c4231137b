"""What every supplier adapter shares: the request and result types, the errors, the adapter
protocol, and the HTTP plumbing that turns transport trouble into `SupplierUnavailable`."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from shared.suppliers.models import Supplier
from shared.suppliers.signing import ORDER_REF_RE, mask_fields

logger = logging.getLogger("shared.suppliers")

TOPUP_STATUSES = ("pending", "succeeded", "failed")
MESSAGE_MAX = 200


@dataclass(frozen=True)
class TopupRequest:
    order_ref: str  # also the idempotency key at the supplier
    sku_code: str
    quantity: int
    fields: Mapping[str, str]  # the buyer's validated input (phone, game account ...)
    callback_url: str  # absolute URL of the platform's callback endpoint for this supplier

    def __post_init__(self) -> None:
        if not ORDER_REF_RE.match(self.order_ref):
            raise ValueError("order_ref must be 1-100 characters of A-Z a-z 0-9 . _ : -")
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")

    def __repr__(self) -> str:  # the buyer's fields never reach a log line in full
        return (
            f"TopupRequest(order_ref={self.order_ref!r}, sku_code={self.sku_code!r}, "
            f"quantity={self.quantity}, fields={mask_fields(self.fields)!r})"
        )


@dataclass(frozen=True)
class TopupResult:
    status: str  # "pending" | "succeeded" | "failed"
    supplier_ref: str = ""
    message: str = ""  # safe to show staff; never a secret

    def __post_init__(self) -> None:
        if self.status not in TOPUP_STATUSES:
            raise ValueError(f"unknown top-up status {self.status!r}")

    @property
    def is_final(self) -> bool:
        return self.status != "pending"


class SupplierUnavailable(Exception):
    """The supplier could not be reached or answered with a server error: retry later (the
    order reference makes resubmission safe)."""


class CallbackRejected(Exception):
    """A callback that is refused before anything is changed (bad signature, malformed)."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class SupplierCallback:
    order_ref: str
    result: TopupResult


@dataclass(frozen=True)
class CallbackAck:
    """The HTTP answer a protocol expects to a callback."""

    status: int
    content_type: str
    body: bytes = field(default=b"")


class SupplierAdapter(Protocol):
    supplier: Supplier

    def submit(self, request: TopupRequest) -> TopupResult: ...

    def query(self, *, order_ref: str) -> TopupResult: ...

    def callback_parse(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SupplierCallback: ...

    def callback_ack(
        self, *, accepted: bool, status: int = 200, reason: str = ""
    ) -> CallbackAck: ...


def safe_message(value: Any) -> str:
    """A supplier's free-text message, trimmed to something a console row can show."""
    text = " ".join(str(value or "").split())
    return text[:MESSAGE_MAX]


class HttpAdapter:
    """Signed HTTP calls to one supplier; subclasses define the wire format."""

    protocol: ClassVar[str] = ""

    def __init__(self, supplier: Supplier, *, session: requests.Session | None = None) -> None:
        self.supplier = supplier
        self.session = session or requests.Session()
        self.timeout = (settings.SUPPLIER_CONNECT_TIMEOUT, settings.SUPPLIER_READ_TIMEOUT)
        self._secret: str | None = None

    @property
    def key_id(self) -> str:
        return self.supplier.api_key_id

    def secret(self) -> str:
        """The API secret from the vault (raises ValidationError when none is set)."""
        if self._secret is None:
            from shared.vault.services import supplier_secret_get

            self._secret = supplier_secret_get(supplier=self.supplier)
        return self._secret

    def url(self, path: str) -> str:
        return self.supplier.api_base_url.rstrip("/") + path

    def send(self, prepared: requests.PreparedRequest, *, action: str) -> requests.Response:
        """Send; transport errors, timeouts, 429 and 5xx become SupplierUnavailable."""
        log = {"supplier_id": self.supplier.pk, "protocol": self.protocol, "action": action}
        try:
            response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            logger.warning("supplier.timeout", extra=log)
            raise SupplierUnavailable(f"{self.supplier.name}: no answer in time") from exc
        except requests.RequestException as exc:
            logger.warning("supplier.unreachable", extra=log | {"error": type(exc).__name__})
            raise SupplierUnavailable(f"{self.supplier.name}: unreachable") from exc
        log["http_status"] = response.status_code
        if response.status_code >= 500 or response.status_code == 429:
            logger.warning("supplier.server_error", extra=log)
            raise SupplierUnavailable(
                f"{self.supplier.name}: HTTP {response.status_code}, try again later"
            )
        if 300 <= response.status_code < 400:
            logger.warning("supplier.redirected", extra=log)
            raise SupplierUnavailable(f"{self.supplier.name}: unexpected redirect")
        logger.info("supplier.answered", extra=log)
        return response

    def json_body(self, response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise SupplierUnavailable(f"{self.supplier.name}: unreadable answer") from exc
        if not isinstance(data, dict):
            raise SupplierUnavailable(f"{self.supplier.name}: unreadable answer")
        return data

    def missing_secret(self) -> TopupResult | None:
        """A failed result when the supplier cannot be called at all for lack of credentials."""
        if not self.supplier.api_base_url:
            return TopupResult(status="failed", message="Supplier has no API address.")
        try:
            self.secret()
        except ValidationError:
            return TopupResult(status="failed", message="Supplier has no API secret.")
        return None

    def submit(self, request: TopupRequest) -> TopupResult:
        """Send the top-up; the order is recorded against this supplier first, so its callback
        is recognised even when it arrives before this call returns."""
        from shared.suppliers.services import supplier_order_open, supplier_order_record

        supplier_order_open(supplier=self.supplier, request=request)
        result = self.missing_secret()
        if result is None:
            self.log_submit(request)
            result = self.send_topup(request)
        supplier_order_record(
            supplier=self.supplier, order_ref=request.order_ref, result=result, via="submit"
        )
        logger.info(
            "supplier.submit.answered",
            extra={"supplier_id": self.supplier.pk, "order_ref": request.order_ref,
                   "status": result.status, "supplier_ref": result.supplier_ref},
        )  # fmt: skip
        return result

    def query(self, *, order_ref: str) -> TopupResult:
        from shared.suppliers.services import supplier_order_record

        if not ORDER_REF_RE.match(order_ref):
            raise ValueError("malformed order_ref")
        result = self.missing_secret()
        if result is None:
            result = self.send_query(order_ref)
        supplier_order_record(
            supplier=self.supplier, order_ref=order_ref, result=result, via="query"
        )
        return result

    def send_topup(self, request: TopupRequest) -> TopupResult:
        raise NotImplementedError

    def send_query(self, order_ref: str) -> TopupResult:
        raise NotImplementedError

    def log_submit(self, request: TopupRequest) -> None:
        logger.info(
            "supplier.submit",
            extra={
                "supplier_id": self.supplier.pk,
                "protocol": self.protocol,
                "order_ref": request.order_ref,
                "sku": request.sku_code,
                "quantity": request.quantity,
                "fields": mask_fields(request.fields),
            },
        )
