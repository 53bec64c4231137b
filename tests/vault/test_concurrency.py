"""Real races against PostgreSQL: threads, each with its own connection, on committed data.

The main thread only reads (inside the usual rolled-back `db` transaction, which guarantees the
test database and, at READ COMMITTED, sees what other connections commit). Everything written
runs in threads with their own autocommit connections, so it is committed and visible to every
racer; each test creates a fresh SKU and deletes everything it made at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

import pytest
from django.db import IntegrityError, connections
from django.utils import timezone

from shared.catalog.models import Category, Product, Sku, StockAlert
from shared.vault.models import CardKey, CardKeySale, ImportBatch, SkuStock
from shared.vault.services import (
    OutOfStock,
    card_keys_import,
    card_keys_reserve,
    card_keys_sell,
)
from tests.vault.conftest import ACTOR, SkuFactory, random_key

THREADS = 20
T = TypeVar("T")


def _committed(work: Callable[[], T]) -> T:
    """Run `work` on a connection of its own (a thread), in autocommit: what it writes is
    committed when it returns."""
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]
    return outcome["result"]


@pytest.fixture
def committed_sku(db: None) -> Iterator[Sku]:
    """A committed card-key SKU (no low-stock alerts), removed with its keys afterwards."""
    sku = _committed(lambda: SkuFactory(low_stock_threshold=0))
    yield sku
    _committed(lambda: _purge(sku))
    assert not CardKey.objects.filter(sku_id=sku.pk).exists()
    assert not Sku.objects.filter(pk=sku.pk).exists()


def _purge(sku: Sku) -> None:
    CardKeySale.objects.filter(card_key__sku=sku).delete()
    CardKey.objects.filter(sku=sku).delete()
    ImportBatch.objects.filter(sku=sku).delete()
    StockAlert.objects.filter(sku=sku).delete()
    SkuStock.objects.filter(sku=sku).delete()
    product = Product.objects.get(pk=sku.product_id)
    sku.delete()
    product.delete()
    Category.objects.filter(pk=product.category_id).delete()


def _stock(sku: Sku, count: int) -> list[int]:
    """Commit `count` new keys for the SKU; their ids, ascending."""
    batch = _committed(
        lambda: card_keys_import(
            sku=sku,
            content="\n".join(random_key() for _ in range(count)),
            source="paste",
            actor_email=ACTOR,
        )
    )
    return sorted(CardKey.objects.filter(batch=batch).values_list("id", flat=True))


def _race(worker: Callable[[int], T]) -> tuple[dict[int, T], list[BaseException]]:
    """Run `worker(i)` in THREADS threads released together; each closes its connection."""
    barrier = threading.Barrier(THREADS)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = worker(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


class _CounterWatch:
    """Samples the SKU's counter from its own connection while a race runs."""

    def __init__(self, sku: Sku) -> None:
        self.sku, self._stop = sku, threading.Event()
        self.seen: list[int] = []
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        try:
            while not self._stop.is_set():
                self.seen.append(SkuStock.objects.get(sku=self.sku).available)
        finally:
            connections.close_all()

    def __enter__(self) -> _CounterWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _expiry() -> datetime:
    return timezone.now() + timedelta(minutes=10)


def test_racing_orders_never_get_the_same_key(committed_sku: Sku) -> None:
    keys = _stock(committed_sku, 8)

    def reserve(index: int) -> list[int]:
        try:
            return card_keys_reserve(
                sku=committed_sku, quantity=1, order_ref=f"race:{index}", expires_at=_expiry()
            )
        except OutOfStock:
            return []

    with _CounterWatch(committed_sku) as watch:
        results, errors = _race(reserve)
    assert errors == []
    given = [key for ids in results.values() for key in ids]
    assert sorted(given) == keys  # every key given, none twice
    assert sum(1 for ids in results.values() if ids) == 8
    assert SkuStock.objects.get(sku=committed_sku).available == 0
    assert min(watch.seen) >= 0 and watch.seen[-1] == 0
    holders = dict(CardKey.objects.filter(sku=committed_sku).values_list("id", "order_ref"))
    assert {holders[ids[0]] for ids in results.values() if ids} == {
        f"race:{index}" for index, ids in results.items() if ids
    }


def test_racing_multi_key_orders_are_all_or_nothing(committed_sku: Sku) -> None:
    keys = _stock(committed_sku, 10)

    def reserve(index: int) -> list[int]:
        try:
            return card_keys_reserve(
                sku=committed_sku, quantity=3, order_ref=f"race:{index}", expires_at=_expiry()
            )
        except OutOfStock:
            return []

    results, errors = _race(reserve)
    assert errors == []
    granted = [ids for ids in results.values() if ids]
    given = [key for ids in granted for key in ids]
    assert all(len(ids) == 3 for ids in granted)
    assert len(given) == len(set(given)) and set(given) <= set(keys)
    assert len(granted) == 3  # 10 keys: three orders of 3, then 1 key is not enough
    assert CardKey.objects.filter(sku=committed_sku, status="reserved").count() == 9
    assert SkuStock.objects.get(sku=committed_sku).available == 1


def test_racing_sales_of_one_order_sell_each_key_once(committed_sku: Sku) -> None:
    _stock(committed_sku, 5)
    reserved = _committed(
        lambda: card_keys_reserve(
            sku=committed_sku, quantity=3, order_ref="race:paid", expires_at=_expiry()
        )
    )
    results, errors = _race(lambda index: card_keys_sell(order_ref="race:paid"))
    assert errors == []
    assert list(results.values()) == [reserved] * THREADS
    sales = CardKeySale.objects.filter(card_key__sku=committed_sku)
    assert sorted(sales.values_list("card_key_id", flat=True)) == reserved
    assert SkuStock.objects.get(sku=committed_sku).available == 2


def test_the_database_sells_a_single_use_key_once(committed_sku: Sku) -> None:
    (key, *_) = _stock(committed_sku, 1)

    def sell_to_another_order(index: int) -> int:
        return CardKeySale.objects.create(
            card_key_id=key, order_ref=f"race:{index}", single_use=True
        ).pk

    results, errors = _race(sell_to_another_order)
    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, IntegrityError) for error in errors)
    assert CardKeySale.objects.filter(card_key_id=key).count() == 1
