"""Signed callbacks end to end: a simulator in callback mode posts to the platform's endpoint on
a live server, which verifies the signature, finds the order's site and calls the registered
handler in that site's schema. The live server reads committed data, so the suppliers and
their orders are written from another thread (committed at once) and removed afterwards; the
test's own transaction only reads."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
import requests
from django.db import connections
from django.urls import reverse

from shared.suppliers.adapters import TopupRequest, TopupResult, adapter_for
from shared.suppliers.models import Supplier, SupplierOrder
from shared.suppliers.signing import classic_signed, kameng_sign
from tests.suppliers.conftest import KEY_ID, SECRET, RecordingHandler, Simulator, api_supplier

PHONE = "13800138000"


pytestmark = pytest.mark.django_db

T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> T:
    """Run database work on its own connection, so it commits as it goes."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def committed() -> Iterator[list[Supplier]]:
    """Suppliers the test commits; they and their orders go afterwards."""
    created: list[Supplier] = []
    yield created

    def remove() -> None:
        for supplier in created:
            SupplierOrder.objects.filter(supplier=supplier).delete()
            supplier.delete()

    in_thread(remove)


def committed_supplier(created: list[Supplier], *args: Any, **kwargs: Any) -> Supplier:
    supplier = in_thread(lambda: api_supplier(*args, **kwargs))
    created.append(supplier)
    return supplier


def callback_url(live_url: str, supplier: Supplier) -> str:
    path = reverse(
        "suppliers:callback", kwargs={"supplier_id": supplier.pk}, urlconf="kameng.urls_public"
    )
    return f"http://localhost{live_url}{path}"


