"""Writes of the card-key vault: imports, reservation and sale for orders, void and delete,
audited reveals and exports, supplier secrets, key rotation and the stock-counter repair.

Every function is keyword-only and atomic. Plaintext keys exist only in memory: they are never
logged, never put in an exception, a report or a staging table. SKUs delivered by card key
(`card_key`) hold single-use keys, reserved for one order and sold once; `reusable_key` SKUs
hold keys delivered to every buyer: never reserved, never counted (their stock is unlimited),
recorded as one sale row per order.
"""

from __future__ import annotations

import csv
import heapq
import io
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from shared.catalog.models import DeliveryKind, Sku, StockAlert
from shared.suppliers.models import Supplier
from shared.vault import crypto, parsing, selectors, stock
from shared.vault.models import (
    CardKey,
    CardKeySale,
    CardKeyStatus,
    ImportBatch,
    KeyExport,
    KeyReveal,
)
from shared.vault.sealing import KEY_ROW_COLUMNS, Fingerprinter, key_rows_copy

logger = logging.getLogger(__name__)

KEY_DELIVERY_KINDS = (DeliveryKind.CARD_KEY, DeliveryKind.REUSABLE_KEY)
REPORT_LIMIT = 1000  # rejected lines listed in ImportBatch.report (the counts are exact)
EXPORTABLE_STATUSES = (CardKeyStatus.AVAILABLE, CardKeyStatus.RESERVED, CardKeyStatus.VOID)
DUPLICATE_IN_IMPORT = "duplicate_in_import"
DUPLICATE_EXISTING = "duplicate_existing"


class OutOfStock(Exception):
    """Fewer keys are available than an order asks for; nothing was reserved."""

    def __init__(self, *, sku_id: int, requested: int, available: int) -> None:
        self.sku_id, self.requested, self.available = sku_id, requested, available
        super().__init__(f"SKU {sku_id}: {requested} key(s) requested, {available} available.")


class SaleRefused(Exception):
    """An order's keys cannot be sold: no live reservation, or it has expired."""


# --- Guards -----------------------------------------------------------------------------------


def _require_key_sku(sku: Sku) -> None:
    if sku.delivery_kind not in KEY_DELIVERY_KINDS:
        raise ValidationError(
            f"SKU {sku.code} is delivered by {sku.get_delivery_kind_display().lower()}, "
            "not by card key.",
            code="delivery_kind",
        )


def _require_text(value: str, what: str, max_length: int) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(f"{what} is required.", code="required")
    if len(value) > max_length:
        raise ValidationError(f"{what} is longer than {max_length} characters.", code="too_long")
    return value


def _lines_text(lines: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(str(line) for line in lines[:limit])
    return shown + (", ..." if len(lines) > limit else "")


# --- Import -----------------------------------------------------------------------------------


def card_keys_import(
    *,
    sku: Sku,
    content: str | bytes | IO[bytes],
    source: str,
    actor_email: str,
    filename: str = "",
    supplier: Supplier | None = None,
    deduplicate: bool = True,
) -> ImportBatch:
    """Encrypt and store the keys of one import (see `parsing` for formats) as a batch.

    Keys are canonicalised, de-duplicated within the import, looked up by fingerprint among the
    SKU's stored keys, then encrypted under the active vault key and COPYed straight into the
    key table (see `_keys_insert`; the unique (sku, fingerprint) constraint still guards it).
    With `deduplicate` (the default) a key already in the vault for this SKU, or repeated
    within the import, is skipped and reported; without it, any duplicate refuses the
    whole import (ValidationError) and nothing is written. Malformed lines are skipped and
    reported either way, by line number and reason only. The batch, its keys and the SKU's
    stock counter commit together.
    """
    _require_key_sku(sku)
    actor_email = _require_text(actor_email, "The actor's email", 254)
    parsed = parsing.parse_import(content, source=source)
    if parsed.line_count == 0:
        raise ValidationError("The import holds no keys.", code="empty")
    if not deduplicate and parsed.duplicate_lines:
        raise ValidationError(
            f"{len(parsed.duplicate_lines)} line(s) repeat an earlier key of this import "
            f"(lines {_lines_text(parsed.duplicate_lines)}); nothing was imported.",
            code="duplicates",
        )
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            sku=sku,
            supplier=supplier,
            source=source,
            filename=filename[:255],
            created_by=actor_email,
            deduplicated=deduplicate,
        )
        with connection.cursor() as cursor:
            accepted, existing_lines, existing_count = _keys_insert(
                cursor, batch=batch, keys=parsed.keys, lines=parsed.key_lines
            )
        if existing_count and not deduplicate:
            raise ValidationError(
                f"{existing_count} key(s) of this import are already in the vault for "
                f"{sku.code} (lines {_lines_text(existing_lines)}); nothing was imported.",
                code="duplicates",
            )
        batch.accepted = accepted
        batch.duplicates = len(parsed.duplicate_lines) + existing_count
        batch.malformed = len(parsed.malformed)
        batch.report = _import_report(parsed, existing_lines)
        batch.save(update_fields=["accepted", "duplicates", "malformed", "report"])
        if sku.delivery_kind == DeliveryKind.CARD_KEY and accepted:
            stock.stock_add(sku=sku, count=accepted)
    logger.info(
        "vault.keys.imported",
        extra={
            "batch_id": batch.pk,
            "sku_id": sku.pk,
            "source": source,
            "accepted": batch.accepted,
            "duplicates": batch.duplicates,
            "malformed": batch.malformed,
            "actor": actor_email,
        },
    )
    return batch


