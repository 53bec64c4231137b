"""The buyer's journeys end to end through HTTP: guest card-key purchase paid by card (the
signed webhook), member wallet purchase with commission, reusable keys, manual delivery, cancel,
expiry and late payment, with the ledger and the wallets checked after each."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.ledger.models import AccountKind, Settlement
from shared.ledger.services import account_balance, account_get, ledger_verify
from shared.payments.models import Refund
from shared.vault.models import CardKey, CardKeySale
from shared.vault.selectors import stock_levels
from tenants.orders.emails import order_delivery_email_send
from tenants.orders.models import Order
from tenants.orders.services import orders_expire
from tenants.orders.tasks import order_refund_auto
from tenants.wallets.commissions import commission_settings_update, referral_set
from tenants.wallets.ledger import member_balance
from tenants.wallets.mirror import site_mirror_check
from tenants.wallets.models import MemberAccountKind
from tenants.wallets.services import wallet_top_up
from tests.conftest import Network
from tests.orders.conftest import (
    Shop,
    checkout_session_for,
    client_on,
    new_member,
    pay_by_card,
    wallet_of,
)

D = Decimal
pytestmark = pytest.mark.usefixtures("alpha_markup")
GUEST = {"email": "guest@buyer.test", "phone": "13800138000", "query_password": "secret-123"}


def _order(site, number: str) -> Order:  # type: ignore[no-untyped-def]
    with tenant_context(site):
        return Order.objects.select_related("sku").get(number=number)


def _number(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content[:2000]
    match = re.fullmatch(r"/order/(K\d{16})/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def _keys_on_page(html: str) -> list[str]:
    return re.findall(r'<code data-testid="key">([^<]+)</code>', html)


def test_guest_buys_card_keys_paid_by_card(
    network: Network, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    page = client.get(f"/p/{shop.card.product.slug}/")
    assert page.status_code == 200
    assert f'data-testid="buy-form" data-sku="{shop.card.code}"' in page.content.decode()
    before = stock_levels([shop.card.pk])[shop.card.pk]

    number = _number(
        client.post(
            "/order/new/",
            {
                "sku": shop.card.pk,
                "quantity": 2,
                "payment_method": "card",
                "total": "0.01",
                **GUEST,
            },
        )
    )
    order = _order(alpha, number)
    assert (order.status, order.payment_status, order.fulfilment_status) == (
        "pending_payment",
        "unpaid",
        "pending",
    )
    assert (order.unit_price, order.total, order.unit_cost) == (D("10.00"), D("20.00"), D("9.00"))
    assert order.buyer_id is None and order.query_password.startswith(("md5$", "pbkdf2"))
    reserved = CardKey.objects.filter(order_ref=f"{alpha.schema_name}:{order.pk}")
    assert reserved.filter(status="reserved").count() == 2
    assert stock_levels([shop.card.pk])[shop.card.pk] == before - 2

    page = client.get(f"/order/{number}/").content.decode()
    assert (
        'data-testid="pay"' in page and "Waiting for payment" in page and 'data-copy="' not in page
    )

    pay = client.post(f"/order/{number}/pay/")
    assert pay.status_code == 302 and "/payments/sandbox/cs_sandbox_" in pay["Location"]
    session = checkout_session_for(f"{alpha.schema_name}:{order.pk}")
    assert (session.amount, session.currency, session.site_id) == (D("20.00"), "CNY", alpha.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert pay_by_card(session.reference).status_code == 200
    order = _order(alpha, number)
    assert (order.status, order.payment_status, order.fulfilment_status) == (
        "delivered",
        "paid",
        "delivered",
    )
    assert order.payment_ref.startswith("pi_sandbox_") and order.amount_paid == D("20.00")
    assert CardKeySale.objects.filter(order_ref=session.reference).count() == 2
    settlement = Settlement.objects.get(sale_key=session.reference)
    assert settlement.amount_paid == D("20.00") and settlement.site_id == alpha.pk

    page = client.get(f"/order/{number}/").content.decode()
    keys = _keys_on_page(page)
    assert len(set(keys)) == 2 and all(re.fullmatch(r"ORD-CARD-000\d", k) for k in keys)
    assert page.count("data-copy=") == 2
    with tenant_context(alpha):
        history = list(order.events.values_list("from_status", "to_status"))
    assert history == [("", "pending_payment"), ("pending_payment", "paid"), ("paid", "delivered")]

    # The webhook again (a replay) changes nothing.
    assert pay_by_card(session.reference).status_code == 200
    assert CardKeySale.objects.filter(order_ref=session.reference).count() == 2
    assert Settlement.objects.filter(sale_key=session.reference).count() == 1

    with tenant_context(alpha):
        assert order_delivery_email_send(order_id=order.pk) is True
    message = mail.outbox[-1]
    assert message.to == ["guest@buyer.test"] and number in message.subject
    assert "ORD-CARD-0000" in message.body and f"/order/{number}/" in message.body
    assert ledger_verify() == []


def test_member_pays_from_wallet_with_commission(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    referrer = new_member(alpha, name="referrer")
    buyer = new_member(alpha, funds="100.00")
    with tenant_context(alpha):
        commission_settings_update(levels=1, percents=[D("10")], actor_email="owner@alpha.test")
        referral_set(user=buyer, referrer=referrer)
    client = client_on(alpha, buyer)

    # Buying with the balance is one step: placed, paid and delivered by one POST.
    response = client.post(
        "/order/new/", {"sku": shop.card.pk, "quantity": 2, "payment_method": "wallet"}
    )
    number = _number(response)
    assert response["Location"] == f"/order/{number}/" and "messages" not in response.cookies

    order = _order(alpha, number)
    assert (order.status, order.payment_method, order.amount_paid) == (
        "delivered",
        "wallet",
        D("20.00"),
    )
    assert wallet_of(alpha, buyer) == D("80.00")
    with tenant_context(alpha):
        # 10 % of the site's margin: 2 * (10.00 - 9.00).
        assert member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        ) == D("0.20")
        assert site_mirror_check(alpha) == []
    assert len(_keys_on_page(client.get(f"/order/{number}/").content.decode())) == 2
    listing = client.get("/account/orders/").content.decode()
    assert f'data-number="{number}"' in listing
    # Paying again does nothing more.
    again = client.post(f"/order/{number}/pay/", follow=True).content.decode()
    assert "not waiting for payment" in again
    assert wallet_of(alpha, buyer) == D("80.00")
    assert [(e.from_status, e.to_status) for e in order.events.order_by("id")] == [
        ("", "pending_payment"),
        ("pending_payment", "paid"),
        ("paid", "delivered"),
    ]
    assert ledger_verify() == []


def test_wallet_short_leaves_the_order_held_and_payable(
    network: Network, shop: Shop, snapshot
) -> None:
    alpha = network.alpha
    buyer = new_member(alpha, funds="5.00")
    client = client_on(alpha, buyer)
    response = client.post(
        "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "wallet"}
    )
    number = _number(response)
    page = client.get(f"/order/{number}/").content.decode()
    assert "Your balance is too low" in page
    assert 'data-testid="pay"' in page and 'data-testid="top-up"' in page
    assert _order(alpha, number).status == "pending_payment"  # its key held while topping up
    assert wallet_of(alpha, buyer) == D("5.00")
    # Paying again while still short is refused and writes nothing.
    before = snapshot()
    again = client.post(f"/order/{number}/pay/", follow=True).content.decode()
    assert "Your balance is too low" in again
    assert snapshot() == before
    # Topped up, the same order is paid from its page.
    with tenant_context(alpha):
        wallet_top_up(user=buyer, amount=D("20.00"), idempotency_key="t-more", source="test")
    assert client.post(f"/order/{number}/pay/").status_code == 302
    assert _order(alpha, number).status == "delivered"
    assert wallet_of(alpha, buyer) == D("15.00")
    assert ledger_verify() == []


def test_reusable_key_goes_to_every_buyer(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    keys = []
    for _ in range(2):
        buyer = new_member(alpha, funds="50.00")
        client = client_on(alpha, buyer)
        number = _number(
            client.post(
                "/order/new/", {"sku": shop.reuse.pk, "quantity": 2, "payment_method": "wallet"}
            )
        )
        order = _order(alpha, number)
        assert (order.status, order.total) == ("delivered", D("6.00"))
        assert wallet_of(alpha, buyer) == D("44.00")
        keys.append(_keys_on_page(client.get(f"/order/{number}/").content.decode()))
    assert keys == [["ORD-SHARED-KEY"], ["ORD-SHARED-KEY"]]
    assert CardKey.objects.get(sku=shop.reuse).status == "available"
    assert ledger_verify() == []


def test_manual_order_is_delivered_by_staff(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    buyer = new_member(alpha, funds="50.00")
    client = client_on(alpha, buyer)
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.manual.pk, "quantity": 1, "payment_method": "wallet"}
        )
    )
    order = _order(alpha, number)
    assert (order.status, order.payment_status, order.fulfilment_status) == (
        "paid",
        "paid",
        "pending",
    )
    assert Settlement.objects.filter(sale_key=f"{alpha.schema_name}:{order.pk}").exists()
    assert wallet_of(alpha, buyer) == D("29.00")

    with tenant_context(alpha):
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(email="owner@alpha.test")
    staff = client_on(alpha, owner)
    listing = staff.get("/console/orders/?status=paid").content.decode()
    assert f'data-number="{number}"' in listing
    assert staff.post(f"/console/orders/{order.pk}/deliver/", {"note": ""}).status_code == 400
    assert _order(alpha, number).status == "paid"
    response = staff.post(f"/console/orders/{order.pk}/deliver/", {"note": "Code: VIP-7788"})
    assert response.status_code == 302
    order = _order(alpha, number)
    assert (order.status, order.fulfilment_status, order.delivery_note) == (
        "delivered",
        "delivered",
        "Code: VIP-7788",
    )
    page = client.get(f"/order/{number}/").content.decode()
    assert "Code: VIP-7788" in page
    detail = staff.get(f"/console/orders/{order.pk}/").content.decode()
    assert "Delivered by hand." in detail


def test_buyer_cancels_and_keys_return_at_once(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    before = stock_levels([shop.card.pk])[shop.card.pk]
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 3, "payment_method": "card", **GUEST}
        )
    )
    assert stock_levels([shop.card.pk])[shop.card.pk] == before - 3
    assert client.post(f"/order/{number}/cancel/").status_code == 302
    order = _order(alpha, number)
    assert (order.status, order.fulfilment_status) == ("cancelled", "cancelled")
    assert stock_levels([shop.card.pk])[shop.card.pk] == before
    assert not CardKey.objects.filter(sku=shop.card, status="reserved").exists()
    # Cancelled is final for an unpaid order: paying it now is refused.
    assert client.post(f"/order/{number}/pay/").status_code == 302
    assert (
        not Settlement.objects.exists()
        or not Settlement.objects.filter(sale_key__endswith=f":{order.pk}", site=alpha).exists()
    )


def test_expiry_releases_keys_and_a_late_payment_is_delivered_or_refunded(
    network: Network, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    numbers = [
        _number(
            client.post(
                "/order/new/",
                {"sku": shop.card.pk, "quantity": qty, "payment_method": "card", **GUEST},
            )
        )
        for qty in (2, 3)
    ]
    for number in numbers:
        assert client.post(f"/order/{number}/pay/").status_code == 302
    assert stock_levels([shop.card.pk])[shop.card.pk] == 0
    with tenant_context(alpha):
        Order.objects.filter(number__in=numbers).update(
            reserved_until=timezone.now() - timezone.timedelta(seconds=1)
        )
        assert orders_expire() == 2
        assert orders_expire() == 0
    assert stock_levels([shop.card.pk])[shop.card.pk] == 5
    first, second = (_order(alpha, n) for n in numbers)
    assert (first.status, second.status) == ("expired", "expired")

    # Someone else takes 3 keys; the late payment of the 2-key order still finds 2.
    other = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 3, "payment_method": "card", **GUEST}
        )
    )
    late = checkout_session_for(f"{alpha.schema_name}:{first.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        assert pay_by_card(late.reference).status_code == 200
    first = _order(alpha, numbers[0])
    assert (first.status, first.fulfilment_status) == ("delivered", "delivered")
    assert len(_keys_on_page(client.get(f"/order/{numbers[0]}/").content.decode())) == 2

    # The 3-key order paid late finds the SKU sold out: it fails and is refunded whole.
    sold_out = checkout_session_for(f"{alpha.schema_name}:{second.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        assert pay_by_card(sold_out.reference).status_code == 200
    second = _order(alpha, numbers[1])
    assert (second.status, second.payment_status) == ("failed", "paid")
    with tenant_context(alpha):
        order_refund_auto.run(order_id=second.pk, key="auto", reason="sold out")
    second = _order(alpha, numbers[1])
    assert (second.status, second.payment_status, second.amount_refunded) == (
        "refunded",
        "refunded",
        D("30.00"),
    )
    assert Refund.objects.get(payment_ref=second.payment_ref).amount == D("30.00")
    assert not Settlement.objects.filter(sale_key=sold_out.reference).exists()
    assert _order(alpha, other).status == "pending_payment"
    assert ledger_verify() == []


def test_refund_whole_and_partial_restores_wallet_and_claws_back_commission(
    network: Network, shop: Shop
) -> None:
    alpha = network.alpha
    referrer = new_member(alpha, name="referrer")
    buyer = new_member(alpha, funds="100.00")
    with tenant_context(alpha):
        commission_settings_update(levels=1, percents=[D("10")], actor_email="owner@alpha.test")
        referral_set(user=buyer, referrer=referrer)
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(email="owner@alpha.test")
    client = client_on(alpha, buyer)
    pending = account_get(kind=AccountKind.SITE_PENDING, currency="CNY", site=alpha)
    site_before = account_balance(pending)
    number = _number(
        client.post("/order/new/", {"sku": shop.card.pk, "quantity": 2, "payment_method": "wallet"})
    )
    order = _order(alpha, number)
    sale_key = f"{alpha.schema_name}:{order.pk}"
    assert account_balance(pending) == site_before + D("1.80")  # margin 2.00 less commission
    staff = client_on(alpha, owner)

    form = {"amount": "5.00", "reason": "One key did not work", "token": "t-partial-1"}
    assert staff.post(f"/console/orders/{order.pk}/refund/", form).status_code == 302
    assert staff.post(f"/console/orders/{order.pk}/refund/", form).status_code == 302  # replay
    order = _order(alpha, number)
    assert (order.status, order.payment_status, order.amount_refunded) == (
        "partially_refunded",
        "partially_refunded",
        D("5.00"),
    )
    assert wallet_of(alpha, buyer) == D("85.00")
    with tenant_context(alpha):
        commission = member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        )
    assert commission == D("0.15")  # 0.20 less a quarter
    assert Settlement.objects.get(sale_key=sale_key).refunded == D("5.00")

    too_much = {"amount": "15.01", "reason": "x", "token": "t-partial-2"}
    response = staff.post(f"/console/orders/{order.pk}/refund/", too_much)
    assert response.status_code == 400 and "At most 15.00 CNY" in response.content.decode()
    assert _order(alpha, number).amount_refunded == D("5.00")

    whole = {"whole": "on", "reason": "Buyer changed their mind", "token": "t-whole"}
    assert staff.post(f"/console/orders/{order.pk}/refund/", whole).status_code == 302
    order = _order(alpha, number)
    assert (order.status, order.amount_refunded) == ("refunded", D("20.00"))
    assert wallet_of(alpha, buyer) == D("100.00")
    with tenant_context(alpha):
        assert member_balance(
            user=referrer, kind=MemberAccountKind.COMMISSION_PENDING, currency="CNY"
        ) == D("0.00")
        assert site_mirror_check(alpha) == []
    # Every share clawed back: the site's pending earnings are where they were before the sale.
    assert account_balance(pending) == site_before
    settlement = Settlement.objects.get(sale_key=sale_key)
    assert settlement.refunded == D("20.00")
    assert all(s.amount == s.clawed_back for s in settlement.shares.all())
    assert ledger_verify() == []


def test_card_paid_order_is_refunded_through_the_provider(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "card", **GUEST}
        )
    )
    client.post(f"/order/{number}/pay/")
    order = _order(alpha, number)
    pay_by_card(f"{alpha.schema_name}:{order.pk}")
    with tenant_context(alpha):
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(email="owner@alpha.test")
    staff = client_on(alpha, owner)
    form = {"whole": "on", "reason": "Invalid key", "token": "t-card"}
    assert staff.post(f"/console/orders/{order.pk}/refund/", form).status_code == 302
    order = _order(alpha, number)
    assert (order.status, order.amount_refunded) == ("refunded", D("10.00"))
    refund = Refund.objects.get(payment_ref=order.payment_ref)
    assert refund.amount == D("10.00") and refund.provider_refund_id.startswith("re_sandbox_")
    settlement = Settlement.objects.get(sale_key=f"{alpha.schema_name}:{order.pk}")
    assert settlement.refunded == D("10.00")
    with tenant_context(alpha):
        assert order.refunds.get().provider_ref == refund.provider_refund_id
    assert ledger_verify() == []


def test_checkout_expired_by_the_provider_releases_keys(network: Network, shop: Shop) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 2, "payment_method": "card", **GUEST}
        )
    )
    client.post(f"/order/{number}/pay/")
    order = _order(alpha, number)
    session = checkout_session_for(f"{alpha.schema_name}:{order.pk}")
    from shared.payments import sandbox
    from tests.orders.conftest import webhook_post

    assert (
        webhook_post(sandbox.session_event(session, "checkout.session.expired")).status_code == 200
    )
    order = _order(alpha, number)
    assert (order.status, order.fulfilment_status) == ("expired", "cancelled")
    assert not CardKey.objects.filter(order_ref=session.reference).exists()


def test_pages_in_simplified_chinese_and_no_key_in_logs(
    network: Network, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    alpha = network.alpha
    client = client_on(alpha)
    client.cookies["django_language"] = "zh-hans"
    product = client.get(f"/p/{shop.card.product.slug}/").content.decode()
    assert "立即购买" in product and "查询密码" in product
    caplog.set_level("DEBUG")
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "card", **GUEST}
        )
    )
    assert "待支付" in client.get(f"/order/{number}/").content.decode()
    order = _order(alpha, number)
    client.post(f"/order/{number}/pay/")
    pay_by_card(f"{alpha.schema_name}:{order.pk}")
    page = client.get(f"/order/{number}/").content.decode()
    keys = _keys_on_page(page)
    assert len(keys) == 1 and "您的卡密" in page and "已发货" in page
    with tenant_context(alpha):
        order_delivery_email_send(order_id=order.pk)
    assert keys[0] in mail.outbox[-1].body and "secret-123" not in caplog.text
    assert "orders.created" in caplog.text and keys[0] not in caplog.text


def test_a_second_payment_of_a_paid_order_is_refunded(
    network: Network, shop: Shop, django_capture_on_commit_callbacks
) -> None:
    from shared.payments.services import checkout_start
    from tenants.orders.tasks import order_payment_return

    alpha = network.alpha
    client = client_on(alpha)
    number = _number(
        client.post(
            "/order/new/", {"sku": shop.card.pk, "quantity": 1, "payment_method": "card", **GUEST}
        )
    )
    client.post(f"/order/{number}/pay/")
    order = _order(alpha, number)
    reference = f"{alpha.schema_name}:{order.pk}"
    pay_by_card(reference)
    first = checkout_session_for(reference)
    # Another checkout for the same order (a second tab), paid too.
    checkout_start(
        site=alpha, purpose="order", reference=reference, amount=D("10.00"), currency="CNY",
        description="again", customer_email="", success_url="http://alpha.localhost/",
        cancel_url="http://alpha.localhost/",
    )  # fmt: skip
    second = checkout_session_for(reference)
    assert second.pk != first.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert pay_by_card(reference).status_code == 200
    assert len(callbacks) == 1  # the refund of the second payment, queued after commit
    second.refresh_from_db()
    order = _order(alpha, number)
    assert (order.status, order.payment_ref, order.amount_paid) == (
        "delivered",
        first.payment_ref,
        D("10.00"),
    )
    with tenant_context(alpha):
        order_payment_return.run(order_id=order.pk, payment_ref=second.payment_ref, amount="10.00")
        order_payment_return.run(order_id=order.pk, payment_ref=second.payment_ref, amount="10.00")
        assert "is refunded" in order.events.last().reason
    assert Refund.objects.filter(payment_ref=second.payment_ref).count() == 1
    assert not Refund.objects.filter(payment_ref=first.payment_ref).exists()
    assert CardKeySale.objects.filter(order_ref=reference).count() == 1
    assert ledger_verify() == []
