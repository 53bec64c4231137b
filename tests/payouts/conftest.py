"""Payout fixtures: funded sites, the acting users, and a local HTTP server playing Stripe."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import Posting, account_balance, account_get, transaction_post
from shared.payouts.models import Withdrawal, WithdrawalEvent
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from tests.conftest import HQ_EMAIL

D = Decimal


def fund(site: Site, amount: Decimal, *, currency: str = "CNY", key: str) -> None:
    """Give a site available earnings (as if confirmed sales had been paid in)."""
    transaction_post(
        idempotency_key=key,
        kind="test_funding",
        postings=[
            Posting(account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency), amount),
            Posting(
                account_get(kind=AccountKind.SITE_AVAILABLE, currency=currency, site=site),
                -amount,
            ),
        ],
        site=site,
    )


def balance(kind: AccountKind, site: Site | None = None, currency: str = "CNY") -> Decimal:
    return account_balance(account_get(kind=kind, currency=currency, site=site))


def written() -> tuple[int, int, int]:
    """What a refused request must not change: withdrawals, their events, ledger transactions."""
    return Withdrawal.objects.count(), WithdrawalEvent.objects.count(), Transaction.objects.count()


@pytest.fixture
def site(make_site: Callable[..., ProvisionedSite]) -> Site:
    """A fresh site with 500.00 CNY available."""
    created = make_site().site
    fund(created, D("500.00"), key=f"fund:{created.slug}")
    return created


@pytest.fixture
def owner(site: Site) -> Any:
    with tenant_context(site):
        return get_user_model().objects.get(email=f"owner@{site.slug}.test")


@pytest.fixture
def hq_staff(db: None) -> Any:
    return get_user_model().objects.get(email=HQ_EMAIL)


@pytest.fixture
def no_stripe(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = ""


# --- A local Stripe ---------------------------------------------------------------------------


@dataclass
class StripeRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    """What the local Stripe received, and what it answers (path → (status, JSON body))."""

    port: int
    requests: list[StripeRequest] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def to(self, path: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.path == path]


def _account(account_id: str, *, active: bool = False) -> dict[str, Any]:
    return {
        "id": account_id,
        "object": "account",
        "type": "express",
        "details_submitted": active,
        "payouts_enabled": active,
        "capabilities": {"transfers": "active" if active else "inactive"},
    }


def _default_answer(method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if method == "POST" and path == "/v1/transfers":
        return 200, {
            "id": "tr_local_1",
            "object": "transfer",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "destination": form["destination"],
            "metadata": {},
        }
    if method == "POST" and path == "/v1/accounts":
        return 200, _account("acct_local_1")
    if method == "GET" and path.startswith("/v1/accounts/"):
        return 200, _account(path.rsplit("/", 1)[1], active=True)
    if method == "POST" and path == "/v1/account_links":
        return 200, {
            "object": "account_link",
            "url": f"https://connect.stripe.test/setup/e/{form['account']}/onboard",
            "created": 1700000000,
            "expires_at": 1700000300,
        }
    return 404, {"error": {"type": "invalid_request_error", "message": f"No route {path}"}}


@pytest.fixture
def fake_stripe(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A ThreadingHTTPServer on 127.0.0.1 answering like Stripe's API, with stripe-python and
    the project's settings pointed at it."""
    state: dict[str, FakeStripe] = {}

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            fake = state["fake"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            url = urlsplit(self.path)
            raw = body if self.command == "POST" else url.query
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            fake.requests.append(
                StripeRequest(self.command, url.path, dict(self.headers.items()), form)
            )
            status, payload = fake.answers.get(url.path) or _default_answer(
                self.command, url.path, form
            )
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
    monkeypatch.setattr(stripe, "api_key", "sk_test_local")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
