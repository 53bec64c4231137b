"""HQ's admin for the vault: no secret on any page, no hand-made rows, writes go through the
services. (The admin classes are exercised directly: HQ's admin pages themselves currently
fail to render for every app, see the report on django-tenants' `is_public_schema` tag.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from shared.catalog.models import Sku
from shared.vault.models import CardKey, CardKeySale, ImportBatch, KeyExport, KeyReveal, SkuStock
from shared.vault.services import card_keys_reserve
from tests.vault.conftest import ImportKeys, key_ids

SECRET_COLUMNS = {"ciphertext", "fingerprint"}


def _request(user: Any) -> HttpRequest:
    request = RequestFactory().post("/admin/vault/cardkey/", HTTP_HOST="localhost")
    request.user = user
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


@pytest.fixture
def superuser(db: None) -> Any:
    return get_user_model().objects.create_superuser(
        username="root@hq.test", email="root@hq.test", password="x"
    )


@pytest.mark.parametrize("model", [CardKey, ImportBatch, CardKeySale, KeyReveal, KeyExport])
def test_no_page_shows_a_secret_or_takes_a_hand_made_row(model: Any, superuser: Any) -> None:
    model_admin = admin.site._registry[model]
    request = _request(superuser)
    shown = set(model_admin.get_fields(request)) | set(model_admin.get_list_display(request))
    assert not shown & SECRET_COLUMNS
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


@pytest.mark.parametrize(
    ("permissions", "actions"),
    [
        ([], set()),
        (["change_cardkey"], {"void"}),
        (["delete_cardkey"], {"delete_unsold"}),
        (["change_cardkey", "delete_cardkey"], {"void", "delete_unsold"}),
    ],
)
def test_key_actions_need_their_model_permission(
    db: None, permissions: list[str], actions: set[str]
) -> None:
    staff = get_user_model().objects.create_user(username="staff@hq.test.x", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="vault", codename__in=permissions)
    )
    staff = get_user_model().objects.get(pk=staff.pk)  # fresh permission cache
    assert set(admin.site._registry[CardKey].get_actions(_request(staff))) == actions


def test_void_action_goes_through_the_service(
    superuser: Any, sku: Sku, import_keys: ImportKeys
) -> None:
    keys = key_ids(import_keys(sku, ["A", "B", "C"]))
    model_admin = admin.site._registry[CardKey]
    request = _request(superuser)
    model_admin.void(request, CardKey.objects.filter(id__in=keys[:2]))
    assert [message.message for message in get_messages(request)] == ["2 key(s) voided."]
    statuses = CardKey.objects.filter(sku=sku).order_by("id").values_list("status", flat=True)
    assert list(statuses) == ["void", "void", "available"]
    assert SkuStock.objects.get(sku=sku).available == 1


def test_delete_action_refuses_reserved_keys_and_changes_nothing(
    superuser: Any, sku: Sku, import_keys: ImportKeys
) -> None:
    keys = key_ids(import_keys(sku, ["A", "B"]))
    card_keys_reserve(
        sku=sku, quantity=1, order_ref="o:1", expires_at=timezone.now() + timedelta(minutes=5)
    )
    model_admin = admin.site._registry[CardKey]
    request = _request(superuser)
    model_admin.delete_unsold(request, CardKey.objects.filter(id__in=keys))
    assert [message.message for message in get_messages(request)] == [
        f"Keys {[keys[0]]} are reserved or sold; only unsold keys can be changed."
    ]
    assert CardKey.objects.filter(sku=sku).count() == 2
    assert SkuStock.objects.get(sku=sku).available == 1
