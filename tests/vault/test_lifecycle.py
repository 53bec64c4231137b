"""Reservation, sale, release and expiry for orders; void, delete, reveal, export; alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared.catalog.models import DeliveryKind, Sku, StockAlert
from shared.vault import selectors, tasks
from shared.vault.models import CardKey, CardKeySale, KeyExport, KeyReveal, SkuStock
from shared.vault.services import (
    OutOfStock,
    SaleRefused,
    card_key_reveal,
    card_keys_delete,
    card_keys_export,
    card_keys_for_order,
    card_keys_release,
    card_keys_release_expired,
    card_keys_reserve,
    card_keys_sell,
    card_keys_void,
    stock_alert_notify,
)
from tests.conftest import HQ_EMAIL, Network
from tests.vault.conftest import ACTOR, ImportKeys, SkuFactory, key_ids, statuses

KEYS = ["KEY-A", "KEY-B", "KEY-C", "KEY-D", "KEY-E"]


def _in(minutes: int) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def _available(sku: Sku) -> int:
    return SkuStock.objects.get(sku=sku).available


def _open_alerts(sku: Sku) -> list[tuple[int, int]]:
    return list(
        StockAlert.objects.filter(sku=sku, resolved_at__isnull=True).values_list(
            "available", "threshold"
        )
    )


@pytest.fixture
def stocked(sku: Sku, import_keys: ImportKeys) -> list[int]:
    """Five keys of `sku` (threshold 2), ids ascending."""
    return key_ids(import_keys(sku, KEYS))


def test_reserve_sell_release_lifecycle(sku: Sku, stocked: list[int]) -> None:
    a = card_keys_reserve(sku=sku, quantity=2, order_ref="site_alpha:1", expires_at=_in(15))
    assert a == stocked[:2]  # oldest first
    assert _available(sku) == 3
    assert statuses(sku)[a[0]] == ("reserved", "site_alpha:1")

    assert card_keys_sell(order_ref="site_alpha:1") == a
    assert {statuses(sku)[k] for k in a} == {("sold", "site_alpha:1")}
    sales = CardKeySale.objects.filter(order_ref="site_alpha:1").order_by("card_key_id")
    assert list(sales.values_list("card_key_id", "single_use")) == [(a[0], True), (a[1], True)]
    assert card_keys_for_order(order_ref="site_alpha:1") == ["KEY-A", "KEY-B"]
    assert _available(sku) == 3

    b = card_keys_reserve(sku=sku, quantity=2, order_ref="site_alpha:2", expires_at=_in(15))
    assert b == stocked[2:4]
    assert _available(sku) == 1
    assert _open_alerts(sku) == [(1, 2)]

    assert card_keys_release(order_ref="site_alpha:2") == 2
    assert card_keys_release(order_ref="site_alpha:2") == 0
    assert {statuses(sku)[k] for k in b} == {("available", None)}
    assert _available(sku) == 3
    assert _open_alerts(sku) == []
    assert selectors.stock_differences() == []


def test_selling_twice_writes_nothing_new(sku: Sku, stocked: list[int]) -> None:
    keys = card_keys_reserve(sku=sku, quantity=3, order_ref="o:1", expires_at=_in(5))
    first = card_keys_sell(order_ref="o:1")
    sold_at = dict(CardKey.objects.filter(id__in=keys).values_list("id", "sold_at"))
    sales = list(CardKeySale.objects.filter(order_ref="o:1").values_list("id", flat=True))
    assert card_keys_sell(order_ref="o:1") == first == keys
    assert dict(CardKey.objects.filter(id__in=keys).values_list("id", "sold_at")) == sold_at
    assert list(CardKeySale.objects.filter(order_ref="o:1").values_list("id", flat=True)) == sales
    assert _available(sku) == 2


def test_out_of_stock_changes_nothing(sku: Sku, stocked: list[int]) -> None:
    card_keys_reserve(sku=sku, quantity=3, order_ref="o:1", expires_at=_in(5))
    before = statuses(sku)
    with pytest.raises(OutOfStock) as exc:
        card_keys_reserve(sku=sku, quantity=3, order_ref="o:2", expires_at=_in(5))
    assert (exc.value.sku_id, exc.value.requested, exc.value.available) == (sku.pk, 3, 2)
    assert statuses(sku) == before
    assert _available(sku) == 2
    assert _open_alerts(sku) == []
    assert not CardKey.objects.filter(order_ref="o:2").exists()


def test_a_sku_never_stocked_is_out_of_stock(sku: Sku) -> None:
    with pytest.raises(OutOfStock):
        card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    assert not SkuStock.objects.filter(sku=sku).exists()


def test_reserving_again_for_the_same_order_returns_its_keys(sku: Sku, stocked: list[int]) -> None:
    first = card_keys_reserve(sku=sku, quantity=2, order_ref="o:1", expires_at=_in(5))
    assert card_keys_reserve(sku=sku, quantity=2, order_ref="o:1", expires_at=_in(5)) == first
    assert _available(sku) == 3
    with pytest.raises(ValidationError) as exc:
        card_keys_reserve(sku=sku, quantity=3, order_ref="o:1", expires_at=_in(5))
    assert exc.value.code == "already_reserved"
    assert _available(sku) == 3


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"quantity": 0}, "quantity"),
        ({"order_ref": " "}, "required"),
        ({"order_ref": "x" * 101}, "too_long"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expires_at"),
    ],
)
def test_bad_reservations_are_refused(
    sku: Sku, stocked: list[int], kwargs: dict[str, Any], code: str
) -> None:
    before = statuses(sku)
    arguments = {"sku": sku, "quantity": 1, "order_ref": "o:1", "expires_at": _in(5), **kwargs}
    with pytest.raises(ValidationError) as exc:
        card_keys_reserve(**arguments)
    assert exc.value.code == code
    assert statuses(sku) == before
    assert _available(sku) == 5


def test_selling_an_expired_reservation_is_refused(sku: Sku, stocked: list[int]) -> None:
    keys = card_keys_reserve(sku=sku, quantity=2, order_ref="o:1", expires_at=_in(5))
    CardKey.objects.filter(id__in=keys).update(reserved_until=timezone.now() - timedelta(seconds=1))
    before = statuses(sku)
    with pytest.raises(SaleRefused) as exc:
        card_keys_sell(order_ref="o:1")
    assert str(exc.value) == "The reservation of order o:1 has expired."
    assert statuses(sku) == before
    assert not CardKeySale.objects.exists()


def test_an_order_without_keys_cannot_be_sold(sku: Sku, stocked: list[int]) -> None:
    card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    card_keys_release(order_ref="o:1")
    with pytest.raises(SaleRefused):
        card_keys_sell(order_ref="o:1")
    with pytest.raises(SaleRefused):
        card_keys_sell(order_ref="o:unknown")
    assert not CardKeySale.objects.exists()
    assert _available(sku) == 5


def test_a_key_sold_to_another_order_is_refused_by_the_database(
    sku: Sku, stocked: list[int]
) -> None:
    """If a sale row already exists for a reserved key (say, written by a bug elsewhere), the
    unique constraint stops the second sale and nothing of it is kept."""
    (key,) = card_keys_reserve(sku=sku, quantity=1, order_ref="o:2", expires_at=_in(5))
    CardKeySale.objects.create(card_key_id=key, order_ref="o:1", single_use=True)
    with pytest.raises(SaleRefused):
        card_keys_sell(order_ref="o:2")
    assert statuses(sku)[key] == ("reserved", "o:2")
    assert list(CardKeySale.objects.values_list("order_ref", flat=True)) == ["o:1"]


def test_expired_reservations_are_released(sku: Sku, stocked: list[int]) -> None:
    soon = card_keys_reserve(sku=sku, quantity=2, order_ref="o:1", expires_at=_in(1))
    later = card_keys_reserve(sku=sku, quantity=1, order_ref="o:2", expires_at=_in(30))
    assert _available(sku) == 2
    assert card_keys_release_expired(now=_in(10), batch_size=1) == 2
    assert {statuses(sku)[k] for k in soon} == {("available", None)}
    assert statuses(sku)[later[0]] == ("reserved", "o:2")
    assert _available(sku) == 4
    assert card_keys_release_expired(now=_in(10)) == 0


def test_release_expired_task_runs_in_public(
    sku: Sku, stocked: list[int], network: Network
) -> None:
    card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(1))
    CardKey.objects.filter(order_ref="o:1").update(reserved_until=timezone.now())
    with tenant_context(network.alpha):
        assert tasks.card_keys_release_expired() == 1
    assert _available(sku) == 5


def test_reusable_keys_go_to_every_buyer(reusable_sku: Sku, import_keys: ImportKeys) -> None:
    old, new = key_ids(import_keys(reusable_sku, ["SHARED-OLD", "SHARED-NEW"]))
    for order in ("o:1", "o:2"):
        ids = card_keys_reserve(sku=reusable_sku, quantity=3, order_ref=order, expires_at=_in(5))
        assert ids == [new]
        assert card_keys_sell(order_ref=order, reusable_key_ids=ids) == [new]
        assert card_keys_sell(order_ref=order, reusable_key_ids=ids) == [new]
        assert card_keys_for_order(order_ref=order) == ["SHARED-NEW"]
    sales = CardKeySale.objects.order_by("order_ref")
    assert list(sales.values_list("card_key_id", "order_ref", "single_use")) == [
        (new, "o:1", False),
        (new, "o:2", False),
    ]
    assert statuses(reusable_sku) == {old: ("available", None), new: ("available", None)}
    assert selectors.stock_levels([reusable_sku.pk]) == {reusable_sku.pk: None}


def test_a_void_reusable_key_cannot_be_sold(reusable_sku: Sku, import_keys: ImportKeys) -> None:
    (key,) = key_ids(import_keys(reusable_sku, ["SHARED"]))
    card_keys_void(key_ids=[key], actor_email=ACTOR)
    with pytest.raises(SaleRefused):
        card_keys_sell(order_ref="o:1", reusable_key_ids=[key])
    with pytest.raises(OutOfStock):
        card_keys_reserve(sku=reusable_sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    assert not CardKeySale.objects.exists()


def test_void_only_unsold_keys(sku: Sku, stocked: list[int]) -> None:
    reserved = card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    before = statuses(sku)
    with pytest.raises(ValidationError) as exc:
        card_keys_void(key_ids=[stocked[4], *reserved], actor_email=ACTOR)
    assert exc.value.code == "not_unsold"
    assert exc.value.messages == [
        f"Keys {reserved} are reserved or sold; only unsold keys can be changed."
    ]
    assert statuses(sku) == before
    assert _available(sku) == 4
    assert card_keys_void(key_ids=[stocked[3], stocked[4]], actor_email=ACTOR) == 2
    assert card_keys_void(key_ids=[stocked[4]], actor_email=ACTOR) == 0
    assert statuses(sku)[stocked[4]] == ("void", None)
    assert _available(sku) == 2
    with pytest.raises(OutOfStock):
        card_keys_reserve(sku=sku, quantity=3, order_ref="o:2", expires_at=_in(5))


def test_delete_only_unsold_unaudited_keys(sku: Sku, stocked: list[int]) -> None:
    sold = card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    card_keys_sell(order_ref="o:1")
    card_key_reveal(key_id=stocked[1], actor_email=ACTOR, reason="supplier dispute")
    refusals = [
        (sold, "not_unsold"),
        ([stocked[1], stocked[2]], "referenced"),
        ([999_999_999], "not_found"),
        ([], "required"),
    ]
    for ids, code in refusals:
        before = statuses(sku)
        with pytest.raises(ValidationError) as exc:
            card_keys_delete(key_ids=ids, actor_email=ACTOR)
        assert exc.value.code == code
        assert statuses(sku) == before
        assert _available(sku) == 4
    card_keys_void(key_ids=[stocked[3]], actor_email=ACTOR)
    assert card_keys_delete(key_ids=[stocked[2], stocked[3]], actor_email=ACTOR) == 2
    assert sorted(statuses(sku)) == [stocked[0], stocked[1], stocked[4]]
    assert _available(sku) == 2
    assert selectors.stock_differences() == []


def test_reveal_is_audited_with_the_schema(sku: Sku, stocked: list[int], network: Network) -> None:
    assert card_key_reveal(key_id=stocked[0], actor_email=ACTOR, reason="ticket 12") == "KEY-A"
    with tenant_context(network.alpha):
        assert card_key_reveal(key_id=stocked[1], actor_email="o@a.test", reason="r") == "KEY-B"
    reveals = KeyReveal.objects.order_by("id")
    assert list(reveals.values_list("card_key_id", "actor", "reason", "schema_name")) == [
        (stocked[0], ACTOR, "ticket 12", "public"),
        (stocked[1], "o@a.test", "r", network.alpha.schema_name),
    ]


@pytest.mark.parametrize(("reason", "code"), [("", "required"), ("  ", "required")])
def test_reveal_needs_a_reason(sku: Sku, stocked: list[int], reason: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        card_key_reveal(key_id=stocked[0], actor_email=ACTOR, reason=reason)
    assert exc.value.code == code
    assert not KeyReveal.objects.exists()


def test_export_unsold_keys_is_audited(sku: Sku, stocked: list[int]) -> None:
    card_keys_reserve(sku=sku, quantity=1, order_ref="o:1", expires_at=_in(5))
    card_keys_sell(order_ref="o:1")
    card_keys_void(key_ids=[stocked[4]], actor_email=ACTOR)
    data = card_keys_export(sku=sku, statuses=("available", "void"), actor_email=ACTOR)
    assert data.decode("utf-8-sig") == (
        "id,status,key\n"
        f"{stocked[1]},available,KEY-B\n{stocked[2]},available,KEY-C\n"
        f"{stocked[3]},available,KEY-D\n{stocked[4]},void,KEY-E\n"
    )
    exports = KeyExport.objects.values_list(
        "sku_id", "actor", "statuses", "key_count", "schema_name"
    )
    assert list(exports) == [(sku.pk, ACTOR, ["available", "void"], 4, "public")]


@pytest.mark.parametrize("wanted", [("sold",), ("available", "sold"), ()])
def test_sold_keys_are_never_exported(sku: Sku, stocked: list[int], wanted: tuple[str]) -> None:
    with pytest.raises(ValidationError) as exc:
        card_keys_export(sku=sku, statuses=wanted, actor_email=ACTOR)
    assert exc.value.code == "statuses"
    assert not KeyExport.objects.exists()


def test_low_stock_raises_one_alert_and_emails_hq_staff_after_commit(
    sku: Sku,
    stocked: list[int],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.stock_alert_notify, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        card_keys_reserve(sku=sku, quantity=3, order_ref="o:1", expires_at=_in(5))
    assert queued == []  # 2 left, threshold 2: not low yet
    with django_capture_on_commit_callbacks(execute=True):
        card_keys_reserve(sku=sku, quantity=1, order_ref="o:2", expires_at=_in(5))
        card_keys_reserve(sku=sku, quantity=1, order_ref="o:3", expires_at=_in(5))
    alert = StockAlert.objects.get(sku=sku, resolved_at__isnull=True)
    assert (alert.available, alert.threshold) == (1, 2)
    assert queued == [alert.pk]  # the second reservation found the alert open


def test_alert_email_goes_to_active_hq_staff(sku: Sku, network: Network) -> None:
    users = get_user_model().objects
    users.create_user(username="ops@hq.test", email="ops@hq.test", is_staff=True)
    users.create_user(username="gone@hq.test", email="gone@hq.test", is_staff=True, is_active=False)
    users.create_user(username="buyer@hq.test", email="buyer@hq.test")
    alert = StockAlert.objects.create(sku=sku, available=1, threshold=2)
    mail.outbox.clear()
    with tenant_context(network.alpha):  # queued by a site's order: still HQ's staff
        assert tasks.stock_alert_notify(alert.pk) == 2
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([HQ_EMAIL, "ops@hq.test"])
    assert mail.outbox[0].subject == f"Low stock: {sku.code} (1 left)"
    alert.resolved_at = timezone.now()
    alert.save()
    assert stock_alert_notify(alert_id=alert.pk) == 0
    assert len(mail.outbox) == 1


def test_stock_levels_and_status(sku: Sku, stocked: list[int], reusable_sku: Sku) -> None:
    topup = SkuFactory(delivery_kind=DeliveryKind.DIRECT_TOPUP)
    empty = SkuFactory()
    assert selectors.stock_levels([sku.pk, reusable_sku.pk, topup.pk, empty.pk, 0]) == {
        sku.pk: 5,
        reusable_sku.pk: None,
        topup.pk: None,
        empty.pk: 0,
    }
    levels = (None, 0, 1, 2, 5)
    assert [selectors.stock_status(level, 2) for level in levels] == [
        "in_stock",
        "sold_out",
        "low",
        "in_stock",
        "in_stock",
    ]


def test_import_batches_for_the_console(sku: Sku, import_keys: ImportKeys) -> None:
    first = import_keys(sku, ["A", "B", "C"])
    second = import_keys(sku, ["D"])
    card_keys_reserve(sku=sku, quantity=2, order_ref="o:1", expires_at=_in(5))
    card_keys_void(key_ids=key_ids(second), actor_email=ACTOR)
    rows = [
        (b.pk, b.keys_available, b.keys_reserved, b.keys_sold, b.keys_void)  # type: ignore[attr-defined]
        for b in selectors.import_batches(sku_id=sku.pk)
    ]
    assert rows == [(second.pk, 0, 0, 0, 1), (first.pk, 1, 2, 0, 0)]
