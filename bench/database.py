"""A throwaway database for a benchmark, on the same server as the project's database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dj_database_url
import psycopg


@contextmanager
def bench_database(name: str) -> Iterator[None]:
    """Create database `name` (dropping any leftover), point Django at it, drop it after."""
    url = os.environ["DATABASE_URL"]
    parsed = dj_database_url.parse(url)
    admin = {
        "dbname": "postgres",
        "user": parsed.get("USER") or None,
        "password": parsed.get("PASSWORD") or None,
        "host": parsed.get("HOST") or None,
        "port": parsed.get("PORT") or None,
    }
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = url.rpartition("/")
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    redis_base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    os.environ["REDIS_URL"] = f"{redis_base}/13"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kameng.settings")
    import django
    from django.conf import settings
    from django.db import connections

    django.setup()
    # A later benchmark of the same run: Django read DATABASE_URL once, so repoint it.
    previous = settings.DATABASES["default"]["NAME"]
    connections.close_all()
    settings.DATABASES["default"]["NAME"] = connections["default"].settings_dict["NAME"] = name
    try:
        yield
    finally:
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = connections["default"].settings_dict["NAME"] = (
            previous
        )
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        os.environ["DATABASE_URL"] = url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values_ms),
        "min_ms": round(min(values_ms), 2),
        "p50_ms": round(percentile(values_ms, 0.5), 2),
        "p90_ms": round(percentile(values_ms, 0.9), 2),
        "max_ms": round(max(values_ms), 2),
    }
