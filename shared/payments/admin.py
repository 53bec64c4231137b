"""Read-only admin views of checkouts, webhook events and refunds (HQ's /admin/)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from shared.payments.models import CheckoutSession, Refund, WebhookEvent


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(ReadOnly):
    list_display = ("provider_session_id", "site", "purpose", "reference", "amount", "currency",
                    "status", "created_at")  # fmt: skip
    list_filter = ("status", "provider", "purpose")
    search_fields = ("provider_session_id", "reference", "payment_ref", "customer_email")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnly):
    list_display = ("event_id", "type", "outcome", "site", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("event_id", "reason")


@admin.register(Refund)
class RefundAdmin(ReadOnly):
    list_display = ("provider_refund_id", "site", "payment_ref", "amount", "currency", "status")
    search_fields = ("provider_refund_id", "payment_ref")