def wait_for(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def submit(supplier: Supplier, order_ref: str, live_url: str) -> TopupResult:
    request = TopupRequest(
        order_ref=order_ref,
        sku_code="cmcc-50",
        quantity=1,
        fields={"phone": PHONE},
        callback_url=callback_url(live_url, supplier),
    )
    return in_thread(lambda: adapter_for(supplier).submit(request))


def row(supplier: Supplier, order_ref: str) -> tuple[str, int]:
    order = SupplierOrder.objects.get(supplier=supplier, order_ref=order_ref)
    return order.status, order.callbacks


@pytest.mark.parametrize("protocol", ["kameng", "classic"])
@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_callback_completes_the_order_in_its_site_schema(
    protocol: str,
    outcome: str,
    live_url: str,
    simulator_factory: Callable[..., Simulator],
    recording_handler: RecordingHandler,
    committed: list[Supplier],
) -> None:
    simulator = simulator_factory(protocol=protocol, mode="callback", latency_ms=300)
    supplier = committed_supplier(committed, simulator)
    order_ref = f"site_alpha:{uuid.uuid4().int % 10**9}"
    simulator.force(outcome, order_ref=order_ref)
    started = time.monotonic()

    first = submit(supplier, order_ref, live_url)

    assert first.status == "pending"
    call = wait_for(lambda: recording_handler.calls)[0]
    assert time.monotonic() - started >= 0.3  # the simulator's latency
    assert call == {
        "order_ref": order_ref,
        "supplier_id": supplier.pk,
        "result": TopupResult(
            status=outcome,
            supplier_ref=first.supplier_ref,
            message="credited" if outcome == "succeeded" else "account cannot be credited",
        ),
        "schema": "site_alpha",
        "in_transaction": True,
    }
    assert row(supplier, order_ref) == (outcome, 1)
    attempts = wait_for(lambda: simulator.orders()[order_ref]["callbacks"])
    assert attempts == [{"attempt": 1, "http_status": 200, "ok": True}]


def test_a_failing_handler_gets_the_callback_again(
    live_url: str,
    simulator_factory: Callable[..., Simulator],
    recording_handler: RecordingHandler,
    committed: list[Supplier],
) -> None:
    simulator = simulator_factory(protocol="kameng", mode="callback", latency_ms=50)
    supplier = committed_supplier(committed, simulator)
    recording_handler.fail_times = 1

    submit(supplier, "site_beta:77", live_url)

    call = wait_for(lambda: recording_handler.calls)[0]
    assert (call["order_ref"], call["schema"], call["result"].status) == (
        "site_beta:77",
        "site_beta",
        "succeeded",
    )
    attempts = wait_for(lambda: len(simulator.orders()["site_beta:77"]["callbacks"]) == 2)
    assert attempts
    assert [a["http_status"] for a in simulator.orders()["site_beta:77"]["callbacks"]] == [500, 200]
    assert row(supplier, "site_beta:77") == ("succeeded", 1)  # the failed attempt rolled back


# --- Refusals: posted straight to the endpoint --------------------------------------------------


def kameng_post(
    live_url: str, supplier: Supplier, payload: dict[str, Any], **sign: Any
) -> requests.Response:
    url = callback_url(live_url, supplier)
    body = json.dumps(payload).encode()
    path = url.split(live_url, 1)[1]
    headers = kameng_sign(
        **({"key_id": KEY_ID, "secret": SECRET, "method": "POST", "path": path} | sign), body=body
    )
    return requests.post(url, data=body, headers=headers, timeout=10)


def classic_post(
    live_url: str, supplier: Supplier, params: dict[str, str], secret: str = SECRET
) -> requests.Response:
    signed = classic_signed({"userid": KEY_ID, **params}, secret)
    return requests.post(
        callback_url(live_url, supplier),
        data=urlencode(signed),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


@pytest.fixture
def sent_orders(
    committed: list[Supplier], kameng_poll: Simulator, classic_poll: Simulator, live_url: str
) -> tuple[Supplier, Supplier, Supplier]:
    """Three committed suppliers (kameng, classic, another kameng) and an order sent to each
    of the first two."""
    kameng = committed_supplier(committed, kameng_poll)
    classic = committed_supplier(committed, classic_poll)
    other = committed_supplier(committed, kameng_poll)
    for simulator in (kameng_poll, classic_poll):
        simulator.reset()
        simulator.force("pending")  # the orders stay open until the callbacks below
    submit(kameng, "site_alpha:501", live_url)
    submit(classic, "site_alpha:502", live_url)
    for simulator in (kameng_poll, classic_poll):
        simulator.reset()
    return kameng, classic, other


KAMENG_DONE = {"order_ref": "site_alpha:501", "status": "succeeded", "supplier_ref": "S1"}


def test_kameng_callback_signature_checks(
    live_url: str, sent_orders: tuple[Supplier, ...], recording_handler: RecordingHandler
) -> None:
    kameng = sent_orders[0]
    refusals = [
        kameng_post(live_url, kameng, KAMENG_DONE, secret="wrong"),
        kameng_post(live_url, kameng, KAMENG_DONE, key_id="other-key"),
        kameng_post(live_url, kameng, KAMENG_DONE, timestamp=int(time.time()) - 301),
        kameng_post(live_url, kameng, KAMENG_DONE, path="/suppliers/callback/999999/"),
        requests.post(callback_url(live_url, kameng), json=KAMENG_DONE, timeout=10),
    ]
    assert [(r.status_code, r.json()["error"]) for r in refusals] == [
        (403, "signature mismatch"),
        (403, "unknown key id"),
        (403, "stale timestamp"),
        (403, "signature mismatch"),
        (403, "missing signature headers"),
    ]
    assert recording_handler.calls == []
    assert row(kameng, "site_alpha:501") == ("pending", 0)

    nonce = "n" * 24
    good = kameng_post(live_url, kameng, KAMENG_DONE, nonce=nonce)
    replay = kameng_post(live_url, kameng, KAMENG_DONE, nonce=nonce)
    assert (good.status_code, good.json()) == (200, {"ok": True})
    assert (replay.status_code, replay.json()["error"]) == (403, "replayed nonce")
    assert len(recording_handler.calls) == 1
    assert row(kameng, "site_alpha:501") == ("succeeded", 1)


def test_classic_callback_signature_checks(
    live_url: str, sent_orders: tuple[Supplier, ...], recording_handler: RecordingHandler
) -> None:
    classic = sent_orders[1]
    done = {"orderid": "site_alpha:502", "status": "success", "supplier_orderid": "C1", "msg": "ok"}
    bad = classic_post(live_url, classic, done, secret="wrong")
    stale = classic_post(live_url, classic, done | {"timestamp": str(int(time.time()) - 301)})
    assert [(r.status_code, r.text) for r in (bad, stale)] == [(403, "fail"), (403, "fail")]
    assert recording_handler.calls == []
    assert row(classic, "site_alpha:502") == ("pending", 0)

    good = classic_post(live_url, classic, done)
    assert (good.status_code, good.text) == (200, "success")
    assert [c["result"] for c in recording_handler.calls] == [
        TopupResult(status="succeeded", supplier_ref="C1", message="ok")
    ]
    assert row(classic, "site_alpha:502") == ("succeeded", 1)


def test_unknown_orders_and_other_suppliers_orders_are_refused(
    live_url: str, sent_orders: tuple[Supplier, ...], recording_handler: RecordingHandler
) -> None:
    kameng, classic, other = sent_orders
    answers = [
        # A validly signed callback from a supplier the order was never sent to.
        kameng_post(live_url, other, KAMENG_DONE),
        # A classic supplier completing the kameng supplier's order.
        classic_post(live_url, classic, {"orderid": "site_alpha:501", "status": "success"}),
        # References of no order, and of no site.
        kameng_post(live_url, kameng, KAMENG_DONE | {"order_ref": "site_alpha:999"}),
        kameng_post(live_url, kameng, KAMENG_DONE | {"order_ref": "nosuchsite:501"}),
        kameng_post(live_url, kameng, KAMENG_DONE | {"order_ref": "bad ref"}),
        kameng_post(live_url, kameng, KAMENG_DONE | {"status": "done"}),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404, 400, 400]
    assert recording_handler.calls == []
    assert row(kameng, "site_alpha:501") == ("pending", 0)
    assert row(classic, "site_alpha:502") == ("pending", 0)
    assert not SupplierOrder.objects.filter(supplier=other).exists()

    unknown = requests.post(
        f"http://localhost{live_url}/suppliers/callback/999999/", data=b"{}", timeout=10
    )
    wrong_method = requests.get(callback_url(live_url, kameng), timeout=10)
    on_a_site = requests.post(  # the endpoint lives on the platform domain only
        f"http://127.0.0.1{live_url}/suppliers/callback/{kameng.pk}/",
        headers={"Host": f"alpha.localhost{live_url}"},
        data=b"",
        timeout=10,
    )
    assert (unknown.status_code, wrong_method.status_code, on_a_site.status_code) == (
        404,
        405,
        404,
    )


def test_without_a_handler_the_callback_is_refused_for_a_retry(
    live_url: str, sent_orders: tuple[Supplier, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.suppliers import hooks

    monkeypatch.setattr(hooks, "_handler", None)
    answer = kameng_post(live_url, sent_orders[0], KAMENG_DONE)
    assert (answer.status_code, answer.json()["error"]) == (503, "no handler registered")
    assert row(sent_orders[0], "site_alpha:501") == ("pending", 0)