# Imports of one SKU run one at a time (a transaction-scoped advisory lock), so the duplicate
# check below sees every key that could conflict; the unique (sku, fingerprint) constraint
# still guards the table.
_IMPORT_LOCK_CLASS = 0x7661  # "va"
_EXISTING_FINGERPRINTS = (
    "SELECT fingerprint FROM vault_cardkey WHERE sku_id = %s AND fingerprint = ANY(%s)"
)
_KEYS_COPY = f"COPY vault_cardkey ({KEY_ROW_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_LOOKUP_CHUNK = 20_000


def _keys_insert(
    cursor: CursorWrapper, *, batch: ImportBatch, keys: Sequence[str], lines: Sequence[int]
) -> tuple[int, list[int], int]:
    """Insert the batch's new keys: (inserted, first existing-duplicate lines, count).

    If the SKU already has keys, every key is fingerprinted first and those already in the
    vault are looked up by fingerprint and skipped. The new keys are then fingerprinted (for
    a SKU's first import, only now), encrypted and COPYed straight into the table in the
    file's order, as binary COPY data built by `sealing.key_rows_copy` a chunk at a time: the
    client seals the next chunk while the server stores the previous one.
    """
    ring = crypto.keyring()
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK_CLASS, batch.sku_id])
    datas = [key.encode() for key in keys]
    fingerprints: list[bytes] | None = None
    existing_all: list[int] = []
    if CardKey.objects.filter(sku_id=batch.sku_id).exists():
        fingerprints = list(map(Fingerprinter(ring.fingerprint_key), datas))
        existing: set[bytes] = set()
        for start in range(0, len(fingerprints), _LOOKUP_CHUNK):
            chunk = fingerprints[start : start + _LOOKUP_CHUNK]
            cursor.execute(_EXISTING_FINGERPRINTS, [batch.sku_id, chunk])
            existing.update(bytes(row[0]) for row in cursor.fetchall())
        if existing:
            existing_all = [lines[i] for i, fp in enumerate(fingerprints) if fp in existing]
            fresh = [i for i, fp in enumerate(fingerprints) if fp not in existing]
            datas = [datas[i] for i in fresh]
            fingerprints = [fingerprints[i] for i in fresh]
    with cursor.copy(_KEYS_COPY) as copy:
        for data in key_rows_copy(
            datas,
            fingerprints=fingerprints,
            ring=ring,
            sku_id=batch.sku_id,
            supplier_id=batch.supplier_id,
            batch_id=batch.pk,
            status=CardKeyStatus.AVAILABLE,
            created_at=batch.created_at,
        ):
            copy.write(data)
    return len(datas), existing_all[:REPORT_LIMIT], len(existing_all)


def _import_report(parsed: parsing.ParsedImport, existing_lines: list[int]) -> list[dict]:
    """The first REPORT_LIMIT rejected lines, in line order: numbers and reasons only."""
    rejected: Iterator[tuple[int, str]] = heapq.merge(
        parsed.malformed,
        ((line, DUPLICATE_IN_IMPORT) for line in parsed.duplicate_lines),
        ((line, DUPLICATE_EXISTING) for line in existing_lines),
    )
    return [{"line": line, "reason": reason} for line, reason in islice(rejected, REPORT_LIMIT)]


