"""The site's money in its console: earnings and the owner's withdrawals (Stripe Connect or by
hand), members' commission withdrawals, wallet adjustments, the referral programme, reports.

Who may: the owner everything; administrators everything except withdrawing the site's
earnings; support reads. Other roles hold no finance pages. Every id is looked up in this
site's own tables (another site's id is a 404) and every service works on this site only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shared.payouts import conf as payout_conf
from shared.payouts.exports import report_page
from shared.payouts.models import ConnectedAccount
from shared.payouts.reports import site_balances, site_earnings_by_day
from shared.payouts.selectors import withdrawals_for_site
from shared.payouts.services import (
    connect_onboarding_link,
    connected_account_refresh,
    withdrawal_request,
)
from shared.sites.middleware import request_site
from tenants.console import selectors as console_selectors
from tenants.console.access import console_site, forbidden
from tenants.console.forms import add_service_errors
from tenants.console.money_forms import (
    CommissionProgrammeForm,
    MarkPaidForm,
    RejectForm,
    SiteWithdrawalForm,
    WalletAdjustForm,
    WithdrawalTermsForm,
)
from tenants.console.roles import Role, user_role
from tenants.wallets import selectors as wallet_selectors
from tenants.wallets.commissions import commission_settings_get, commission_settings_update
from tenants.wallets.models import MemberTransaction, MemberTransactionKind, MemberWithdrawal
from tenants.wallets.services import DEFAULT_CURRENCY, wallet_adjust
from tenants.wallets.withdrawals import (
    member_withdrawal_approve,
    member_withdrawal_mark_paid,
    member_withdrawal_reject,
    member_withdrawal_terms,
    member_withdrawal_terms_set,
)

View = Callable[..., HttpResponse]

READ = frozenset({Role.OWNER, Role.ADMIN, Role.SUPPORT})
MANAGE = frozenset({Role.OWNER, Role.ADMIN})
OWNER = frozenset({Role.OWNER})


def money_view(
    *, read: frozenset[Role] = READ, write: frozenset[Role] | None = None, post_only: bool = False
) -> Callable[[View], View]:
    """A finance page: GET for the `read` roles, POST (if allowed at all) for `write`."""
    allowed = ("POST",) if post_only else (("GET", "HEAD", "POST") if write else ("GET", "HEAD"))

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request_site(request) is None:
                raise Http404("The console is served on a site's domain.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            role = user_role(request.user)
            if role is None:
                return forbidden(request, staff=False)
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            roles = write if request.method == "POST" else read
            if role not in (roles or frozenset()):
                return forbidden(request, staff=True, role=role)
            request.console_role = role  # type: ignore[attr-defined]
            return func(request, *args, **kwargs)

        return wrapper

    return decorate


def _actor(request: HttpRequest) -> str:
    return str(getattr(request.user, "email", ""))


def _role(request: HttpRequest) -> Role:
    role: Role = request.console_role  # type: ignore[attr-defined]
    return role


def _show_errors(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


# --- Earnings and the site's own withdrawals --------------------------------------------------


@money_view()
def earnings(request: HttpRequest) -> HttpResponse:
    return _earnings_page(request, SiteWithdrawalForm(initial={"key": uuid.uuid4().hex}))


def _earnings_page(
    request: HttpRequest, form: SiteWithdrawalForm, *, status: int = 200
) -> HttpResponse:
    site = console_site(request)
    currency = DEFAULT_CURRENCY
    balances = site_balances(currency=currency, site=site)
    start = timezone.localdate() - timedelta(days=29)
    return render(
        request,
        "console/money/earnings.html",
        {
            "currency": currency,
            "balance": balances[0] if balances else None,
            "days": list(reversed(site_earnings_by_day(currency=currency, site=site, start=start))),
            "withdrawals": withdrawals_for_site(site=site)[:50],
            "form": form,
            "minimum": payout_conf.withdrawal_minimum(),
            "fee_percent": payout_conf.withdrawal_fee_percent(),
            "fee_fixed": payout_conf.withdrawal_fee_fixed(),
            "stripe_configured": payout_conf.stripe_configured(),
            "connected": ConnectedAccount.objects.filter(site=site).first(),
            "may_withdraw": _role(request) in OWNER,
        },
        status=status,
    )


@money_view(write=OWNER, post_only=True)
def site_withdrawal(request: HttpRequest) -> HttpResponse:
    form = SiteWithdrawalForm(request.POST)
    if form.is_valid():
        try:
            withdrawal_request(
                site=console_site(request),
                amount=form.cleaned_data["amount"],
                requested_by=request.user,  # type: ignore[arg-type]
                idempotency_key=f"console:{form.cleaned_data['key']}",
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Withdrawal requested: HQ will pay it after review."))
            return redirect("console:money")
    return _earnings_page(request, form, status=400)


@money_view(write=OWNER, post_only=True)
def connect_onboarding(request: HttpRequest) -> HttpResponse:
    back = request.build_absolute_uri(reverse("console:money_connect_return"))
    try:
        link = connect_onboarding_link(
            site=console_site(request),
            refresh_url=request.build_absolute_uri(reverse("console:money")),
            return_url=back,
        )
    except ValidationError as exc:
        _show_errors(request, exc)
        return redirect("console:money")
    return redirect(link)


@money_view(read=OWNER)
def connect_return(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends the owner back after onboarding: read the account's state."""
    site = console_site(request)
    if ConnectedAccount.objects.filter(site=site).exists():
        try:
            connected = connected_account_refresh(site=site)
        except ValidationError as exc:
            _show_errors(request, exc)
        else:
            messages.info(request, _("Stripe account: %(state)s") % {"state": connected.state})
    return redirect("console:money")


