"""Category page benchmark: a category of 500 SKUs on a depth-5 site, priced for a member.

The test bed is a chain of five sites, each with wholesale rules (default, category, tier and
per-SKU) and retail rules, the middle one on another tier, and a member level with a discount
and fixed prices on the deepest site; one category holds 100 products of 5 SKUs (500 SKUs)
with HQ prices in two tiers. It times:
- `prices_for(site=depth-5 site, skus=500, member_level=...)`: `cold` with empty caches (every
  schema's rules read from PostgreSQL), `from_django_cache` (a process that has not read the
  rule sets yet, Redis has them), `warm` (the rule sets in the process), and the very first call;
- the same 500 prices for the main site (depth 1) in the same run, as the baseline;
- the storefront's category page (`storefront:category`) through Django's test client on the
  depth-5 site's host, for a guest and for a member on the level. A category page lists up to
  100 products, so this page shows all 500 SKUs with their prices and stock; the run checks
  that it does (`skus_on_page`) rather than trusting it.
Target: a p50 under 50 ms of server time, warm, for `prices_for` and for the page. Each timing
also gives its p99 (with `n` samples, the p99 of a small run is close to its maximum).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.database import bench_database, percentile
from bench.database import summary as _summary

TARGET_P50_MS = 50.0
PRODUCTS, SKUS_PER_PRODUCT = 100, 5
RUNS = {"cold": 15, "warm": 100, "page": 100}
QUICK_RUNS = {"cold": 3, "warm": 10, "page": 10}


def run(*, quick: bool = False) -> dict[str, Any]:
    runs = QUICK_RUNS if quick else RUNS
    load_before = os.getloadavg()[0]
    with bench_database("kameng_bench_category_page"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        bed = _build()
        results: dict[str, Any] = {
            "depth_5": _measure_prices(bed, bed["sites"][-1], runs),
            "depth_1": _measure_prices(bed, bed["sites"][0], runs),
        }
        results["category_page"] = _measure_page(bed, runs)
    deep, shallow = results["depth_5"], results["depth_1"]
    page = results["category_page"]
    met = deep["warm"]["p50_ms"] < TARGET_P50_MS and (
        "skipped" in page
        or all(page[who]["warm"]["p50_ms"] < TARGET_P50_MS for who in ("guest", "member"))
    )
    return {
        "benchmark": "category_page",
        "unit": "milliseconds of server time per call / request",
        "skus": PRODUCTS * SKUS_PER_PRODUCT,
        "headline": _headline(deep, page),
        "prices_for": {"depth_5": deep, "depth_1_baseline": shallow},
        "depth_5_over_depth_1": {
            "cold_p50": round(deep["cold"]["p50_ms"] / shallow["cold"]["p50_ms"], 2),
            "warm_p50": round(deep["warm"]["p50_ms"] / shallow["warm"]["p50_ms"], 2),
        },
        "category_page": page,
        # Other processes on the machine inflate wall times: the 1-minute load average, before
        # and after, says how busy it was (the CPUs: os.cpu_count()).
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "targets": {"warm_p50_ms_below": TARGET_P50_MS},
        "targets_met": met,
    }


def _headline(deep: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
    """The figures the target is about, from this run: warm p50/p99 and queries."""
    figures: dict[str, Any] = {
        "prices_for_500_skus_depth_5": {
            "warm_p50_ms": deep["warm"]["p50_ms"],
            "warm_p99_ms": deep["warm"]["p99_ms"],
            "queries": deep["queries"]["warm"],
        }
    }
    for who in ("guest", "member"):
        if who in page:
            figures[f"page_{who}"] = {
                "warm_p50_ms": page[who]["warm"]["p50_ms"],
                "warm_p99_ms": page[who]["warm"]["p99_ms"],
                "cpu_p50_ms": page[who]["warm_cpu_of_this_process"]["p50_ms"],
                "queries": page[who]["queries_warm"],
                "skus_on_page": page[who]["skus_on_page"],
            }
    return figures


def summary(values_ms: list[float]) -> dict[str, float | int]:
    return {**_summary(values_ms), "p99_ms": round(percentile(values_ms, 0.99), 2)}


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _cpu_timed(fn: Callable[[], Any]) -> float:
    """This process's CPU time: what the call costs, whatever else the machine is running."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def _queries(fn: Callable[[], Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