# --- Reservation and sale (the orders capability) ---------------------------------------------


def card_keys_reserve(
    *, sku: Sku, quantity: int, order_ref: str, expires_at: datetime
) -> list[int]:
    """Hold `quantity` single-use keys of the SKU for an order until `expires_at`.

    All or nothing: raises OutOfStock, changing nothing, if fewer keys are available. The
    SKU's counter is decremented first (`available >= quantity`, which also queues concurrent
    reservations of one SKU on its row), then keys are taken oldest first with `FOR UPDATE SKIP
    LOCKED`, so two orders never get the same key. Asking again for an order that already
    holds exactly `quantity` keys of this SKU returns those keys (a retry is harmless).

    A reusable-key SKU reserves nothing: the id of its newest available key is returned (the
    same key for every unit and every buyer), or OutOfStock if it has none.
    """
    _require_key_sku(sku)
    order_ref = _require_text(order_ref, "The order reference", 100)
    if quantity < 1:
        raise ValidationError("The quantity must be at least 1.", code="quantity")
    if sku.delivery_kind == DeliveryKind.REUSABLE_KEY:
        newest = selectors.reusable_key_current(sku_id=sku.pk)
        if newest is None:
            raise OutOfStock(sku_id=sku.pk, requested=quantity, available=0)
        return [newest]
    if expires_at <= timezone.now():
        raise ValidationError("The reservation must expire in the future.", code="expires_at")
    with transaction.atomic():
        held = _ids(_HELD_SQL, [sku.pk, order_ref])
        if held:
            if len(held) != quantity:
                raise ValidationError(
                    f"Order {order_ref} already holds {len(held)} key(s) of {sku.code}.",
                    code="already_reserved",
                )
            return held
        # The counter row is the SKU's allocation lock: taking from it first queues the SKU's
        # reservations one behind the other, so the keys a concurrent reservation holds are
        # committed or given back before this one looks, and OutOfStock means out of stock.
        if stock.stock_take(sku=sku, count=quantity) is None:
            available = selectors.stock_levels([sku.pk]).get(sku.pk) or 0
            raise OutOfStock(sku_id=sku.pk, requested=quantity, available=available)
        # The oldest available keys, skipping any another transaction holds, taken in one go.
        key_ids = _ids(_TAKE_SQL, [sku.pk, quantity, order_ref, expires_at])
        if len(key_ids) < quantity:  # keys being voided right now, or a counter ahead of keys
            logger.warning("vault.stock.keys_short", extra={"sku_id": sku.pk})
            raise OutOfStock(sku_id=sku.pk, requested=quantity, available=len(key_ids))
    logger.info(
        "vault.keys.reserved",
        extra={"sku_id": sku.pk, "order_ref": order_ref, "quantity": quantity},
    )
    return key_ids


_HELD_SQL = "SELECT id FROM vault_cardkey WHERE sku_id = %s AND order_ref = %s ORDER BY id"
# The keys are picked in a materialized CTE: evaluated exactly once. As an `IN (subquery)`
# the planner may run the subquery more than once, and each run skips the rows the previous one
# locked, so more than LIMIT keys would be taken.
_TAKE_SQL = f"""
WITH picked AS MATERIALIZED (
    SELECT id FROM vault_cardkey WHERE sku_id = %s AND status = '{CardKeyStatus.AVAILABLE.value}'
    ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
)
UPDATE vault_cardkey k SET status = '{CardKeyStatus.RESERVED.value}', order_ref = %s,
    reserved_until = %s
FROM picked WHERE k.id = picked.id
RETURNING k.id
"""  # noqa: S608


