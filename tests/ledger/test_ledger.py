"""The ledger: balanced, immutable, idempotent transactions and provable running balances."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ledger.models import AccountBalance, AccountKind, Leg, Transaction
from shared.ledger.money import MoneyError, exact, quantize, to_minor_units
from shared.ledger.services import (
    IdempotencyConflict,
    LedgerError,
    Posting,
    account_balance,
    account_get,
    ledger_verify,
    transaction_post,
    transaction_reverse,
)
from tests.conftest import Network

D = Decimal


def _counts() -> tuple[int, int]:
    return Transaction.objects.count(), Leg.objects.count()


@pytest.fixture
def accounts(network: Network) -> dict[str, object]:
    return {
        "clearing": account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY"),
        "hq": account_get(kind=AccountKind.HQ_REVENUE, currency="CNY"),
        "alpha": account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=network.alpha),
        "beta": account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=network.beta),
        "usd": account_get(kind=AccountKind.PAYMENT_CLEARING, currency="USD"),
    }


def test_post_balanced_transaction_and_read_balances(accounts: dict) -> None:
    txn, created = transaction_post(
        idempotency_key="sale:1",
        kind="sale",
        postings=[
            Posting(accounts["clearing"], D("100.00")),
            Posting(accounts["alpha"], D("-12.50")),
            Posting(accounts["hq"], D("-87.50")),
        ],
    )
    assert created
    assert txn.legs.count() == 3
    assert account_balance(accounts["clearing"]) == D("100.00")
    assert account_balance(accounts["alpha"]) == D("12.50")
    assert account_balance(accounts["hq"]) == D("87.50")
    assert ledger_verify() == []


def test_replay_with_same_key_changes_nothing(accounts: dict) -> None:
    postings = [Posting(accounts["clearing"], D("5")), Posting(accounts["alpha"], D("-5"))]
    first, _ = transaction_post(idempotency_key="k", kind="sale", postings=postings)
    before = _counts()
    for _ in range(5):
        again, created = transaction_post(idempotency_key="k", kind="sale", postings=postings)
        assert (again.pk, created) == (first.pk, False)
    assert _counts() == before
    assert account_balance(accounts["alpha"]) == D("5.00")


def test_same_key_different_posting_is_a_conflict(accounts: dict) -> None:
    transaction_post(
        idempotency_key="k2",
        kind="sale",
        postings=[Posting(accounts["clearing"], D("5")), Posting(accounts["alpha"], D("-5"))],
    )
    before = _counts()
    with pytest.raises(IdempotencyConflict):
        transaction_post(
            idempotency_key="k2",
            kind="sale",
            postings=[Posting(accounts["clearing"], D("6")), Posting(accounts["alpha"], D("-6"))],
        )
    assert _counts() == before


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ((D("10"), D("-9.99")), "do not balance: CNY 0.01"),
        ((D("0"), D("0")), "at least two non-zero legs"),
        ((D("1.001"), D("-1.001")), "not a whole number of CNY minor units"),
        ((D("NaN"), D("1")), "not a whole number"),
        ((1.5, -1.5), "must not be floats"),
    ],
)
def test_bad_postings_are_refused_and_write_nothing(
    accounts: dict, amounts: tuple, message: str
) -> None:
    before = _counts()
    with pytest.raises(LedgerError, match=message):
        transaction_post(
            idempotency_key="bad",
            kind="sale",
            postings=[
                Posting(accounts["clearing"], amounts[0]),
                Posting(accounts["alpha"], amounts[1]),
            ],
        )
    assert _counts() == before


def test_currency_mismatch_is_refused(accounts: dict) -> None:
    before = _counts()
    with pytest.raises(LedgerError, match="do not balance"):
        transaction_post(
            idempotency_key="fx",
            kind="sale",
            postings=[Posting(accounts["usd"], D("10")), Posting(accounts["alpha"], D("-10"))],
        )
    assert _counts() == before


def test_database_refuses_unbalanced_legs_at_commit(accounts: dict) -> None:
    """Even code that bypasses the service cannot commit an unbalanced transaction."""
    with (
        pytest.raises(DatabaseError, match=r"unbalanced in CNY by 1\.00"),
        transaction.atomic(),
    ):
        txn = Transaction.objects.create(idempotency_key="raw", kind="raw")
        for account, amount in ((accounts["clearing"], D("3")), (accounts["alpha"], D("-2"))):
            Leg.objects.create(transaction=txn, account=account, amount=amount, currency="CNY")
        with connection.cursor() as cursor:  # what COMMIT would do
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Transaction.objects.filter(idempotency_key="raw").exists()


def test_database_refuses_leg_in_wrong_currency(accounts: dict) -> None:
    txn = Transaction.objects.create(idempotency_key="raw2", kind="raw")
    with pytest.raises(DatabaseError, match="differs from account"), transaction.atomic():
        Leg.objects.create(transaction=txn, account=accounts["usd"], amount=D("3"), currency="CNY")


def test_rows_are_immutable(accounts: dict) -> None:
    txn, _ = transaction_post(
        idempotency_key="imm",
        kind="sale",
        postings=[Posting(accounts["clearing"], D("1")), Posting(accounts["alpha"], D("-1"))],
    )
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        Leg.objects.filter(transaction=txn).update(amount=D("2"))
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        Leg.objects.filter(transaction=txn).delete()
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        Transaction.objects.filter(pk=txn.pk).update(memo="edited")
    assert account_balance(accounts["alpha"]) == D("1.00")


def test_reversal_restores_balances(accounts: dict) -> None:
    txn, _ = transaction_post(
        idempotency_key="sale:r",
        kind="sale",
        postings=[Posting(accounts["clearing"], D("40")), Posting(accounts["beta"], D("-40"))],
    )
    reversal = transaction_reverse(original=txn, idempotency_key="refund:r")
    assert reversal.reverses == txn
    assert account_balance(accounts["beta"]) == D("0")
    assert transaction_reverse(original=txn, idempotency_key="refund:r").pk == reversal.pk
    assert ledger_verify() == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(
            st.integers(min_value=-(10**8), max_value=10**8).filter(bool), min_size=1, max_size=4
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_postings_keep_every_invariant(network_sites: tuple, batches: list) -> None:
    """Any sequence of balanced postings: balances equal leg sums and sum to zero overall."""
    clearing, site_accounts = network_sites
    with transaction.atomic():
        sid = transaction.savepoint()
        for n, cents in enumerate(batches):
            postings = [
                Posting(site_accounts[i % len(site_accounts)], -D(c) / 100)
                for i, c in enumerate(cents)
            ]
            postings.append(Posting(clearing, D(sum(cents)) / 100))
            try:
                transaction_post(idempotency_key=f"h{n}", kind="test", postings=postings)
            except LedgerError:
                assert sum(cents) == 0  # a net-zero batch may collapse to fewer than two legs
        assert ledger_verify() == []
        total = sum((account_balance(a) for a in site_accounts), start=D(0)) - account_balance(
            clearing
        )
        assert total == 0
        transaction.savepoint_rollback(sid)


@pytest.fixture
def network_sites(network: Network) -> tuple:
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    sites = [
        account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=s)
        for s in (network.alpha, network.beta, network.alpha_kid)
    ]
    return clearing, sites


def test_money_helpers() -> None:
    assert quantize(D("1.005"), "CNY") == D("1.01")
    assert quantize(D("1.5"), "JPY") == D("2")
    assert to_minor_units(D("12.34"), "CNY") == 1234
    assert exact("7", "CNY") == D("7.00")
    with pytest.raises(MoneyError, match="Unsupported currency"):
        quantize(D("1"), "XYZ")


def test_concurrent_posts_to_hot_accounts_keep_balances_exact(django_db_blocker: object) -> None:
    """Eight threads post 25 sales each, committed, to the same hot accounts."""
    from shared.sites.models import Site

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        alpha = Site.objects.get(slug="alpha")
        clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="HKD")
        hq = account_get(kind=AccountKind.HQ_REVENUE, currency="HKD")
        site = account_get(kind=AccountKind.SITE_PENDING, currency="HKD", site=alpha)
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for i in range(25):
                    transaction_post(
                        idempotency_key=f"race:{worker}:{i}",
                        kind="sale",
                        postings=[
                            Posting(clearing, D("10.00")),
                            Posting(hq, D("-7.00")),
                            Posting(site, D("-3.00")),
                        ],
                    )
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert account_balance(clearing) == D("2000.00")
        assert account_balance(hq) == D("1400.00")
        assert account_balance(site) == D("600.00")
        assert AccountBalance.objects.filter(account=hq).count() > 1  # spread over buckets
        assert ledger_verify() == []


def test_ledger_check_command(accounts: dict) -> None:
    from io import StringIO

    from django.core.management import call_command

    transaction_post(
        idempotency_key="cmd",
        kind="sale",
        postings=[Posting(accounts["clearing"], D("1")), Posting(accounts["alpha"], D("-1"))],
    )
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert out.getvalue().strip() == "Ledger consistent: balanced and exact."