# --- The test bed ----------------------------------------------------------------------------


def _build() -> dict[str, Any]:
    from django_tenants.utils import tenant_context

    from shared.catalog.models import (
        Category,
        DeliveryKind,
        ListingStatus,
        PriceTier,
        Product,
        Sku,
        TierPrice,
    )
    from shared.sites.services import site_create
    from tenants.pricing.services import child_site_tier_set

    standard = PriceTier.objects.create(code="standard", name="Standard", rank=0)
    gold = PriceTier.objects.create(code="gold", name="Gold", rank=1)
    games = Category.objects.create(name="Games", slug="games")
    mobile = Category.objects.create(name="Mobile games", slug="mobile", parent=games)
    products = Product.objects.bulk_create(
        Product(category=mobile, name=f"Card {i}", slug=f"card-{i}", status=ListingStatus.LISTED)
        for i in range(PRODUCTS)
    )
    skus = Sku.objects.bulk_create(
        Sku(
            product=product,
            code=f"card-{i}-{j}",
            name=f"{(j + 1) * 10} coins",
            face_value=Decimal((j + 1) * 10),
            delivery_kind=DeliveryKind.CARD_KEY,
            sort_order=j,
        )
        for i, product in enumerate(products)
        for j in range(SKUS_PER_PRODUCT)
    )
    TierPrice.objects.bulk_create(
        TierPrice(tier=tier, sku=sku, price=sku.face_value * factor + Decimal(n % 7) / 100)
        for n, sku in enumerate(skus)
        for tier, factor in ((standard, Decimal("0.92")), (gold, Decimal("0.90")))
    )
    sites = []
    for depth in range(1, 6):
        sites.append(
            site_create(
                slug=f"depth{depth}",
                name=f"Depth {depth}",
                owner_email=f"owner@depth{depth}.test",
                parent=sites[-1] if sites else None,
            ).site
        )
    with tenant_context(sites[1]):
        child_site_tier_set(parent=sites[1], child=sites[2], tier=gold)
    for depth, site in enumerate(sites, start=1):
        with tenant_context(site):
            _rules(depth, skus, games=games, mobile=mobile, gold=gold)
    levels = {}
    for site in (sites[0], sites[-1]):
        with tenant_context(site):
            levels[site.pk] = _member_level(site, skus)
    return {"sites": sites, "skus": skus, "levels": levels, "category": mobile}


def _rules(depth: int, skus: list[Any], **refs: Any) -> None:
    from tenants.pricing.models import MarkupKind, Rounding, RuleKind
    from tenants.pricing.services import price_rule_set, quantity_tier_set

    roundings = Rounding.values
    kinds = (RuleKind.WHOLESALE, RuleKind.RETAIL)

    def rule(kind: str, markup: str, value: str, n: int, **scope: Any) -> None:
        price_rule_set(
            kind=kind,
            markup_kind=markup,
            markup_value=Decimal(value),
            rounding=roundings[(depth + n) % len(roundings)],
            **scope,
        )

    for kind in kinds:
        rule(kind, MarkupKind.PERCENT, f"{2 + depth}.5", 0)
        rule(kind, MarkupKind.FIXED, "0.35", 1, category=refs["games"])
        for n, sku in enumerate(skus[depth::25]):  # 20 SKU rules of each kind per site
            rule(kind, MarkupKind.PERCENT, f"{n % 9 + 1}", n, sku=sku)
    rule(RuleKind.WHOLESALE, MarkupKind.PERCENT, "1.5", 2, tier=refs["gold"])
    rule(RuleKind.RETAIL, MarkupKind.PERCENT, "12", 3, category=refs["mobile"])
    quantity_tier_set(min_quantity=10, discount_percent=Decimal("3"))


