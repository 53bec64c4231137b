"""After-sales journeys through HTTP: a guest and a member open tickets about their orders,
staff re-issue a key (the buyer sees the new key; the ledger moves the cost between suppliers),
refund part of an order (every share and the referral commission clawed back), and reject a
ticket with a reason; the timeline shows each step to both sides and the buyer is emailed."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core import mail
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Settlement, SettlementShare, Transaction
from shared.ledger.services import account_balance, account_get, ledger_verify
from shared.sites.models import Site
from shared.suppliers.services import supplier_create, supplier_offer_set
from shared.vault.models import CardKey, CardKeySale
from shared.vault.services import card_keys_import
from tenants.aftersales.emails import ticket_email_send
from tenants.aftersales.models import KeyReissue, Ticket, TicketEvent
from tenants.wallets.commissions import commission_settings_update, referral_set
from tenants.wallets.ledger import member_balance
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.models import MemberAccountKind
from tests.aftersales.conftest import (
    Shop,
    build_shop,
    client_on,
    guest_buys,
    keys_on,
    member_buys,
    new_member,
    order_of,
    png,
    staff_client,
    ticket_id_of,
)

D = Decimal


def _steps(site: Site, ticket_id: int) -> list[tuple[str, str, str]]:
    with tenant_context(site):
        return list(
            TicketEvent.objects.filter(ticket_id=ticket_id)
            .order_by("id")
            .values_list("kind", "actor_role", "to_status")
        )


def _email_last_staff_step(site: Site, ticket_id: int) -> None:
    with tenant_context(site):
        event = TicketEvent.objects.filter(ticket_id=ticket_id, actor_role="staff").latest("id")
        assert ticket_email_send(event_id=event.pk) is True


def test_guest_opens_a_ticket_and_staff_reject_it_with_a_reason(
    alpha: Site, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    guest = guest_buys(alpha, shop.card.pk, email="Guest@Buyer.test")
    order_page = guest.client.get(f"/order/{guest.number}/").content.decode()
    assert 'data-testid="open-ticket"' in order_page

    response = guest.client.post(
        f"/support/new/{guest.number}/",
        {"kind": "not_received", "message": "The page shows nothing.", "attachments": [png()]},
    )
    ticket_id = ticket_id_of(response)
    with tenant_context(alpha):
        ticket = Ticket.objects.get(pk=ticket_id)
        assert (ticket.kind, ticket.status, ticket.buyer_id, ticket.email) == (
            "not_received",
            "open",
            None,
            "Guest@Buyer.test",
        )
    page = guest.client.get(f"/support/{ticket_id}/").content.decode()
    assert "The page shows nothing." in page and 'data-testid="attachment"' in page
    link = re.search(r'href="(/support/\d+/files/\d+/)"', page)
    assert link is not None
    download = guest.client.get(link.group(1))
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")

    staff = staff_client(alpha)
    listing = staff.get("/console/tickets/?status=open").content.decode()
    assert f'data-ticket="{ticket_id}"' in listing
    detail = staff.get(f"/console/tickets/{ticket_id}/").content.decode()
    assert "The page shows nothing." in detail and "Guest@Buyer.test" in detail
    assert staff.get(link.group(1).replace("/support/", "/console/tickets/")).status_code == 200

    with django_capture_on_commit_callbacks() as callbacks:
        reply = staff.post(f"/console/tickets/{ticket_id}/reply/", {"body": "Please check spam."})
    assert reply.status_code == 302 and len(callbacks) == 1  # the buyer's email, after commit
    assert (
        guest.client.post(
            f"/support/{ticket_id}/reply/", {"body": "Nothing there either."}
        ).status_code
        == 302
    )
    rejected = staff.post(
        f"/console/tickets/{ticket_id}/reject/", {"reason": "The key was shown on your order page."}
    )
    assert rejected.status_code == 302

    assert _steps(alpha, ticket_id) == [
        ("opened", "buyer", ""),
        ("message", "staff", "waiting"),
        ("message", "buyer", "open"),
        ("rejected", "staff", "resolved"),
    ]
    page = guest.client.get(f"/support/{ticket_id}/").content.decode()
    assert 'data-status="resolved" data-resolution="rejected"' in page
    assert "The key was shown on your order page." in page and "The shop" in page
    assert "owner@alpha.test" not in page  # staff are shown as the shop
    _email_last_staff_step(alpha, ticket_id)
    message = mail.outbox[-1]
    assert message.to == ["Guest@Buyer.test"] and guest.number in message.subject
    assert "The key was shown on your order page." in message.body
    assert f"/support/{ticket_id}/" in message.body and "/order/lookup/" in message.body


def test_member_reports_an_invalid_key_and_staff_reissue_one(alpha: Site, db: None) -> None:
    shop = build_shop("asr", card_keys=2)
    other = supplier_create(name="Other keys asr", kind="card_stock")
    supplier_offer_set(supplier=other, sku=shop.card, cost="8.50")
    buyer = new_member(alpha, funds="100.00")
    number = member_buys(alpha, buyer, shop.card.pk, quantity=2)
    # The only key left in stock comes from another supplier, at another cost.
    card_keys_import(
        sku=shop.card,
        content="ASR-CARD-NEW",
        source="paste",
        actor_email="hq@kameng.test",
        supplier=other,
    )
    order = order_of(alpha, number)
    client = client_on(alpha, buyer)
    delivered = keys_on(client.get(f"/order/{number}/").content.decode())
    assert sorted(delivered) == ["ASR-CARD-0000", "ASR-CARD-0001"]
    bad_key = CardKey.objects.get(
        order_ref=order.order_ref,
        id=min(
            CardKeySale.objects.filter(order_ref=order.order_ref).values_list(
                "card_key_id", flat=True
            )
        ),
    )

    form = client.get(f"/support/new/{number}/").content.decode()
    assert "ASR-CARD-0000" in form and "ASR-CARD-0001" in form  # the buyer picks the key
    ticket_id = ticket_id_of(
        client.post(
            f"/support/new/{number}/",
            {"kind": "invalid_key", "key": bad_key.pk, "message": "Says already used."},
        )
    )
    assert f'data-ticket="{ticket_id}"' in client.get("/support/").content.decode()

    old_payable = account_get(
        kind=AccountKind.SUPPLIER_PAYABLE, currency="CNY", supplier=shop.keys_supplier
    )
    new_payable = account_get(kind=AccountKind.SUPPLIER_PAYABLE, currency="CNY", supplier=other)
    hq = account_get(kind=AccountKind.HQ_REVENUE, currency="CNY")
    before = (account_balance(old_payable), account_balance(new_payable), account_balance(hq))

    staff = staff_client(alpha)
    detail = staff.get(f"/console/tickets/{ticket_id}/").content.decode()
    assert f"Key #{bad_key.pk} (reported)" in detail
    response = staff.post(f"/console/tickets/{ticket_id}/reissue/", {"key": bad_key.pk, "note": ""})
    assert response.status_code == 302, response.content.decode()[:3000]

    ref = f"{order.order_ref}:reissue:1"
    replacement = CardKey.objects.get(order_ref=ref)
    assert replacement.status == "sold" and replacement.supplier_id == other.pk
    with tenant_context(alpha):
        reissue = KeyReissue.objects.get(order_ref=ref)
        assert (reissue.invalid_key_id, reissue.replacement_key_id) == (bad_key.pk, replacement.pk)
        assert (reissue.invalid_cost, reissue.replacement_cost) == (D("8.00"), D("8.50"))
        assert Ticket.objects.get(pk=ticket_id).resolution == "reissued"
    txn = Transaction.objects.get(idempotency_key=f"aftersales:{ref}")
    assert txn.id == reissue.ledger_transaction_id and txn.kind == "key_reissue"
    assert sorted(txn.legs.values_list("account_id", "amount")) == sorted(
        [(old_payable.pk, D("8.00")), (new_payable.pk, D("-8.50")), (hq.pk, D("0.50"))]
    )
    after = (account_balance(old_payable), account_balance(new_payable), account_balance(hq))
    assert after == (before[0] - D("8.00"), before[1] + D("8.50"), before[2] - D("0.50"))
    assert ledger_verify() == []

    ticket_page = client.get(f"/support/{ticket_id}/").content.decode()
    assert "ASR-CARD-NEW" in ticket_page and 'data-replaced="1"' in ticket_page
    order_page = client.get(f"/order/{number}/").content.decode()
    assert 'data-testid="replacement-keys"' in order_page and "ASR-CARD-NEW" in order_page
    assert _steps(alpha, ticket_id)[-1] == ("reissued", "staff", "resolved")
    _email_last_staff_step(alpha, ticket_id)
    assert "ASR-CARD-NEW" not in mail.outbox[-1].body  # keys are shown on the page, not mailed
    with tenant_context(alpha):
        history = list(order.events.values_list("reason", flat=True))
    assert any("Key re-issued" in reason for reason in history)


def test_reissue_from_the_same_supplier_at_the_same_cost_posts_nothing(
    alpha: Site, shop: Shop
) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    client = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        client.post(f"/support/new/{number}/", {"kind": "invalid_key", "message": "Bad key."})
    )
    transactions = Transaction.objects.count()
    response = staff_client(alpha).post(f"/console/tickets/{ticket_id}/reissue/", {"key": ""})
    assert response.status_code == 400  # a key must be chosen
    with tenant_context(alpha):
        reported = Ticket.objects.get(pk=ticket_id).reported_key_id
    response = staff_client(alpha).post(f"/console/tickets/{ticket_id}/reissue/", {"key": reported})
    assert response.status_code == 302
    with tenant_context(alpha):
        reissue = KeyReissue.objects.get(ticket_id=ticket_id)
    assert reissue.ledger_transaction_id is None and Transaction.objects.count() == transactions
    assert len(keys_on(client.get(f"/support/{ticket_id}/").content.decode())) == 2
    assert ledger_verify() == []


def test_reusable_key_reissue_gives_the_new_shared_key(alpha: Site, shop: Shop) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.reuse.pk)
    client = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        client.post(f"/support/new/{number}/", {"kind": "invalid_key", "message": "Expired."})
    )
    staff = staff_client(alpha)
    with tenant_context(alpha):
        reported = Ticket.objects.get(pk=ticket_id).reported_key_id
    refused = staff.post(f"/console/tickets/{ticket_id}/reissue/", {"key": reported})
    assert refused.status_code == 400 and "no new key to give" in refused.content.decode()
    card_keys_import(
        sku=shop.reuse,
        content="AS-SHARED-KEY-2",
        source="paste",
        actor_email="hq@kameng.test",
        supplier=shop.keys_supplier,
    )
    assert (
        staff.post(f"/console/tickets/{ticket_id}/reissue/", {"key": reported}).status_code == 302
    )
    assert "AS-SHARED-KEY-2" in client.get(f"/support/{ticket_id}/").content.decode()


def test_staff_partial_refund_claws_back_shares_and_commission(alpha: Site, shop: Shop) -> None:
    referrer = new_member(alpha, name="referrer")
    buyer = new_member(alpha, funds="100.00")
    with tenant_context(alpha):
        commission_settings_update(levels=1, percents=[D("10")], actor_email="owner@alpha.test")
        referral_set(user=buyer, referrer=referrer)
    number = member_buys(alpha, buyer, shop.card.pk, quantity=2)  # two at 10.00
    order = order_of(alpha, number)
    client = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        client.post(
            f"/support/new/{number}/",
            {"kind": "refund_request", "message": "Only needed one.", "attachments": [png()]},
        )
    )
    with tenant_context(alpha):
        assert member_balance(user=buyer, kind=MemberAccountKind.WALLET, currency="CNY") == D(
            "80.00"
        )
        assert member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        ) == D("0.20")
    seller = account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=alpha)
    seller_before = account_balance(seller)

    staff = staff_client(alpha)
    response = staff.post(
        f"/console/tickets/{ticket_id}/refund/", {"amount": "10.00", "reason": "One key unused."}
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    order = order_of(alpha, number)
    assert (order.status, order.amount_refunded) == ("partially_refunded", D("10.00"))
    settlement = Settlement.objects.get(sale_key=order.order_ref)
    assert settlement.refunded == D("10.00")
    clawed = SettlementShare.objects.filter(settlement=settlement).values_list(
        "party", "clawed_back"
    )
    assert sum(amount for _party, amount in clawed) == D("10.00")
    assert all(amount > 0 for party, amount in clawed if party != "fee")
    with tenant_context(alpha):
        assert member_balance(user=buyer, kind=MemberAccountKind.WALLET, currency="CNY") == D(
            "90.00"
        )
        assert member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        ) == D("0.10")
        assert site_mirror_check(alpha) == []
        ticket = Ticket.objects.get(pk=ticket_id)
        assert (ticket.status, ticket.resolution) == ("resolved", "refunded")
        assert order.refunds.get().key == f"ticket-{ticket_id}"
    # The seller's share: 2.00 margin less 0.20 commission, half of it clawed back.
    assert account_balance(seller) == seller_before - D("0.90")
    assert ledger_verify() == []

    page = client.get(f"/support/{ticket_id}/").content.decode()
    assert 'data-resolution="refunded"' in page and 'data-testid="step-amount"' in page
    assert _steps(alpha, ticket_id)[-1] == ("refunded", "staff", "resolved")
    _email_last_staff_step(alpha, ticket_id)
    assert mail.outbox[-1].to == [buyer.email] and "10.00" in mail.outbox[-1].body


def test_pages_speak_the_site_language(alpha: Site, shop: Shop) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    client = client_on(alpha, buyer)
    client.cookies["django_language"] = "zh-hans"
    assert "申请售后" in client.get(f"/order/{number}/").content.decode()
    ticket_id = ticket_id_of(
        client.post(f"/support/new/{number}/", {"kind": "other", "message": "你好"})
    )
    page = client.get(f"/support/{ticket_id}/").content.decode()
    assert "处理进度" in page and "处理中：等待商家回复" in page
    staff = staff_client(alpha)
    staff.cookies["django_language"] = "zh-hans"
    assert "售后工单" in staff.get("/console/tickets/").content.decode()
