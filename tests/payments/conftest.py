"""Payment fixtures: a local HTTP server answering like Stripe's API, signed events, a recording
handler for the "order" purpose, and members of the committed sites."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from django.contrib.auth.models import AbstractUser, Group
from django.db import connection
from django.db.models import Max, QuerySet
from django.test import Client
from django_tenants.utils import tenant_context

from shared.ledger.models import Leg, Transaction
from shared.payments import conf, registry
from shared.payments.models import CheckoutSession, Refund, WebhookEvent
from shared.payments.registry import PaymentMismatch, payment_handler_register
from shared.sites.models import Site
from tenants.members.services import member_create
from tests.conftest import MEMBER_PASSWORD

D = Decimal
STRIPE_WEBHOOK_SECRET = "whsec_test_local_secret"
WEBHOOK_PATH = "/payments/webhooks/stripe/"


# --- A local Stripe ---------------------------------------------------------------------------


@dataclass
class StripeRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    """What the local Stripe received, and overrides of its answers (path → (status, body))."""

    port: int
    requests: list[StripeRequest] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # Like Stripe: the same idempotency key gets the same answer.
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # The balance transaction of every payment intent (None: not recorded yet).
    balance_transaction: dict[str, Any] | None = None
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def to(self, path: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.path == path]


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """`metadata[k]=v` fields as a dict."""
    return {k[len(prefix) + 1 : -1]: v for k, v in form.items() if k.startswith(f"{prefix}[")}


def _answer(fake: FakeStripe, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
    if method == "POST" and path == "/v1/checkout/sessions":
        session_id = f"cs_test_local{next(fake.ids):04d}_{uuid.uuid4().hex[:12]}"
        return 200, {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "metadata": _nested(form, "metadata"),
            "client_reference_id": form.get("client_reference_id"),
            "expires_at": int(form["expires_at"]),
            "payment_status": "unpaid",
            "status": "open",
        }
    if method == "GET" and path.startswith("/v1/payment_intents/"):
        intent_id = path.rsplit("/", 1)[1]
        charge = {"id": f"ch_for_{intent_id}", "object": "charge"}
        charge["balance_transaction"] = fake.balance_transaction
        return 200, {"id": intent_id, "object": "payment_intent", "latest_charge": charge}
    if method == "POST" and path == "/v1/refunds":
        return 200, {
            "id": f"re_test_local{next(fake.ids):04d}_{uuid.uuid4().hex[:12]}",
            "object": "refund",
            "amount": int(form["amount"]),
            "currency": "cny",
            "payment_intent": form["payment_intent"],
            "status": "succeeded",
            "metadata": _nested(form, "metadata"),
        }
    return 404, {"error": {"type": "invalid_request_error", "message": f"No route {path}"}}


@pytest.fixture
def fake_stripe(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A ThreadingHTTPServer on 127.0.0.1 answering like Stripe's API, with stripe-python and
    the project's settings pointed at it (Stripe mode, not the sandbox)."""
    state: dict[str, FakeStripe] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            fake = state["fake"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            url = urlsplit(self.path)
            raw = body if self.command == "POST" else url.query
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            key = self.headers.get("Idempotency-Key")
            with lock:
                fake.requests.append(
                    StripeRequest(self.command, url.path, dict(self.headers.items()), form)
                )
                if self.command == "POST" and key and key in fake.replies:
                    status, payload = fake.replies[key]
                else:
                    status, payload = fake.answers.get(url.path) or _answer(
                        fake, self.command, url.path, form
                    )
                    if self.command == "POST" and key and status < 500:
                        fake.replies[key] = (status, payload)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_local")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["fake"] = fake = FakeStripe(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{fake.port}")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sandbox(settings: Any) -> None:
    """No Stripe keys: the sandbox plays Stripe."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""


# --- Events -----------------------------------------------------------------------------------


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event_for(
    session: CheckoutSession,
    event_type: str = "checkout.session.completed",
    *,
    event_id: str | None = None,
    payment_intent: str | None = "pi_test_local_1",
    **overrides: Any,
) -> dict[str, Any]:
    """A Stripe-shaped event about a session, with fields of data.object overridden."""
    exponent = 0 if session.currency in ("JPY", "KRW") else 2
    obj: dict[str, Any] = {
        "id": session.provider_session_id,
        "object": "checkout.session",
        "amount_total": int(session.amount.scaleb(exponent)),
        "currency": session.currency.lower(),
        "metadata": {
            "kameng_site": session.site.schema_name,
            "kameng_purpose": session.purpose,
            "kameng_reference": session.reference,
        },
        "payment_intent": payment_intent,
        "payment_status": "paid" if event_type == "checkout.session.completed" else "unpaid",
        "status": "complete" if event_type == "checkout.session.completed" else "expired",
    }
    obj.update(overrides)
    return {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def secret_in_use() -> str:
    return conf.webhook_secret()


def post_event(
    client: Client,
    event: dict[str, Any] | str,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    sign: bool = True,
) -> Any:
    payload = event if isinstance(event, str) else json.dumps(event)
    headers = {"HTTP_HOST": "localhost"}
    if sign:
        headers["HTTP_STRIPE_SIGNATURE"] = signature(payload, secret or secret_in_use(), timestamp)
    return client.post(WEBHOOK_PATH, data=payload, content_type="application/json", **headers)


def written() -> tuple[int, ...]:
    """Rows a refused event or request must not add."""
    return (
        CheckoutSession.objects.count(),
        Refund.objects.count(),
        Transaction.objects.count(),
        Leg.objects.count(),
    )


@dataclass(frozen=True)
class Fresh:
    """Rows this test wrote. Tests that commit (the live server and the worker only see
    committed rows) leave theirs behind, so a test looks at what came after it started."""

    last: dict[str, int]

    def sessions(self) -> QuerySet[CheckoutSession]:
        return CheckoutSession.objects.filter(pk__gt=self.last["session"]).order_by("pk")

    def events(self) -> QuerySet[WebhookEvent]:
        return WebhookEvent.objects.filter(pk__gt=self.last["event"]).order_by("pk")

    def refunds(self) -> QuerySet[Refund]:
        return Refund.objects.filter(pk__gt=self.last["refund"]).order_by("pk")

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.events().values_list("outcome", flat=True):
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


@pytest.fixture
def fresh(db: None) -> Fresh:
    models = {"session": CheckoutSession, "event": WebhookEvent, "refund": Refund}
    return Fresh({k: m.objects.aggregate(last=Max("pk"))["last"] or 0 for k, m in models.items()})


# --- A handler for the "order" purpose --------------------------------------------------------


@dataclass
class OrderHandler:
    paid: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    # References whose payment the handler refuses (after writing, to prove the rollback).
    refuse: set[str] = field(default_factory=set)

    def confirmed(
        self,
        *,
        site: Site,
        reference: str,
        amount: Decimal,
        currency: str,
        payment_ref: str,
        fee: Decimal,
    ) -> None:
        assert connection.schema_name == site.schema_name
        assert connection.in_atomic_block
        Group.objects.create(name=f"paid {reference}")  # a row in the site's own schema
        if reference in self.refuse:
            raise PaymentMismatch("The order was cancelled.")
        self.paid.append(
            {
                "site": site.slug,
                "reference": reference,
                "amount": amount,
                "currency": currency,
                "payment_ref": payment_ref,
                "fee": fee,
            }
        )

    def on_expired(self, *, site: Site, reference: str) -> None:
        assert connection.schema_name == site.schema_name
        self.expired.append({"site": site.slug, "reference": reference})


@pytest.fixture
def order_handler(monkeypatch: pytest.MonkeyPatch) -> OrderHandler:
    """A handler registered for "order" for the test only (the registry is restored after)."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    handler = OrderHandler()
    payment_handler_register(
        purpose="order", handler=handler.confirmed, on_expired=handler.on_expired
    )
    return handler


def site_groups(site: Site) -> list[str]:
    with tenant_context(site):
        return sorted(Group.objects.values_list("name", flat=True))


def new_member(site: Site, name: str = "m") -> AbstractUser:
    """A member of `site`, unique across runs (committed rows are never deleted)."""
    with tenant_context(site):
        return member_create(
            email=f"{name}-{uuid.uuid4().hex[:10]}@{site.slug}.test", password=MEMBER_PASSWORD
        )


Start = Callable[..., CheckoutSession]