# --- Members' commission withdrawals ----------------------------------------------------------


@money_view()
def member_withdrawals(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ("", "paid", "rejected"):
        status = ""
    return render(
        request,
        "console/money/member_withdrawals.html",
        {
            "withdrawals": wallet_selectors.member_withdrawals_for_staff(status=status)[:200],
            "status": status,
            "may_manage": _role(request) in MANAGE,
            "reject_form": RejectForm(),
            "paid_form": MarkPaidForm(),
        },
    )


def _member_withdrawal(withdrawal_id: int) -> MemberWithdrawal:
    try:
        return wallet_selectors.member_withdrawal_get(withdrawal_id=withdrawal_id)
    except MemberWithdrawal.DoesNotExist:
        raise Http404("No such withdrawal on this site.") from None


@money_view(write=MANAGE, post_only=True)
def member_withdrawal_approve_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _member_withdrawal(withdrawal_id)
    try:
        member_withdrawal_approve(withdrawal=withdrawal, actor_email=_actor(request))
    except ValidationError as exc:
        _show_errors(request, exc)
    else:
        messages.success(request, _("Withdrawal approved: pay it, then mark it paid."))
    return redirect("console:money_member_withdrawals")


@money_view(write=MANAGE, post_only=True)
def member_withdrawal_reject_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _member_withdrawal(withdrawal_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to reject a withdrawal."))
        return redirect("console:money_member_withdrawals")
    try:
        member_withdrawal_reject(
            withdrawal=withdrawal, actor_email=_actor(request), reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        _show_errors(request, exc)
    else:
        messages.success(request, _("Withdrawal rejected: the commission is available again."))
    return redirect("console:money_member_withdrawals")


@money_view(write=MANAGE, post_only=True)
def member_withdrawal_paid_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _member_withdrawal(withdrawal_id)
    form = MarkPaidForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the payment's reference to mark it paid."))
        return redirect("console:money_member_withdrawals")
    try:
        member_withdrawal_mark_paid(
            withdrawal=withdrawal,
            actor_email=_actor(request),
            reference=form.cleaned_data["reference"],
        )
    except ValidationError as exc:
        _show_errors(request, exc)
    else:
        messages.success(request, _("Withdrawal marked paid."))
    return redirect("console:money_member_withdrawals")


# --- Wallet adjustments -----------------------------------------------------------------------


@money_view(write=MANAGE)
def wallet_adjustments(request: HttpRequest) -> HttpResponse:
    form = WalletAdjustForm(request.POST or None, initial={"key": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        member = console_selectors.member_by_email(form.cleaned_data["email"])
        if member is None:
            form.add_error("email", _("No member of this site has that email address."))
        else:
            try:
                wallet_adjust(
                    user=member,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor_email=_actor(request),
                    idempotency_key=f"console_adjust:{form.cleaned_data['key']}",
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Wallet of %(email)s adjusted by %(amount)s.")
                    % {"email": member.email, "amount": form.cleaned_data["amount"]},
                )
                return redirect("console:money_wallets")
    adjustments = (
        MemberTransaction.objects.filter(kind=MemberTransactionKind.ADJUSTMENT)
        .prefetch_related("entries__account__user")
        .order_by("-created_at")[:50]
    )
    rows = []
    for txn in adjustments:
        entry = next(e for e in txn.entries.all() if e.account.user_id is not None)
        rows.append({"txn": txn, "member": entry.account.user, "change": -entry.amount})
    return render(
        request,
        "console/money/wallets.html",
        {"form": form, "rows": rows, "may_manage": _role(request) in MANAGE},
        status=400 if request.method == "POST" else 200,
    )


# --- The referral programme -------------------------------------------------------------------


@money_view(write=MANAGE)
def referral_programme(request: HttpRequest) -> HttpResponse:
    programme = commission_settings_get()
    form = CommissionProgrammeForm(
        request.POST or None,
        initial={"levels": programme.levels, "percents": ", ".join(map(str, programme.percents))},
    )
    minimum, percent, fixed = member_withdrawal_terms(currency=DEFAULT_CURRENCY)
    terms_form = WithdrawalTermsForm(
        request.POST or None,
        initial={
            "minimum": programme.withdrawal_minimum,
            "fee_percent": programme.withdrawal_fee_percent,
            "fee_fixed": programme.withdrawal_fee_fixed,
        },
    )
    if request.method == "POST" and form.is_valid() and terms_form.is_valid():
        try:
            with transaction.atomic():
                commission_settings_update(
                    levels=form.cleaned_data["levels"],
                    percents=form.cleaned_data["percents"],
                    actor_email=_actor(request),
                )
                member_withdrawal_terms_set(
                    minimum=terms_form.cleaned_data["minimum"],
                    fee_percent=terms_form.cleaned_data["fee_percent"],
                    fee_fixed=terms_form.cleaned_data["fee_fixed"],
                    actor_email=_actor(request),
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Referral programme saved."))
            return redirect("console:money_referrals")
    return render(
        request,
        "console/money/referrals.html",
        {
            "form": form,
            "terms_form": terms_form,
            "programme": programme,
            "terms": {"minimum": minimum, "fee_percent": percent, "fee_fixed": fixed},
            "currency": DEFAULT_CURRENCY,
            "may_manage": _role(request) in MANAGE,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- Reports ----------------------------------------------------------------------------------


@money_view()
def reports(request: HttpRequest) -> HttpResponse:
    site = console_site(request)
    return report_page(
        request, template="console/money/reports.html", site=site, download_prefix=site.slug
    )