def _ids(sql: str, params: Sequence[Any]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def card_keys_sell(*, order_ref: str, reusable_key_ids: Sequence[int] = ()) -> list[int]:
    """Mark every key reserved for the order sold (payment confirmed) and record the sales.

    Also records the sale of `reusable_key_ids` (as returned by `card_keys_reserve` for
    reusable-key SKUs) to the order. Refuses (SaleRefused, nothing changed) when a reservation
    of the order has expired, when the order holds no keys, or when a key was already sold to
    another order (the database's unique constraint says so). Idempotent: selling an order
    again writes nothing and returns the same keys. Returns the ids of every key sold to the
    order, ascending.
    """
    order_ref = _require_text(order_ref, "The order reference", 100)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_HELD_LOCK_SQL, [order_ref])
        keys = cursor.fetchall()
        reserved = [key_id for key_id, status, _ in keys if status == CardKeyStatus.RESERVED]
        expired = [
            key_id
            for key_id, status, until in keys
            if status == CardKeyStatus.RESERVED and until is not None and until <= now
        ]
        if expired:
            raise SaleRefused(f"The reservation of order {order_ref} has expired.")
        reusable = _reusable_keys_lock(reusable_key_ids)
        if not keys and not reusable and not _sold_to(order_ref):
            raise SaleRefused(f"Order {order_ref} holds no keys.")
        if reserved:
            try:
                cursor.execute(_SELL_SQL, [now, reserved, order_ref, now])
            except IntegrityError as exc:  # the block rolls back to its savepoint
                raise SaleRefused("A key of this order was already sold.") from exc
        if reusable:
            CardKeySale.objects.bulk_create(
                [
                    CardKeySale(card_key_id=key_id, order_ref=order_ref, single_use=False)
                    for key_id in reusable
                ],
                ignore_conflicts=True,  # the same order sold again: nothing new
            )
        # Sold just now and nothing before: the keys sold are the ones just marked.
        first_sale = bool(reserved) and len(reserved) == len(keys) and not reusable
        sold = reserved if first_sale else _sold_to(order_ref)
    if reserved or reusable:
        logger.info(
            "vault.keys.sold",
            extra={"order_ref": order_ref, "single_use": len(reserved), "reusable": len(reusable)},
        )
    return sold


_HELD_LOCK_SQL = f"""
SELECT id, status, reserved_until FROM vault_cardkey
WHERE order_ref = %s AND status IN ('{CardKeyStatus.RESERVED.value}', '{CardKeyStatus.SOLD.value}')
ORDER BY id FOR UPDATE
"""  # noqa: S608
# The keys marked sold and their sales recorded in one statement (a key already sold to another
# order breaks the sale's unique key).
_SELL_SQL = f"""
WITH sold AS (
    UPDATE vault_cardkey SET status = '{CardKeyStatus.SOLD.value}', sold_at = %s
    WHERE id = ANY(%s) RETURNING id
)
INSERT INTO vault_cardkeysale (card_key_id, order_ref, single_use, sold_at)
SELECT id, %s, true, %s FROM sold
"""  # noqa: S608


def _sold_to(order_ref: str) -> list[int]:
    return list(
        CardKeySale.objects.filter(order_ref=order_ref)
        .order_by("card_key_id")
        .values_list("card_key_id", flat=True)
    )


