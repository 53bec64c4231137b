"""A local top-up supplier speaking either supplier protocol (docs/supplier-protocol.md).

It verifies every signed request, accepts top-ups idempotently on the order reference, decides
each order's outcome (success, or failure at the configured rate, deterministic with a seed, or
forced through the admin endpoint), makes the outcome known after the configured latency, and
either delivers it as a signed callback with retries (callback mode) or waits to be asked
(poll mode; queries are answered in both modes). Standard library only: no Django.

Admin endpoints (loopback clients only, unsigned, for tests and demos):
  GET  /_sim/health            {"ok": true, "protocol": ..., "mode": ...}
  GET  /_sim/orders            every order with its state and callback attempts
  POST /_sim/force             {"order_ref": "...", "outcome": ...} for one order, or without
                               order_ref for every new order; outcome one of succeeded, failed,
                               pending (never completes), refuse (explicit refusal on submit),
                               error (HTTP 500 on submit), hang (no answer for hang_ms), or
                               null to clear
  POST /_sim/reset             forget every order and forced outcome
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from shared.suppliers.signing import (
    DEFAULT_TOLERANCE,
    ORDER_REF_RE,
    NonceStore,
    SignatureInvalid,
    classic_signed,
    classic_verify,
    kameng_sign,
    kameng_verify,
    mask_fields,
)

logger = logging.getLogger("kameng.supplier_simulator")

OUTCOMES = {"succeeded", "failed", "pending", "refuse", "error", "hang"}
BASE_PATHS = {"kameng": "/api/v1", "classic": "/api"}
CLASSIC_STATUS = {"pending": "processing", "succeeded": "success", "failed": "failed"}


@dataclass(frozen=True)
class Config:
    protocol: str  # "kameng" | "classic"
    mode: str  # "callback" | "poll"
    key_id: str
    secret: str
    latency_ms: int = 200
    failure_rate: float = 0.0
    error_rate: float = 0.0  # share of top-up requests answered with HTTP 503
    seed: int | None = None
    tolerance: int = DEFAULT_TOLERANCE
    callback_retries: int = 5
    callback_backoff_ms: int = 500
    skus: frozenset[str] = frozenset()  # accepted SKU codes; empty accepts every code
    force: str | None = None  # the outcome of every new order, unless forced per order
    hang_ms: int = 30_000


@dataclass
class SimOrder:
    order_ref: str
    sku: str
    quantity: int
    fields: dict[str, str]
    callback_url: str
    digest: str
    supplier_ref: str
    outcome: str  # "succeeded" | "failed" | "pending" (never completes)
    ready_at: float  # time.monotonic() when the outcome is known
    created_at: float = field(default_factory=time.time)
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def status(self, now: float) -> str:
        if self.outcome == "pending" or now < self.ready_at:
            return "pending"
        return self.outcome

    def message(self, now: float) -> str:
        return {
            "pending": "processing",
            "succeeded": "credited",
            "failed": "account cannot be credited",
        }[self.status(now)]


class Refusal(Exception):
    """An explicit refusal: (HTTP status, error code, classic code, message)."""

    def __init__(self, http_status: int, error: str, classic_code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error = error
        self.classic_code = classic_code
        self.message = message


class Simulator:
    """The supplier's state: orders and forced outcomes, shared by the request threads."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.orders: dict[str, SimOrder] = {}
        self.forced: dict[str, str] = {}
        self.default_force = config.force
        self.hang_ms = config.hang_ms
        self.nonces = NonceStore()
        self.lock = threading.Lock()
        self.rng = random.Random(config.seed)  # noqa: S311 - a simulation, not security
        self.timers: list[threading.Timer] = []

    # --- decisions ----------------------------------------------------------------------------

    def decide(self, order_ref: str) -> str:
        forced = self.forced.get(order_ref) or self.default_force
        if forced:
            return forced
        if self.config.seed is None:
            draw = random.random()  # noqa: S311
        else:
            # Per order, not per arrival: the same seed gives every order the same outcome
            # whatever the order and concurrency of requests.
            draw = random.Random(f"{self.config.seed}:{order_ref}").random()  # noqa: S311
        return "failed" if draw < self.config.failure_rate else "succeeded"

    def server_error(self) -> bool:
        if not self.config.error_rate:
            return False
        with self.lock:
            return self.rng.random() < self.config.error_rate

    # --- top-ups ------------------------------------------------------------------------------

    def submit(
        self, *, order_ref: str, sku: str, quantity: int, fields: dict[str, str], callback_url: str
    ) -> tuple[SimOrder, bool]:
        """The order for `order_ref`, and whether it is new. Raises Refusal."""
        if not ORDER_REF_RE.match(order_ref):
            raise Refusal(400, "bad_request", 1002, "malformed order reference")
        if quantity < 1 or quantity > 1000:
            raise Refusal(400, "bad_request", 1002, "quantity must be 1 to 1000")
        if not fields or not all(isinstance(v, str) and v for v in fields.values()):
            raise Refusal(400, "bad_request", 1002, "the account to credit is missing")
        if self.config.mode == "callback" and not callback_url.startswith(("http://", "https://")):
            raise Refusal(400, "bad_request", 1002, "callback_url is required")
        if self.config.skus and sku not in self.config.skus:
            raise Refusal(422, "unknown_sku", 1006, f"unknown goods {sku}")
        digest = hashlib.sha256(
            json.dumps([sku, quantity, fields], sort_keys=True).encode()
        ).hexdigest()
        with self.lock:
            existing = self.orders.get(order_ref)
            if existing is not None:
                if existing.digest != digest:
                    raise Refusal(409, "order_ref_conflict", 1005, "order reference reused")
                return existing, False
            outcome = self.decide(order_ref)
            if outcome == "refuse":
                raise Refusal(402, "insufficient_balance", 1003, "insufficient balance")
            order = SimOrder(
                order_ref=order_ref,
                sku=sku,
                quantity=quantity,
                fields=fields,
                callback_url=callback_url,
                digest=digest,
                supplier_ref="SIM" + hashlib.sha1(order_ref.encode()).hexdigest()[:12].upper(),  # noqa: S324
                outcome=outcome if outcome in {"succeeded", "failed", "pending"} else "succeeded",
                ready_at=time.monotonic() + self.config.latency_ms / 1000,
            )
            self.orders[order_ref] = order
        logger.info(
            "simulator.accepted order_ref=%s sku=%s fields=%s outcome=%s",
            order_ref, sku, mask_fields(fields), order.outcome,
        )  # fmt: skip
        if self.config.mode == "callback" and order.outcome != "pending":
            self._schedule(order, attempt=0, delay=self.config.latency_ms / 1000)
        return order, True

    def get(self, order_ref: str) -> SimOrder | None:
        with self.lock:
            return self.orders.get(order_ref)

    # --- callbacks ----------------------------------------------------------------------------

    def _schedule(self, order: SimOrder, *, attempt: int, delay: float) -> None:
        timer = threading.Timer(delay, self._deliver, args=(order, attempt))
        timer.daemon = True
        with self.lock:
            self.timers = [t for t in self.timers if t.is_alive()] + [timer]
        timer.start()

    def _deliver(self, order: SimOrder, attempt: int) -> None:
        now = time.monotonic()
        status, message = order.status(now), order.message(now)
        try:
            request = self.callback_request(order, status=status, message=message)
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                code, body = response.status, response.read(1000)
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read(1000)
        except (OSError, ValueError) as exc:
            code, body = 0, str(exc).encode()
        ok = 200 <= code < 300
        if self.config.protocol == "classic":
            ok = code == 200 and body.strip() == b"success"
        with self.lock:
            order.callbacks.append({"attempt": attempt + 1, "http_status": code, "ok": ok})
        logger.info(
            "simulator.callback order_ref=%s attempt=%s http_status=%s ok=%s",
            order.order_ref, attempt + 1, code, ok,
        )  # fmt: skip
        if not ok and attempt < self.config.callback_retries:
            delay = self.config.callback_backoff_ms / 1000 * (2**attempt)
            self._schedule(order, attempt=attempt + 1, delay=delay)

    def callback_request(
        self, order: SimOrder, *, status: str, message: str
    ) -> urllib.request.Request:
        parts = urlsplit(order.callback_url)
        if self.config.protocol == "kameng":
            body = json.dumps(
                {
                    "order_ref": order.order_ref,
                    "supplier_ref": order.supplier_ref,
                    "status": status,
                    "message": message,
                },
                separators=(",", ":"),
            ).encode()
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = kameng_sign(
                key_id=self.config.key_id,
                secret=self.config.secret,
                method="POST",
                path=path,
                body=body,
            )
            headers["Content-Type"] = "application/json"
        else:
            params = classic_signed(
                {
                    "userid": self.config.key_id,
                    "orderid": order.order_ref,
                    "supplier_orderid": order.supplier_ref,
                    "status": CLASSIC_STATUS[status],
                    "msg": message,
                },
                self.config.secret,
            )
            body = urlencode(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if parts.scheme not in {"http", "https"}:
            raise ValueError("callback_url must be http(s)")
        return urllib.request.Request(order.callback_url, data=body, headers=headers)  # noqa: S310

    # --- admin --------------------------------------------------------------------------------

    def force(self, *, order_ref: str | None, outcome: str | None, hang_ms: int | None) -> None:
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)} or null")
        with self.lock:
            if hang_ms is not None:
                self.hang_ms = hang_ms
            if order_ref is None:
                self.default_force = outcome
            elif outcome is None:
                self.forced.pop(order_ref, None)
            else:
                self.forced[order_ref] = outcome

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
            self.forced.clear()
            self.default_force = self.config.force

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            return {
                ref: {
                    "sku": o.sku,
                    "quantity": o.quantity,
                    "status": o.status(now),
                    "outcome": o.outcome,
                    "supplier_ref": o.supplier_ref,
                    "fields": mask_fields(o.fields),
                    "callbacks": list(o.callbacks),
                }
                for ref, o in self.orders.items()
            }


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"

    @property
    def sim(self) -> Simulator:
        return self.server.simulator

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator.http " + format, *args)

    # --- plumbing -----------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise Refusal(413, "too_large", 1002, "request too large")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            body = self._body() if method == "POST" else b""
            path = urlsplit(self.path).path
            if path.startswith("/_sim/"):
                self._admin(method, path, body)
            elif self.sim.config.protocol == "kameng":
                self._kameng(method, path, body)
            else:
                self._classic(method, path, body)
        except Refusal as exc:
            self._refuse(exc)
        except Exception:
            logger.exception("simulator.error")
            self._json(500, {"error": "internal", "message": "simulator error"})

    def _refuse(self, exc: Refusal) -> None:
        classic = self.sim.config.protocol == "classic" and not self.path.startswith("/_sim/")
        if classic and exc.http_status < 500:
            self._json(200, {"code": exc.classic_code, "msg": exc.message})
        else:
            self._json(exc.http_status, {"error": exc.error, "message": exc.message})

    def _before_topup(self, order_ref: str) -> None:
        """Forced transport trouble and the random server-error rate."""
        forced = self.sim.forced.get(order_ref) or self.sim.default_force
        if forced == "hang":
            time.sleep(self.sim.hang_ms / 1000)
        if forced == "error" or self.sim.server_error():
            raise Refusal(503 if forced != "error" else 500, "unavailable", 0, "try again later")

    # --- admin --------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> None:
        if self.client_address[0] not in {"127.0.0.1", "::1"}:
            raise Refusal(403, "forbidden", 0, "admin endpoints answer loopback clients only")
        cfg = self.sim.config
        if method == "GET" and path == "/_sim/health":
            self._json(200, {"ok": True, "protocol": cfg.protocol, "mode": cfg.mode})
        elif method == "GET" and path == "/_sim/orders":
            self._json(200, {"orders": self.sim.snapshot()})
        elif method == "POST" and path == "/_sim/force":
            try:
                data = json.loads(body or b"{}")
                self.sim.force(
                    order_ref=data.get("order_ref"),
                    outcome=data.get("outcome"),
                    hang_ms=data.get("hang_ms"),
                )
            except (ValueError, AttributeError) as exc:
                raise Refusal(400, "bad_request", 0, str(exc)) from exc
            self._json(200, {"ok": True})
        elif method == "POST" and path == "/_sim/reset":
            self.sim.reset()
            self._json(200, {"ok": True})
        else:
            raise Refusal(404, "not_found", 0, "no such admin endpoint")

    # --- kameng protocol ----------------------------------------------------------------------

    def _kameng_verify(self, method: str, body: bytes) -> None:
        try:
            kameng_verify(
                headers=dict(self.headers.items()),
                method=method,
                path=self.path,  # the request target as received
                body=body,
                key_id=self.sim.config.key_id,
                secret=self.sim.config.secret,
                nonces=self.sim.nonces,
                tolerance=self.sim.config.tolerance,
            )
        except SignatureInvalid as exc:
            raise Refusal(401, "bad_signature", 1001, exc.reason) from exc

    def _kameng_answer(self, status: int, order: SimOrder) -> None:
        now = time.monotonic()
        self._json(
            status,
            {
                "order_ref": order.order_ref,
                "supplier_ref": order.supplier_ref,
                "status": order.status(now),
                "message": order.message(now),
            },
        )

    def _kameng(self, method: str, path: str, body: bytes) -> None:
        base = BASE_PATHS["kameng"]
        if method == "POST" and path == f"{base}/topups":
            self._kameng_verify(method, body)
            try:
                data = json.loads(body)
                order_ref = str(data["order_ref"])
                quantity = int(data.get("quantity", 1))
                fields = {str(k): str(v) for k, v in dict(data["fields"]).items()}
                sku = str(data["sku"])
                callback_url = str(data.get("callback_url") or "")
            except (ValueError, KeyError, TypeError) as exc:
                raise Refusal(400, "bad_request", 1002, "malformed top-up request") from exc
            self._before_topup(order_ref)
            order, created = self.sim.submit(
                order_ref=order_ref,
                sku=sku,
                quantity=quantity,
                fields=fields,
                callback_url=callback_url,
            )
            self._kameng_answer(201 if created else 200, order)
        elif method == "GET" and path.startswith(f"{base}/topups/"):
            self._kameng_verify(method, body)
            order_ref = path.removeprefix(f"{base}/topups/")
            found = self.sim.get(order_ref)
            if found is None:
                raise Refusal(404, "not_found", 1004, "no such order")
            self._kameng_answer(200, found)
        else:
            raise Refusal(404, "not_found", 1002, "no such endpoint")

    # --- classic protocol ---------------------------------------------------------------------

    def _classic(self, method: str, path: str, body: bytes) -> None:
        base = BASE_PATHS["classic"]
        if method != "POST" or path not in {f"{base}/order/submit", f"{base}/order/query"}:
            self._json(404, {"code": 404, "msg": "no such endpoint"})
            return
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            classic_verify(
                params=params,
                user_id=self.sim.config.key_id,
                secret=self.sim.config.secret,
                tolerance=self.sim.config.tolerance,
            )
        except SignatureInvalid as exc:
            raise Refusal(401, "bad_signature", 1001, f"sign error: {exc.reason}") from exc
        order_ref = params.get("orderid", "")
        if path.endswith("/submit"):
            try:
                quantity = int(params.get("num", "1"))
                extra = json.loads(params.get("charge_extra") or "{}")
                fields = {str(k): str(v) for k, v in dict(extra).items()}
            except (ValueError, TypeError) as exc:
                raise Refusal(400, "bad_request", 1002, "malformed parameters") from exc
            if not params.get("charge_account"):
                raise Refusal(400, "bad_request", 1002, "charge_account is required")
            fields.setdefault("charge_account", params["charge_account"])
            self._before_topup(order_ref)
            order, _ = self.sim.submit(
                order_ref=order_ref,
                sku=params.get("goodsid", ""),
                quantity=quantity,
                fields=fields,
                callback_url=params.get("notify_url", ""),
            )
        else:
            found = self.sim.get(order_ref)
            if found is None:
                raise Refusal(404, "not_found", 1004, "order not found")
            order = found
        now = time.monotonic()
        self._json(
            200,
            {
                "code": 0,
                "msg": "ok",
                "data": {
                    "orderid": order.order_ref,
                    "supplier_orderid": order.supplier_ref,
                    "status": CLASSIC_STATUS[order.status(now)],
                    "msg": order.message(now),
                },
            },
        )


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: Config) -> None:
        super().__init__(address, Handler)
        self.simulator = Simulator(config)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{BASE_PATHS[self.simulator.config.protocol]}"
