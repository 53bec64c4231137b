"""Settlement benchmark: sales settled per second on a depth-5 site.

- `settle_sale`: the service end to end, one committed transaction per sale (the accounts read
  in one statement, then the ledger transaction, its nine legs, the settlement and its shares
  written in one statement; the triggers keep the running balances and check the balance at
  commit);
- `raw_sql_per_sale`: the same rows per sale as plain SQL — an INSERT of the transaction, an
  executemany of its legs, an INSERT of the settlement, an executemany of its shares — one
  committed transaction per sale;
- `raw_sql_batched`: the same rows for every sale in one transaction (transactions and
  settlements by executemany, legs and shares by COPY): the ceiling the triggers leave.

The service and the per-sale raw SQL run in alternating rounds, so a slower moment of a shared
machine weighs on both alike. Both go through the same triggers, so the gap is the service's
own work (validation, the account lookup); `settle_sale_vs_raw` is the raw rate
over the service's (1.0 would be no overhead). Logging is quietened while timing.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from bench.database import bench_database, summary

SALES = 2000
QUICK_SALES = 200
ROUNDS = 5
QUICK_ROUNDS = 2
# The service may cost at most this many times the raw inserts of the same rows.
MAX_RATIO = 2.0
DEPTH = 5
# What each site pays its parent (root first), and the supplier's cost, for one unit.
UNIT_COSTS = [Decimal(c) for c in ("60.00", "65.00", "70.00", "75.00", "80.00")]
SUPPLIER_COST = Decimal("50.00")
PAID = Decimal("100.00")
FEE = Decimal("0.60")


def run(*, quick: bool = False) -> dict[str, Any]:
    sales = QUICK_SALES if quick else SALES
    rounds = QUICK_ROUNDS if quick else ROUNDS
    with bench_database("kameng_bench_settlement"):
        from django.core.management import call_command

        call_command("migrate_schemas", "--shared", verbosity=0, interactive=False)
        sites, supplier = _network()
        statements = _statements_per_sale(sites, supplier)
        service_times: list[float] = []
        raw_times: list[float] = []
        service_seconds = raw_seconds = 0.0
        per_round = sales // rounds
        logging.disable(logging.INFO)
        try:
            for r in range(rounds):
                seconds, times = _settle(sites, supplier, per_round, offset=r * per_round)
                service_seconds += seconds
                service_times += times
                seconds, times = _raw(sites, supplier, per_round, offset=r * per_round)
                raw_seconds += seconds
                raw_times += times
            batched_seconds, _ = _raw(sites, supplier, per_round * rounds, batched=True)
        finally:
            logging.disable(logging.NOTSET)
        from shared.ledger.services import ledger_verify

        problems = ledger_verify()
        same_rows = _rows_of("svc0") == _rows_of("raw0") == _rows_of("rawb0")
    done = per_round * rounds
    service = {"per_second": round(done / service_seconds, 1), **summary(service_times)}
    per_sale = {"per_second": round(done / raw_seconds, 1), **summary(raw_times)}
    ratio = round(per_sale["per_second"] / service["per_second"], 2)
    return {
        "benchmark": "settlement",
        "unit": "sales settled per second (depth-5 site, 9 legs per sale)",
        "sales": done,
        "rounds": rounds,
        "settle_sale": service,
        "settle_sale_statements": statements,
        "raw_sql_per_sale": per_sale,
        "raw_sql_batched": {"per_second": round(done / batched_seconds, 1)},
        "settle_sale_vs_raw": ratio,
        "max_ratio": MAX_RATIO,
        "raw_rows_same_as_service": same_rows,
        "ledger_consistent": problems == [],
        "targets_met": problems == [] and same_rows and ratio <= MAX_RATIO,
    }


def _network() -> tuple[list[Any], Any]:
    """A chain of five sites (rows only: settlement never touches a site's schema)."""
    from shared.sites.models import Site
    from shared.sites.services import plan_default
    from shared.suppliers.models import Supplier

    plan = plan_default()
    sites: list[Any] = []
    for depth in range(1, DEPTH + 1):
        parent = sites[-1] if sites else None
        [site] = Site.objects.bulk_create(
            [
                Site(
                    schema_name=f"site_bench{depth}",
                    slug=f"bench{depth}",
                    name=f"Bench {depth}",
                    plan=plan,
                    parent=parent,
                    depth=depth,
                    owner_email=f"o@bench{depth}.test",
                )
            ]
        )
        site.path = [*(parent.path if parent else []), site.pk]
        Site.objects.filter(pk=site.pk).update(path=site.path)
        sites.append(site)
    supplier = Supplier.objects.create(name="Bench supplier", kind="card_stock")
    return sites, supplier


def _rows_of(sale_key: str) -> tuple[list[Any], list[Any]]:
    """A sale's legs and shares, as comparable values (to check both paths write the same)."""
    from shared.ledger.models import Leg, SettlementShare

    legs = Leg.objects.filter(transaction__settlement__sale_key=sale_key)
    shares = SettlementShare.objects.filter(settlement__sale_key=sale_key)
    return (
        sorted(legs.values_list("account_id", "amount", "currency")),
        sorted(shares.values_list("party", "account_id", "amount", "clawed_back")),
    )


def _chain(sites: list[Any]) -> list[Any]:
    from shared.ledger.settlement import ChainLink

    return [ChainLink(site, cost) for site, cost in zip(sites, UNIT_COSTS, strict=True)]


def _sale(sites: list[Any], supplier: Any, key: str) -> None:
    from shared.ledger.models import AccountKind
    from shared.ledger.services import account_get
    from shared.ledger.settlement import settle_sale

    settle_sale(
        sale_key=key,
        site=sites[-1],
        currency="CNY",
        amount_paid=PAID,
        quantity=1,
        chain=_chain(sites),
        supplier=supplier,
        supplier_unit_cost=SUPPLIER_COST,
        paid_from=account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
        fee=FEE,
    )


def _statements_per_sale(sites: list[Any], supplier: Any) -> list[str]:
    """The statements (their first words) one settle_sale sends besides BEGIN and COMMIT, once
    its accounts exist (a warm-up creates them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from shared.ledger.models import AccountKind
    from shared.ledger.services import account_get
    from shared.ledger.settlement import settle_sale

    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    _sale(sites, supplier, "warm")
    with CaptureQueriesContext(connection) as queries:
        settle_sale(
            sale_key="counted",
            site=sites[-1],
            currency="CNY",
            amount_paid=PAID,
            quantity=1,
            chain=_chain(sites),
            supplier=supplier,
            supplier_unit_cost=SUPPLIER_COST,
            paid_from=clearing,
            fee=FEE,
        )
    return [
        " ".join(q["sql"].split()[:3])
        for q in queries.captured_queries
        if q["sql"] not in ("BEGIN", "COMMIT")
    ]


def _settle(
    sites: list[Any], supplier: Any, sales: int, *, offset: int
) -> tuple[float, list[float]]:
    from shared.ledger.models import AccountKind
    from shared.ledger.services import account_get
    from shared.ledger.settlement import settle_sale

    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    chain = _chain(sites)
    times: list[float] = []
    start = time.perf_counter()
    for n in range(offset, offset + sales):
        t0 = time.perf_counter()
        settle_sale(
            sale_key=f"svc{n}",
            site=sites[-1],
            currency="CNY",
            amount_paid=PAID,
            quantity=1,
            chain=chain,
            supplier=supplier,
            supplier_unit_cost=SUPPLIER_COST,
            paid_from=clearing,
            fee=FEE,
        )
        times.append((time.perf_counter() - t0) * 1000)
    return time.perf_counter() - start, times


def _legs(sites: list[Any], supplier: Any) -> list[tuple[int, Decimal]]:
    """The (account, signed amount) legs of one sale, exactly as settle_sale books them."""
    from shared.ledger.models import AccountKind
    from shared.ledger.services import account_get

    def account(kind: AccountKind, **owner: Any) -> int:
        return account_get(kind=kind, currency="CNY", **owner).pk

    legs = [
        (account(AccountKind.PAYMENT_CLEARING), PAID - FEE),
        (account(AccountKind.FEES), FEE),
        (account(AccountKind.SITE_PENDING, site=sites[-1]), -(PAID - UNIT_COSTS[-1])),
    ]
    for i in range(DEPTH - 1):
        margin = UNIT_COSTS[i + 1] - UNIT_COSTS[i]
        legs.append((account(AccountKind.SITE_PENDING, site=sites[i]), -margin))
    legs.append((account(AccountKind.HQ_REVENUE), -(UNIT_COSTS[0] - SUPPLIER_COST)))
    legs.append((account(AccountKind.SUPPLIER_PAYABLE, supplier=supplier), -SUPPLIER_COST))
    assert sum(amount for _, amount in legs) == 0
    return legs


_PARTIES = ["seller"] + ["ancestor"] * (DEPTH - 1) + ["hq", "supplier"]
INSERT_TXN = (
    "INSERT INTO ledger_transaction (idempotency_key, kind, site_id, memo, created_at) "
    "VALUES (%s, 'sale', %s, '', now()) RETURNING id"
)
INSERT_LEG = (
    "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency, created_at) "
    "VALUES (%s, %s, %s, 'CNY', now())"
)
INSERT_SETTLEMENT = (
    "INSERT INTO ledger_settlement (sale_key, site_id, currency, amount_paid, refunded, "
    "transaction_id, confirm_after, created_at) "
    "VALUES (%s, %s, 'CNY', %s, 0, %s, now() + interval '7 days', now()) RETURNING id"
)
INSERT_SHARE = (
    "INSERT INTO ledger_settlementshare (settlement_id, party, account_id, amount, clawed_back) "
    "VALUES (%s, %s, %s, %s, 0)"
)


def _raw(
    sites: list[Any], supplier: Any, sales: int, *, offset: int = 0, batched: bool = False
) -> tuple[float, list[float]]:
    """The rows settle_sale writes — the transaction, its legs, the settlement and its share
    per party — as plain SQL: per sale (one transaction each) or all sales in one (COPY)."""
    from django.db import connection, transaction

    legs = _legs(sites, supplier)
    shares = [
        (party, account, -amount)
        for party, (account, amount) in zip(_PARTIES, legs[2:], strict=True)
    ]
    site_id = sites[-1].pk
    prefix = "rawb" if batched else "raw"
    times: list[float] = []
    keys = range(offset, offset + sales)
    start = time.perf_counter()
    if batched:
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own cursor
            rows = [(f"{prefix}{n}", site_id) for n in keys]
            txn_ids = _returning(cursor, INSERT_TXN, rows)
            with cursor.copy(
                "COPY ledger_leg (transaction_id, account_id, amount, currency, created_at) "
                "FROM STDIN"
            ) as copy:
                for txn_id in txn_ids:
                    for account_id, amount in legs:
                        copy.write_row((txn_id, account_id, amount, "CNY", "now"))
            rows = [(f"{prefix}{n}", site_id, PAID, t) for n, t in zip(keys, txn_ids, strict=True)]
            settlement_ids = _returning(cursor, INSERT_SETTLEMENT, rows)
            with cursor.copy(
                "COPY ledger_settlementshare (settlement_id, party, account_id, amount, "
                "clawed_back) FROM STDIN"
            ) as copy:
                for settlement_id in settlement_ids:
                    for party, account_id, amount in shares:
                        copy.write_row((settlement_id, party, account_id, amount, 0))
    else:
        for n in keys:
            t0 = time.perf_counter()
            with transaction.atomic(), connection.cursor() as wrapper:
                cursor = wrapper.cursor
                cursor.execute(INSERT_TXN, (f"{prefix}{n}", site_id))
                txn_id = cursor.fetchone()[0]
                cursor.executemany(INSERT_LEG, [(txn_id, a, amount) for a, amount in legs])
                cursor.execute(INSERT_SETTLEMENT, (f"{prefix}{n}", site_id, PAID, txn_id))
                settlement_id = cursor.fetchone()[0]
                cursor.executemany(
                    INSERT_SHARE, [(settlement_id, p, a, amount) for p, a, amount in shares]
                )
            times.append((time.perf_counter() - t0) * 1000)
    return time.perf_counter() - start, times


def _returning(cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """executemany with RETURNING id: the ids, in order."""
    cursor.executemany(sql, rows, returning=True)
    ids = []
    while True:
        ids.append(cursor.fetchone()[0])
        if not cursor.nextset():
            return ids
