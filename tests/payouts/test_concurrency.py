"""Withdrawals raced for real: threads with their own connections, committed data.

Ledger rows are immutable, so these tests cannot clean up: they use keys unique to the run and
a currency no other test funds the site in, and measure from whatever balance they find.

Every database write happens in a thread of its own (its own connection, committed). The
`django_db` mark only makes sure the test database exists when these tests run alone: with
`django_db_blocker` alone pytest-django sets no test database up, and the writes would go to the
development database. The test's own connection only reads (it sees other connections'
commits), so the rolled-back transaction around it changes nothing here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import ledger_verify
from shared.payouts.models import Withdrawal
from shared.payouts.services import withdrawal_fee, withdrawal_request
from shared.sites.models import Site
from tests.payouts.conftest import balance, fund

D = Decimal
CURRENCY = "GBP"
OWNER = SimpleNamespace(email="owner@alpha.test")
pytestmark = [pytest.mark.django_db, pytest.mark.commits]


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` on a connection of its own, committed; its result."""
    results, errors = _race(1, lambda _: work())
    if errors:
        raise errors[0]
    return results[0]


def _balances(site: Site) -> tuple[Decimal, Decimal]:
    return _in_thread(
        lambda: (
            balance(AccountKind.SITE_AVAILABLE, site, CURRENCY),
            balance(AccountKind.SITE_WITHDRAWING, site, CURRENCY),
        )
    )


def _funded_alpha(amount: Decimal, key: str) -> Site:
    assert connection.settings_dict["NAME"].startswith("test_")  # never the development data
    alpha = Site.objects.get(slug="alpha")
    _in_thread(lambda: fund(alpha, amount, currency=CURRENCY, key=key))
    return alpha


def _race(workers: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run `work(i)` in `workers` threads released together; results and exceptions."""
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_concurrent_withdrawals_never_take_more_than_is_available() -> None:
    run = uuid.uuid4().hex
    alpha = _funded_alpha(D("1000.00"), f"payouts-race:{run}:fund")
    start, withdrawing_start = _balances(alpha)
    amount = D("148.00")
    each = amount + withdrawal_fee(amount=amount, currency=CURRENCY)  # 150.00
    workers = 10
    fits = min(workers, int(start // each))
    assert fits < workers  # the requests together exceed what is available

    done, errors = _race(
        workers,
        lambda i: withdrawal_request(
            site=alpha,
            amount=amount,
            requested_by=OWNER,
            idempotency_key=f"race:{run}:{i}",
            currency=CURRENCY,
        ),
    )

    assert len(done) == fits
    assert len(errors) == workers - fits
    assert all(isinstance(e, ValidationError) and "exceeds" in str(e) for e in errors)
    available, withdrawing = _balances(alpha)
    assert available == start - fits * each
    assert available >= 0
    assert withdrawing == withdrawing_start + fits * each
    assert Withdrawal.objects.filter(idempotency_key__startswith=f"race:{run}:").count() == fits
    assert ledger_verify() == []


def test_concurrent_replays_of_one_key_make_one_withdrawal() -> None:
    run = uuid.uuid4().hex
    alpha = _funded_alpha(D("500.00"), f"payouts-replay:{run}:fund")
    start, _ = _balances(alpha)

    done, errors = _race(
        8,
        lambda i: (
            withdrawal_request(
                site=alpha,
                amount=D("200.00"),
                requested_by=OWNER,
                idempotency_key=f"replay:{run}",
                currency=CURRENCY,
            ).pk
        ),
    )

    assert errors == []
    assert len(set(done)) == 1
    [pk] = set(done)
    assert Transaction.objects.filter(idempotency_key=f"withdrawal:{pk}:hold").count() == 1
    assert _balances(alpha)[0] == start - D("202.00")
