"""Wallet invariants under real concurrency and random operation sequences."""

from __future__ import annotations

import itertools
import threading
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.sites.models import Site
from tenants.wallets.ledger import InsufficientFunds, site_ledger_verify
from tenants.wallets.mirror import site_mirror_check, wallets_mirror_check
from tenants.wallets.models import MemberTransaction
from tenants.wallets.services import wallet_adjust, wallet_refund, wallet_spend, wallet_top_up
from tests.wallets.conftest import new_member, wallet

D = Decimal


def test_ten_concurrent_spends_with_funds_for_three(django_db_blocker: Any) -> None:
    """Committed data, real threads: exactly three spends win, the wallet ends at zero.
    HKD keeps this test's committed public postings apart from the CNY tests."""
    run = uuid.uuid4().hex[:10]
    with django_db_blocker.unblock():
        site = Site.objects.get(slug="alpha")
        with tenant_context(site):
            member = new_member(site, "race")
            wallet_top_up(
                user=member, amount=D("30.00"), idempotency_key=f"race:{run}:top",
                source="card", currency="HKD",
            )  # fmt: skip
        start = threading.Barrier(10)
        outcomes: list[str] = []

        def spend(n: int) -> None:
            try:
                with tenant_context(site):
                    start.wait()
                    wallet_spend(
                        user=member, amount=D("10.00"), idempotency_key=f"race:{run}:{n}",
                        memo=f"race {n}", currency="HKD",
                    )  # fmt: skip
                outcomes.append("spent")
            except InsufficientFunds:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=spend, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        with tenant_context(site):
            assert sorted(outcomes) == ["refused"] * 7 + ["spent"] * 3
            assert wallet(member, "HKD") == D("0.00")
            spends = MemberTransaction.objects.filter(idempotency_key__startswith=f"race:{run}:")
            assert spends.count() == 4  # the top-up and three spends
            assert site_mirror_check(site) == []
            assert site_ledger_verify() == []


OPS = st.lists(
    st.tuples(
        st.sampled_from(["top_up", "spend", "refund", "adjust"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=-5_000, max_value=5_000).filter(bool).map(lambda c: D(c) / 100),
    ),
    min_size=1,
    max_size=12,
)
_keys = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_random_operations_keep_wallets_equal_to_the_mirror(
    alpha: Site, ops: list[tuple[str, int, Decimal]]
) -> None:
    with transaction.atomic():
        members: list[AbstractUser] = [new_member(alpha, f"p{i}") for i in range(3)]
        expected = [D(0)] * 3
        for op, who, amount in ops:
            key = f"prop:{next(_keys)}"
            user, size = members[who], abs(amount)
            try:
                if op == "top_up":
                    wallet_top_up(user=user, amount=size, idempotency_key=key, source="card")
                    expected[who] += size
                elif op == "spend":
                    wallet_spend(user=user, amount=size, idempotency_key=key, memo="p")
                    expected[who] -= size
                elif op == "refund":
                    wallet_refund(user=user, amount=size, idempotency_key=key)
                    expected[who] += size
                else:
                    wallet_adjust(
                        user=user, amount=amount, reason="p", actor_email="s@alpha.test",
                        idempotency_key=key,
                    )  # fmt: skip
                    expected[who] += amount
            except InsufficientFunds:
                assert expected[who] - size < 0
        assert [wallet(m) for m in members] == expected
        assert all(balance >= 0 for balance in expected)
        assert wallets_mirror_check() == []
        transaction.set_rollback(True)
