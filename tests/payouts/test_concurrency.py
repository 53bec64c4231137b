"""Withdrawals raced for real: threads with their own connections, committed data.

Ledger rows are immutable, so these tests cannot clean up: they use keys unique to the run and
a currency no other test funds the site in, and measure from whatever balance they find. They
ask for `django_db_setup` so the test database (and its committed network) exists even when they
run alone: `django_db_blocker` by itself would reach the development database.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections

from shared.ledger.models import AccountKind, Transaction
from shared.ledger.services import ledger_verify
from shared.payouts.models import Withdrawal
from shared.payouts.services import withdrawal_fee, withdrawal_request
from shared.sites.models import Site
from tests.payouts.conftest import balance, fund

D = Decimal
CURRENCY = "GBP"


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


def test_concurrent_withdrawals_never_take_more_than_is_available(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    run = uuid.uuid4().hex
    owner = SimpleNamespace(email="owner@alpha.test")
    with django_db_blocker.unblock():
        alpha = Site.objects.get(slug="alpha")
        fund(alpha, D("1000.00"), currency=CURRENCY, key=f"payouts-race:{run}:fund")
        start = balance(AccountKind.SITE_AVAILABLE, alpha, CURRENCY)
        withdrawing_start = balance(AccountKind.SITE_WITHDRAWING, alpha, CURRENCY)
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
                requested_by=owner,
                idempotency_key=f"race:{run}:{i}",
                currency=CURRENCY,
            ),
        )

        assert len(done) == fits
        assert len(errors) == workers - fits
        assert all(isinstance(e, ValidationError) and "exceeds" in str(e) for e in errors)
        available = balance(AccountKind.SITE_AVAILABLE, alpha, CURRENCY)
        assert available == start - fits * each
        assert available >= 0
        assert balance(AccountKind.SITE_WITHDRAWING, alpha, CURRENCY) == (
            withdrawing_start + fits * each
        )
        assert Withdrawal.objects.filter(idempotency_key__startswith=f"race:{run}:").count() == fits
        assert ledger_verify() == []


def test_concurrent_replays_of_one_key_make_one_withdrawal(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    run = uuid.uuid4().hex
    owner = SimpleNamespace(email="owner@alpha.test")
    with django_db_blocker.unblock():
        alpha = Site.objects.get(slug="alpha")
        fund(alpha, D("500.00"), currency=CURRENCY, key=f"payouts-replay:{run}:fund")
        start = balance(AccountKind.SITE_AVAILABLE, alpha, CURRENCY)

        done, errors = _race(
            8,
            lambda i: (
                withdrawal_request(
                    site=alpha,
                    amount=D("200.00"),
                    requested_by=owner,
                    idempotency_key=f"replay:{run}",
                    currency=CURRENCY,
                ).pk
            ),
        )

        assert errors == []
        assert len(set(done)) == 1
        [pk] = set(done)
        assert Transaction.objects.filter(idempotency_key=f"withdrawal:{pk}:hold").count() == 1
        assert balance(AccountKind.SITE_AVAILABLE, alpha, CURRENCY) == start - D("202.00")
