"""Buyer pages of after-sales: open a ticket from an order, the ticket (timeline, keys, reply),
the buyer's tickets, and attachments served only to those who may see the ticket."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from shared.sites.middleware import request_site
from tenants.aftersales import selectors
from tenants.aftersales.attachments import private_storage
from tenants.aftersales.forms import ReplyForm, TicketOpenForm
from tenants.aftersales.models import ActorRole, Attachment, Ticket
from tenants.aftersales.services import Actor, TicketError, ticket_open, ticket_reply
from tenants.orders.models import Order
from tenants.orders.selectors import order_for_buyer


def _site_only(request: HttpRequest) -> None:
    if request_site(request) is None:
        raise Http404("After-sales is served on a site's domain.")


def buyer_actor(request: HttpRequest, order: Order) -> Actor:
    label = str(getattr(request.user, "email", "")) if request.user.is_authenticated else ""
    return Actor(label or order.email, ActorRole.BUYER)


def add_errors(form: TicketOpenForm | ReplyForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, texts in error.message_dict.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


@never_cache
@require_safe
def ticket_list(request: HttpRequest) -> HttpResponse:
    """The member's tickets (and those of guest orders opened in this browser)."""
    _site_only(request)
    tickets = list(selectors.buyer_tickets(user=request.user, session=request.session)[:200])
    return render(request, "aftersales/list.html", {"tickets": tickets})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_new(request: HttpRequest, number: str) -> HttpResponse:
    _site_only(request)
    order = order_for_buyer(number=number, user=request.user, session=request.session)
    existing = selectors.order_open_ticket(order)
    if existing is not None:
        messages.info(request, _("This order already has an open ticket."))
        return redirect("aftersales:ticket", ticket_id=existing.pk)
    keys = selectors.order_visible_keys(order)
    form = TicketOpenForm(request.POST or None, request.FILES or None, keys=keys)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = ticket_open(
                order=order,
                kind=data["kind"],
                message=data["message"],
                actor=buyer_actor(request, order),
                files=data["attachments"],
                reported_key_id=data.get("key"),
            )
        except TicketError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Ticket opened. The shop will answer here."))
            return redirect("aftersales:ticket", ticket_id=ticket.pk)
    return render(
        request,
        "aftersales/new.html",
        {"order": order, "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    _site_only(request)
    return selectors.ticket_for_buyer(
        ticket_id=ticket_id, user=request.user, session=request.session
    )


def _page(
    request: HttpRequest, ticket: Ticket, *, form: ReplyForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "aftersales/ticket.html",
        {
            "ticket": ticket,
            "order": ticket.order,
            "events": selectors.ticket_timeline(ticket),
            "keys": selectors.order_visible_keys(ticket.order),
            "form": form or ReplyForm(),
        },
        status=status,
    )


@never_cache
@require_safe
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return _page(request, _ticket(request, ticket_id))


@require_POST
def ticket_reply_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _ticket(request, ticket_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            ticket_reply(
                ticket=ticket,
                body=form.cleaned_data["body"],
                actor=buyer_actor(request, ticket.order),
                files=form.cleaned_data["attachments"],
            )
        except TicketError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Message sent."))
            return redirect("aftersales:ticket", ticket_id=ticket.pk)
    ticket.refresh_from_db()
    return _page(request, ticket, form=form, status=400)


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file, never rendered by the browser as a page of this site."""
    try:
        handle = private_storage().open(attachment.path, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    inline = attachment.is_image
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
def attachment_download(request: HttpRequest, ticket_id: int, attachment_id: int) -> FileResponse:
    _site_only(request)
    attachment = selectors.attachment_for_buyer(
        ticket_id=ticket_id, attachment_id=attachment_id, user=request.user, session=request.session
    )
    return attachment_response(attachment)