def _reusable_keys_lock(key_ids: Sequence[int]) -> list[int]:
    """Lock the given reusable keys (not voided or deleted meanwhile) or refuse the sale."""
    wanted = sorted(set(key_ids))
    if not wanted:
        return []
    found = list(
        CardKey.objects.select_for_update()
        .filter(
            id__in=wanted,
            status=CardKeyStatus.AVAILABLE,
            sku__delivery_kind=DeliveryKind.REUSABLE_KEY,
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    if found != wanted:
        raise SaleRefused("A reusable key of this order is no longer available.")
    return found


def card_keys_release(*, order_ref: str) -> int:
    """Put the keys an order holds back in stock (order cancelled); returns how many.
    Sold keys stay sold. Releasing an order that holds nothing does nothing."""
    order_ref = _require_text(order_ref, "The order reference", 100)
    with transaction.atomic():
        rows = list(
            CardKey.objects.select_for_update()
            .filter(order_ref=order_ref, status=CardKeyStatus.RESERVED)
            .order_by("id")
            .values_list("id", "sku_id")
        )
        _keys_return_to_stock(rows)
    if rows:
        logger.info("vault.keys.released", extra={"order_ref": order_ref, "count": len(rows)})
    return len(rows)


def card_keys_release_expired(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Release every reservation that expired by `now`; returns how many keys. Each batch is
    its own transaction; keys locked by a sale in progress are skipped (that sale refuses them
    or completes; either way they are not released twice)."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                CardKey.objects.select_for_update(skip_locked=True)
                .filter(status=CardKeyStatus.RESERVED, reserved_until__lte=now)
                .order_by("reserved_until", "id")
                .values_list("id", "sku_id")[:batch_size]
            )
            _keys_return_to_stock(rows)
        total += len(rows)
        if len(rows) < batch_size:
            break
    if total:
        logger.info("vault.keys.reservations_expired", extra={"count": total})
    return total


def _keys_return_to_stock(rows: Sequence[tuple[int, int]]) -> None:
    """Reserved keys (id, sku id), locked by the caller, back to available."""
    if not rows:
        return
    CardKey.objects.filter(id__in=[key_id for key_id, _ in rows]).update(
        status=CardKeyStatus.AVAILABLE, order_ref=None, reserved_until=None
    )
    per_sku = Counter(sku_id for _, sku_id in rows)
    for sku in Sku.objects.filter(id__in=per_sku).order_by("id"):
        stock.stock_add(sku=sku, count=per_sku[sku.pk])


# --- Void and delete (HQ) ---------------------------------------------------------------------


def _unsold_keys_lock(key_ids: Iterable[int], allowed: Sequence[str]) -> list[CardKey]:
    wanted = sorted(set(key_ids))
    if not wanted:
        raise ValidationError("No keys were given.", code="required")
    keys = list(
        CardKey.objects.select_for_update()
        .filter(id__in=wanted)
        .select_related("sku")
        .only("id", "status", "sku__id", "sku__delivery_kind", "sku__low_stock_threshold")
        .order_by("id")
    )
    missing = sorted(set(wanted) - {key.pk for key in keys})
    if missing:
        raise ValidationError(f"No card keys with ids {missing}.", code="not_found")
    refused = [key.pk for key in keys if key.status not in allowed]
    if refused:
        raise ValidationError(
            f"Keys {refused} are reserved or sold; only unsold keys can be changed.",
            code="not_unsold",
        )
    return keys


def _stock_remove(keys: Sequence[CardKey]) -> None:
    """Take available single-use keys that are leaving the stock off their SKUs' counters."""
    leaving = [
        key
        for key in keys
        if key.status == CardKeyStatus.AVAILABLE and key.sku.delivery_kind == DeliveryKind.CARD_KEY
    ]
    per_sku = Counter(key.sku.pk for key in leaving)
    skus = {key.sku.pk: key.sku for key in leaving}
    for sku_id in sorted(per_sku):
        if stock.stock_take(sku=skus[sku_id], count=per_sku[sku_id]) is None:
            raise ValidationError(
                f"The stock counter of SKU {sku_id} is behind its keys; run "
                "`manage.py vault_stock_check --fix` first.",
                code="stock_counter",
            )


def card_keys_void(*, key_ids: Iterable[int], actor_email: str) -> int:
    """Withdraw unsold keys from sale (they stay stored); returns how many changed. Voiding a
    void key again is a no-op; reserved or sold keys are refused."""
    actor_email = _require_text(actor_email, "The actor's email", 254)
    allowed = (CardKeyStatus.AVAILABLE, CardKeyStatus.VOID)
    with transaction.atomic():
        locked = _unsold_keys_lock(key_ids, allowed)
        keys = [key for key in locked if key.status != CardKeyStatus.VOID]
        _stock_remove(keys)
        CardKey.objects.filter(id__in=[key.pk for key in keys]).update(status=CardKeyStatus.VOID)
    logger.info("vault.keys.voided", extra={"count": len(keys), "actor": actor_email})
    return len(keys)


def card_keys_delete(*, key_ids: Iterable[int], actor_email: str) -> int:
    """Delete unsold keys for good (a mistaken import); returns how many. Keys that were
    revealed, exported under audit or delivered (reusable keys) must be voided instead: their
    audit trail and sales point at them."""
    actor_email = _require_text(actor_email, "The actor's email", 254)
    allowed = (CardKeyStatus.AVAILABLE, CardKeyStatus.VOID)
    with transaction.atomic():
        keys = _unsold_keys_lock(key_ids, allowed)
        ids = [key.pk for key in keys]
        revealed = KeyReveal.objects.filter(card_key_id__in=ids).values_list("card_key_id")
        delivered = CardKeySale.objects.filter(card_key_id__in=ids).values_list("card_key_id")
        referenced = sorted({row[0] for row in revealed.union(delivered)})
        if referenced:
            raise ValidationError(
                f"Keys {referenced} were revealed or delivered; void them instead.",
                code="referenced",
            )
        _stock_remove(keys)
        CardKey.objects.filter(id__in=ids).delete()
    logger.info("vault.keys.deleted", extra={"count": len(ids), "actor": actor_email})
    return len(ids)


# --- Decryption: delivery, audited reveal and export ------------------------------------------


def card_keys_for_order(*, order_ref: str) -> list[str]:
    """The plaintext keys sold to an order, by key id: the buyer's delivery path."""
    rows = (
        CardKeySale.objects.filter(order_ref=order_ref)
        .order_by("card_key_id")
        .values_list("card_key__ciphertext", "card_key__key_id")
    )
    keys = [crypto.decrypt(ciphertext, key_id) for ciphertext, key_id in rows]
    logger.info("vault.keys.delivered", extra={"order_ref": order_ref, "count": len(keys)})
    return keys


def card_key_reveal(*, key_id: int, actor_email: str, reason: str) -> str:
    """Decrypt one key for staff, recording who, why and from which schema (KeyReveal)."""
    actor_email = _require_text(actor_email, "The actor's email", 254)
    reason = _require_text(reason, "A reason", 500)
    with transaction.atomic():
        row = CardKey.objects.filter(pk=key_id).values_list("ciphertext", "key_id").first()
        if row is None:
            raise ValidationError(f"No card key with id {key_id}.", code="not_found")
        KeyReveal.objects.create(
            card_key_id=key_id,
            actor=actor_email,
            reason=reason,
            schema_name=connection.schema_name,  # type: ignore[attr-defined]
        )
        plaintext = crypto.decrypt(row[0], row[1])
    logger.info(
        "vault.key.revealed",
        extra={
            "card_key_id": key_id,
            "actor": actor_email,
            "schema": connection.schema_name,  # type: ignore[attr-defined]
        },
    )
    return plaintext


def card_keys_export(
    *, sku: Sku, statuses: Sequence[str] = ("available",), actor_email: str
) -> bytes:
    """A CSV (UTF-8 with BOM, for Excel) of the SKU's unsold keys in clear, columns `id`,
    `status`, `key`, audited as one KeyExport row. Sold keys belong to their buyers and are
    never exported."""
    actor_email = _require_text(actor_email, "The actor's email", 254)
    wanted = list(dict.fromkeys(statuses))
    if not wanted or not set(wanted) <= set(EXPORTABLE_STATUSES):
        raise ValidationError(
            f"Only unsold keys can be exported (statuses {list(EXPORTABLE_STATUSES)}).",
            code="statuses",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "status", "key"])
    with transaction.atomic():
        rows = (
            CardKey.objects.filter(sku=sku, status__in=wanted)
            .order_by("id")
            .values_list("id", "status", "ciphertext", "key_id")
        )
        count = 0
        for key_pk, status, ciphertext, key_id in rows.iterator(chunk_size=2000):
            writer.writerow([key_pk, status, crypto.decrypt(ciphertext, key_id)])
            count += 1
        KeyExport.objects.create(
            sku=sku,
            actor=actor_email,
            statuses=wanted,
            key_count=count,
            schema_name=connection.schema_name,  # type: ignore[attr-defined]
        )
    logger.info(
        "vault.keys.exported",
        extra={"sku_id": sku.pk, "count": count, "statuses": wanted, "actor": actor_email},
    )
    return buffer.getvalue().encode("utf-8-sig")


# --- Supplier secrets -------------------------------------------------------------------------


def supplier_secret_set(*, supplier: Supplier, secret: str) -> None:
    """Store a supplier's API secret encrypted under the active vault key."""
    if not secret:
        raise ValidationError("The secret is empty.", code="required")
    ciphertext, key_id = crypto.encrypt(secret)
    Supplier.objects.filter(pk=supplier.pk).update(
        api_secret_ciphertext=ciphertext, api_secret_key_id=key_id
    )
    supplier.api_secret_ciphertext = ciphertext
    supplier.api_secret_key_id = key_id
    logger.info("vault.supplier_secret.set", extra={"supplier_id": supplier.pk})


def supplier_secret_get(*, supplier: Supplier) -> str:
    """The supplier's API secret in clear (read from the database, so a rotation since the
    instance was loaded does not matter)."""
    row = (
        Supplier.objects.filter(pk=supplier.pk)
        .values_list("api_secret_ciphertext", "api_secret_key_id")
        .first()
    )
    if row is None or not row[0]:
        raise ValidationError(f"Supplier {supplier.pk} has no API secret.", code="no_secret")
    return crypto.decrypt(row[0], row[1])


# --- Key rotation -----------------------------------------------------------------------------


def vault_keys_rotate(*, batch_size: int = 5000) -> int:
    """Re-encrypt every card key and supplier secret not under the active key id; returns how
    many. Card keys go in id order, `batch_size` per transaction, each batch locked while it is
    rewritten, so rotation runs beside live traffic and resumes where it stopped. Afterwards
    `selectors.vault_key_usage()` shows only the active id and old keys can be removed."""
    ring = crypto.keyring()
    active = ring.active_key_id
    total = 0
    last_id = 0
    while True:
        with transaction.atomic():
            rows = list(
                CardKey.objects.select_for_update()
                .filter(id__gt=last_id)
                .exclude(key_id=active)
                .order_by("id")
                .values_list("id", "ciphertext", "key_id")[:batch_size]
            )
            if not rows:
                break
            ids = [row[0] for row in rows]
            blobs = [
                crypto.encrypt(crypto.decrypt(blob, key_id, ring=ring), ring=ring)[0]
                for _, blob, key_id in rows
            ]
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE vault_cardkey AS k SET ciphertext = v.ciphertext, key_id = %s "
                    "FROM unnest(%s::bigint[], %s::bytea[]) AS v(id, ciphertext) "
                    "WHERE k.id = v.id",
                    [active, ids, blobs],
                )
        last_id = ids[-1]
        total += len(ids)
        logger.info("vault.rotation.batch", extra={"count": len(ids), "last_id": last_id})
    with transaction.atomic():
        suppliers = list(
            Supplier.objects.select_for_update()
            .filter(api_secret_ciphertext__isnull=False)
            .exclude(api_secret_key_id=active)
            .order_by("id")
        )
        for supplier in suppliers:
            secret = crypto.decrypt(
                supplier.api_secret_ciphertext or b"", supplier.api_secret_key_id, ring=ring
            )
            supplier.api_secret_ciphertext, supplier.api_secret_key_id = crypto.encrypt(
                secret, ring=ring
            )
            supplier.save(update_fields=["api_secret_ciphertext", "api_secret_key_id"])
    total += len(suppliers)
    logger.info("vault.rotation.done", extra={"rewritten": total, "active_key_id": active})
    return total


