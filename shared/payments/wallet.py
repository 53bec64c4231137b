"""Member wallet top-ups paid by card: the checkout, and the handler that credits the wallet.

The reference of a top-up is `<member id>.<random>`: one checkout session per top-up. When the
payment is confirmed the handler (called by the webhook in the site's schema) credits the member
through `tenants.wallets.services.wallet_top_up` under the key `stripe:<session id>` (payment
clearing → the site's wallets mirror), and books the provider's fee as HQ's expense (fees ←
payment clearing), so the clearing account holds what the provider will actually pay out.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from shared.ledger.models import AccountKind
from shared.ledger.services import Posting, account_get, transaction_post
from shared.payments import conf
from shared.payments.models import CheckoutSession
from shared.payments.registry import PaymentError, PaymentMismatch
from shared.payments.services import checkout_start
from shared.sites.models import Site
from tenants.wallets.ledger import WalletError
from tenants.wallets.services import wallet_top_up

WALLET_TOP_UP = "wallet_top_up"


def wallet_top_up_limits_check(amount: Decimal, currency: str) -> None:
    low, high = conf.wallet_top_up_minimum(), conf.wallet_top_up_maximum()
    if not low <= amount <= high:
        raise PaymentError(f"A top-up must be between {low} and {high} {currency}.")


def wallet_top_up_start(
    *,
    site: Site,
    user: AbstractBaseUser,
    amount: Decimal,
    currency: str,
    success_url: str,
    cancel_url: str,
    description: str,
) -> str:
    """Start a card checkout that tops up `user`'s wallet on `site`; the address to pay at."""
    wallet_top_up_limits_check(amount, currency)
    reference = f"{user.pk}.{secrets.token_hex(8)}"
    return checkout_start(
        site=site,
        purpose=WALLET_TOP_UP,
        reference=reference,
        amount=amount,
        currency=currency,
        description=description,
        customer_email=str(getattr(user, "email", "") or ""),
        success_url=success_url,
        cancel_url=cancel_url,
    )


def wallet_top_up_confirmed(
    *,
    site: Site,
    reference: str,
    amount: Decimal,
    currency: str,
    payment_ref: str,
    fee: Decimal,
) -> None:
    """The payments handler of WALLET_TOP_UP (site schema active, inside the webhook's
    transaction). Idempotent: the wallet and fee postings are keyed by the session."""
    session = CheckoutSession.objects.filter(
        site=site, purpose=WALLET_TOP_UP, reference=reference
    ).first()
    user_pk = reference.split(".", 1)[0]
    if session is None or not user_pk.isdigit():
        raise PaymentMismatch(f"'{reference}' is not a wallet top-up of this site.")
    user = get_user_model().objects.filter(pk=int(user_pk), is_active=True).first()
    if user is None:
        raise PaymentMismatch("The member of this top-up no longer exists or is inactive.")
    try:
        wallet_top_up(
            user=user,
            amount=amount,
            idempotency_key=f"stripe:{session.provider_session_id}",
            source=f"{session.provider} payment {payment_ref}",
            currency=currency,
        )
    except WalletError as exc:
        raise PaymentMismatch(str(exc)) from exc
    if fee > 0:
        transaction_post(
            idempotency_key=f"payments:fee:{session.provider_session_id}",
            kind="payment_fee",
            postings=[
                Posting(account_get(kind=AccountKind.FEES, currency=currency), fee),
                Posting(account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency), -fee),
            ],
            site=site,
            memo=f"Card fee of wallet top-up {payment_ref}",
        )
