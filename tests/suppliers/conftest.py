"""Fixtures of the supplier tests: real simulator processes on free ports, API suppliers that
point at them, and a recording top-up result handler."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from shared.suppliers import hooks
from shared.suppliers.adapters import TopupResult
from shared.suppliers.hooks import topup_result_handler_register
from shared.suppliers.models import Supplier
from shared.suppliers.services import supplier_create
from shared.vault.services import supplier_secret_set

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "kid-test"
SECRET = "sim-secret-9f2c"


@dataclass
class Simulator:
    """A running `python -m shared.suppliers.simulator` process."""

    process: subprocess.Popen[str]
    base_url: str
    protocol: str

    @property
    def root(self) -> str:
        return self.base_url.split("/api", 1)[0]

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.root + path, data=body, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def force(self, outcome: str | None, *, order_ref: str | None = None, **extra: Any) -> None:
        self._call("POST", "/_sim/force", {"order_ref": order_ref, "outcome": outcome, **extra})

    def orders(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/orders")["orders"])

    def reset(self) -> None:
        self._call("POST", "/_sim/reset", {})


def start_simulator(
    *,
    protocol: str = "kameng",
    mode: str = "poll",
    latency_ms: int = 0,
    failure_rate: float = 0.0,
    secret: str = SECRET,
    key_id: str = KEY_ID,
    extra: tuple[str, ...] = (),
) -> Simulator:
    argv = [
        sys.executable, "-m", "shared.suppliers.simulator",
        "--host", "127.0.0.1", "--port", "0",
        "--protocol", protocol, "--mode", mode,
        "--key-id", key_id, "--secret", secret,
        "--latency-ms", str(latency_ms), "--failure-rate", str(failure_rate),
        "--callback-backoff-ms", "200", "--log-level", "WARNING", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 20)
    line = process.stdout.readline() if ready else ""
    if " at http://" not in line:
        process.kill()
        pytest.fail(f"the simulator did not start: {line!r}")
    return Simulator(process=process, base_url=line.rsplit(" at ", 1)[1].strip(), protocol=protocol)


def stop_simulator(simulator: Simulator) -> None:
    simulator.process.terminate()
    try:
        simulator.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        simulator.process.kill()


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def start(**kwargs: Any) -> Simulator:
        simulator = start_simulator(**kwargs)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        stop_simulator(simulator)


@pytest.fixture(scope="session")
def kameng_poll() -> Iterator[Simulator]:
    simulator = start_simulator(protocol="kameng", mode="poll")
    yield simulator
    stop_simulator(simulator)


@pytest.fixture(scope="session")
def classic_poll() -> Iterator[Simulator]:
    simulator = start_simulator(protocol="classic", mode="poll")
    yield simulator
    stop_simulator(simulator)


@pytest.fixture(params=["kameng", "classic"])
def poll_simulator(
    request: pytest.FixtureRequest, kameng_poll: Simulator, classic_poll: Simulator
) -> Iterator[Simulator]:
    simulator = kameng_poll if request.param == "kameng" else classic_poll
    simulator.reset()
    yield simulator
    simulator.reset()


def api_supplier(
    simulator: Simulator | None = None,
    *,
    protocol: str | None = None,
    base_url: str | None = None,
    secret: str | None = SECRET,
    key_id: str = KEY_ID,
    name: str | None = None,
) -> Supplier:
    supplier = supplier_create(
        name=name or f"API {uuid.uuid4().hex[:8]}",
        kind="api_topup",
        api_base_url=base_url or (simulator.base_url if simulator else ""),
        api_key_id=key_id,
        api_protocol=protocol or (simulator.protocol if simulator else "kameng"),
    )
    if secret:
        supplier_secret_set(supplier=supplier, secret=secret)
    return supplier


@dataclass
class RecordingHandler:
    """Records every call with the schema and transaction state it ran in."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_times: int = 0

    def __call__(self, *, order_ref: str, supplier_id: int, result: TopupResult) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("the orders side is not ready")
        self.calls.append(
            {
                "order_ref": order_ref,
                "supplier_id": supplier_id,
                "result": result,
                "schema": connection.schema_name,
                "in_transaction": connection.in_atomic_block,
            }
        )


@pytest.fixture
def recording_handler(monkeypatch: pytest.MonkeyPatch) -> RecordingHandler:
    """Registered for the test; the previous registration comes back afterwards."""
    handler = RecordingHandler()
    monkeypatch.setattr(hooks, "_handler", hooks.topup_result_handler())
    topup_result_handler_register(handler)
    return handler
