"""Importing keys: encryption at rest, de-duplication, refusals, the report and the counter."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from shared.catalog.models import DeliveryKind, Sku, StockAlert
from shared.suppliers.models import Supplier
from shared.vault import crypto
from shared.vault.crypto import VaultError
from shared.vault.models import CardKey, ImportBatch, SkuStock
from shared.vault.sealing import Fingerprinter, seal_many
from shared.vault.services import card_key_reveal, card_keys_import
from tests.vault.conftest import ACTOR, ImportKeys, SkuFactory, key_ids, random_key


def _raw_rows(batch: ImportBatch) -> list[tuple[bytes, bytes, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ciphertext, fingerprint, key_id FROM vault_cardkey WHERE batch_id = %s "
            "ORDER BY id",
            [batch.pk],
        )
        return [(bytes(c), bytes(f), k) for c, f, k in cursor.fetchall()]


def _vault_state(sku: Sku) -> tuple[int, int, int | None]:
    stock = SkuStock.objects.filter(sku=sku).values_list("available", flat=True).first()
    return (
        ImportBatch.objects.filter(sku=sku).count(),
        CardKey.objects.filter(sku=sku).count(),
        stock,
    )


def test_keys_are_stored_encrypted_and_decrypt_back(
    sku: Sku, supplier: Supplier, import_keys: ImportKeys, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = ["PLAIN-SECRET-0001", "6200123 PASSWORD-XYZ"]
    with caplog.at_level(logging.DEBUG):
        batch = import_keys(
            sku, ["PLAIN-SECRET-0001", "6200123----PASSWORD-XYZ"], supplier=supplier
        )
    rows = _raw_rows(batch)
    ring = crypto.keyring()
    assert [key_id for _, _, key_id in rows] == [ring.active_key_id] * 2
    for (ciphertext, fingerprint, key_id), secret in zip(rows, secrets, strict=True):
        assert secret.encode() not in ciphertext
        assert b"SECRET" not in ciphertext and b"PASSWORD" not in ciphertext
        assert len(ciphertext) == crypto.NONCE_BYTES + len(secret.encode()) + 16
        assert fingerprint == crypto.fingerprint(secret)
        assert crypto.decrypt(ciphertext, key_id) == secret
    assert [
        card_key_reveal(key_id=k, actor_email=ACTOR, reason="test") for k in key_ids(batch)
    ] == secrets
    assert CardKey.objects.filter(batch=batch, supplier=supplier).count() == 2
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "vault.keys.imported" in logged
    assert "SECRET" not in logged and "PASSWORD" not in logged


def test_batch_counts_report_and_stock(sku: Sku, import_keys: ImportKeys) -> None:
    existing = import_keys(sku, ["K-OLD-1", "K-OLD-2"])
    assert existing.accepted == 2
    batch = import_keys(
        sku,
        ["K-NEW-1", "", "K-OLD-2", "a b c", "K-NEW-1", "K-NEW-2", "bad\x00key", "K-OLD-1"],
        filename="keys.txt",
    )
    batch.refresh_from_db()
    assert (batch.accepted, batch.duplicates, batch.malformed) == (2, 3, 2)
    assert batch.report == [
        {"line": 3, "reason": "duplicate_existing"},
        {"line": 4, "reason": "too_many_fields"},
        {"line": 5, "reason": "duplicate_in_import"},
        {"line": 7, "reason": "control_character"},
        {"line": 8, "reason": "duplicate_existing"},
    ]
    assert (batch.filename, batch.created_by, batch.source, batch.deduplicated) == (
        "keys.txt",
        ACTOR,
        "paste",
        True,
    )
    assert CardKey.objects.filter(sku=sku).count() == 4
    assert SkuStock.objects.get(sku=sku).available == 4
    assert "K-" not in str(batch.report)


def test_the_same_key_in_another_sku_is_not_a_duplicate(sku: Sku, import_keys: ImportKeys) -> None:
    other = SkuFactory()
    import_keys(sku, ["SHARED-KEY"])
    assert import_keys(other, ["SHARED-KEY"]).accepted == 1
    assert SkuStock.objects.get(sku=other).available == 1


def test_report_is_capped_but_counts_are_exact(sku: Sku, import_keys: ImportKeys) -> None:
    batch = import_keys(sku, ["a b c"] * 1500 + ["OK-KEY"])
    assert (batch.accepted, batch.malformed) == (1, 1500)
    assert len(batch.report) == 1000
    assert batch.report[-1] == {"line": 1000, "reason": "too_many_fields"}


def test_without_deduplicate_an_existing_key_refuses_everything(
    sku: Sku, import_keys: ImportKeys
) -> None:
    import_keys(sku, ["K-1", "K-2"])
    before = _vault_state(sku)
    with pytest.raises(ValidationError) as exc:
        import_keys(sku, ["K-3", "K-2", "K-4"], deduplicate=False)
    assert exc.value.code == "duplicates"
    assert exc.value.messages == [
        f"1 key(s) of this import are already in the vault for {sku.code} (lines 2); "
        "nothing was imported."
    ]
    assert _vault_state(sku) == before == (1, 2, 2)


def test_without_deduplicate_a_repeated_line_refuses_everything(
    sku: Sku, import_keys: ImportKeys
) -> None:
    with pytest.raises(ValidationError) as exc:
        import_keys(sku, ["K-1", "K-2", "K-1"], deduplicate=False)
    assert exc.value.code == "duplicates"
    assert "lines 3" in exc.value.messages[0]
    assert _vault_state(sku) == (0, 0, None)


def test_without_deduplicate_a_clean_import_goes_through(sku: Sku, import_keys: ImportKeys) -> None:
    batch = import_keys(sku, ["K-1", "K-2"], deduplicate=False)
    assert (batch.accepted, batch.duplicates, batch.deduplicated) == (2, 0, False)


@pytest.mark.parametrize("kind", [DeliveryKind.DIRECT_TOPUP, DeliveryKind.MANUAL])
def test_skus_not_delivered_by_key_are_refused(kind: str, import_keys: ImportKeys) -> None:
    sku = SkuFactory(delivery_kind=kind)
    with pytest.raises(ValidationError) as exc:
        import_keys(sku, ["K-1"])
    assert exc.value.code == "delivery_kind"
    assert _vault_state(sku) == (0, 0, None)


def test_an_inactive_sku_can_be_stocked(import_keys: ImportKeys) -> None:
    sku = SkuFactory(is_active=False)
    assert import_keys(sku, ["K-1"]).accepted == 1


def test_reusable_keys_have_no_counter(reusable_sku: Sku, import_keys: ImportKeys) -> None:
    batch = import_keys(reusable_sku, ["SHARED-ACCOUNT pass"])
    assert batch.accepted == 1
    assert not SkuStock.objects.filter(sku=reusable_sku).exists()


def test_an_empty_import_is_refused(sku: Sku, import_keys: ImportKeys) -> None:
    with pytest.raises(ValidationError) as exc:
        import_keys(sku, ["", "   "])
    assert exc.value.code == "empty"
    assert _vault_state(sku) == (0, 0, None)


def test_an_all_malformed_import_is_recorded(sku: Sku, import_keys: ImportKeys) -> None:
    batch = import_keys(sku, ["a b c"])
    assert (batch.accepted, batch.malformed, batch.report) == (
        0,
        1,
        [{"line": 1, "reason": "too_many_fields"}],
    )
    assert SkuStock.objects.filter(sku=sku).exists() is False


def test_import_resolves_the_open_low_stock_alert(sku: Sku, import_keys: ImportKeys) -> None:
    alert = StockAlert.objects.create(sku=sku, available=0, threshold=2)
    import_keys(sku, ["K-1"])
    alert.refresh_from_db()
    assert alert.resolved_at is None  # 1 < 2: still low
    import_keys(sku, ["K-2"])
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert SkuStock.objects.get(sku=sku).available == 2


def test_csv_and_xlsx_files_import(sku: Sku) -> None:
    csv_batch = card_keys_import(
        sku=sku,
        content="卡号,密码\n100,aaa\n200,bbb\n".encode("gb18030"),
        source="csv",
        actor_email=ACTOR,
    )
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["card", "password"], ["100", "aaa"], ["300", "ccc"]):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    xlsx_batch = card_keys_import(sku=sku, content=buffer, source="xlsx", actor_email=ACTOR)
    assert (csv_batch.accepted, xlsx_batch.accepted, xlsx_batch.duplicates) == (2, 1, 1)
    assert xlsx_batch.report == [{"line": 2, "reason": "duplicate_existing"}]
    assert SkuStock.objects.get(sku=sku).available == 3


def test_tampered_ciphertext_fails_authentication(sku: Sku, import_keys: ImportKeys) -> None:
    batch = import_keys(sku, ["TAMPER-ME"])
    (key_pk,) = key_ids(batch)
    ciphertext = bytearray(CardKey.objects.get(pk=key_pk).ciphertext)
    ciphertext[-1] ^= 0x01
    CardKey.objects.filter(pk=key_pk).update(ciphertext=bytes(ciphertext))
    with pytest.raises(VaultError) as exc:
        card_key_reveal(key_id=key_pk, actor_email=ACTOR, reason="check")
    assert str(exc.value) == "ciphertext failed authentication"
    with pytest.raises(VaultError):
        crypto.decrypt(bytes(ciphertext), "unknown")


def test_seal_many_matches_crypto_byte_for_byte() -> None:
    keys = [random_key() for _ in range(5000)] + ["卡密 中文", ""]
    sealed = list(seal_many(keys))
    ring = crypto.keyring()
    assert [fingerprint for fingerprint, _ in sealed] == [crypto.fingerprint(k) for k in keys]
    assert [crypto.decrypt(blob, ring.active_key_id) for _, blob in sealed] == keys
    nonces = {blob[: crypto.NONCE_BYTES] for _, blob in sealed}
    assert len(nonces) == len(keys)


@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_fingerprinter_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert Fingerprinter(key)(message) == hmac.new(key, message, hashlib.sha256).digest()


def test_any_utf8_key_survives_the_binary_copy(sku: Sku, import_keys: ImportKeys) -> None:
    secrets = ["卡密-中文-密码", "x", "Ünïcødé 🎁", "9" * 16 + " " + "p" * 495]
    batch = import_keys(sku, secrets)
    assert batch.accepted == len(secrets)
    rows = _raw_rows(batch)
    assert [fingerprint for _, fingerprint, _ in rows] == [crypto.fingerprint(s) for s in secrets]
    assert [crypto.decrypt(c, key_id) for c, _, key_id in rows] == secrets
    created = set(CardKey.objects.filter(batch=batch).values_list("created_at", flat=True))
    assert created == {batch.created_at}
    assert set(CardKey.objects.filter(batch=batch).values_list("status", "supplier_id")) == {
        ("available", None)
    }