# --- Stock counter ----------------------------------------------------------------------------


def sku_stocks_repair() -> list[selectors.StockDifference]:
    """Set every card-key SKU's counter to its available keys; returns what was wrong.
    Counter writes are blocked (EXCLUSIVE lock on the counter table) while it counts, so a
    reservation or import in flight lands on the repaired value, not under it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE vault_skustock IN EXCLUSIVE MODE")
        differences = selectors.stock_differences()
        skus = Sku.objects.in_bulk([difference.sku_id for difference in differences])
        for difference in differences:
            stock.stock_set(sku=skus[difference.sku_id], available=difference.keys)
    for difference in differences:
        logger.warning(
            "vault.stock.repaired",
            extra={
                "sku_id": difference.sku_id,
                "counter": difference.counter,
                "keys": difference.keys,
            },
        )
    return differences


def stock_alert_notify(*, alert_id: int) -> int:
    """Email HQ staff (active `is_staff` users of the public schema) about a low-stock alert
    that is still open; returns how many were emailed."""
    alert = (
        StockAlert.objects.select_related("sku")
        .filter(pk=alert_id, resolved_at__isnull=True)
        .first()
    )
    if alert is None:
        return 0
    recipients = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    sku = alert.sku
    send_mail(
        subject=f"Low stock: {sku.code} ({alert.available} left)",
        message=(
            f"SKU {sku.code} ({sku.name}) has {alert.available} card key(s) available, "
            f"below its threshold of {alert.threshold}.\n"
            "Import more keys in the HQ console to restock it."
        ),
        from_email=None,
        recipient_list=recipients,
    )
    logger.info(
        "vault.stock.alert_emailed", extra={"alert_id": alert_id, "recipients": len(recipients)}
    )
    return len(recipients)
