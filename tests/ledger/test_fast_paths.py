"""The cheap paths of the ledger: settle_sale in two statements, accounts read and created in
bulk, member operations writing the mirror's bucket of their member, and many wallet payments
of one site at once (real threads) neither deadlocking nor drifting from the mirror."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from shared.ledger.models import Account, AccountBalance, AccountKind, Leg
from shared.ledger.services import (
    AccountSpec,
    LedgerError,
    Posting,
    account_get,
    accounts_get,
    bucket_for,
    ledger_verify,
    transaction_post,
)
from shared.ledger.settlement import ChainLink, settle_sale
from shared.sites.models import Site
from shared.sites.services import ProvisionedSite
from shared.suppliers.models import Supplier
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.services import wallet_spend, wallet_top_up
from tests.wallets.conftest import new_member, wallet

D = Decimal


@pytest.fixture
def chain_sites(make_site: Callable[..., ProvisionedSite]) -> list[Site]:
    root = make_site().site
    mid = make_site(parent=root).site
    return [root, mid, make_site(parent=mid).site]


@pytest.fixture
def supplier(db: None) -> Supplier:
    return Supplier.objects.create(name="Fast Co", kind="card_stock")


def _sale(sites: list[Site], supplier: Supplier, key: str, paid_from: Account) -> Any:
    costs = [D("60.00"), D("70.00"), D("80.00")]
    return settle_sale(
        sale_key=key,
        site=sites[-1],
        currency="CNY",
        amount_paid=D("100.00"),
        quantity=1,
        chain=[ChainLink(s, c) for s, c in zip(sites, costs, strict=True)],
        supplier=supplier,
        supplier_unit_cost=D("50.00"),
        paid_from=paid_from,
        fee=D("0.60"),
    )


def test_settle_sale_takes_two_statements(chain_sites: list[Site], supplier: Supplier) -> None:
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    _sale(chain_sites, supplier, "warm", clearing)  # creates the accounts

    with CaptureQueriesContext(connection) as queries:
        settlement = _sale(chain_sites, supplier, "fast", clearing)

    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 2  # the accounts, then everything the sale writes
    stored = settlement.transaction
    assert sorted(stored.legs.values_list("amount", flat=True)) == sorted(
        [D("99.40"), D("0.60"), D("-20.00"), D("-10.00"), D("-10.00"), D("-10.00"), D("-50.00")]
    )
    assert sorted(settlement.shares.values_list("party", "amount")) == sorted(
        [
            ("seller", D("20.00")),
            ("ancestor", D("10.00")),
            ("ancestor", D("10.00")),
            ("hq", D("10.00")),
            ("supplier", D("50.00")),
        ]
    )
    assert ledger_verify() == []


def test_a_replayed_sale_returns_the_original_and_writes_nothing(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    first = _sale(chain_sites, supplier, "once", clearing)
    legs = Leg.objects.count()

    again = _sale(chain_sites, supplier, "once", clearing)

    assert (again.pk, again.transaction_id, again.amount_paid) == (
        first.pk,
        first.transaction_id,
        D("100.00"),
    )
    assert Leg.objects.count() == legs


def test_a_sale_key_taken_by_another_posting_is_refused(
    chain_sites: list[Site], supplier: Supplier
) -> None:
    clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency="CNY")
    fees = account_get(kind=AccountKind.FEES, currency="CNY")
    transaction_post(
        idempotency_key="sale:taken",
        kind="other",
        postings=[Posting(clearing, D("1.00")), Posting(fees, D("-1.00"))],
    )
    legs = Leg.objects.count()

    with pytest.raises(LedgerError, match="used for another posting"):
        _sale(chain_sites, supplier, "taken", clearing)

    assert Leg.objects.count() == legs


def test_accounts_are_read_and_created_in_bulk(chain_sites: list[Site], supplier: Supplier) -> None:
    specs = [
        AccountSpec(AccountKind.SITE_PENDING, "KRW", site=chain_sites[0]),
        AccountSpec(AccountKind.SITE_WALLETS, "KRW", site=chain_sites[0]),
        AccountSpec(AccountKind.SUPPLIER_PAYABLE, "KRW", supplier=supplier),
        AccountSpec(AccountKind.HQ_REVENUE, "KRW"),
    ]
    with CaptureQueriesContext(connection) as queries:
        created = accounts_get(specs)
    assert len([q for q in queries.captured_queries if "ledger_account" in q["sql"]]) == 3

    with CaptureQueriesContext(connection) as queries:
        again = accounts_get(specs)
    assert len(queries.captured_queries) == 1
    assert {k: a.pk for k, a in again.items()} == {k: a.pk for k, a in created.items()}
    hot = {spec.kind: created[spec.key].is_hot for spec in specs}
    assert hot == {
        AccountKind.SITE_PENDING: True,  # every sale of the site or of its child sites
        AccountKind.SITE_WALLETS: True,  # every wallet payment of the site touches it
        AccountKind.SUPPLIER_PAYABLE: True,  # every sale of the supplier's goods
        AccountKind.HQ_REVENUE: True,
    }
    with pytest.raises(LedgerError, match="needs a site"):
        accounts_get([AccountSpec(AccountKind.SITE_AVAILABLE, "KRW")])


def test_member_operations_write_their_members_bucket(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    site = make_site().site
    with tenant_context(site):
        members = [new_member(site, "bucket") for _ in range(3)]
        for n, member in enumerate(members):
            wallet_top_up(user=member, amount=D(10 + n), idempotency_key=f"b{n}", source="card")
        wallet_spend(user=members[0], amount=D(4), idempotency_key="s", memo="x")
        mirror = account_get(kind=AccountKind.SITE_WALLETS, currency="CNY", site=site)
        rows = dict(AccountBalance.objects.filter(account=mirror).values_list("bucket", "balance"))
        expected: dict[int, Decimal] = {}
        for member, amount in zip(members, (D(10) - D(4), D(11), D(12)), strict=True):
            bucket = bucket_for(member.pk)
            expected[bucket] = expected.get(bucket, D(0)) - amount  # credits are negative
        assert rows == expected
        assert site_mirror_check(site) == []
    assert ledger_verify() == []


def test_wallet_payments_of_one_site_at_once(django_db_blocker: Any) -> None:
    """Committed data, real threads: sixteen operations on one site's wallets at once — wallet
    -paid sales (settle_sale + wallet_spend in one transaction), spends and top-ups of eight
    members — all go through, and the mirror equals the members' wallets. JPY keeps these
    committed postings apart from other tests."""
    run = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        site = Site.objects.get(slug="alpha")
        supplier, _ = Supplier.objects.get_or_create(name="Race supplier", kind="card_stock")
        with tenant_context(site):
            members = [new_member(site, f"jp{n}") for n in range(8)]
            for n, member in enumerate(members):
                wallet_top_up(
                    user=member, amount=D(1000), idempotency_key=f"{run}:seed:{n}",
                    source="card", currency="JPY",
                )  # fmt: skip
        mirror = account_get(kind=AccountKind.SITE_WALLETS, currency="JPY", site=site)
        barrier = threading.Barrier(16)
        errors: list[BaseException] = []

        def operate(n: int) -> None:
            member = members[n % 8]
            try:
                with tenant_context(site):
                    barrier.wait()
                    if n < 8:
                        with transaction.atomic():
                            settle_sale(
                                sale_key=f"{run}:sale:{n}", site=site, currency="JPY",
                                amount_paid=D(300), quantity=1, chain=[ChainLink(site, D(200))],
                                supplier=supplier, supplier_unit_cost=D(100), paid_from=mirror,
                            )  # fmt: skip
                            wallet_spend(
                                user=member, amount=D(300), idempotency_key=f"{run}:order:{n}",
                                memo="order", currency="JPY", sale_key=f"{run}:sale:{n}",
                            )  # fmt: skip
                    elif n < 12:
                        wallet_spend(
                            user=member, amount=D(100), idempotency_key=f"{run}:spend:{n}",
                            memo="spend", currency="JPY",
                        )  # fmt: skip
                    else:
                        wallet_top_up(
                            user=member, amount=D(50), idempotency_key=f"{run}:top:{n}",
                            source="card", currency="JPY",
                        )  # fmt: skip
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=operate, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        with tenant_context(site):
            # Each member paid one sale (300); members 0-3 spent 100 more, 4-7 topped up 50.
            assert [wallet(m, "JPY") for m in members] == [D(600)] * 4 + [D(750)] * 4
            assert site_mirror_check(site) == []
        # The mirror's balance spread over buckets instead of queueing on one row.
        assert AccountBalance.objects.filter(account=mirror).count() > 1
        assert ledger_verify() == []


def test_an_account_is_kept_only_once_its_transaction_commits(
    db: None, django_capture_on_commit_callbacks, django_assert_num_queries
) -> None:
    from shared.ledger import services
    from shared.ledger.models import AccountKind as Kind

    key = (str(Kind.FEES), "JPY", None, None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account = services.account_get(kind=Kind.FEES, currency="JPY")
    assert key not in services._committed_accounts  # its transaction has not committed
    for callback in callbacks:
        callback()
    assert services._committed_accounts[key] == account
    with django_assert_num_queries(0):
        assert services.account_get(kind=Kind.FEES, currency="JPY") == account
