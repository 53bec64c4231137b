"""Card keys: imports and their reports, batches and their keys' statuses, void and delete of
unsold keys, the audited reveal of one key and the audited export of a SKU's unsold keys.

No page shows a key's secret except the reveal's answer, which is never cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from shared.hq.console import selectors
from shared.hq.console.access import staff_view
from shared.hq.console.forms.common import form_data, form_files, service_errors_to_form
from shared.hq.console.forms.keys import (
    KeyExportForm,
    KeyImportForm,
    KeyRevealForm,
    KeySelectionForm,
)
from shared.vault import parsing
from shared.vault import services as vault
from shared.vault.models import CardKey, CardKeyStatus, ImportBatch
from shared.vault.selectors import import_batches

BATCHES_PER_PAGE = 50
KEYS_PER_PAGE = 100

# Why a line of an import was rejected, as the vault reports it (by code, never by content).
REJECTION_REASONS = {
    parsing.TOO_MANY_FIELDS: gettext_lazy(
        "three or more fields (expected a key, or a card number and a password)"
    ),
    parsing.EMPTY_FIELD: gettext_lazy("an empty field between separators"),
    parsing.CONTROL_CHARACTER: gettext_lazy("a control or invisible character"),
    parsing.TOO_LONG: gettext_lazy("longer than %(n)s characters"),
    parsing.NUMBER_CELL: gettext_lazy(
        "a number Excel cannot hold exactly (store card numbers as text)"
    ),
    parsing.UNSUPPORTED_CELL: gettext_lazy("a date, time or true/false cell"),
    vault.DUPLICATE_IN_IMPORT: gettext_lazy("duplicate of an earlier line of this import"),
    vault.DUPLICATE_EXISTING: gettext_lazy("already in stock for this SKU"),
}


def _rejection_reason(code: str) -> str:
    reason = REJECTION_REASONS.get(code)
    return str(reason) % {"n": parsing.MAX_LINE_LENGTH} if reason else code


def _actor(request: HttpRequest) -> str:
    user: Any = request.user
    return str(user.email or user.get_username())


@require_http_methods(["GET", "POST"])
@staff_view("vault.add_importbatch")
def key_import(request: HttpRequest) -> HttpResponse:
    form = KeyImportForm(
        form_data(request), form_files(request), initial={"sku": request.GET.get("sku")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            batch = vault.card_keys_import(
                sku=data["sku"],
                content=form.content(),
                source=form.source(),
                actor_email=_actor(request),
                filename=form.filename(),
                supplier=data["supplier"],
                deduplicate=data["deduplicate"],
            )
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Batch %(id)s imported: %(accepted)s accepted, %(duplicates)s duplicates, "
                    "%(malformed)s malformed."
                )
                % {
                    "id": batch.pk,
                    "accepted": batch.accepted,
                    "duplicates": batch.duplicates,
                    "malformed": batch.malformed,
                },
            )
            return redirect("hq_console:batch_detail", batch_id=batch.pk)
    return render(request, "hq/console/key_import.html", {"form": form})


@require_safe
@staff_view("vault.view_importbatch")
def batch_list(request: HttpRequest) -> HttpResponse:
    sku_id = request.GET.get("sku", "")
    sku_id = sku_id if sku_id.isdigit() else ""
    batches = import_batches(sku_id=int(sku_id) if sku_id else None)
    page = Paginator(batches, BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "hq/console/batch_list.html", {"page": page, "sku_id": sku_id})


def _batch_page(
    request: HttpRequest, batch: ImportBatch, *, selection: KeySelectionForm | None = None
) -> HttpResponse:
    keys = Paginator(selectors.batch_keys(batch), KEYS_PER_PAGE).get_page(request.GET.get("page"))
    report = [
        {"line": row.get("line"), "reason": _rejection_reason(str(row.get("reason", "")))}
        for row in batch.report
    ]
    return render(
        request,
        "hq/console/batch_detail.html",
        {
            "batch": batch,
            "keys": keys,
            "report": report,
            "report_truncated": len(batch.report) < batch.duplicates + batch.malformed,
            "status_counts": selectors.batch_status_counts(batch),
            "selection": selection,
            "unsold": (CardKeyStatus.AVAILABLE, CardKeyStatus.VOID),
        },
        status=400 if selection is not None and selection.errors else 200,
    )


@require_safe
@staff_view("vault.view_importbatch", "vault.view_cardkey")
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(
        ImportBatch.objects.select_related("sku__product", "supplier"), pk=batch_id
    )
    return _batch_page(request, batch)


def _keys_change(request: HttpRequest, batch_id: int, *, delete: bool) -> HttpResponse:
    batch = get_object_or_404(
        ImportBatch.objects.select_related("sku__product", "supplier"), pk=batch_id
    )
    form = KeySelectionForm(request.POST, batch=batch)
    if form.is_valid():
        change = vault.card_keys_delete if delete else vault.card_keys_void
        try:
            count = change(key_ids=form.cleaned_data["keys"], actor_email=_actor(request))
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            text = (
                ngettext("%(count)d key deleted.", "%(count)d keys deleted.", count)
                if delete
                else ngettext("%(count)d key voided.", "%(count)d keys voided.", count)
            )
            messages.success(request, text % {"count": count})
            return redirect("hq_console:batch_detail", batch_id=batch.pk)
    return _batch_page(request, batch, selection=form)


@require_POST
@staff_view("vault.view_importbatch", "vault.view_cardkey", "vault.change_cardkey")
def keys_void(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _keys_change(request, batch_id, delete=False)


@require_POST
@staff_view("vault.view_importbatch", "vault.view_cardkey", "vault.delete_cardkey")
def keys_delete(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _keys_change(request, batch_id, delete=True)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_view("vault.view_cardkey", "vault.reveal_cardkey")
def key_reveal(request: HttpRequest, key_id: int) -> HttpResponse:
    """Ask why, then show the key once. Every reveal is recorded (KeyReveal)."""
    key = get_object_or_404(
        CardKey.objects.select_related("sku__product").only(
            "id", "status", "batch_id", "sku__code", "sku__name", "sku__product__name"
        ),
        pk=key_id,
    )
    form = KeyRevealForm(form_data(request))
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            secret = vault.card_key_reveal(
                key_id=key.pk, actor_email=_actor(request), reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            service_errors_to_form(form, exc)
    response = render(
        request, "hq/console/key_reveal.html", {"key": key, "form": form, "secret": secret}
    )
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@staff_view("vault.view_cardkey", "vault.export_cardkey")
def keys_export(request: HttpRequest) -> HttpResponse:
    """Download a SKU's unsold keys in clear as CSV (audited as one KeyExport row)."""
    form = KeyExportForm(form_data(request), initial={"sku": request.GET.get("sku")})
    if request.method == "POST" and form.is_valid():
        sku = form.cleaned_data["sku"]
        try:
            content = vault.card_keys_export(
                sku=sku, statuses=form.cleaned_data["statuses"], actor_email=_actor(request)
            )
        except ValidationError as exc:
            service_errors_to_form(form, exc)
        else:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            response = HttpResponse(content, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="keys-{sku.code}-{stamp}.csv"'
            return response
    return render(request, "hq/console/keys_export.html", {"form": form})
