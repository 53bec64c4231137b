"""Staff racing to resolve one ticket, for real: threads with their own PostgreSQL connections
on committed data (a fresh catalogue and a fresh site) try to re-issue a key and to refund the
order at the same moment. The ticket's row lock lets exactly one resolution through; the others
are refused and write nothing; the ledger and the wallets stay balanced."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from shared.ledger.services import ledger_verify
from shared.sites.models import Site
from shared.sites.services import site_create
from shared.vault.models import CardKeySale
from tenants.aftersales.models import ActorRole, KeyReissue, Ticket, TicketEvent
from tenants.aftersales.services import (
    Actor,
    TicketError,
    ticket_open,
    ticket_refund,
    ticket_reissue,
)
from tenants.members.services import member_create
from tenants.orders.models import Order, OrderRefund
from tenants.orders.services import order_create, order_pay_with_wallet
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.services import wallet_top_up
from tests.conftest import MEMBER_PASSWORD, OWNER_PASSWORD
from tests.orders.conftest import build_shop

D = Decimal
T = TypeVar("T")
STAFF = Actor("owner@race.test", ActorRole.STAFF)
RACERS = 6


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


def _setup() -> tuple[Site, int, int]:
    tag = uuid.uuid4().hex[:6]
    shop = build_shop(f"asrace{tag}", card_keys=6)
    site = site_create(
        slug=f"as-race-{tag}", name="Race", owner_email=f"o@{tag}.test",
        owner_password=OWNER_PASSWORD, use_pool=False,
    ).site  # fmt: skip
    with tenant_context(site):
        buyer = member_create(email=f"m@{tag}.test", password=MEMBER_PASSWORD)
        wallet_top_up(user=buyer, amount=D("50.00"), idempotency_key="fund", source="test")
        order = order_create(
            site=site, sku=shop.card, quantity=2, payment_method="wallet", buyer=buyer
        )
        order_pay_with_wallet(order=order, user=buyer)
        key_id = CardKeySale.objects.filter(order_ref=order.order_ref).values_list(
            "card_key_id", flat=True
        )[0]
        ticket = ticket_open(
            order=order,
            kind="invalid_key",
            message="One key is used.",
            actor=Actor(buyer.email, ActorRole.BUYER),
            reported_key_id=key_id,
        )
    return site, ticket.pk, key_id


@pytest.mark.commits
def test_one_resolution_wins_the_race(db: None) -> None:
    site, ticket_id, key_id = _committed(_setup)
    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def resolve(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            with tenant_context(site):
                ticket = Ticket.objects.get(pk=ticket_id)
                try:
                    if index % 2:
                        ticket_reissue(ticket=ticket, key_id=key_id, actor=STAFF)
                        outcome = "reissued"
                    else:
                        ticket_refund(ticket=ticket, amount=None, reason="Race.", actor=STAFF)
                        outcome = "refunded"
                except TicketError as exc:
                    assert "already resolved" in str(exc), exc
                    outcome = "refused"
            with lock:
                outcomes.append(outcome)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=resolve, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads) and errors == []

    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1 and len(outcomes) == RACERS
    with tenant_context(site):
        ticket = Ticket.objects.get(pk=ticket_id)
        order_ref = Order.objects.get(pk=ticket.order_id).order_ref  # names the site's schema
        assert (ticket.status, ticket.resolution) == ("resolved", winners[0])
        assert TicketEvent.objects.filter(ticket=ticket, to_status="resolved").count() == 1
        assert KeyReissue.objects.count() == (1 if winners[0] == "reissued" else 0)
        assert OrderRefund.objects.count() == (1 if winners[0] == "refunded" else 0)
        assert site_mirror_check(site) == []
    replacements = CardKeySale.objects.filter(order_ref__startswith=f"{order_ref}:reissue:")
    assert replacements.count() == (1 if winners[0] == "reissued" else 0)
    assert ledger_verify() == []
