"""The member's own pages on a site (/account/): wallet, referral commission, withdrawals.

Each page needs a signed-in member of this site (sessions never travel between sites); every
read and write goes through the wallet selectors and services, which work in the current
site's schema only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from shared.sites.middleware import request_site
from tenants.members.forms import CommissionToWalletForm, ReferrerForm, WithdrawalRequestForm
from tenants.wallets import selectors
from tenants.wallets.commissions import referral_set
from tenants.wallets.models import MemberTransactionKind, MemberWithdrawalStatus
from tenants.wallets.services import DEFAULT_CURRENCY, commission_to_wallet
from tenants.wallets.withdrawals import (
    member_withdrawal_request,
    member_withdrawal_terms,
)

View = Callable[..., HttpResponse]
REFERRAL_SESSION_KEY = "kameng.referral_code"


def kind_label(kind: str) -> str:
    """What a member ledger movement is, in the visitor's language."""
    labels = {
        MemberTransactionKind.TOP_UP: _("Top-up"),
        MemberTransactionKind.SPEND: _("Payment"),
        MemberTransactionKind.REFUND: _("Refund"),
        MemberTransactionKind.ADJUSTMENT: _("Adjustment by the shop"),
        MemberTransactionKind.COMMISSION_TO_WALLET: _("Commission moved to the wallet"),
    }
    return str(labels.get(kind, kind))  # type: ignore[call-overload]


def status_label(status: str) -> str:
    labels = {
        MemberWithdrawalStatus.REQUESTED: _("Requested"),
        MemberWithdrawalStatus.APPROVED: _("Approved, to be paid"),
        MemberWithdrawalStatus.PAID: _("Paid"),
        MemberWithdrawalStatus.REJECTED: _("Rejected"),
    }
    return str(labels.get(status, status))  # type: ignore[call-overload]


def member_page(func: View) -> View:
    """A page of a signed-in member of this site (HQ's domain has no member pages)."""

    @wraps(func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request_site(request) is None:
            raise Http404("Member pages are served on a site's domain.")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return func(request, *args, **kwargs)

    return wrapper


@require_safe
@member_page
def home(request: HttpRequest) -> HttpResponse:
    return redirect("account:wallet")


@require_safe
@member_page
def wallet(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "account/wallet.html",
        {
            "section": "wallet",
            "currency": DEFAULT_CURRENCY,
            "balance": selectors.wallet_balance(user=user),  # type: ignore[arg-type]
            "rows": [
                {
                    "when": entry.created_at,
                    "what": kind_label(entry.transaction.kind),
                    "memo": entry.transaction.memo,
                    "change": -entry.amount,  # entries are debit-positive
                }
                for entry in selectors.wallet_history(user=user)  # type: ignore[arg-type]
            ],
        },
    )


@require_safe
@member_page
def commission(request: HttpRequest) -> HttpResponse:
    return _commission_page(request)


def _commission_page(
    request: HttpRequest,
    *,
    to_wallet_form: CommissionToWalletForm | None = None,
    withdrawal_form: WithdrawalRequestForm | None = None,
    referrer_form: ReferrerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    code = selectors.referral_code(user=user)
    minimum, fee_percent, fee_fixed = member_withdrawal_terms(currency=DEFAULT_CURRENCY)
    referrer = selectors.referrer_of(user=user)
    invited_code = request.session.get(REFERRAL_SESSION_KEY, "")
    return render(
        request,
        "account/commission.html",
        {
            "section": "commission",
            "currency": DEFAULT_CURRENCY,
            "balances": selectors.commission_balances(user=user),
            "code": code,
            "referral_url": request.build_absolute_uri(reverse("account:referral", args=[code])),
            "referrer": referrer,
            "referrer_email": selectors.mask_email(getattr(referrer, "email", "")),
            "referrals": [
                (selectors.mask_email(r.user.email), r.created_at)
                for r in selectors.referrals_of(user=user)
            ],
            "shares": selectors.commission_shares(user=user),
            "withdrawals": [
                (w, status_label(w.status)) for w in selectors.member_withdrawals_of(user=user)
            ],
            "minimum": minimum,
            "fee_percent": fee_percent,
            "fee_fixed": fee_fixed,
            "to_wallet_form": to_wallet_form or CommissionToWalletForm(),
            "withdrawal_form": withdrawal_form or WithdrawalRequestForm(),
            "referrer_form": referrer_form or ReferrerForm(initial={"code": invited_code}),
        },
        status=status,
    )


@require_POST
@member_page
def commission_move(request: HttpRequest) -> HttpResponse:
    form = CommissionToWalletForm(request.POST)
    if form.is_valid():
        try:
            commission_to_wallet(
                user=request.user,  # type: ignore[arg-type]
                amount=form.cleaned_data["amount"],
                idempotency_key=f"to_wallet:{request.user.pk}:{form.cleaned_data['key']}",
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("%(amount)s moved to your wallet.") % {"amount": form.cleaned_data["amount"]},
            )
            return redirect("account:commission")
    return _commission_page(request, to_wallet_form=form, status=400)


@require_POST
@member_page
def withdrawal_request(request: HttpRequest) -> HttpResponse:
    form = WithdrawalRequestForm(request.POST)
    if form.is_valid():
        try:
            member_withdrawal_request(
                user=request.user,  # type: ignore[arg-type]
                amount=form.cleaned_data["amount"],
                payee=form.cleaned_data["payee"],
                idempotency_key=form.cleaned_data["key"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Withdrawal requested. The shop will pay it soon."))
            return redirect("account:commission")
    return _commission_page(request, withdrawal_form=form, status=400)


@require_POST
@member_page
def referrer_set(request: HttpRequest) -> HttpResponse:
    form = ReferrerForm(request.POST)
    if form.is_valid():
        referrer = selectors.referrer_for_code(form.cleaned_data["code"])
        if referrer is None:
            form.add_error("code", _("No member of this shop has that referral code."))
        else:
            try:
                referral_set(user=request.user, referrer=referrer)  # type: ignore[arg-type]
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                request.session.pop(REFERRAL_SESSION_KEY, None)
                messages.success(request, _("Thank you: your referrer is recorded."))
                return redirect("account:commission")
    return _commission_page(request, referrer_form=form, status=400)


@require_safe
def referral(request: HttpRequest, code: str) -> HttpResponse:
    """A member's shared link: remember the code, then sign up (or, signed in, confirm it)."""
    if request_site(request) is None:
        raise Http404("Referral links are served on a site's domain.")
    if selectors.referrer_for_code(code) is None:
        raise Http404("Unknown referral code.")
    request.session[REFERRAL_SESSION_KEY] = code
    target = reverse("account:commission")
    if request.user.is_authenticated:
        return redirect(target)
    return redirect(f"{reverse('account_signup')}?next={target}")
