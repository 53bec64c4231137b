"""Withdrawals: request (funds locked), reject (released), approve (paid through Stripe Connect or
by hand), mark paid; and a site's Stripe Connect onboarding.

Ledger postings (credit-normal site accounts; "A → B" debits A and credits B):

    request      SITE_AVAILABLE → SITE_WITHDRAWING                amount + fee
    reject/fail  SITE_WITHDRAWING → SITE_AVAILABLE                amount + fee
    paid         SITE_WITHDRAWING → PAYOUT_CLEARING               amount
                 SITE_WITHDRAWING → HQ_REVENUE                    fee (the fee is HQ income)

PAYOUT_CLEARING then holds the payouts sent but not yet reconciled against the provider's
balance (a credit on a debit-normal account); reconciliation clears it against PAYMENT_CLEARING.

Every service is idempotent: the withdrawal carries the client's key (unique per site), every
ledger posting a key derived from the withdrawal, and a repeated approve, reject or mark-paid on
a withdrawal already in that state changes nothing. Refusals raise ValidationError and write
nothing. The Stripe transfer is made outside any database transaction, with an idempotency key
derived from the withdrawal: when its outcome is unknown (network, 5xx) the withdrawal stays
approved and approving it again retries safely.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.ledger.models import AccountKind
from shared.ledger.money import MoneyError, exact, quantize, to_minor_units
from shared.ledger.services import Posting, account_balance, account_get, transaction_post
from shared.payouts import conf, stripe_connect
from shared.payouts.models import (
    WITHDRAWAL_TRANSITIONS,
    ConnectedAccount,
    ConnectedAccountState,
    Withdrawal,
    WithdrawalEvent,
    WithdrawalMethod,
    WithdrawalStatus,
)
from shared.sites.models import Site

logger = logging.getLogger(__name__)

DEFAULT_CURRENCY = "CNY"


class Actor(Protocol):
    """Whoever acts: a site owner (site schema) or HQ staff (public); kept by email."""

    @property
    def email(self) -> str: ...


# --- Fees -----------------------------------------------------------------------------------


def withdrawal_fee(*, amount: Decimal, currency: str) -> Decimal:
    """The payout fee for `amount`: percentage (rounded half up) plus the fixed part."""
    percent = conf.withdrawal_fee_percent() * amount / Decimal(100)
    return quantize(percent, currency) + quantize(conf.withdrawal_fee_fixed(), currency)


# --- Request ---------------------------------------------------------------------------------


def withdrawal_request(
    *,
    site: Site,
    amount: Decimal,
    requested_by: Actor,
    idempotency_key: str,
    currency: str = DEFAULT_CURRENCY,
) -> Withdrawal:
    """Lock `amount` plus the fee of the site's available earnings for a payout.

    Refused (ValidationError, nothing written) below the minimum, above what is available, or
    while the available balance is negative. The site's available balance rows stay locked from
    the check to the commit, so concurrent requests cannot together take more than there is.
    Repeating a request with the same key returns the original withdrawal.
    """
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError("An idempotency key of 1 to 200 characters is required.")
    amount = _amount(amount, currency)
    minimum = quantize(conf.withdrawal_minimum(), currency)
    if amount < minimum:
        raise ValidationError(f"The minimum withdrawal is {minimum} {currency}.")
    fee = withdrawal_fee(amount=amount, currency=currency)
    with transaction.atomic():
        available_account = account_get(
            kind=AccountKind.SITE_AVAILABLE, currency=currency, site=site
        )
        available = account_balance(available_account, lock=True)
        existing = Withdrawal.objects.filter(site=site, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request(existing, amount, currency)
        if available < 0:
            raise ValidationError(
                f"The available balance is negative ({available} {currency}): "
                "no withdrawal until it is settled."
            )
        if amount + fee > available:
            raise ValidationError(
                f"{amount} {currency} plus the {fee} {currency} fee exceeds the available "
                f"{available} {currency}."
            )
        try:
            with transaction.atomic():
                withdrawal = Withdrawal.objects.create(
                    site=site,
                    requested_by=requested_by.email,
                    amount=amount,
                    fee=fee,
                    currency=currency,
                    idempotency_key=idempotency_key,
                )
        except IntegrityError:  # the same key, from a request that did not lock (no balance)
            existing = Withdrawal.objects.get(site=site, idempotency_key=idempotency_key)
            return _same_request(existing, amount, currency)
        _post(withdrawal, "hold", AccountKind.SITE_AVAILABLE, AccountKind.SITE_WITHDRAWING)
        WithdrawalEvent.objects.create(
            withdrawal=withdrawal, to_status=WithdrawalStatus.REQUESTED, actor=requested_by.email
        )
    logger.info(
        "payouts.withdrawal_requested",
        extra={"withdrawal": withdrawal.pk, "site": site.slug, "currency": currency},
    )
    return withdrawal


def _amount(amount: object, currency: str) -> Decimal:
    try:
        value = exact(amount, currency)
    except MoneyError as exc:
        raise ValidationError(str(exc)) from exc
    if value <= 0:
        raise ValidationError("The amount must be greater than zero.")
    return value


def _same_request(existing: Withdrawal, amount: Decimal, currency: str) -> Withdrawal:
    if (existing.amount, existing.currency) != (amount, currency):
        raise ValidationError("This idempotency key was already used for another withdrawal.")
    return existing


# --- Reject ----------------------------------------------------------------------------------


def withdrawal_reject(*, withdrawal: Withdrawal, actor: Actor, reason: str) -> Withdrawal:
    """Refuse a withdrawal and release its funds to the site's available earnings.

    A Stripe payout already approved cannot be rejected (its transfer may be under way); a
    manual one can, until it is marked paid. Rejecting twice changes nothing.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError("A reason is required to reject a withdrawal.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status == WithdrawalStatus.REJECTED:
            return locked
        if locked.status == WithdrawalStatus.APPROVED and locked.method != WithdrawalMethod.MANUAL:
            raise ValidationError("A Stripe payout in progress cannot be rejected.")
        _release(locked)
        locked.reason = reason
        _transition(locked, WithdrawalStatus.REJECTED, actor=actor.email, note=reason)
    return locked


# --- Approve and pay -------------------------------------------------------------------------


def withdrawal_approve(
    *, withdrawal: Withdrawal, actor: Actor, method: WithdrawalMethod | None = None
) -> Withdrawal:
    """Accept a withdrawal and pay it: through Stripe Connect when Stripe is configured and the
    site has an active connected account, otherwise by hand (then `withdrawal_mark_paid`).

    A refused transfer fails the withdrawal and releases its funds; an unknown outcome leaves it
    approved with the error recorded, and approving again retries the same transfer. Approving a
    withdrawal already paid, failed, rejected or awaiting a manual payment changes nothing.
    """
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status == WithdrawalStatus.REQUESTED:
            _approve(locked, actor=actor, method=method)
        elif locked.status != WithdrawalStatus.APPROVED:
            return locked  # paid, rejected or failed: final
    if locked.method == WithdrawalMethod.MANUAL or locked.stripe_transfer_id:
        return locked
    return _transfer(locked, actor=actor)


def _approve(withdrawal: Withdrawal, *, actor: Actor, method: WithdrawalMethod | None) -> None:
    connected = ConnectedAccount.objects.filter(site_id=withdrawal.site_id).first()
    stripe_ready = (
        conf.stripe_configured()
        and connected is not None
        and connected.state == ConnectedAccountState.ACTIVE
    )
    if method is None:
        method = WithdrawalMethod.STRIPE if stripe_ready else WithdrawalMethod.MANUAL
    elif method == WithdrawalMethod.STRIPE and not stripe_ready:
        raise ValidationError(
            "Stripe payouts need STRIPE_SECRET_KEY and an active connected account for the site."
        )
    withdrawal.method = method
    if method == WithdrawalMethod.STRIPE and connected is not None:
        withdrawal.stripe_destination = connected.stripe_account_id
    withdrawal.approved_at = timezone.now()
    _transition(withdrawal, WithdrawalStatus.APPROVED, actor=actor.email, note=method)


def _transfer(withdrawal: Withdrawal, *, actor: Actor) -> Withdrawal:
    """Make the Stripe transfer (no database transaction open), then record its outcome."""
    try:
        transfer_id = stripe_connect.transfer_create(
            amount_minor=to_minor_units(withdrawal.amount, withdrawal.currency),
            currency=withdrawal.currency,
            destination=withdrawal.stripe_destination,
            idempotency_key=f"kameng-withdrawal-{withdrawal.pk}",
            metadata={"site": withdrawal.site.slug, "withdrawal": str(withdrawal.pk)},
        )
    except stripe_connect.StripeRefused as exc:
        return _transfer_refused(withdrawal, actor=actor, message=str(exc))
    except (stripe_connect.StripeUnavailable, stripe_connect.StripeNotConfigured) as exc:
        with transaction.atomic():
            locked = _lock(withdrawal)
            if locked.status == WithdrawalStatus.APPROVED:
                locked.error = str(exc)[:500]
                locked.save(update_fields=["error", "updated_at"])
        logger.warning("payouts.transfer_unknown", extra={"withdrawal": withdrawal.pk})
        return locked
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status != WithdrawalStatus.APPROVED:
            return locked  # a concurrent approve recorded it
        locked.stripe_transfer_id = transfer_id
        locked.error = ""
        _post(locked, "payout", AccountKind.SITE_WITHDRAWING, AccountKind.PAYOUT_CLEARING)
        _transition(locked, WithdrawalStatus.PAID, actor=actor.email, note=transfer_id)
    logger.info("payouts.transfer_made", extra={"withdrawal": locked.pk, "transfer": transfer_id})
    return locked


def _transfer_refused(withdrawal: Withdrawal, *, actor: Actor, message: str) -> Withdrawal:
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status != WithdrawalStatus.APPROVED:
            return locked
        _release(locked)
        locked.error = message
        _transition(locked, WithdrawalStatus.FAILED, actor=actor.email, note=message)
    logger.warning("payouts.transfer_refused", extra={"withdrawal": locked.pk})
    return locked


def withdrawal_mark_paid(*, withdrawal: Withdrawal, actor: Actor, reference: str) -> Withdrawal:
    """Record that an approved manual withdrawal was paid outside Stripe (bank reference).
    Marking it paid again changes nothing."""
    reference = reference.strip()
    if not reference:
        raise ValidationError("The payment reference is required.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status == WithdrawalStatus.PAID:
            return locked
        if locked.status != WithdrawalStatus.APPROVED:
            raise ValidationError(f"A {locked.status} withdrawal cannot be marked paid.")
        if locked.method != WithdrawalMethod.MANUAL:
            raise ValidationError("A Stripe payout is marked paid by its transfer.")
        locked.manual_reference = reference[:200]
        _post(locked, "payout", AccountKind.SITE_WITHDRAWING, AccountKind.PAYOUT_CLEARING)
        _transition(locked, WithdrawalStatus.PAID, actor=actor.email, note=reference)
    return locked


# --- State and ledger helpers ----------------------------------------------------------------


def _lock(withdrawal: Withdrawal) -> Withdrawal:
    """The withdrawal's row, locked until the end of the transaction, with its site."""
    return (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=withdrawal.pk)
    )


def _transition(withdrawal: Withdrawal, to: WithdrawalStatus, *, actor: str, note: str) -> None:
    """The one way a withdrawal changes status: checked against the table, with history."""
    current = withdrawal.status
    if to not in WITHDRAWAL_TRANSITIONS[current]:
        raise ValidationError(f"A {current} withdrawal cannot become {to}.")
    withdrawal.status = to
    if to in (WithdrawalStatus.PAID, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED):
        withdrawal.completed_at = timezone.now()
    withdrawal.save()
    WithdrawalEvent.objects.create(
        withdrawal=withdrawal, from_status=current, to_status=to, actor=actor, note=note[:500]
    )
    logger.info(
        "payouts.withdrawal_status",
        extra={"withdrawal": withdrawal.pk, "from": current, "to": to},
    )


def _release(withdrawal: Withdrawal) -> None:
    _post(withdrawal, "release", AccountKind.SITE_WITHDRAWING, AccountKind.SITE_AVAILABLE)


def _post(withdrawal: Withdrawal, step: str, debit: AccountKind, credit: AccountKind) -> None:
    """Book one step of a withdrawal (key `withdrawal:<id>:<step>`, so never twice).

    `debit` gives up amount + fee. For the payout, `credit` receives the amount and HQ revenue
    the fee; otherwise `credit` receives both.
    """
    site, currency = withdrawal.site, withdrawal.currency
    total = withdrawal.amount + withdrawal.fee
    postings = [Posting(account_get(kind=debit, currency=currency, site=site), total)]
    if step == "payout":
        clearing = account_get(kind=credit, currency=currency)
        postings.append(Posting(clearing, -withdrawal.amount))
        if withdrawal.fee:
            hq = account_get(kind=AccountKind.HQ_REVENUE, currency=currency)
            postings.append(Posting(hq, -withdrawal.fee))
    else:
        postings.append(Posting(account_get(kind=credit, currency=currency, site=site), -total))
    transaction_post(
        idempotency_key=f"withdrawal:{withdrawal.pk}:{step}",
        kind=f"withdrawal_{step}",
        postings=postings,
        site=site,
        memo=f"Withdrawal {withdrawal.pk}",
    )


# --- Stripe Connect onboarding ---------------------------------------------------------------


def connect_onboarding_link(*, site: Site, refresh_url: str, return_url: str) -> str:
    """An onboarding address for the site's Stripe Express account, created if missing.

    The account is created with an idempotency key derived from the site, so two concurrent
    calls create one account; the database keeps one row per site.
    """
    if not conf.stripe_configured():
        raise ValidationError("Stripe is not configured.")
    connected = ConnectedAccount.objects.filter(site=site).first()
    if connected is None:
        connected = _connected_account_create(site)
    try:
        return stripe_connect.account_link_create(
            account_id=connected.stripe_account_id, refresh_url=refresh_url, return_url=return_url
        )
    except (stripe_connect.StripeRefused, stripe_connect.StripeUnavailable) as exc:
        raise ValidationError(f"Stripe could not start onboarding: {exc}") from exc


def _connected_account_create(site: Site) -> ConnectedAccount:
    try:
        data = stripe_connect.express_account_create(
            email=site.owner_email,
            metadata={"site": site.slug, "site_id": str(site.pk)},
            idempotency_key=f"kameng-connect-site-{site.pk}",
        )
    except (stripe_connect.StripeRefused, stripe_connect.StripeUnavailable) as exc:
        raise ValidationError(f"Stripe could not create the account: {exc}") from exc
    try:
        with transaction.atomic():
            connected = ConnectedAccount.objects.create(site=site, stripe_account_id=data["id"])
    except IntegrityError:  # created concurrently (the same account, thanks to the key)
        return ConnectedAccount.objects.get(site=site)
    connected_account_sync(account=data)
    connected.refresh_from_db()
    logger.info("payouts.connect_account_created", extra={"site": site.slug})
    return connected


def connected_account_sync(*, account: dict[str, object]) -> ConnectedAccount | None:
    """Apply a Stripe Account object (from the API or an `account.updated` webhook) to the
    site's row; None for an account Kameng does not know."""
    connected = ConnectedAccount.objects.filter(stripe_account_id=account.get("id")).first()
    if connected is None:
        return None
    capabilities = account.get("capabilities")
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    connected.details_submitted = bool(account.get("details_submitted"))
    connected.payouts_enabled = bool(account.get("payouts_enabled"))
    if transfers == "active" and connected.details_submitted:
        connected.state = ConnectedAccountState.ACTIVE
    elif connected.details_submitted:
        connected.state = ConnectedAccountState.RESTRICTED
    else:
        connected.state = ConnectedAccountState.ONBOARDING
    connected.save()
    return connected


def connected_account_refresh(*, site: Site) -> ConnectedAccount:
    """Read the site's connected account from Stripe (after the owner returns from onboarding)."""
    connected = ConnectedAccount.objects.get(site=site)
    try:
        data = stripe_connect.account_retrieve(connected.stripe_account_id)
    except (stripe_connect.StripeRefused, stripe_connect.StripeUnavailable) as exc:
        raise ValidationError(f"Stripe could not be asked about the account: {exc}") from exc
    synced = connected_account_sync(account=data)
    assert synced is not None
    return synced
