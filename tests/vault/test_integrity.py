"""What the database holds card keys to without per-row foreign keys: a key belongs to an
import batch of its own SKU and supplier, checked once per INSERT or COPY statement; keys
never change batch, SKU or supplier; a batch is deleted only once it holds no key, is never
truncated, and never changes SKU or supplier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from shared.catalog.models import Sku
from shared.suppliers.models import Supplier
from shared.vault.models import CardKey, ImportBatch
from tests.vault.conftest import ImportKeys, SkuFactory, SupplierFactory, key_ids

_INSERT = (
    "INSERT INTO vault_cardkey (sku_id, supplier_id, batch_id, ciphertext, key_id, fingerprint, "
    "status, created_at) SELECT sku, supplier, batch, '\\x00', 'k1', fingerprint, 'available', "
    "now() FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bytea[]) "
    "AS r(sku, supplier, batch, fingerprint)"
)


def _insert(rows: list[tuple[int, int | None, int]]) -> None:
    """One INSERT statement of raw key rows (sku, supplier, batch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                [sku for sku, _, _ in rows],
                [supplier for _, supplier, _ in rows],
                [batch for _, _, batch in rows],
                [bytes([n]) * 32 for n in range(len(rows))],
            ],
        )


def _refused(action: Callable[[], Any], message: str) -> None:
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        action()
    assert message in str(exc.value)


@pytest.fixture
def batch(sku: Sku, supplier: Supplier, import_keys: ImportKeys) -> ImportBatch:
    return import_keys(sku, ["KEY-1", "KEY-2"], supplier=supplier)


def test_a_statement_of_rows_of_their_batch_is_accepted(batch: ImportBatch) -> None:
    _insert([(batch.sku_id, batch.supplier_id, batch.pk)] * 3)
    assert CardKey.objects.filter(batch=batch).count() == 5


@pytest.mark.parametrize("wrong", ["sku", "supplier", "no_supplier", "batch"])
def test_one_row_not_of_its_batch_refuses_the_whole_statement(
    batch: ImportBatch, wrong: str
) -> None:
    other_sku, other_supplier = SkuFactory(), SupplierFactory()
    bad = {
        "sku": (other_sku.pk, batch.supplier_id, batch.pk),
        "supplier": (batch.sku_id, other_supplier.pk, batch.pk),
        "no_supplier": (batch.sku_id, None, batch.pk),
        "batch": (batch.sku_id, batch.supplier_id, batch.pk + 1000),
    }[wrong]
    good = (batch.sku_id, batch.supplier_id, batch.pk)
    _refused(lambda: _insert([good, bad, good]), "must belong to an import batch")
    assert CardKey.objects.count() == 2


def test_the_import_is_checked_against_its_own_batch(sku: Sku, import_keys: ImportKeys) -> None:
    other = SkuFactory()
    first = import_keys(sku, ["A"])
    second = import_keys(other, ["A"])  # same key, another SKU: its own batch
    assert CardKey.objects.get(batch=first).sku_id == sku.pk
    assert CardKey.objects.get(batch=second).sku_id == other.pk


@pytest.mark.parametrize("field", ["sku", "supplier", "batch"])
def test_a_key_never_changes_batch_sku_or_supplier(
    batch: ImportBatch, sku: Sku, import_keys: ImportKeys, field: str
) -> None:
    other_batch = import_keys(SkuFactory(), ["OTHER"], supplier=SupplierFactory())
    key = key_ids(batch)[0]
    value = {"sku": other_batch.sku_id, "supplier": None, "batch": other_batch.pk}[field]
    _refused(
        lambda: CardKey.objects.filter(pk=key).update(**{f"{field}_id": value}),
        "never change",
    )
    assert CardKey.objects.filter(pk=key, batch=batch, sku=sku).count() == 1
    # Other columns of a key still change as usual.
    assert CardKey.objects.filter(pk=key).update(status="void") == 1


def test_a_batch_holding_keys_is_never_deleted_truncated_or_moved(batch: ImportBatch) -> None:
    def delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM vault_importbatch WHERE id = %s", [batch.pk])

    def truncate() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
            cursor.execute("TRUNCATE vault_importbatch CASCADE")

    _refused(delete, f"import batch {batch.pk} still holds card keys")
    _refused(truncate, "never truncated")
    other_sku = SkuFactory()
    _refused(lambda: ImportBatch.objects.filter(pk=batch.pk).update(sku=other_sku), "never change")
    _refused(lambda: ImportBatch.objects.filter(pk=batch.pk).update(supplier=None), "never change")
    assert ImportBatch.objects.filter(pk=batch.pk, sku_id=batch.sku_id).exists()
    assert CardKey.objects.filter(batch=batch).count() == 2
    # The batch's counts and report are still written by the import.
    assert ImportBatch.objects.filter(pk=batch.pk).update(malformed=1) == 1


def test_a_batch_without_keys_can_be_deleted(batch: ImportBatch) -> None:
    CardKey.objects.filter(batch=batch).delete()
    assert ImportBatch.objects.filter(pk=batch.pk).delete()[0] == 1
