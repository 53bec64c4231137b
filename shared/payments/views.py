"""The Stripe webhook endpoint and the sandbox checkout page, on the platform domain."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from shared.payments import conf, selectors
from shared.payments.models import CheckoutSession, CheckoutStatus
from shared.payments.webhooks import SignatureInvalid, WebhookNotConfigured, webhook_receive

PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's (and the sandbox's) events: 400 unless correctly signed, 200 once stored."""
    try:
        event, created = webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except SignatureInvalid as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except WebhookNotConfigured as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    return JsonResponse(
        {"received": True, "event": event.event_id, "outcome": event.outcome, "replay": not created}
    )


def _redirect_url(url: str, session: CheckoutSession) -> str:
    return url.replace(PLACEHOLDER, session.provider_session_id)


def _payable(session: CheckoutSession) -> bool:
    return (
        session.status == CheckoutStatus.OPEN
        and session.sandbox_expired_at is None
        and session.expires_at > timezone.now()
    )


@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """A payment page standing in for Stripe Checkout: Pay sends a signed
    `checkout.session.completed` to the webhook (from a Celery task) and returns the buyer to
    the success address; Cancel returns them to the cancel address."""
    if not conf.sandbox_mode():
        raise Http404("The sandbox is off: Stripe is configured.")
    session = selectors.sandbox_session_get(session_id)
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return HttpResponseRedirect(_redirect_url(session.cancel_url, session))
        with transaction.atomic():
            session = (
                CheckoutSession.objects.select_for_update()
                .select_related("site")
                .get(pk=session.pk)
            )
            if session.sandbox_paid_at is not None:
                return HttpResponseRedirect(_redirect_url(session.success_url, session))
            if _payable(session):
                session.sandbox_paid_at = timezone.now()
                session.save(update_fields=["sandbox_paid_at"])
                from shared.payments.tasks import sandbox_session_event_send

                pk = session.pk
                transaction.on_commit(
                    lambda: sandbox_session_event_send.delay(pk, "checkout.session.completed")
                )
                return HttpResponseRedirect(_redirect_url(session.success_url, session))
        error = _("This checkout can no longer be paid.")
    return render(
        request,
        "payments/sandbox_checkout.html",
        {
            "checkout": session,
            "payable": _payable(session) and session.sandbox_paid_at is None,
            "error": error,
        },
        status=409 if error else 200,
    )
