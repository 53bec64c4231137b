"""Site owners' withdrawals for HQ to approve, reject and pay (Stripe Connect or by hand), and
the HQ-wide money reports (public tables only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from shared.hq.console.access import staff_view
from shared.payouts import conf
from shared.payouts.exports import report_page
from shared.payouts.models import Withdrawal, WithdrawalMethod, WithdrawalStatus
from shared.payouts.selectors import withdrawals_awaiting_hq
from shared.payouts.services import (
    withdrawal_approve,
    withdrawal_mark_paid,
    withdrawal_reject,
)

VIEW = "payouts.view_withdrawal"
CHANGE = "payouts.change_withdrawal"
REPORTS = "ledger.view_transaction"


class ApproveForm(forms.Form):
    method = forms.ChoiceField(
        label=gettext_lazy("Pay by"),
        choices=[
            ("", gettext_lazy("Stripe if the site is connected, else by hand")),
            (WithdrawalMethod.STRIPE, gettext_lazy("Stripe Connect transfer")),
            (WithdrawalMethod.MANUAL, gettext_lazy("By hand")),
        ],
        required=False,
    )


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)


class PaidForm(forms.Form):
    reference = forms.CharField(label=gettext_lazy("Payment reference"), max_length=200)


def _withdrawal(withdrawal_id: int) -> Withdrawal:
    found = Withdrawal.objects.select_related("site").filter(pk=withdrawal_id).first()
    if found is None:
        raise Http404("No such withdrawal.")
    return found


def _staff(request: HttpRequest) -> Any:
    """The signed-in HQ staff member (the guard has checked), as the services' actor."""
    return request.user


def _errors(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@require_safe
@staff_view(VIEW)
def withdrawal_list(request: HttpRequest) -> HttpResponse:
    recent = (
        Withdrawal.objects.filter(
            status__in=[WithdrawalStatus.PAID, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED]
        )
        .select_related("site")
        .order_by("-completed_at", "-pk")[:50]
    )
    return render(
        request,
        "hq/console/money/withdrawals.html",
        {
            "awaiting": withdrawals_awaiting_hq(),
            "recent": recent,
            "approve_form": ApproveForm(),
            "stripe_configured": conf.stripe_configured(),
        },
    )


@require_POST
@staff_view(VIEW, post=(CHANGE,))
def withdrawal_approve_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _withdrawal(withdrawal_id)
    form = ApproveForm(request.POST)
    method = (
        WithdrawalMethod(form.cleaned_data["method"])
        if form.is_valid() and form.cleaned_data["method"]
        else None
    )
    try:
        done = withdrawal_approve(withdrawal=withdrawal, actor=_staff(request), method=method)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        if done.status == WithdrawalStatus.PAID:
            messages.success(request, _("Withdrawal %(id)s paid through Stripe.") % {"id": done.pk})
        elif done.status == WithdrawalStatus.FAILED:
            messages.error(
                request, _("Stripe refused the transfer: %(error)s") % {"error": done.error}
            )
        elif done.error:
            messages.warning(
                request,
                _("Stripe did not answer; approve again to retry: %(error)s")
                % {"error": done.error},
            )
        else:
            messages.success(
                request,
                _("Withdrawal %(id)s approved: pay it by hand, then mark it paid.")
                % {"id": done.pk},
            )
    return redirect("hq_console:withdrawal_list")


@require_POST
@staff_view(VIEW, post=(CHANGE,))
def withdrawal_reject_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _withdrawal(withdrawal_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to reject a withdrawal."))
        return redirect("hq_console:withdrawal_list")
    try:
        withdrawal_reject(
            withdrawal=withdrawal, actor=_staff(request), reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, _("Withdrawal rejected: the funds are available to the site again.")
        )
    return redirect("hq_console:withdrawal_list")


@require_POST
@staff_view(VIEW, post=(CHANGE,))
def withdrawal_paid_view(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _withdrawal(withdrawal_id)
    form = PaidForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the payment's reference to mark it paid."))
        return redirect("hq_console:withdrawal_list")
    try:
        withdrawal_mark_paid(
            withdrawal=withdrawal,
            actor=_staff(request),
            reference=form.cleaned_data["reference"],
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Withdrawal marked paid."))
    return redirect("hq_console:withdrawal_list")


@require_safe
@staff_view(REPORTS)
def reports(request: HttpRequest) -> HttpResponse:
    return report_page(
        request, template="hq/console/money/reports.html", site=None, download_prefix="hq"
    )
