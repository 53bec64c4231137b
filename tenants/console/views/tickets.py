"""After-sales tickets in the site's console: a filtered list (status, kind, flagged buyers),
each ticket's timeline with the buyer's record, and the staff's steps: reply, re-issue a key,
refund whole or in part, reject with a reason. Reading needs the orders' view permission,
answering and re-issuing their change permission, refunding their refund permission."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.aftersales import selectors
from tenants.aftersales.forms import (
    ReissueForm,
    RejectForm,
    ReplyForm,
    TicketFilterForm,
    TicketRefundForm,
)
from tenants.aftersales.models import ActorRole, Ticket
from tenants.aftersales.services import (
    Actor,
    TicketError,
    ticket_refund,
    ticket_reissue,
    ticket_reject,
    ticket_reply,
)
from tenants.aftersales.views import attachment_response
from tenants.console import roles
from tenants.console.access import console_action, console_view
from tenants.console.forms import add_service_errors

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> Actor:
    return Actor(
        str(getattr(request.user, "email", "") or f"staff:{request.user.pk}"), ActorRole.STAFF
    )


@console_view(view=roles.VIEW_ORDERS)
def ticket_list(request: HttpRequest) -> HttpResponse:
    form = TicketFilterForm(request.GET or None)
    filters = selectors.TicketFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.TicketFilters(
            status=data["status"], kind=data["kind"], flagged=data["flagged"], query=data["q"]
        )
    flags = selectors.flagged_buyers()
    page = Paginator(selectors.console_tickets(filters, flags=flags), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [
        (t, flags.has(buyer_id=t.order.buyer_id, email=t.order.email)) for t in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/tickets.html",
        {
            "form": form,
            "page_obj": page,
            "rows": rows,
            "query": query.urlencode(),
            "open_count": selectors.open_ticket_count(),
        },
    )


def _detail(
    request: HttpRequest, ticket: Ticket, *, status: int = 200, **forms: Any
) -> HttpResponse:
    order = ticket.order
    key_ids = selectors.order_key_ids(order) if order.uses_card_keys else []
    replaced = {r.invalid_key_id for r in selectors.order_reissues(order)}
    live = [k for k in key_ids if k not in replaced]
    context = {
        "ticket": ticket,
        "order": order,
        "events": selectors.ticket_timeline(ticket),
        "record": selectors.order_buyer_record(order),
        "reissues": selectors.order_reissues(order),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "reissue_form": forms.get("reissue_form")
        or ReissueForm(key_ids=live, reported=ticket.reported_key_id),
        "refund_form": forms.get("refund_form") or TicketRefundForm(),
        "reject_form": forms.get("reject_form") or RejectForm(),
        "can_reissue": bool(live) and order.status == "delivered",
        "can_refund": order.refundable_amount > 0,
        "staff_view": True,
        "refusals": [
            text for form in forms.values() for texts in form.errors.values() for text in texts
        ],
    }
    return render(request, "console/tickets_detail.html", context, status=status)


@console_view(view=roles.VIEW_ORDERS)
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return _detail(request, selectors.console_ticket_get(ticket_id=ticket_id))


def _done(request: HttpRequest, ticket: Ticket, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("console:ticket", ticket_id=ticket.pk)


def _refused(form: Any, exc: ValidationError) -> None:
    add_service_errors(form, exc)


@console_action(change=roles.CHANGE_ORDERS)
def ticket_reply_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.console_ticket_get(ticket_id=ticket_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            ticket_reply(
                ticket=ticket,
                body=form.cleaned_data["body"],
                actor=_actor(request),
                files=form.cleaned_data["attachments"],
            )
        except TicketError as exc:
            _refused(form, exc)
        else:
            return _done(request, ticket, _("Reply sent; the buyer has been emailed."))
    ticket.refresh_from_db()
    return _detail(request, ticket, reply_form=form, status=400)


@console_action(change=roles.CHANGE_ORDERS)
def ticket_reissue_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.console_ticket_get(ticket_id=ticket_id)
    key_ids = selectors.order_key_ids(ticket.order) if ticket.order.uses_card_keys else []
    form = ReissueForm(request.POST, key_ids=key_ids, reported=ticket.reported_key_id)
    if form.is_valid():
        try:
            ticket_reissue(
                ticket=ticket,
                key_id=form.cleaned_data["key"],
                actor=_actor(request),
                note=form.cleaned_data["note"],
            )
        except TicketError as exc:
            _refused(form, exc)
        else:
            return _done(request, ticket, _("A new key was issued; the buyer has been emailed."))
    elif not key_ids:
        form.errors.clear()
        form.add_error(None, _("Only card-key orders can have a key re-issued."))
    ticket.refresh_from_db()
    return _detail(request, ticket, reissue_form=form, status=400)


@console_action(change=roles.REFUND_ORDERS)
def ticket_refund_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.console_ticket_get(ticket_id=ticket_id)
    form = TicketRefundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ticket_refund(
                ticket=ticket,
                amount=None if data["whole"] else data["amount"],
                reason=data["reason"],
                actor=_actor(request),
                reviewed=data["reviewed"],
            )
        except TicketError as exc:
            _refused(form, exc)
        else:
            return _done(request, ticket, _("Refund recorded; the buyer has been emailed."))
    ticket.refresh_from_db()
    return _detail(request, ticket, refund_form=form, status=400)


@console_action(change=roles.CHANGE_ORDERS)
def ticket_reject_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.console_ticket_get(ticket_id=ticket_id)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            ticket_reject(ticket=ticket, reason=form.cleaned_data["reason"], actor=_actor(request))
        except TicketError as exc:
            _refused(form, exc)
        else:
            return _done(request, ticket, _("Ticket rejected; the buyer has been emailed."))
    ticket.refresh_from_db()
    return _detail(request, ticket, reject_form=form, status=400)


@console_view(view=roles.VIEW_ORDERS)  # type: ignore[arg-type]  # a streamed file passes the guard as is
def ticket_attachment(request: HttpRequest, ticket_id: int, attachment_id: int) -> FileResponse:
    return attachment_response(
        selectors.console_attachment_get(ticket_id=ticket_id, attachment_id=attachment_id)
    )
