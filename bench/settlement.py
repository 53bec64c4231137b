"""Settlement benchmark: sales settled per second on a depth-5 site.

- `settle_sale`: the service end to end, one committed transaction per sale (accounts looked up,
  idempotency checked, the ledger transaction and its nine legs, the settlement and its shares;
  the database triggers keep running balances and check the balance at commit);
- `raw_sql_per_sale`: the same ledger transaction and legs per sale as plain SQL (an INSERT of
  the transaction, an executemany of its legs), one committed transaction per sale;
- `raw_sql_batched`: the same rows for every sale in one transaction (transactions by
  executemany, legs by COPY): the ceiling the triggers leave.

Both raw paths go through the same triggers, so the gap is the service's own work.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bench.database import bench_database, summary

SALES = 2000
QUICK_SALES = 200
DEPTH = 5
# What each site pays its parent (root first), and the supplier's cost, for one unit.
UNIT_COSTS = [Decimal(c) for c in ("60.00", "65.00", "70.00", "75.00", "80.00")]
SUPPLIER_COST = Decimal("50.00")
PAID = Decimal("100.00")
FEE = Decimal("0.60")


def run(*, quick: bool = False) -> dict[str, Any]:
    sales = QUICK_SALES if quick else SALES
    with bench_database("kameng_bench_settlement"):
        from django.core.management import call_command

        call_command("migrate_schemas", "--shared", verbosity=0, interactive=False)
        sites, supplier = _network()
        service = _settle(sites, supplier, sales)
        per_sale = _raw(sites, supplier, sales, batched=False)
        batched = _raw(sites, supplier, sales, batched=True)
        from shared.ledger.services import ledger_verify

        problems = ledger_verify()
    return {
        "benchmark": "settlement",
        "unit": "sales settled per second (depth-5 site, 9 legs per sale)",
        "sales": sales,
        "settle_sale": service,
        "raw_sql_per_sale": per_sale,
        "raw_sql_batched": batched,
        "raw_per_sale_times_faster": round(per_sale["per_second"] / service["per_second"], 2),
        "ledger_consistent": problems == [],
        "targets_met": problems == [],
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


def _settle(sites: list[Any], supplier: Any, sales: int) -> dict[str, Any]:
    from shared.ledger.models import AccountKind
    from shared.ledger.services import account_get
    from shared.ledger.settlement import ChainLink, settle_sale

    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    chain = [ChainLink(site, cost) for site, cost in zip(sites, UNIT_COSTS, strict=True)]
    settle_sale(  # warm-up: creates the accounts
        sale_key="warm",
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
    times: list[float] = []
    start = time.perf_counter()
    for n in range(sales):
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
    elapsed = time.perf_counter() - start
    return {"per_second": round(sales / elapsed, 1), **summary(times)}


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


def _raw(sites: list[Any], supplier: Any, sales: int, *, batched: bool) -> dict[str, Any]:
    from django.db import connection, transaction

    legs = _legs(sites, supplier)
    site_id = sites[-1].pk
    prefix = "rawb" if batched else "raw"
    insert_txn = (
        "INSERT INTO ledger_transaction (idempotency_key, kind, site_id, memo, created_at) "
        "VALUES (%s, 'sale', %s, '', now()) RETURNING id"
    )
    insert_leg = (
        "INSERT INTO ledger_leg (transaction_id, account_id, amount, currency, created_at) "
        "VALUES (%s, %s, %s, 'CNY', now())"
    )
    times: list[float] = []
    start = time.perf_counter()
    if batched:
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own cursor
            cursor.executemany(
                insert_txn, [(f"{prefix}{n}", site_id) for n in range(sales)], returning=True
            )
            ids = []
            while True:
                ids.append(cursor.fetchone()[0])
                if not cursor.nextset():
                    break
            copy_sql = (
                "COPY ledger_leg (transaction_id, account_id, amount, currency, created_at) "
                "FROM STDIN"
            )
            with cursor.copy(copy_sql) as copy:
                for txn_id in ids:
                    for account_id, amount in legs:
                        copy.write_row((txn_id, account_id, amount, "CNY", "now"))
    else:
        for n in range(sales):
            t0 = time.perf_counter()
            with transaction.atomic(), connection.cursor() as wrapper:
                cursor = wrapper.cursor
                cursor.execute(insert_txn, (f"{prefix}{n}", site_id))
                txn_id = cursor.fetchone()[0]
                cursor.executemany(insert_leg, [(txn_id, a, amount) for a, amount in legs])
            times.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {"per_second": round(sales / elapsed, 1)}
    if times:
        result.update(summary(times))
    return result
