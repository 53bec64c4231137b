"""Payment pages on a site's domains: a member tops up their wallet by card, then waits on the
return page until the payment is confirmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from shared.ledger.money import quantize
from shared.payments import conf, selectors
from shared.payments.forms import WalletTopUpForm
from shared.payments.models import CheckoutStatus
from shared.payments.registry import PaymentError
from shared.payments.views import PLACEHOLDER
from shared.payments.wallet import wallet_top_up_start
from shared.sites.middleware import request_site
from shared.sites.models import Site
from tenants.storefront.selectors import storefront_settings
from tenants.wallets.ledger import member_balance
from tenants.wallets.models import MemberAccountKind
from tenants.wallets.services import DEFAULT_CURRENCY

# The wallet currency of every site (the wallets' own default).
WALLET_CURRENCY = DEFAULT_CURRENCY


def _site(request: HttpRequest) -> Site:
    site = request_site(request)
    if site is None:
        raise Http404("Wallets belong to a site.")
    return site


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {"branding": storefront_settings(), **context}, status=status)


def wallet_balance(request: HttpRequest, currency: str) -> Decimal:
    """The signed-in member's wallet, to the currency's minor unit."""
    balance = member_balance(
        user=request.user,  # type: ignore[arg-type]
        kind=MemberAccountKind.WALLET,
        currency=currency,
    )
    return quantize(Decimal(balance), currency)


@login_required
@require_http_methods(["GET", "POST"])
def wallet_top_up(request: HttpRequest) -> HttpResponse:
    site = _site(request)
    form = WalletTopUpForm(
        request.POST or None,
        minimum=conf.wallet_top_up_minimum(),
        maximum=conf.wallet_top_up_maximum(),
        currency=WALLET_CURRENCY,
    )
    if request.method == "POST" and form.is_valid():
        return_path = reverse("site_payments:checkout_return", kwargs={"session_id": "SESSION"})
        try:
            url = wallet_top_up_start(
                site=site,
                user=request.user,  # type: ignore[arg-type]
                amount=form.cleaned_data["amount"],
                currency=WALLET_CURRENCY,
                success_url=request.build_absolute_uri(return_path).replace("SESSION", PLACEHOLDER),
                cancel_url=request.build_absolute_uri(reverse("site_payments:wallet_top_up")),
                description=_("Wallet top-up at %(site)s") % {"site": site.name},
            )
        except PaymentError as exc:
            form.add_error(None, str(exc))
        else:
            return HttpResponseRedirect(url)
    balance = wallet_balance(request, WALLET_CURRENCY)
    return _render(
        request,
        "payments/wallet_top_up.html",
        {
            "form": form,
            "balance": balance,
            "currency": WALLET_CURRENCY,
            "sandbox": conf.sandbox_mode(),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_safe
def checkout_return(request: HttpRequest, session_id: str) -> HttpResponse:
    """Where the payment page sends the member back: "processing" until the webhook has
    credited the wallet (the page refreshes itself), then "credited"."""
    site = _site(request)
    session = selectors.wallet_top_up_get(
        site=site,
        user=request.user,  # type: ignore[arg-type]
        session_id=session_id,
    )
    balance = wallet_balance(request, session.currency)
    return _render(
        request,
        "payments/checkout_return.html",
        {
            "checkout": session,
            "state": {
                CheckoutStatus.OPEN: "processing",
                CheckoutStatus.PAID: "credited",
            }.get(CheckoutStatus(session.status), "failed"),
            "balance": balance,
        },
    )
