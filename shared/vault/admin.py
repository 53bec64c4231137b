"""HQ's admin for the vault: read-only views of batches, keys, sales and the audit trails.

No page shows or edits a ciphertext or fingerprint, and nothing here writes a key except the
two actions on card keys, which go through the services (so stock and audit stay right).
Keys are imported, revealed and exported through the services, never by editing rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from shared.vault.models import CardKey, CardKeySale, ImportBatch, KeyExport, KeyReveal
from shared.vault.services import card_keys_delete, card_keys_void


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "sku", "supplier", "source", "filename", "accepted", "duplicates",
                    "malformed", "created_by", "created_at")  # fmt: skip
    list_filter = ("source", "deduplicated")
    list_select_related = ("sku__product", "supplier")
    search_fields = ("sku__code", "filename", "created_by")
    date_hierarchy = "created_at"


@admin.register(CardKey)
class CardKeyAdmin(ReadOnlyAdmin):
    list_display = ("id", "sku", "status", "batch_id", "key_id", "order_ref", "reserved_until",
                    "sold_at", "created_at")  # fmt: skip
    list_filter = ("status", "key_id")
    list_select_related = ("sku__product",)
    search_fields = ("=order_ref", "sku__code")
    # Never the ciphertext or the fingerprint.
    fields = ("sku", "supplier", "batch", "status", "key_id", "order_ref", "reserved_until",
              "sold_at", "created_at")  # fmt: skip
    show_full_result_count = False  # millions of rows: no COUNT(*) on every page
    actions = ["void", "delete_unsold"]

    # The model permissions, not has_change/delete_permission (always False here, so that no
    # form edits a key and Django's bulk delete never bypasses the stock counter).
    def has_void_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("vault.change_cardkey")

    def has_delete_unsold_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("vault.delete_cardkey")

    @admin.action(description="Void selected unsold keys", permissions=["void"])
    def void(self, request: HttpRequest, queryset: QuerySet[CardKey]) -> None:
        self._apply(request, queryset, card_keys_void, "voided")

    @admin.action(description="Delete selected unsold keys", permissions=["delete_unsold"])
    def delete_unsold(self, request: HttpRequest, queryset: QuerySet[CardKey]) -> None:
        self._apply(request, queryset, card_keys_delete, "deleted")

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[CardKey], service: Any, verb: str
    ) -> None:
        actor = getattr(request.user, "email", "") or str(request.user)
        try:
            count = service(key_ids=list(queryset.values_list("id", flat=True)), actor_email=actor)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"{count} key(s) {verb}.", messages.SUCCESS)


@admin.register(CardKeySale)
class CardKeySaleAdmin(ReadOnlyAdmin):
    list_display = ("id", "card_key_id", "order_ref", "single_use", "sold_at")
    search_fields = ("=order_ref",)


@admin.register(KeyReveal)
class KeyRevealAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "card_key_id", "actor", "schema_name", "reason")
    search_fields = ("actor",)
    date_hierarchy = "created_at"


@admin.register(KeyExport)
class KeyExportAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "sku", "key_count", "statuses", "actor", "schema_name")
    search_fields = ("actor", "sku__code")
    date_hierarchy = "created_at"
