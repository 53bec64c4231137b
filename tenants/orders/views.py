"""Buyer pages: checkout, the order page (with its keys), payment, guest lookup, my orders."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from shared.catalog.models import Sku
from shared.catalog.selectors import active_sku
from shared.sites.middleware import request_site
from shared.sites.models import Site
from tenants.orders import selectors, throttle
from tenants.orders.forms import BuyForm, LookupForm
from tenants.orders.models import Order, PaymentMethod
from tenants.orders.services import (
    OrderError,
    order_cancel,
    order_create,
    order_pay_with_wallet,
)
from tenants.orders.states import WAITING, OrderStatus
from tenants.pricing.selectors import (
    ProductDisplay,
    member_level_for,
    prices_for,
    product_display,
)

ORDERS_PAGE_SIZE = 20


def _site(request: HttpRequest) -> Site:
    site = request_site(request)
    if site is None:
        raise Http404("Orders are served on a site's domain.")
    return site


def _form_errors(form: BuyForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, texts in error.message_dict.items():
        target = field if field in form.fields else None
        for text in texts:
            form.add_error(target, text)


def _sku_for_checkout(request: HttpRequest, raw: object) -> tuple[Sku, ProductDisplay]:
    try:
        sku_id = int(str(raw))
    except ValueError:
        raise Http404("No such product.") from None
    sku = active_sku(sku_id)
    display = None if sku is None else product_display(site=_site(request), product=sku.product)
    if sku is None or display is None:
        raise Http404("No such product.")
    return sku, display


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """The buy form (also posted from the product page); a valid order goes to its page."""
    site = _site(request)
    sku, display = _sku_for_checkout(request, request.POST.get("sku") or request.GET.get("sku"))
    form = BuyForm(request.POST or None, sku=sku, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = order_create(
                site=site,
                sku=sku,
                quantity=data["quantity"],
                payment_method=data["payment_method"],
                buyer=request.user,
                email=data.get("email", ""),
                phone=data.get("phone", ""),
                query_password=data.get("query_password", ""),
                input_values=form.input_values(),
                display=display,
            )
        except OrderError as exc:
            _form_errors(form, exc)
        else:
            if order.buyer_id is None:  # a member's order opens for the member, not the session
                selectors.order_grant(request.session, order.number)
            elif order.payment_method == PaymentMethod.WALLET:
                _pay_now(request, order)
            return redirect("orders:detail", number=order.number)
    level = member_level_for(request.user)
    price = prices_for(site=site, skus=[sku], member_level=level).get(sku.pk)
    return render(
        request,
        "orders/checkout.html",
        {"form": form, "sku": sku, "price": price, "display": display},
        status=400 if request.method == "POST" else 200,
    )


def _pay_now(request: HttpRequest, order: Order) -> None:
    """A member buying with their balance pays as the order is placed: one step, as on every
    卡盟 storefront. The order is placed first, in a transaction of its own, so the SKU's stock
    counter is locked only while its keys are taken, never while a payment runs. If the payment
    is refused (the balance is short), the order stays placed, its keys held until it expires,
    and its page says why and offers the top-up."""
    try:
        order_pay_with_wallet(order=order, user=request.user)  # type: ignore[arg-type]
    except OrderError as exc:
        messages.error(request, " ".join(exc.messages))


def _order(request: HttpRequest, number: str) -> Order:
    _site(request)
    return selectors.order_for_buyer(number=number, user=request.user, session=request.session)


@never_cache
@require_safe
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    keys = selectors.order_keys(order)
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "keys": keys,
            "events": selectors.order_history(order),
            "waiting": order.status in WAITING,
            "payable": order.status == OrderStatus.PENDING_PAYMENT
            and order.reserved_until > timezone.now(),
        },
    )


@never_cache
@require_safe
def order_status(request: HttpRequest, number: str) -> JsonResponse:
    """The order's statuses, polled by its page while it waits for payment or a top-up."""
    order = _order(request, number)
    return JsonResponse(
        {
            "status": order.status,
            "payment_status": order.payment_status,
            "fulfilment_status": order.fulfilment_status,
        }
    )


@require_POST
def order_pay(request: HttpRequest, number: str) -> HttpResponse:
    site = _site(request)
    if request.user.is_authenticated:
        # A member's wallet order is found, checked and locked in one read by the payment.
        try:
            order_pay_with_wallet(order=number, user=request.user)
        except OrderError as exc:
            if exc.code not in ("not_found", "method"):
                messages.error(request, " ".join(exc.messages))
                return redirect("orders:detail", number=number)
        else:
            return redirect("orders:detail", number=number)
    order = _order(request, number)  # a card order, or a guest's (404 if not the visitor's)
    if order.payment_method == PaymentMethod.WALLET:
        try:
            order_pay_with_wallet(order=order, user=request.user)  # type: ignore[arg-type]
        except OrderError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("orders:detail", number=order.number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        messages.error(request, _("This order is not waiting for payment."))
        return redirect("orders:detail", number=order.number)
    if order.reserved_until <= timezone.now():
        messages.error(
            request,
            _("This order has expired; its items went back on sale. Place a new order."),
        )
        return redirect("orders:detail", number=order.number)
    from shared.payments.registry import PaymentError
    from shared.payments.services import checkout_start

    back = request.build_absolute_uri(reverse("orders:detail", args=[order.number]))
    try:
        url = checkout_start(
            site=site,
            purpose="order",
            reference=order.order_ref,
            amount=order.total,
            currency=order.currency,
            description=f"{order.title} × {order.quantity} ({order.number})",
            customer_email=order.email,
            success_url=back,
            cancel_url=back,
            expires_at=order.reserved_until,
        )
    except PaymentError as exc:
        messages.error(request, str(exc))
        return redirect("orders:detail", number=order.number)
    return redirect(url)


@require_POST
def order_cancel_view(request: HttpRequest, number: str) -> HttpResponse:
    order = _order(request, number)
    actor = f"member:{request.user.pk}" if request.user.is_authenticated else order.email
    try:
        order_cancel(order=order, actor=actor, reason=_("Cancelled by the buyer."))
    except OrderError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Order cancelled."))
    return redirect("orders:detail", number=order.number)


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def order_lookup(request: HttpRequest) -> HttpResponse:
    """Guests find their order by number and query password (throttled against guessing)."""
    _site(request)
    form = LookupForm(request.POST or None, initial={"number": request.GET.get("number", "")})
    status = 200
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["number"].strip()
        ip = _client_ip(request)
        if throttle.lookup_blocked(ip=ip, number=number):
            form.add_error(
                None,
                _("Too many failed attempts. Wait 15 minutes and try again."),
            )
            status = 429
        else:
            order = selectors.order_lookup(number=number, password=form.cleaned_data["password"])
            if order is None:
                throttle.lookup_failed(ip=ip, number=number)
                form.add_error(None, _("No order matches that number and password."))
                status = 400
            else:
                selectors.order_grant(request.session, order.number)
                return redirect("orders:detail", number=order.number)
    return render(request, "orders/lookup.html", {"form": form}, status=status)


@never_cache
@login_required
@require_safe
def account_orders(request: HttpRequest) -> HttpResponse:
    _site(request)
    member = cast(AbstractBaseUser, request.user)  # login_required
    page = Paginator(selectors.member_orders(member), ORDERS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context: dict[str, Any] = {"page_obj": page, "orders": page.object_list}
    return render(request, "orders/account_orders.html", context)
