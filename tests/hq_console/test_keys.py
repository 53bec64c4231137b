"""Card keys: import (paste, .txt, .csv, .xlsx), batch reports, void/delete, audited reveal
and export. No page but the reveal's answer may contain a key."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook
from pytest_django.asserts import assertContains, assertNotContains

from shared.catalog.models import DeliveryKind, Sku
from shared.hq.console.forms.keys import KeyImportForm
from shared.vault import services as vault
from shared.vault.models import CardKey, ImportBatch, KeyExport, KeyReveal, SkuStock
from tests.hq_console.conftest import SkuFactory, SupplierFactory, console_url

pytestmark = pytest.mark.django_db

ADMIN_EMAIL = "admin@hq.test"
PASTE_KEYS = ["PASTE-KEY-0001", "PASTE-KEY-0002", "6200111122223333", "PASTE-KEY-0003"]
# Line 3: three fields (malformed); line 4: empty (skipped); line 5: repeats line 1;
# line 6: card number and password (one key "6200111122223333 PW99").
PASTE = "PASTE-KEY-0001\nPASTE-KEY-0002\na b c\n\nPASTE-KEY-0001\n6200111122223333----PW99\n"


def available(sku: Sku) -> int:
    return SkuStock.objects.filter(sku=sku).values_list("available", flat=True).first() or 0


def vault_state() -> dict[str, Any]:
    return {
        "batches": ImportBatch.objects.count(),
        "keys": list(CardKey.objects.order_by("id").values_list("id", "status")),
        "stock": list(SkuStock.objects.order_by("sku_id").values_list("sku_id", "available")),
        "reveals": KeyReveal.objects.count(),
        "exports": KeyExport.objects.count(),
    }


@pytest.fixture
def sku(db: None) -> Sku:
    return SkuFactory(code="steam-100", name="¥100", product__name="Steam Wallet")


def import_keys(sku: Sku, *keys: str) -> ImportBatch:
    return vault.card_keys_import(
        sku=sku, content="\n".join(keys), source="paste", actor_email="seed@hq.test"
    )


def assert_no_secret(response: Any, keys: list[str]) -> None:
    for key in keys:
        assertNotContains(response, key)


# --- Import -----------------------------------------------------------------------------------


def test_import_page_offers_only_card_key_skus(admin: Client, sku: Sku) -> None:
    reusable = SkuFactory(code="shared-code", delivery_kind=DeliveryKind.REUSABLE_KEY)
    SkuFactory(code="qq-topup", delivery_kind=DeliveryKind.DIRECT_TOPUP)
    response = admin.get(console_url("key_import"), {"sku": sku.pk})
    assert response.status_code == 200
    assertContains(
        response,
        f'<option value="{sku.pk}" selected>steam-100 — Steam Wallet · ¥100</option>',
        html=True,
    )
    assertContains(response, f'<option value="{reusable.pk}">')
    assertNotContains(response, "qq-topup")
    assertContains(response, 'id="id_deduplicate" checked>')


def test_import_by_paste_end_to_end(admin: Client, sku: Sku) -> None:
    supplier = SupplierFactory(name="Card House")
    response = admin.post(
        console_url("key_import"),
        {"sku": sku.pk, "supplier": supplier.pk, "deduplicate": "on", "text": PASTE},
    )

    batch = ImportBatch.objects.get(sku=sku)
    assert response.status_code == 302
    assert response["Location"] == console_url("batch_detail", batch_id=batch.pk)
    assert (batch.source, batch.supplier_id, batch.created_by, batch.deduplicated) == (
        "paste",
        supplier.pk,
        ADMIN_EMAIL,
        True,
    )
    assert (batch.accepted, batch.duplicates, batch.malformed) == (3, 1, 1)
    assert batch.report == [
        {"line": 3, "reason": "too_many_fields"},
        {"line": 5, "reason": "duplicate_in_import"},
    ]
    assert CardKey.objects.filter(batch=batch, status="available").count() == 3
    assert available(sku) == 3
    secrets = sorted(
        vault.card_key_reveal(key_id=pk, actor_email="t@hq.test", reason="test")
        for pk in CardKey.objects.filter(batch=batch).values_list("id", flat=True)
    )
    assert secrets == ["6200111122223333 PW99", "PASTE-KEY-0001", "PASTE-KEY-0002"]

    page = admin.get(response["Location"])
    assert page.status_code == 200
    assertContains(page, f"Batch {batch.pk} imported: 3 accepted, 1 duplicates, 1 malformed.")
    assertContains(page, '<b data-testid="batch-accepted">3</b>', html=True)
    assertContains(page, '<b data-testid="batch-duplicates">1</b>', html=True)
    assertContains(page, '<b data-testid="batch-malformed">1</b>', html=True)
    assertContains(
        page,
        '<tr data-testid="rejected-3"><td class="num">3</td><td>three or more fields '
        "(expected a key, or a card number and a password)</td></tr>",
        html=True,
    )
    assertContains(
        page,
        '<tr data-testid="rejected-5"><td class="num">5</td>'
        "<td>duplicate of an earlier line of this import</td></tr>",
        html=True,
    )
    assert_no_secret(page, [*PASTE_KEYS, "PW99"])


def test_import_by_csv_upload_end_to_end(admin: Client, sku: Sku) -> None:
    import_keys(sku, "CSV-OLD-1")  # already in stock: reported as a duplicate
    rows = [
        ["卡号", "密码"],
        ["1000200030004000", "pass-1"],
        ["CSV-OLD-1", ""],
        ["1000200030004001", "pass-2"],
        ["a", "b,c"],
        ["1000200030004000", "pass-1"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    upload = SimpleUploadedFile("keys.csv", buffer.getvalue().encode(), content_type="text/csv")

    response = admin.post(
        console_url("key_import"), {"sku": sku.pk, "deduplicate": "on", "file": upload}
    )

    batch = ImportBatch.objects.filter(sku=sku).latest("id")
    assert response.status_code == 302
    assert (batch.source, batch.filename, batch.supplier_id) == ("csv", "keys.csv", None)
    assert (batch.accepted, batch.duplicates, batch.malformed) == (2, 2, 1)
    assert batch.report == [
        {"line": 3, "reason": "duplicate_existing"},
        {"line": 5, "reason": "too_many_fields"},
        {"line": 6, "reason": "duplicate_in_import"},
    ]
    assert available(sku) == 3
    page = admin.get(response["Location"])
    assertContains(
        page,
        '<tr data-testid="rejected-3"><td class="num">3</td>'
        "<td>already in stock for this SKU</td></tr>",
        html=True,
    )
    assert_no_secret(page, ["1000200030004000", "pass-1", "CSV-OLD-1"])


def test_import_by_xlsx_and_txt_upload(admin: Client, sku: Sku) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["Card", "PIN"], ["X-1", "p1"], ["X-2", "p2"]):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = SimpleUploadedFile("stock.XLSX", buffer.getvalue())
    assert (
        admin.post(
            console_url("key_import"), {"sku": sku.pk, "deduplicate": "on", "file": xlsx}
        ).status_code
        == 302
    )
    txt = SimpleUploadedFile("more.txt", "T-1\r\nT-2\r\n".encode("gb18030"))
    assert (
        admin.post(
            console_url("key_import"), {"sku": sku.pk, "deduplicate": "on", "file": txt}
        ).status_code
        == 302
    )
    assert list(
        ImportBatch.objects.filter(sku=sku)
        .order_by("id")
        .values_list("source", "filename", "accepted", "duplicates", "malformed")
    ) == [("xlsx", "stock.XLSX", 2, 0, 0), ("txt", "more.txt", 2, 0, 0)]
    assert available(sku) == 4


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Paste keys or upload a file."),
        ({"text": "   \n  "}, "Paste keys or upload a file."),
        ({"text": "K-1", "file": ("k.txt", b"K-2")}, "Paste keys or upload a file, not both."),
        ({"file": ("keys.pdf", b"K-2")}, "Upload a file ending in .txt, .csv, .xlsx."),
        ({"file": ("keys.xlsx", b"not a workbook")}, "The file is not a readable .xlsx workbook."),
        ({"file": ("keys.txt", b"\xff\xfe\x00")}, "The file is neither UTF-8 nor GB18030 text."),
        ({"file": ("empty.csv", b"\n\n")}, "The import holds no keys."),
        (
            {"text": "DUP-1\nDUP-1", "deduplicate": ""},
            "1 line(s) repeat an earlier key of this import (lines 2); nothing was imported.",
        ),
        (
            {"text": "OLD-1\nNEW-1", "deduplicate": ""},
            "1 key(s) of this import are already in the vault for steam-100 (lines 1); "
            "nothing was imported.",
        ),
    ],
)
def test_import_rejects_bad_input_and_imports_nothing(
    admin: Client, sku: Sku, data: dict[str, Any], error: str
) -> None:
    import_keys(sku, "OLD-1")
    before = vault_state()
    payload: dict[str, Any] = {"sku": sku.pk, "deduplicate": "on"}
    for field, value in data.items():
        payload[field] = SimpleUploadedFile(*value) if field == "file" else value
    payload = {field: value for field, value in payload.items() if value != ""}

    response = admin.post(console_url("key_import"), payload)

    assert response.status_code == 200
    assertContains(response, error.replace("'", "&#x27;"))
    assert vault_state() == before
    assertNotContains(response, "NEW-1")  # pasted keys are not sent back


def test_import_refuses_a_file_over_the_limit(
    admin: Client, sku: Sku, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = KeyImportForm.base_fields["file"].validators[0]
    monkeypatch.setattr(limit, "max_bytes", 1024 * 1024)
    before = vault_state()
    big = SimpleUploadedFile("big.txt", b"K" * (1024 * 1024 + 1))
    response = admin.post(
        console_url("key_import"), {"sku": sku.pk, "deduplicate": "on", "file": big}
    )
    assertContains(response, "The file is larger than 1 MB.")
    assert vault_state() == before


def test_import_refuses_a_sku_not_sold_by_card_key(admin: Client) -> None:
    topup = SkuFactory(delivery_kind=DeliveryKind.DIRECT_TOPUP)
    before = vault_state()
    response = admin.post(console_url("key_import"), {"sku": topup.pk, "text": "K-1"})
    assertContains(response, "Select a valid choice.")
    assert vault_state() == before


# --- Batches ----------------------------------------------------------------------------------


def test_batch_list(admin: Client, sku: Sku) -> None:
    supplier = SupplierFactory(name="Card House")
    batch = vault.card_keys_import(
        sku=sku,
        content="B-1\nB-2\nB-1\nx y z",
        source="paste",
        supplier=supplier,
        actor_email="imp@hq.test",
    )
    response = admin.get(console_url("batch_list"))
    assert response.status_code == 200
    when = timezone.localtime(batch.created_at).strftime("%Y-%m-%d %H:%M")
    assertContains(
        response,
        f'<tr data-testid="batch-{batch.pk}"><td><a href="'
        f'{console_url("batch_detail", batch_id=batch.pk)}">#{batch.pk}</a></td>'
        f"<td>steam-100</td><td>Card House</td><td>imp@hq.test</td><td>{when}</td>"
        '<td class="num">2</td><td class="num">1</td><td class="num">1</td>'
        '<td class="num">2</td><td class="num">0</td></tr>',
        html=True,
    )
    filtered = admin.get(console_url("batch_list"), {"sku": SkuFactory().pk})
    assertNotContains(filtered, f'data-testid="batch-{batch.pk}"')


def test_batch_detail_lists_statuses_and_never_secrets(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "D-1", "D-2", "D-3")
    first, second, third = CardKey.objects.filter(batch=batch).order_by("id")
    vault.card_keys_reserve(
        sku=sku,
        quantity=1,
        order_ref="site_alpha:1",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    vault.card_keys_void(key_ids=[third.pk], actor_email="x@hq.test")

    response = admin.get(console_url("batch_detail", batch_id=batch.pk))

    assert response.status_code == 200
    reveal = console_url("key_reveal", key_id=first.pk)
    assertContains(
        response,
        f'<tr data-testid="key-{first.pk}"><td></td><td>#{first.pk}</td>'
        '<td><span class="badge reserved">Reserved</span></td><td>site_alpha:1</td>'
        f'<td>—</td><td><a href="{reveal}">Reveal…</a></td></tr>',
        html=True,
    )
    assertContains(response, f'<input type="checkbox" name="keys" value="{second.pk}"')
    assertContains(response, f'<input type="checkbox" name="keys" value="{third.pk}"')
    assertNotContains(response, f'name="keys" value="{first.pk}"')  # reserved: not selectable
    assertContains(
        response,
        '<dd data-testid="batch-statuses">available 1 · reserved 1 · sold 0 · void 1</dd>',
        html=True,
    )
    assert_no_secret(response, ["D-1", "D-2", "D-3"])


def test_void_selected_keys(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "V-1", "V-2", "V-3")
    ids = list(CardKey.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))
    response = admin.post(console_url("keys_void", batch_id=batch.pk), {"keys": ids[:2]})
    assert response.status_code == 302
    assert response["Location"] == console_url("batch_detail", batch_id=batch.pk)
    assert list(
        CardKey.objects.filter(batch=batch).order_by("id").values_list("status", flat=True)
    ) == [
        "void",
        "void",
        "available",
    ]
    assert available(sku) == 1
    assertContains(admin.get(response["Location"]), "2 keys voided.")


def test_delete_selected_keys(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "X-1", "X-2")
    ids = list(CardKey.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))
    response = admin.post(console_url("keys_delete", batch_id=batch.pk), {"keys": [ids[1]]})
    assert response.status_code == 302
    assert list(CardKey.objects.filter(batch=batch).values_list("id", flat=True)) == [ids[0]]
    assert available(sku) == 1


@pytest.mark.parametrize("action", ["keys_void", "keys_delete"])
def test_void_or_delete_refused_changes_nothing(admin: Client, sku: Sku, action: str) -> None:
    batch = import_keys(sku, "R-1", "R-2")
    other = import_keys(sku, "R-3")
    ids = list(CardKey.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))
    vault.card_keys_reserve(
        sku=sku,
        quantity=1,
        order_ref="site_beta:9",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    foreign = CardKey.objects.get(batch=other).pk
    before = vault_state()
    cases = [
        (
            {"keys": [ids[0], ids[1]]},
            f"Keys [{ids[0]}] are reserved or sold; only unsold keys can be changed.",
        ),
        ({"keys": [ids[1], foreign]}, "A ticked key is not in this batch."),
        ({}, "Tick at least one key."),
        ({"keys": ["x"]}, "Tick keys from the list."),
    ]
    for data, error in cases:
        response = admin.post(console_url(action, batch_id=batch.pk), data)
        assert response.status_code == 400
        assertContains(response, error, status_code=400)
        assert vault_state() == before


def test_delete_of_a_revealed_key_is_refused(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "Z-1")
    key = CardKey.objects.get(batch=batch)
    vault.card_key_reveal(key_id=key.pk, actor_email="a@hq.test", reason="check")
    before = vault_state()
    response = admin.post(console_url("keys_delete", batch_id=batch.pk), {"keys": [key.pk]})
    assertContains(
        response, f"Keys [{key.pk}] were revealed or delivered; void them instead.", status_code=400
    )
    assert vault_state() == before


# --- Reveal and export ------------------------------------------------------------------------


def test_reveal_asks_a_reason_then_shows_the_key_once(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "SECRET-KEY-42")
    key = CardKey.objects.get(batch=batch)
    path = console_url("key_reveal", key_id=key.pk)

    page = admin.get(path)
    assert page.status_code == 200
    assertContains(page, 'name="reason"')
    assertNotContains(page, "SECRET-KEY-42")

    refused = admin.post(path, {"reason": "   "})
    assertContains(refused, "This field is required.")
    assertNotContains(refused, "SECRET-KEY-42")
    assert KeyReveal.objects.count() == 0

    shown = admin.post(path, {"reason": "buyer says <invalid>"})
    assert shown.status_code == 200
    assertContains(
        shown, '<p class="console-secret" data-testid="revealed-key">SECRET-KEY-42</p>', html=True
    )
    assert "no-store" in shown["Cache-Control"]
    assert list(KeyReveal.objects.values_list("card_key_id", "actor", "reason", "schema_name")) == [
        (key.pk, ADMIN_EMAIL, "buyer says <invalid>", "public")
    ]
    assertNotContains(admin.get(path), "SECRET-KEY-42")


def test_reveal_of_a_missing_key_is_404(admin: Client) -> None:
    response = admin.post(console_url("key_reveal", key_id=987654321), {"reason": "x"})
    assert response.status_code == 404
    assert KeyReveal.objects.count() == 0


def test_export_unsold_keys_as_csv(admin: Client, sku: Sku) -> None:
    batch = import_keys(sku, "E-1", "E-2", "E-3")
    first, second, third = CardKey.objects.filter(batch=batch).order_by("id")
    vault.card_keys_void(key_ids=[third.pk], actor_email="a@hq.test")
    form = admin.get(console_url("keys_export"), {"sku": sku.pk})
    assertContains(form, f'<option value="{sku.pk}" selected>', count=1)

    response = admin.post(
        console_url("keys_export"), {"sku": sku.pk, "statuses": ["available", "void"]}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="keys-steam-100-')
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["id", "status", "key"],
        [str(first.pk), "available", "E-1"],
        [str(second.pk), "available", "E-2"],
        [str(third.pk), "void", "E-3"],
    ]
    assert list(KeyExport.objects.values_list("sku_id", "actor", "statuses", "key_count")) == [
        (sku.pk, ADMIN_EMAIL, ["available", "void"], 3)
    ]


def test_export_of_sold_keys_is_not_offered(admin: Client, sku: Sku) -> None:
    import_keys(sku, "S-1")
    response = admin.post(console_url("keys_export"), {"sku": sku.pk, "statuses": ["sold"]})
    assert response.status_code == 200
    assertContains(response, "Select a valid choice. sold is not one of the available choices.")
    assert KeyExport.objects.count() == 0
