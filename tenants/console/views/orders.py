"""The site's orders: a filtered list, each order's history, and the staff actions on it
(deliver a manual order, refund whole or partly, cancel an unpaid one)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from shared.payments.registry import PaymentError
from tenants.console import roles
from tenants.console.access import console_action, console_view
from tenants.console.forms import add_service_errors
from tenants.orders import selectors
from tenants.orders.forms import CancelForm, DeliverForm, OrderFilterForm, RefundForm
from tenants.orders.models import Order
from tenants.orders.refunds import order_refund
from tenants.orders.services import order_cancel, order_deliver_manual
from tenants.orders.states import OrderStatus

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> str:
    return str(getattr(request.user, "email", "") or f"staff:{request.user.pk}")


@console_view(view=roles.VIEW_ORDERS)
def order_list(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    filters = selectors.OrderFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.OrderFilters(
            status=data["status"],
            method=data["method"],
            kind=data["kind"],
            query=data["q"],
            since=data["since"],
            until=data["until"],
        )
    page = Paginator(selectors.console_orders(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/orders.html",
        {
            "form": form,
            "page_obj": page,
            "orders": page.object_list,
            "query": query.urlencode(),
            "waiting": selectors.waiting_for_staff(),
        },
    )


@console_view(view=roles.VIEW_ORDERS)
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.console_order_get(order_id=order_id)
    return _detail(request, order)


def _detail(
    request: HttpRequest,
    order: Order,
    *,
    refund_form: RefundForm | None = None,
    deliver_form: DeliverForm | None = None,
    cancel_form: CancelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "console/order.html",
        {
            "order": order,
            "events": selectors.order_history(order),
            "refunds": selectors.order_refunds(order),
            "attempts": selectors.order_topup_attempts(order),
            "refund_form": refund_form or RefundForm(),
            "deliver_form": deliver_form or DeliverForm(),
            "cancel_form": cancel_form or CancelForm(),
            "can_deliver": order.delivery_kind == "manual" and order.status == OrderStatus.PAID,
            "can_refund": order.refundable_amount > 0 and order.status != OrderStatus.DELIVERING,
            "can_cancel": order.payment_status == "unpaid"
            and order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.UNDER_REVIEW),
        },
        status=status,
    )


@console_action(change=roles.CHANGE_ORDERS)
def order_deliver(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.console_order_get(order_id=order_id)
    form = DeliverForm(request.POST)
    if form.is_valid():
        try:
            order_deliver_manual(order=order, actor=_actor(request), note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Order delivered; the buyer has been emailed."))
            return redirect("console:order", order_id=order.pk)
    return _detail(request, order, deliver_form=form, status=400)


@console_action(change=roles.REFUND_ORDERS)
def order_refund_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.console_order_get(order_id=order_id)
    form = RefundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            order_refund(
                order=order,
                amount=None if data["whole"] else data["amount"],
                actor=_actor(request),
                reason=data["reason"],
                key=f"console-{data['token']}",
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PaymentError as exc:  # the payment provider refused: nothing was written
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Refund recorded."))
            return redirect("console:order", order_id=order.pk)
    return _detail(request, order, refund_form=form, status=400)


@console_action(change=roles.CHANGE_ORDERS)
def order_cancel_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.console_order_get(order_id=order_id)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            order_cancel(
                order=order,
                actor=_actor(request),
                reason=form.cleaned_data["reason"] or _("Cancelled by staff."),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Order cancelled; its keys are back in stock."))
            return redirect("console:order", order_id=order.pk)
    return _detail(request, order, cancel_form=form, status=400)
