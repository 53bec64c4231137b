"""Card-key import benchmark: `card_keys_import` against a bare COPY of the same rows.

One run, one throwaway database:
- `service`: `card_keys_import` of N generated keys (half single keys, half "card----password"
  pairs) as a .txt upload, end to end: decode, parse, in-file de-duplication, HMAC
  fingerprints and AES-256-GCM encryption (key id per row), binary COPY straight into
  `vault_cardkey` (all its indexes and constraints, and the statement-level check that every
  key belongs to a batch of its SKU and supplier), batch row and stock counter, one committed
  transaction;
- `reimport`: the first tenth of the same file plus as many new keys, through the service
  again (the duplicate-skipping path against N stored keys);
- `copy_baseline`: a plain binary COPY (psycopg `write_row`) of the very rows the service
  stored, read back beforehand in the service's order, into a copy of `vault_cardkey` with the
  same indexes and check constraints (`LIKE ... INCLUDING ALL`) but without its triggers: the
  floor any import pays to write the rows. Encryption and fingerprints are done before the
  clock starts.
The target is `service` at 50,000 keys/s or more; `copy_over_service` (baseline rate over
service rate) says what the service costs over the floor. `parse_only` and `seal_only` time two
client stages alone, to show where the time goes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.database import bench_database

SIZE = 1_000_000
QUICK_SIZE = 100_000
TARGET_KEYS_PER_S = 50_000


def run(*, quick: bool = False) -> dict[str, Any]:
    size = QUICK_SIZE if quick else SIZE
    load_before = round(os.getloadavg()[0], 2)
    with bench_database("kameng_bench_vault_import"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        results = _measure(size)
    service_rate = results["service"]["keys_per_s"]
    return {
        "benchmark": "vault_import",
        "unit": "keys per second (one committed import)",
        "keys": size,
        **results,
        "copy_over_service": round(results["copy_baseline"]["keys_per_s"] / service_rate, 2),
        # The baseline table has the key table's indexes and check constraints, not the
        # statement trigger checking each import's (batch, sku, supplier) once.
        "baseline_has_batch_check": False,
        "machine": {"cpus": os.cpu_count(), "load_1m_before": load_before},
        "targets": {"service_keys_per_s_at_least": TARGET_KEYS_PER_S},
        "targets_met": service_rate >= TARGET_KEYS_PER_S,
    }


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _rate(count: int, seconds: float) -> dict[str, float | int]:
    return {"keys": count, "seconds": round(seconds, 2), "keys_per_s": round(count / seconds)}


def _generate(count: int, start: int = 0) -> list[str]:
    """Unique keys: even lines a 20-character key, odd lines a 16-digit card and a password."""
    noise = os.urandom(8 * count).hex()
    keys = []
    for i in range(start, start + count):
        token = noise[(i - start) * 16 : (i - start + 1) * 16]
        keys.append(f"KM{i:010d}{token[:8]}" if i % 2 == 0 else f"62{i:014d}----{token}")
    return keys


def _measure(size: int) -> dict[str, Any]:
    from shared.vault import parsing
    from shared.vault.sealing import seal_many
    from shared.vault.services import card_keys_import

    sku = _sku()
    lines = _generate(size)
    content = "\n".join(lines).encode()

    service_s, batch = _timed(
        lambda: card_keys_import(
            sku=sku, content=content, source="txt", actor_email="bench@hq.test"
        )
    )
    assert (batch.accepted, batch.duplicates, batch.malformed) == (size, 0, 0)

    tenth = size // 10
    again = "\n".join(lines[:tenth] + _generate(tenth, start=size)).encode()
    reimport_s, rebatch = _timed(
        lambda: card_keys_import(sku=sku, content=again, source="txt", actor_email="bench@hq.test")
    )
    assert (rebatch.accepted, rebatch.duplicates) == (tenth, tenth)

    parse_s, parsed = _timed(lambda: parsing.parse_import(content, source="txt"))
    seal_s, sealed = _timed(lambda: list(seal_many(parsed.keys)))
    del sealed
    copy_s = _copy_baseline(batch.pk, size)

    from shared.vault.models import CardKey, SkuStock

    assert CardKey.objects.filter(sku=sku).count() == size + tenth
    assert SkuStock.objects.get(sku=sku).available == size + tenth
    return {
        "service": _rate(size, service_s),
        "reimport_half_duplicates": _rate(2 * tenth, reimport_s),
        "copy_baseline": _rate(size, copy_s),
        "parse_only": _rate(size, parse_s),
        "seal_only": _rate(size, seal_s),
    }


def _sku() -> Any:
    from decimal import Decimal

    from shared.catalog.models import Category, DeliveryKind, Product, Sku

    category = Category.objects.create(name="Bench", slug="bench")
    product = Product.objects.create(category=category, name="Bench card", slug="bench-card")
    return Sku.objects.create(
        product=product,
        code="bench-card-100",
        name="100",
        face_value=Decimal("100.00"),
        delivery_kind=DeliveryKind.CARD_KEY,
    )


def _copy_baseline(batch_id: int, size: int) -> float:
    """Seconds to COPY the rows the service stored for `batch_id` (read back beforehand, in
    the service's order) into an indexed copy of the key table without foreign keys."""
    from django.db import connection, transaction

    columns = "sku_id, supplier_id, batch_id, ciphertext, key_id, fingerprint, status, created_at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM vault_cardkey WHERE batch_id = %s ORDER BY id",
            [batch_id],
        )
        rows = [(*row[:3], bytes(row[3]), row[4], bytes(row[5]), *row[6:]) for row in cursor]
        assert len(rows) == size
        cursor.execute("CREATE TABLE bench_cardkey (LIKE vault_cardkey INCLUDING ALL)")
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        sql = f"COPY bench_cardkey ({columns}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(sql) as copy:
            copy.set_types(
                ["int8", "int8", "int8", "bytea", "text", "bytea", "text", "timestamptz"]
            )
            for row in rows:
                copy.write_row(row)
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_cardkey")
        assert cursor.fetchone()[0] == size
    return seconds
