"""Many buyers racing for the last keys of one SKU across several sites, for real: threads with
their own PostgreSQL connections on committed data (a fresh catalogue and three fresh sites, a
main site's child among them), paying from the wallet or by card. No key is sold twice, no more
orders succeed than there were keys, every paid order is delivered, the ledger stays balanced
and no wallet goes negative."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from shared.ledger.models import Settlement
from shared.ledger.services import ledger_verify
from shared.sites.models import Site
from shared.sites.services import site_create
from shared.vault.models import CardKey, CardKeySale
from shared.vault.selectors import stock_levels
from tenants.members.services import member_create
from tenants.orders.models import Order
from tenants.orders.services import (
    OrderError,
    order_create,
    order_pay_with_wallet,
    order_payment_confirmed,
)
from tenants.wallets.ledger import member_balance
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.models import MemberAccountKind
from tenants.wallets.services import wallet_top_up
from tests.conftest import MEMBER_PASSWORD, OWNER_PASSWORD
from tests.orders.conftest import build_shop

D = Decimal
T = TypeVar("T")
KEYS = 4
BUYERS_PER_SITE = 6


def _committed(work: Callable[[], T]) -> T:
    """Run `work` in a thread on its own connection (autocommit): its writes are committed."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _setup() -> tuple[Any, list[Site], dict[int, list[Any]]]:
    tag = uuid.uuid4().hex[:6]
    shop = build_shop(f"race{tag}", card_keys=KEYS)
    main_a = site_create(
        slug=f"race-a-{tag}", name="Race A", owner_email=f"a@{tag}.test",
        owner_password=OWNER_PASSWORD, use_pool=False,
    ).site  # fmt: skip
    main_b = site_create(
        slug=f"race-b-{tag}", name="Race B", owner_email=f"b@{tag}.test",
        owner_password=OWNER_PASSWORD, use_pool=False,
    ).site  # fmt: skip
    kid = site_create(
        slug=f"race-k-{tag}", name="Race Kid", parent=main_a, owner_email=f"k@{tag}.test",
        owner_password=OWNER_PASSWORD, use_pool=False,
    ).site  # fmt: skip
    members: dict[int, list[Any]] = {}
    for site in (main_a, main_b, kid):
        with tenant_context(site):
            members[site.pk] = []
            for n in range(BUYERS_PER_SITE // 2):
                user = member_create(email=f"m{n}@{site.slug}.test", password=MEMBER_PASSWORD)
                wallet_top_up(
                    user=user, amount=D("20.00"), idempotency_key=f"fund-{n}", source="test"
                )
                members[site.pk].append(user)
    return shop, [main_a, main_b, kid], members


@pytest.mark.commits
def test_last_keys_across_sites_never_oversold(db: None) -> None:
    shop, sites, members = _committed(_setup)
    jobs: list[tuple[Site, Any]] = []
    for site in sites:
        jobs += [(site, user) for user in members[site.pk]]  # wallet buyers
        jobs += [(site, None)] * (BUYERS_PER_SITE // 2)  # guests paying by card
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, int, int | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def buy(index: int, site: Site, user: Any) -> None:
        try:
            barrier.wait(timeout=60)
            with tenant_context(site):
                try:
                    if user is not None:
                        order = order_create(
                            site=site,
                            sku=shop.card,
                            quantity=1,
                            payment_method="wallet",
                            buyer=user,
                        )
                        order_pay_with_wallet(order=order, user=user)
                    else:
                        order = order_create(
                            site=site, sku=shop.card, quantity=1, payment_method="card",
                            email=f"g{index}@race.test", query_password="secret-123",
                        )  # fmt: skip
                        order_payment_confirmed(
                            site=site, reference=f"{site.schema_name}:{order.pk}",
                            amount=order.total, currency="CNY",
                            payment_ref=f"pi_race_{uuid.uuid4().hex}", fee=D("0.30"),
                        )  # fmt: skip
                except OrderError as exc:
                    with lock:
                        outcomes.append(("refused", site.pk, None))
                    assert "Sold out" in str(exc) or "left in stock" in str(exc), exc
                    return
            with lock:
                outcomes.append(("bought", site.pk, order.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=buy, args=(i, site, user)) for i, (site, user) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    bought = [o for o in outcomes if o[0] == "bought"]
    assert len(bought) == KEYS and len(outcomes) == len(jobs)
    sales = list(
        CardKeySale.objects.filter(card_key__sku=shop.card).values_list("card_key_id", "order_ref")
    )
    assert len(sales) == KEYS and len({key for key, _ in sales}) == KEYS  # no key twice
    assert CardKey.objects.filter(sku=shop.card, status="sold").count() == KEYS
    assert stock_levels([shop.card.pk])[shop.card.pk] == 0
    refs = {ref for _, ref in sales}
    for _outcome, site_id, order_id in bought:
        site = next(s for s in sites if s.pk == site_id)
        assert f"{site.schema_name}:{order_id}" in refs
        with tenant_context(site):
            order = Order.objects.get(pk=order_id)
            assert (order.status, order.payment_status) == ("delivered", "paid")
        assert Settlement.objects.filter(sale_key=f"{site.schema_name}:{order_id}").count() == 1
    for site in sites:
        with tenant_context(site):
            assert site_mirror_check(site) == []
            for user in members[site.pk]:
                balance = member_balance(user=user, kind=MemberAccountKind.WALLET, currency="CNY")
                assert balance in (D("20.00"), D("11.00"), D("10.00"))  # untouched or one key
            # Refused orders wrote nothing: only the bought ones exist.
            assert Order.objects.count() == sum(1 for o in bought if o[1] == site.pk)
    assert ledger_verify() == []
