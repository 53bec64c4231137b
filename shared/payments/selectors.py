"""Reads of card payments."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404

from shared.payments.models import CheckoutSession, Provider
from shared.payments.wallet import WALLET_TOP_UP
from shared.sites.models import Site


def sandbox_session_get(session_id: str) -> CheckoutSession:
    """A sandbox checkout session by its id, or 404."""
    session = (
        CheckoutSession.objects.select_related("site")
        .filter(provider_session_id=session_id, provider=Provider.SANDBOX)
        .first()
    )
    if session is None:
        raise Http404("No such checkout.")
    return session


def wallet_top_up_get(*, site: Site, user: AbstractBaseUser, session_id: str) -> CheckoutSession:
    """The member's own top-up session on this site; the same 404 for a missing session, one of
    another site or one of another member."""
    session = CheckoutSession.objects.filter(
        site=site,
        purpose=WALLET_TOP_UP,
        provider_session_id=session_id,
        reference__startswith=f"{user.pk}.",
    ).first()
    if session is None:
        raise Http404("No such top-up.")
    return session
