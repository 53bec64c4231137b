"""A worker killed mid-delivery loses nothing when restarted.

Real `celery -A kameng worker` processes (prefork pool, like production) run against the test
database and broker; each test kills one with SIGKILL (master and pool child together) while a
delivery task is provably in flight, starts a fresh one, and checks that the order completes
exactly once.

- A direct top-up whose supplier (a real simulator process told to hang) is being called: the
  attempt row is `submitting` and the simulator has not answered yet. The task's message was
  never acknowledged (acks_late), so it comes back either when the broker's visibility timeout
  has passed (the fresh worker restores unacknowledged messages older than it; the test gives
  that worker a short timeout instead of waiting the production hour) or earlier through the
  `orders-topups-resume` beat entry, called here as operations would call it.
- The sandbox's webhook sender, after the guest pressed Pay, killed either before it posted
  anything (held reading the checkout session, whose table a test transaction locks): the
  fresh worker gets the message back and delivers the webhook; or while its webhook request is
  inside the platform (held on the order's row, which a test transaction locks): that request
  still completes, and the fresh worker's second delivery is a harmless replay. Either way the
  guest's page shows the keys, sold, settled and emailed once.

The tests commit their rows (the worker has its own connections), unique per run, on the
committed site `alpha`. Other workers of the run (the in-thread `celery_worker` fixture) stop
consuming while these tests run, so the task cannot land anywhere else.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.models import Settlement
from shared.ledger.services import ledger_verify
from shared.payments.models import CheckoutSession, WebhookEvent
from shared.sites.models import Site
from shared.suppliers.services import supplier_offer_set
from shared.vault.models import CardKeySale
from tenants.orders.models import Order, OrderEvent, TopupAttempt, order_ref_for
from tenants.orders.services import order_create, order_pay_with_wallet
from tenants.orders.topups import topups_resume
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind
from tenants.wallets.services import wallet_top_up
from tests.orders.conftest import build_shop
from tests.orders.test_concurrency import _committed
from tests.payments.conftest import new_member
from tests.payments.test_sandbox_end_to_end import Visitor
from tests.suppliers.conftest import Simulator, api_supplier, start_simulator, stop_simulator

pytestmark = [pytest.mark.worker, pytest.mark.commits]

D = Decimal
T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
QUEUE = "celery"
SHORT_VISIBILITY = 4  # seconds: the fresh worker's broker visibility timeout when testing it


def eventually(check: Callable[[], T], timeout: float = 90, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or check}")
        time.sleep(0.2)


# --- Worker processes ---------------------------------------------------------------------------


class WorkerProcess:
    """`celery -A kameng worker` on the test database and broker keys of this run."""

    def __init__(self, folder: Path, name: str, *, visibility_timeout: int | None = None) -> None:
        self.folder = folder
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@crash"
        self.log = folder / f"{name}.log"
        self.module = f"worker_settings_{name.replace('-', '_')}"
        self.visibility_timeout = visibility_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def _settings(self) -> str:
        transport = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
        if self.visibility_timeout is not None:
            transport |= {
                "visibility_timeout": self.visibility_timeout,
                "unacked_restore_interval": 1,
                "unacked_restore_throttle": 1,
            }
        return "\n".join(
            [
                "from tests.settings import *  # noqa: F403",
                f"DATABASES['default']['NAME'] = {connection.settings_dict['NAME']!r}",
                f"CELERY_BROKER_TRANSPORT_OPTIONS = {transport!r}",
                "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = "
                f"{dict(settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS)!r}",
                f"CACHES['default']['KEY_PREFIX'] = {settings.CACHES['default']['KEY_PREFIX']!r}",
                f"PUBLIC_URL_PORT = {settings.PUBLIC_URL_PORT!r}",
                "STRIPE_SECRET_KEY = ''",
                "EMAIL_BACKEND = 'django.core.mail.backends.filebased.EmailBackend'",
                f"EMAIL_FILE_PATH = {str(self.folder / 'mail')!r}",
                "ORDER_TOPUP_POLL_SECONDS = 1",
                "ORDER_TOPUP_BACKOFF_SECONDS = 0",
                "",
            ]
        )

    def start(self) -> WorkerProcess:
        (self.folder / f"{self.module}.py").write_text(self._settings())
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE=self.module,
            PYTHONPATH=os.pathsep.join([str(self.folder), str(ROOT)]),
            PYTHONUNBUFFERED="1",
        )
        argv = [
            sys.executable, "-m", "celery", "-A", "kameng", "worker",
            "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "-n", self.name,
            "--without-mingle", "--without-gossip", "--without-heartbeat", "-Q", QUEUE,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        eventually(
            lambda: self._exited() or " ready." in self.log.read_text(errors="replace"),
            timeout=120,
            what=f"worker {self.name} to start",
        )
        assert not self._exited(), self.log.read_text(errors="replace")[-3000:]
        return self

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL the master and its pool child: no shutdown code runs, nothing is acked."""
        assert self.process is not None and self.process.poll() is None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown: the master lets its pool finish
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def succeeded(self, task: str) -> int:
        """How many runs of `task` this worker finished."""
        text = self.log.read_text(errors="replace")
        return len(re.findall(rf"Task {re.escape(task)}\[[^]]+\] succeeded", text))

    def errors(self) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or "ERROR/" in line]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes; stops whatever is left of them after the test."""
    from kameng.celery import app

    (tmp_path / "mail").mkdir()
    started: list[WorkerProcess] = []
    # Other workers of this run (the in-thread fixture worker, if a test started it) leave the
    # queue to the processes under test, and take it back afterwards.
    paused = [
        name
        for reply in app.control.cancel_consumer(QUEUE, reply=True, timeout=2)
        for name in reply
    ]

    def start(name: str, **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, name, **kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    if paused:
        app.control.add_consumer(QUEUE, destination=paused, reply=True, timeout=5)


@pytest.fixture
def committed(db: None, settings: Any) -> Site:
    """Site `alpha`, in sandbox mode. The test's own connection only reads (it sees what is
    committed); writes go through `_committed`, on a connection of their own."""
    settings.STRIPE_SECRET_KEY = ""
    return Site.objects.get(slug="alpha")


def mails_to(folder: Path, address: str) -> list[str]:
    """The messages the workers' file email backend wrote to `address`."""
    messages = []
    for path in sorted((folder / "mail").glob("*")):
        for message in path.read_text(errors="replace").split("-" * 79):
            if re.search(rf"^To: {re.escape(address)}$", message, re.MULTILINE):
                messages.append(message)
    return messages


