"""A throwaway database for a benchmark, on the same server as the project's database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    _process_caches_clear()
    try:
        yield
    finally:
        _process_caches_clear()
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = connections["default"].settings_dict["NAME"] = (
            previous
        )
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        os.environ["DATABASE_URL"] = url


def _process_caches_clear() -> None:
    """Forget what this process cached of the database it used before (hosts' routes, ledger
    accounts): the same keys name other rows in another benchmark's database."""
    from shared.ledger.services import accounts_forget
    from shared.sites.selectors import routes_forget

    routes_forget()
    accounts_forget()


def postgres_cpu_seconds() -> float | None:
    """CPU time used so far by the PostgreSQL server of the benchmark (the postmaster, its
    backends and the backends that have exited), when it runs on this machine; else None."""
    global _postmaster
    if _postmaster is None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        try:
            _postmaster = _stat(backend)[1]
        except FileNotFoundError:  # a server on another machine
            _postmaster = 0
    return tree_cpu_seconds(_postmaster) if _postmaster else None


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by process `pid`, its live children and the children it has
    reaped (a child that exits between two readings counts in the second)."""
    fields, _ = _stat(pid)
    total = sum(int(f) for f in fields[11:15])  # utime, stime, and of the exited children
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            fields, _ = _stat(int(child))
        except FileNotFoundError:  # exited meanwhile: counted with the exited children
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


_postmaster: int | None = None


def _stat(pid: int) -> tuple[list[str], int]:
    """/proc/<pid>/stat's fields after the command name, and the parent's pid."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields, int(fields[1])


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
