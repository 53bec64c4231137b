"""Both adapters against a real simulator process: submit, query, idempotency, refusals,
server errors, timeouts, signatures, and the simulator's failure rate and latency."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from shared.suppliers.adapters import (
    SupplierUnavailable,
    TopupRequest,
    TopupResult,
    adapter_for,
)
from shared.suppliers.models import SupplierOrder
from shared.suppliers.signing import kameng_sign
from tests.suppliers.conftest import KEY_ID, SECRET, Simulator, api_supplier

pytestmark = pytest.mark.django_db

PHONE = "13800138000"


def topup(order_ref: str, **overrides: Any) -> TopupRequest:
    values: dict[str, Any] = {
        "order_ref": order_ref,
        "sku_code": "cmcc-50",
        "quantity": 1,
        "fields": {"phone": PHONE},
        "callback_url": "http://localhost/suppliers/callback/1/",
    }
    return TopupRequest(**(values | overrides))


def wait_final(query: Callable[[], TopupResult], timeout: float = 10) -> TopupResult:
    deadline = time.monotonic() + timeout
    while True:
        result = query()
        if result.status != "pending" or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_submit_then_query_until_succeeded(poll_simulator: Simulator) -> None:
    supplier = api_supplier(poll_simulator)
    adapter = adapter_for(supplier)

    result = adapter.submit(topup("alpha:101"))

    assert result.status in ("pending", "succeeded")
    assert result.supplier_ref.startswith("SIM")
    final = wait_final(lambda: adapter.query(order_ref="alpha:101"))
    assert final == TopupResult(
        status="succeeded", supplier_ref=result.supplier_ref, message="credited"
    )
    row = SupplierOrder.objects.get(supplier=supplier, order_ref="alpha:101")
    assert (row.status, row.supplier_ref, row.sku_code, row.quantity) == (
        "succeeded",
        result.supplier_ref,
        "cmcc-50",
        1,
    )
    assert row.completed_at is not None
    sim = poll_simulator.orders()["alpha:101"]
    assert (sim["sku"], sim["status"]) == ("cmcc-50", "succeeded")
    assert sim["fields"]["phone" if poll_simulator.protocol == "kameng" else "charge_account"] == (
        "138*****000"
    )


def test_resubmission_is_idempotent_and_a_changed_request_is_refused(
    poll_simulator: Simulator,
) -> None:
    adapter = adapter_for(api_supplier(poll_simulator))
    first = adapter.submit(topup("alpha:102"))
    again = adapter.submit(topup("alpha:102"))

    assert again.supplier_ref == first.supplier_ref
    assert list(poll_simulator.orders()) == ["alpha:102"]
    assert SupplierOrder.objects.filter(order_ref="alpha:102").count() == 1

    changed = adapter.submit(topup("alpha:102", fields={"phone": "13900000000"}))
    assert changed.status == "failed"
    assert changed.message in (
        "order_ref_conflict: order reference reused",
        "1005: order reference reused",
    )
    assert poll_simulator.orders()["alpha:102"]["fields"] != {"phone": "139*****000"}


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("failed", ("pending", "failed", "account cannot be credited")),
        ("refuse", ("failed", "failed", None)),
    ],
)
def test_supplier_failure_and_refusal_are_failed_results(
    poll_simulator: Simulator, outcome: str, expected: tuple[str, str, str | None]
) -> None:
    supplier = api_supplier(poll_simulator)
    adapter = adapter_for(supplier)
    poll_simulator.force(outcome, order_ref="alpha:103")

    first = adapter.submit(topup("alpha:103"))

    assert first.status in {expected[0], expected[1]}
    final = wait_final(lambda: adapter.query(order_ref="alpha:103"))
    assert final.status == expected[1]
    if expected[2]:
        assert final.message == expected[2]
    else:  # refused at submit: the supplier never took the order
        assert first.message in (
            "insufficient_balance: insufficient balance",
            "1003: insufficient balance",
        )
        assert final.message in ("not_found: no such order", "1004: order not found")
    assert SupplierOrder.objects.get(supplier=supplier, order_ref="alpha:103").status == "failed"


def test_server_errors_are_retryable(poll_simulator: Simulator) -> None:
    supplier = api_supplier(poll_simulator)
    adapter = adapter_for(supplier)
    poll_simulator.force("error", order_ref="alpha:104")

    with pytest.raises(SupplierUnavailable, match="HTTP 500, try again later"):
        adapter.submit(topup("alpha:104"))

    assert poll_simulator.orders() == {}
    poll_simulator.force(None, order_ref="alpha:104")
    assert adapter.submit(topup("alpha:104")).status in ("pending", "succeeded")  # the retry


def test_a_timeout_is_retryable_and_the_resubmission_finds_the_order(
    poll_simulator: Simulator, settings: Any
) -> None:
    settings.SUPPLIER_READ_TIMEOUT = 0.5
    adapter = adapter_for(api_supplier(poll_simulator))
    poll_simulator.force("hang", order_ref="alpha:105", hang_ms=1500)

    started = time.monotonic()
    with pytest.raises(SupplierUnavailable, match="no answer in time"):
        adapter.submit(topup("alpha:105"))
    assert time.monotonic() - started < 1.4

    time.sleep(1.3)  # the supplier finishes the request it was still working on
    poll_simulator.force(None, order_ref="alpha:105")
    again = adapter.submit(topup("alpha:105"))
    assert again.status in ("pending", "succeeded")
    assert list(poll_simulator.orders()) == ["alpha:105"]  # once, not twice


def test_an_unreachable_supplier_is_retryable(settings: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for protocol in ("kameng", "classic"):
        adapter = adapter_for(
            api_supplier(protocol=protocol, base_url=f"http://127.0.0.1:{port}/api")
        )
        with pytest.raises(SupplierUnavailable, match="unreachable"):
            adapter.submit(topup(f"alpha:106{protocol}"))
        with pytest.raises(SupplierUnavailable, match="unreachable"):
            adapter.query(order_ref=f"alpha:106{protocol}")


def test_wrong_secret_is_refused_by_the_supplier(poll_simulator: Simulator) -> None:
    adapter = adapter_for(api_supplier(poll_simulator, secret="not-the-secret"))

    result = adapter.submit(topup("alpha:107"))

    assert result.status == "failed"
    assert result.message in (
        "bad_signature: signature mismatch",
        "1001: sign error: signature mismatch",
    )
    assert poll_simulator.orders() == {}


def test_missing_credentials_fail_without_a_call(poll_simulator: Simulator) -> None:
    supplier = api_supplier(poll_simulator, secret=None)

    result = adapter_for(supplier).submit(topup("alpha:108"))

    assert result == TopupResult(status="failed", message="Supplier has no API secret.")
    assert poll_simulator.orders() == {}
    assert SupplierOrder.objects.get(supplier=supplier, order_ref="alpha:108").status == "failed"


def test_logs_hold_no_secret_and_no_full_account(
    poll_simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = adapter_for(api_supplier(poll_simulator))
    with caplog.at_level(logging.DEBUG):
        adapter.submit(topup("alpha:109", fields={"phone": PHONE, "account": "player_one_42"}))
        adapter.query(order_ref="alpha:109")
    text = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "supplier.submit" in text
    assert "138*****000" in text
    for secret in (SECRET, PHONE, "player_one_42"):
        assert secret not in text


def test_the_simulator_refuses_bad_stale_and_replayed_signatures(kameng_poll: Simulator) -> None:
    kameng_poll.reset()
    url = f"{kameng_poll.base_url}/topups"
    body = json.dumps(
        {"order_ref": "alpha:110", "sku": "x", "quantity": 1, "fields": {"phone": PHONE}}
    ).encode()

    def post(headers: dict[str, str]) -> requests.Response:
        return requests.post(url, data=body, headers=headers, timeout=5)

    def sign(**kw: Any) -> dict[str, str]:
        args = {"key_id": KEY_ID, "secret": SECRET, "method": "POST", "path": "/api/v1/topups"}
        return kameng_sign(**(args | kw), body=body)  # type: ignore[arg-type]

    bad = post(sign(secret="wrong"))
    stale = post(sign(timestamp=int(time.time()) - 301))
    unsigned = post({})
    assert [(r.status_code, r.json()["message"]) for r in (bad, stale, unsigned)] == [
        (401, "signature mismatch"),
        (401, "stale timestamp"),
        (401, "missing signature headers"),
    ]
    assert kameng_poll.orders() == {}

    headers = sign()
    assert post(headers).status_code == 201
    replay = post(headers)
    assert (replay.status_code, replay.json()["message"]) == (401, "replayed nonce")
    assert list(kameng_poll.orders()) == ["alpha:110"]
    kameng_poll.reset()


def test_latency_is_honoured(simulator_factory: Callable[..., Simulator]) -> None:
    for protocol in ("kameng", "classic"):
        simulator = simulator_factory(protocol=protocol, latency_ms=700)
        adapter = adapter_for(api_supplier(simulator))
        started = time.monotonic()
        assert adapter.submit(topup(f"alpha:111{protocol}")).status == "pending"
        assert adapter.query(order_ref=f"alpha:111{protocol}").status == "pending"
        final = wait_final(lambda a=adapter, p=protocol: a.query(order_ref=f"alpha:111{p}"))
        assert final.status == "succeeded"
        assert time.monotonic() - started >= 0.7


def test_failure_rate_is_honoured_and_deterministic_with_a_seed(
    simulator_factory: Callable[..., Simulator],
) -> None:
    outcomes = []
    for protocol in ("kameng", "classic"):
        simulator = simulator_factory(protocol=protocol, failure_rate=0.3, extra=("--seed", "7"))
        adapter = adapter_for(api_supplier(simulator))
        statuses = []
        for n in range(120):
            adapter.submit(topup(f"beta:{n}"))
            final = wait_final(lambda a=adapter, n=n: a.query(order_ref=f"beta:{n}"))
            statuses.append(final.status)
        outcomes.append(statuses)
    failed = outcomes[0].count("failed")
    assert 0.2 * 120 <= failed <= 0.4 * 120
    assert set(outcomes[0]) == {"succeeded", "failed"}
    assert outcomes[0] == outcomes[1]  # the same seed decides the same orders the same way


def test_adapter_for_only_api_suppliers() -> None:
    from shared.suppliers.services import supplier_create

    stock = supplier_create(name="Card stock Co", kind="card_stock")
    with pytest.raises(ValueError, match="not an API top-up supplier"):
        adapter_for(stock)
    assert type(
        adapter_for(api_supplier(protocol="classic", base_url="http://x.test"))
    ).__name__ == ("ClassicAdapter")


def test_requests_are_validated() -> None:
    with pytest.raises(ValueError, match="order_ref"):
        topup("alpha/1")
    with pytest.raises(ValueError, match="quantity"):
        topup("alpha:1", quantity=0)
    with pytest.raises(ValueError, match="status"):
        TopupResult(status="done")
    assert "13800138000" not in repr(topup("alpha:1"))