def connected_to(simulator: Simulator) -> bool:
    """Whether a TCP connection to the simulator is open (only the worker's call makes one
    while this test waits)."""
    port = urlsplit(simulator.base_url).port
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # established
            return True
    return False


def deliveries(order: Order) -> int:
    """History rows that delivered the order."""
    return OrderEvent.objects.filter(order=order, to_status="delivered").count()


# --- A direct top-up whose supplier is being called ------------------------------------------


@pytest.fixture
def hanging_simulator() -> Iterator[Simulator]:
    """A poll-mode supplier whose answers take a second, and whose every new top-up request
    hangs for a while before it is accepted (the supplier is slow to answer)."""
    simulator = start_simulator(protocol="kameng", mode="poll", latency_ms=1000)
    simulator.force("hang", hang_ms=5000)
    yield simulator
    stop_simulator(simulator)


@pytest.mark.parametrize("comes_back_by", ["visibility_timeout", "resume_beat"])
def test_a_worker_killed_while_calling_the_supplier_tops_up_once(
    committed: Site,
    workers: Callable[..., WorkerProcess],
    hanging_simulator: Simulator,
    tmp_path: Path,
    comes_back_by: str,
) -> None:
    alpha, simulator = committed, hanging_simulator
    tag = uuid.uuid4().hex[:6]

    def setup() -> tuple[Any, Any]:
        shop = build_shop(f"crash{tag}")
        supplier_offer_set(supplier=api_supplier(simulator), sku=shop.topup, cost="25.00")
        buyer = new_member(alpha, "crash")
        with tenant_context(alpha):
            wallet_top_up(
                user=buyer, amount=D("100.00"), idempotency_key=f"fund-{tag}", source="test"
            )
        return shop, buyer

    def buy() -> Order:
        with tenant_context(alpha):
            order = order_create(
                site=alpha,
                sku=shop.topup,
                quantity=1,
                payment_method="wallet",
                buyer=buyer,
                input_values={"phone": "13800138000"},
            )
            return order_pay_with_wallet(order=order, user=buyer)

    shop, buyer = _committed(setup)
    first = workers("first")
    order = _committed(buy)
    ref = order_ref_for(alpha.schema_name, order.pk)

    def in_flight() -> bool:
        with tenant_context(alpha):
            attempt = TopupAttempt.objects.filter(order_id=order.pk).first()
        return attempt is not None and (attempt.status, attempt.tries) == ("submitting", 1)

    # The attempt is committed as submitting, the worker is connected to the supplier and the
    # supplier has not answered: the task is inside the supplier call. Kill the worker there.
    eventually(in_flight, what="the top-up to be submitted")
    eventually(lambda: connected_to(simulator), what="the worker to call the supplier")
    assert ref not in simulator.orders()
    first.kill()

    # The supplier still accepts the request it was sent (the worst case: it has the order,
    # the platform does not know); nothing else moves while no worker runs.
    simulator.force(None)
    eventually(lambda: ref in simulator.orders(), what="the supplier to accept")
    with tenant_context(alpha):
        order.refresh_from_db()
        assert order.status == "delivering"
        assert TopupAttempt.objects.get(order=order).status == "submitting"

    if comes_back_by == "visibility_timeout":
        time.sleep(SHORT_VISIBILITY)  # the killed task's message is older than the timeout
        second = workers("second", visibility_timeout=SHORT_VISIBILITY)
    else:
        second = workers("second")
        with tenant_context(alpha):
            # Five minutes later the beat entry finds the top-up stalled and sends its next step.
            later = timezone.now() + timedelta(seconds=301)
            assert order.pk in topups_resume(now=later)

    def delivered() -> bool:
        with tenant_context(alpha):
            return Order.objects.get(pk=order.pk).status == "delivered"

    eventually(delivered, what="the order to be delivered")
    time.sleep(3)  # room for a duplicate step, had one been sent

    with tenant_context(alpha):
        order.refresh_from_db()
        [attempt] = TopupAttempt.objects.filter(order=order)
        assert (order.status, order.fulfilment_status) == ("delivered", "delivered")
        assert (attempt.status, attempt.tries) == ("succeeded", 2)  # the killed try and one more
        assert deliveries(order) == 1
        paid = member_balance(user=buyer, kind=MemberAccountKind.WALLET, currency="CNY")
        assert paid == D("100.00") - order.total
    assert list(simulator.orders()) == [ref]  # one supplier order, although submitted twice
    settlement = Settlement.objects.get(sale_key=ref)
    assert settlement.amount_paid == order.total
    assert ledger_verify() == []
    assert len(mails_to(tmp_path, buyer.email)) == 1
    assert second.succeeded("tenants.orders.topups.order_topup_run") == 1  # the step came back
    assert second.errors() == []


