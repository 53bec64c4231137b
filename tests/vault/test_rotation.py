"""Supplier secrets, key rotation and the stock-counter check command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from shared.catalog.models import Sku, StockAlert
from shared.suppliers.models import Supplier
from shared.vault import crypto, selectors
from shared.vault.crypto import VaultError
from shared.vault.models import CardKey, SkuStock
from shared.vault.services import (
    card_key_reveal,
    card_keys_for_order,
    card_keys_reserve,
    card_keys_sell,
    supplier_secret_get,
    supplier_secret_set,
    vault_keys_rotate,
)
from tests.vault.conftest import ACTOR, ImportKeys, SkuFactory, key_ids


def _key_rows(sku: Sku) -> dict[int, tuple[str, bytes]]:
    return {
        pk: (key_id, bytes(ciphertext))
        for pk, key_id, ciphertext in CardKey.objects.filter(sku=sku).values_list(
            "id", "key_id", "ciphertext"
        )
    }


def test_supplier_secret_round_trip(supplier: Supplier) -> None:
    supplier_secret_set(supplier=supplier, secret="sk_live_supplier_SECRET")
    supplier.refresh_from_db()
    stored = bytes(supplier.api_secret_ciphertext or b"")
    assert b"SECRET" not in stored and supplier.has_api_secret
    assert supplier.api_secret_key_id == crypto.keyring().active_key_id
    assert supplier_secret_get(supplier=supplier) == "sk_live_supplier_SECRET"


def test_supplier_secret_refusals(supplier: Supplier) -> None:
    with pytest.raises(ValidationError) as exc:
        supplier_secret_get(supplier=supplier)
    assert exc.value.code == "no_secret"
    with pytest.raises(ValidationError) as exc:
        supplier_secret_set(supplier=supplier, secret="")
    assert exc.value.code == "required"
    supplier.refresh_from_db()
    assert (supplier.api_secret_ciphertext, supplier.api_secret_key_id) == (None, "")


def test_rotation_re_encrypts_everything_and_frees_the_old_key(
    two_vault_keys: dict[str, str],
    settings: Any,
    sku: Sku,
    supplier: Supplier,
    import_keys: ImportKeys,
) -> None:
    keys = key_ids(import_keys(sku, ["ROT-1", "ROT-2", "ROT-3", "ROT-4", "ROT-5"]))
    supplier_secret_set(supplier=supplier, secret="supplier-api-secret")
    card_keys_reserve(
        sku=sku, quantity=1, order_ref="o:1", expires_at=timezone.now() + timedelta(minutes=5)
    )
    card_keys_sell(order_ref="o:1")
    before = _key_rows(sku)
    assert {key_id for key_id, _ in before.values()} == {"k1"}
    assert selectors.vault_key_usage() == {"k1": 5}

    settings.VAULT_ACTIVE_KEY_ID = "k2"
    crypto.keyring.cache_clear()
    assert vault_keys_rotate(batch_size=2) == 6  # five keys, one supplier secret
    after = _key_rows(sku)
    assert {key_id for key_id, _ in after.values()} == {"k2"}
    assert all(after[pk][1] != before[pk][1] for pk in keys)
    assert selectors.vault_key_usage() == {"k2": 5}
    assert vault_keys_rotate() == 0  # nothing left under another key

    settings.VAULT_KEYS = f"k2:{two_vault_keys['k2']}"  # k1 removed from the configuration
    crypto.keyring.cache_clear()
    revealed = [card_key_reveal(key_id=pk, actor_email=ACTOR, reason="check") for pk in keys]
    assert revealed == ["ROT-1", "ROT-2", "ROT-3", "ROT-4", "ROT-5"]
    assert card_keys_for_order(order_ref="o:1") == ["ROT-1"]
    assert supplier_secret_get(supplier=supplier) == "supplier-api-secret"
    with pytest.raises(VaultError):
        crypto.decrypt(before[keys[0]][1], "k1")


def test_rotation_command_reports_what_is_left(
    two_vault_keys: dict[str, str], settings: Any, sku: Sku, import_keys: ImportKeys
) -> None:
    import_keys(sku, ["CMD-1", "CMD-2"])
    settings.VAULT_ACTIVE_KEY_ID = "k2"
    crypto.keyring.cache_clear()
    out = StringIO()
    call_command("vault_rotate_keys", "--batch-size", "1", stdout=out)
    assert out.getvalue() == (
        "Re-encrypted 2 secret(s) under key 'k2'.\n"
        "All 2 card key(s) are under 'k2'; keys other than it can be removed from VAULT_KEYS.\n"
    )


def test_stock_check_finds_and_fixes_a_drifted_counter(sku: Sku, import_keys: ImportKeys) -> None:
    import_keys(sku, ["S-1", "S-2", "S-3"])
    unstocked = SkuFactory()
    out = StringIO()
    call_command("vault_stock_check", stdout=out)
    assert out.getvalue() == "Every stock counter matches its keys.\n"

    SkuStock.objects.filter(sku=sku).update(available=7)
    SkuStock.objects.create(sku=unstocked, available=1)
    before = list(SkuStock.objects.order_by("sku_id").values_list("sku_id", "available"))
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("vault_stock_check", stdout=out)
    assert str(exc.value) == "2 counter(s) differ from the keys; run with --fix to repair."
    assert out.getvalue() == (
        f"{sku.code} (id {sku.pk}): counter 7, keys 3\n"
        f"{unstocked.code} (id {unstocked.pk}): counter 1, keys 0\n"
    )
    assert list(SkuStock.objects.order_by("sku_id").values_list("sku_id", "available")) == before

    out = StringIO()
    call_command("vault_stock_check", "--fix", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Repaired 2 counter(s)."
    assert SkuStock.objects.get(sku=sku).available == 3
    assert SkuStock.objects.get(sku=unstocked).available == 0
    alerts = StockAlert.objects.filter(sku=unstocked, resolved_at__isnull=True)
    assert list(alerts.values_list("available", "threshold")) == [(0, 2)]
    assert selectors.stock_differences() == []
