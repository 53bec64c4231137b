"""Reading a hot account's balance under lock holds every bucket: a leg landing in any bucket
waits for the reader's commit (what a check-then-post, such as a withdrawal, relies on).

Raced for real: threads with their own connections, committed rows (the ledger cannot be
cleaned up, so the keys are unique to the run, the test measures from what it finds, and it
reverses its postings at the end: the balances are left as found).
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from shared.ledger.models import BALANCE_BUCKETS, AccountBalance, AccountKind, Transaction
from shared.ledger.services import (
    Posting,
    account_balance,
    account_get,
    ledger_verify,
    transaction_post,
    transaction_reverse,
)

D = Decimal
CURRENCY = "HKD"
pytestmark = [pytest.mark.django_db, pytest.mark.commits]


def test_a_locked_hot_balance_holds_every_bucket() -> None:
    assert connection.settings_dict["NAME"].startswith("test_")  # never the development data
    run = uuid.uuid4().hex
    locked, release, posted = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with transaction.atomic():
                hq = account_get(kind=AccountKind.HQ_REVENUE, currency=CURRENCY)
                assert hq.is_hot
                seen["before"] = account_balance(hq, lock=True)
                seen["rows"] = AccountBalance.objects.filter(account=hq).count()
                locked.set()
                release.wait(10)
                seen["released_at"] = time.monotonic()
        except BaseException as exc:
            errors.append(exc)
            locked.set()
        finally:
            connections.close_all()

    def writer(n: int) -> None:
        try:
            locked.wait(10)
            hq = account_get(kind=AccountKind.HQ_REVENUE, currency=CURRENCY)
            clearing = account_get(kind=AccountKind.PAYOUT_CLEARING, currency=CURRENCY)
            transaction_post(
                idempotency_key=f"hot-lock:{run}:{n}",
                kind="test",
                postings=[Posting(hq, D("-1.00")), Posting(clearing, D("1.00"))],
            )
            seen[f"posted_at_{n}"] = time.monotonic()
        except BaseException as exc:
            errors.append(exc)
        finally:
            posted.set()
            connections.close_all()

    writers = 4  # each leg lands in a random bucket: any of them would have to wait
    threads = [threading.Thread(target=reader)]
    threads += [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    assert locked.wait(10)
    assert not posted.wait(0.7)  # every writer waits on the reader's lock
    release.set()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert seen["rows"] == BALANCE_BUCKETS  # missing buckets were created and locked
    assert all(seen[f"posted_at_{n}"] >= seen["released_at"] for n in range(writers))  # type: ignore[operator]

    def after() -> Decimal:
        try:
            hq = account_get(kind=AccountKind.HQ_REVENUE, currency=CURRENCY)
            return account_balance(hq)
        finally:
            connections.close_all()

    def undo() -> None:  # leave the balances as found (other tests measure HKD from zero)
        try:
            for n in range(writers):
                original = Transaction.objects.get(idempotency_key=f"hot-lock:{run}:{n}")
                transaction_reverse(original=original, idempotency_key=f"hot-lock:{run}:{n}:undo")
        finally:
            connections.close_all()

    result: list[Decimal] = []
    for work in (lambda: result.append(after()), undo, lambda: result.append(after())):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(10)
    assert result == [seen["before"] + writers * D("1.00"), seen["before"]]  # type: ignore[operator]
    assert ledger_verify() == []