# --- The sandbox's webhook sender, killed after Pay --------------------------------------------


@pytest.mark.parametrize("killed", ["before_the_post", "inside_the_webhook"])
def test_a_worker_killed_sending_the_payment_webhook_delivers_the_keys_once(
    committed: Site,
    killed: str,
    workers: Callable[..., WorkerProcess],
    live_url: str,
    settings: Any,
    tmp_path: Path,
) -> None:
    alpha = committed
    settings.PUBLIC_URL_PORT = live_url.lstrip(":")
    tag = uuid.uuid4().hex[:6]
    shop = _committed(lambda: build_shop(f"hook{tag}"))
    email = f"guest-{tag}@crash.test"

    # A guest orders a card key and presses Pay on the sandbox checkout page; no worker runs.
    guest = Visitor(live_url, "alpha.localhost")
    form = guest.get(f"/order/new/?sku={shop.card.pk}")
    assert form.status_code == 200
    placed = guest.post(
        "/order/new/",
        {
            "sku": str(shop.card.pk),
            "quantity": "2",
            "payment_method": "card",
            "email": email,
            "query_password": "crash-pass-1",
        },
    )
    assert placed.status_code == 302, placed.text[:2000]
    order_path = urlsplit(placed.headers["Location"]).path
    number = order_path.rstrip("/").rsplit("/", 1)[1]
    to_checkout = guest.post(f"{order_path}pay/", {})
    assert to_checkout.status_code == 302
    pay_path = urlsplit(to_checkout.headers["Location"]).path
    session_id = pay_path.rstrip("/").split("/")[-1]
    # Read on a connection of its own: the test's transaction must not hold the table's lock.
    session = _committed(lambda: CheckoutSession.objects.get(provider_session_id=session_id))
    platform = Visitor(live_url, "localhost")
    assert platform.get(pay_path).status_code == 200
    assert platform.post(pay_path, {"action": "pay"}).status_code == 302

    # Another transaction holds what the delivery needs next, so the sender task, once a
    # worker takes it, waits there; the worker is killed while it waits. Either before it has
    # posted anything (the checkout sessions' table, read first by the task), or while its
    # webhook request is inside the platform (the order's row, locked by the payment).
    database = connection.settings_dict
    with tenant_context(alpha):
        order_id = Order.objects.get(number=number).pk
    with psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=database["PORT"] or None,
    ) as holder:
        if killed == "before_the_post":
            holder.execute(f"LOCK TABLE {CheckoutSession._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        else:
            table = f'"{alpha.schema_name}".{Order._meta.db_table}'
            holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [order_id])
        holder_pid = holder.info.backend_pid

        def waiting_on_holder() -> bool:
            # pg_locks is read live (pg_stat_activity would be a snapshot of this transaction).
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE NOT granted AND %s = ANY(pg_blocking_pids(pid))",
                    [holder_pid],
                )
                return bool(cursor.fetchone()[0])

        first = workers("first")
        eventually(waiting_on_holder, what="the sender task to start")
        first.kill()
        holder.rollback()

    ref = order_ref_for(alpha.schema_name, order_id)

    def order_state() -> tuple[str, str]:
        with tenant_context(alpha):
            order = Order.objects.get(pk=order_id)
        return order.status, order.payment_status

    if killed == "before_the_post":
        time.sleep(1)
        assert order_state() == ("pending_payment", "unpaid"), "nothing was sent before the kill"
        assert not WebhookEvent.objects.filter(session=session).exists()
    else:
        # The request the dead worker sent still completes inside the platform.
        eventually(lambda: order_state() == ("delivered", "paid"), what="the in-flight webhook")
        assert WebhookEvent.objects.filter(session=session).count() == 1

    # A fresh worker gets the unacknowledged message back and sends the webhook (again).
    time.sleep(SHORT_VISIBILITY)
    second = workers("second", visibility_timeout=SHORT_VISIBILITY)
    eventually(
        lambda: second.succeeded("shared.payments.tasks.sandbox_session_event_send"),
        what="the sender task to run again",
    )

    def keys_on_page() -> list[str]:
        page = guest.get(order_path)
        return re.findall(r'<code data-testid="key">([^<]+)</code>', page.text)

    shown = eventually(keys_on_page, what="the keys on the order page")
    time.sleep(3)  # room for a duplicate delivery, had one been sent

    assert order_state() == ("delivered", "paid")
    with tenant_context(alpha):
        assert deliveries(Order.objects.get(pk=order_id)) == 1
    sold = CardKeySale.objects.filter(order_ref=ref)
    assert sold.count() == 2
    assert len(shown) == 2 and len(set(shown)) == 2
    assert all(key.startswith(f"HOOK{tag.upper()}-CARD-") for key in shown)
    [event] = WebhookEvent.objects.filter(session=session)
    assert event.type == "checkout.session.completed"
    assert Settlement.objects.filter(sale_key=ref).count() == 1
    assert ledger_verify() == []
    [mail] = mails_to(tmp_path, email)
    assert all(key in mail for key in shown)
    assert keys_on_page() == shown
    assert second.errors() == []