def _member_level(site: Any, skus: list[Any]) -> Any:
    from tenants.pricing.selectors import prices_for
    from tenants.pricing.services import member_level_create, member_level_price_set

    level = member_level_create(
        code="vip", name="VIP", discount_percent=Decimal("5"), is_default=True
    )
    fixed = skus[::10]  # 50 fixed prices, at cost + ¥1
    prices = prices_for(site=site, skus=fixed)
    for sku in fixed:
        member_level_price_set(level=level, sku=sku, price=prices[sku.pk].cost + 1)
    return level


# --- Measurements ----------------------------------------------------------------------------


def _measure_prices(bed: dict[str, Any], site: Any, runs: dict[str, int]) -> dict[str, Any]:
    from django.core.cache import cache
    from django_tenants.utils import tenant_context

    from tenants.pricing.selectors import local_rules_cache_clear, prices_for

    skus, level = bed["skus"], bed["levels"][site.pk]

    def call() -> dict[int, Any]:
        return prices_for(site=site, skus=skus, member_level=level)

    def cold_call() -> None:
        cache.clear()  # the benchmark's own Redis database
        local_rules_cache_clear()

    with tenant_context(site):  # as a request on the site's domain runs
        cold_call()
        first = _timed(call)
        cold, shared = [], []
        for _ in range(runs["cold"]):
            cold_call()
            cold.append(_timed(call))
            local_rules_cache_clear()  # a process that has not read these rule sets yet
            shared.append(_timed(call))
        warm = [_timed(call) for _ in range(runs["warm"])]
        warm_cpu = [_cpu_timed(call) for _ in range(runs["warm"])]
        cold_call()
        queries_cold, queries_warm = _queries(call), _queries(call)
        priced = len(call())
    return {
        "depth": site.depth,
        "priced": priced,
        "first_call_ms": round(first, 2),
        "cold": summary(cold),
        "from_django_cache": summary(shared),
        "warm": summary(warm),
        "warm_cpu_of_this_process": summary(warm_cpu),
        "queries": {"cold": queries_cold, "warm": queries_warm},
    }


def _measure_page(bed: dict[str, Any], runs: dict[str, int]) -> dict[str, Any]:
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django_tenants.utils import tenant_context

    from tenants.members.services import member_create
    from tenants.pricing.selectors import local_rules_cache_clear
    from tenants.pricing.services import member_level_assign

    site = bed["sites"][-1]
    try:
        path = reverse(
            "storefront:category",
            kwargs={"slug": bed["category"].slug},
            urlconf="kameng.urls_tenant",
        )
    except (NoReverseMatch, ImportError) as exc:
        return {"skipped": f"no storefront category page: {exc}"}
    host = f"{site.slug}.{settings.PLATFORM_DOMAIN}"
    guest = Client(HTTP_HOST=host)
    member = Client(HTTP_HOST=host)
    with tenant_context(site):
        user = member_create(email="member@depth5.test", password=secrets.token_urlsafe())
        member_level_assign(user=user, level=bed["levels"][site.pk])
        member.force_login(user)
    results: dict[str, Any] = {"path": path, "host": host}
    for who, client in (("guest", guest), ("member", member)):
        response = client.get(path)
        if response.status_code != 200:
            return {"skipped": f"{path} answered {response.status_code} for a {who}"}
        shown = response.content.count(b'data-testid="offer"')
        if shown != len(bed["skus"]):
            raise AssertionError(f"the page shows {shown} SKUs, not {len(bed['skus'])}")

        def get(client: Client = client) -> None:
            client.get(path)

        cold = []
        for _ in range(max(3, runs["page"] // 5)):
            cache.clear()
            local_rules_cache_clear()
            cold.append(_timed(get))
        warm = [_timed(get) for _ in range(runs["page"])]
        warm_cpu = [_cpu_timed(get) for _ in range(runs["page"])]
        results[who] = {
            "cold": summary(cold),
            "warm": summary(warm),
            "warm_cpu_of_this_process": summary(warm_cpu),
            "queries_warm": _queries(get),
            "skus_on_page": shown,
            "bytes": len(response.content),
        }
    return results
