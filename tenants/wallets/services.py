"""Writes of member wallets: top-ups, spends, refunds and staff adjustments.

Every operation writes the site schema's member ledger and the public ledger's mirror of it in
the same database transaction (the site's search_path is `<site>, public`, so one atomic block
covers both schemas): the members' wallets of a site always sum to the public SITE_WALLETS
account of that site. Each operation is idempotent on its key; a refused one writes nothing.

Paying an order from the wallet (the public side of the spend is the sale itself):

    with transaction.atomic():
        wallets = account_get(kind=AccountKind.SITE_WALLETS, currency=currency, site=site)
        settle_sale(sale_key=key, ..., amount_paid=paid, paid_from=wallets, fee=Decimal(0))
        wallet_spend(user=buyer, amount=paid, idempotency_key=f"order:{order.pk}",
                     memo=..., currency=currency, sale_key=key)

`settle_sale` debits the wallets mirror by exactly what was paid; `wallet_spend(sale_key=…)`
checks that leg and debits the member's wallet by the same amount without posting publicly
again (a second spend of the same sale is refused by the database). If the wallet is short it
raises InsufficientFunds and the order's atomic block rolls the sale back with it. A refund of
such a sale mirrors `settlement_refund(pay_to=<wallets mirror>, refund_key=k)` with
`wallet_refund(..., refund_key=k)`.

Without a `sale_key`, `wallet_spend` posts its own public transaction (wallets mirror → payment
clearing); an order paid that way settles with `paid_from=<payment clearing>`. Never both: a
sale settled from the wallets mirror plus a spend without its sale_key debits the mirror twice
(`wallets_mirror_check` reports it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction

from shared.ledger.models import Account, AccountKind, Leg
from shared.ledger.services import (
    Posting,
    account_get,
    balance_bucket,
    balance_rows_lock,
    bucket_for,
    transaction_post,
)
from shared.sites.models import Site
from tenants.wallets.ledger import (
    Entry,
    WalletError,
    balances_lock,
    current_site,
    floors_check,
    key_check,
    member_account_get,
    member_check,
    member_transaction_write,
    money,
    platform_account_get,
    prior,
    replayed_check,
    wallet_and_platform_get,
)
from tenants.wallets.models import (
    MemberAccount,
    MemberAccountKind,
    MemberTransaction,
    MemberTransactionKind,
)

logger = logging.getLogger(__name__)

DEFAULT_CURRENCY = "CNY"


def public_key_for(site: Site, idempotency_key: str) -> str:
    """The public ledger key of a site operation (site keys are only unique per site)."""
    return f"wallets:{site.pk}:{idempotency_key}"


def _bucket_of(entries: Sequence[Entry]) -> int:
    """The balance bucket of an operation's member (its hot public rows are that bucket's)."""
    owner = next((e.account.user_id for e in entries if e.account.user_id is not None), 0)
    return bucket_for(owner or 0)


def public_leg(*, public_key: str, site: Site, account: Account) -> Decimal | None:
    """The signed amount a public transaction of this site posted to an account, or None if
    there is no such transaction."""
    legs = Leg.objects.filter(
        transaction__idempotency_key=public_key, transaction__site=site
    ).values_list("account_id", "amount")
    rows = list(legs)
    if not rows:
        return None
    return sum((amount for pk, amount in rows if pk == account.pk), start=Decimal(0))


def apply(
    *,
    site: Site,
    idempotency_key: str,
    kind: MemberTransactionKind,
    entries: Sequence[Entry],
    public_postings: Sequence[Posting] = (),
    public_key: str,
    expected: tuple[Account, Decimal] | None = None,
    funded: Sequence[MemberAccount] = (),
    memo: str = "",
    actor: str = "",
    reason: str = "",
    sale_key: str = "",
) -> MemberTransaction:
    """Lock, replay or check, post the public side (or check it was posted), write the member
    side. Runs inside the caller's atomic block.

    Lock order, the same for every operation so none waits on another crosswise: first the
    public balance rows the operation writes (for the hot mirror accounts, only the member's
    bucket: operations of different members do not queue on one row), then the member balance
    rows in id order. A sale paid from the wallet has written its public rows already
    (`settle_sale` before `wallet_spend(sale_key=…)`), which keeps the same order.
    `funded`: accounts besides wallets that must hold what the operation takes from them.
    """
    bucket = _bucket_of(entries)
    if public_postings:
        balance_rows_lock([p.account for p in public_postings], bucket=bucket)
    locked = balances_lock(e.account for e in entries)
    found = prior(
        idempotency_key=idempotency_key,
        kind=kind,
        public_key=public_key,
        site=site,
        account_id=expected[0].pk if expected is not None else None,
    )
    if found.existing_id is not None:
        return replayed_check(found.existing_id, idempotency_key, kind, entries)
    floors_check(entries, locked, funded=funded)
    if public_postings:
        with balance_bucket(bucket):
            transaction_post(
                idempotency_key=public_key,
                kind=f"wallet_{kind}"[:32],
                postings=public_postings,
                site=site,
                memo=memo,
            )
    elif expected is not None:
        if found.mirrored:
            raise WalletError(f"The public transaction '{public_key}' is already recorded.")
        account, amount = expected
        if not found.public_legs:
            raise WalletError(f"There is no public transaction '{public_key}' for this site.")
        posted = found.posted
        if posted != amount:
            raise WalletError(
                f"The public transaction '{public_key}' moved {posted} on the {account.kind} "
                f"mirror, not {amount}."
            )
    txn = member_transaction_write(
        idempotency_key=idempotency_key,
        kind=kind,
        entries=entries,
        memo=memo,
        actor=actor,
        reason=reason,
        public_key=public_key,
        sale_key=sale_key,
    )
    logger.info(
        "wallets.posted",
        extra={"kind": kind, "site": site.slug, "member_txn": txn.pk, "public_key": public_key},
    )
    return txn


def _mirror(kind: AccountKind, site: Site, currency: str) -> Account:
    return account_get(kind=kind, currency=currency, site=site)


def wallet_top_up(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    idempotency_key: str,
    source: str,
    currency: str = DEFAULT_CURRENCY,
) -> MemberTransaction:
    """Credit the member's wallet with money received by the platform (payment clearing →
    the site's wallets mirror). `source` names the payment (provider and reference)."""
    amount = money(amount, currency)
    key_check(idempotency_key)
    if not source.strip():
        raise WalletError("A top-up needs its source (the payment it came from).")
    with transaction.atomic():
        site = current_site()
        member_check(user)
        wallet = member_account_get(user=user, kind=MemberAccountKind.WALLET, currency=currency)
        mirror = _mirror(AccountKind.SITE_WALLETS, site, currency)
        clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency)
        return apply(
            site=site,
            idempotency_key=idempotency_key,
            kind=MemberTransactionKind.TOP_UP,
            entries=[
                Entry(platform_account_get(currency=currency), amount),
                Entry(wallet, -amount),
            ],
            public_postings=[Posting(clearing, amount), Posting(mirror, -amount)],
            public_key=public_key_for(site, idempotency_key),
            memo=source.strip(),
        )


def wallet_spend(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    idempotency_key: str,
    memo: str,
    currency: str = DEFAULT_CURRENCY,
    sale_key: str | None = None,
    mirror: Account | None = None,
) -> MemberTransaction:
    """Debit the member's wallet; never below zero (InsufficientFunds, nothing written).

    With `sale_key`, the sale settled with `paid_from=<wallets mirror>` in this transaction is
    the public side (checked, not posted again); without, the spend posts wallets mirror →
    payment clearing itself. See the module docstring. `mirror`: the site's wallets mirror
    account in `currency`, if the caller has it (the sale's `paid_from`); read otherwise.
    """
    amount = money(amount, currency)
    key_check(idempotency_key)
    with transaction.atomic():
        site = current_site()
        member_check(user)
        wallet, platform = wallet_and_platform_get(user=user, currency=currency)
        if (
            mirror is None
            or mirror.kind != AccountKind.SITE_WALLETS
            or mirror.site_id != site.pk
            or mirror.currency != currency
        ):
            mirror = _mirror(AccountKind.SITE_WALLETS, site, currency)
        entries = [Entry(wallet, amount), Entry(platform, -amount)]
        if sale_key:
            return apply(
                site=site,
                idempotency_key=idempotency_key,
                kind=MemberTransactionKind.SPEND,
                entries=entries,
                public_key=f"sale:{sale_key}",
                expected=(mirror, amount),
                memo=memo,
                sale_key=sale_key,
            )
        clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency)
        return apply(
            site=site,
            idempotency_key=idempotency_key,
            kind=MemberTransactionKind.SPEND,
            entries=entries,
            public_postings=[Posting(mirror, amount), Posting(clearing, -amount)],
            public_key=public_key_for(site, idempotency_key),
            memo=memo,
        )


def wallet_refund(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    idempotency_key: str,
    currency: str = DEFAULT_CURRENCY,
    refund_key: str | None = None,
    memo: str = "",
) -> MemberTransaction:
    """Credit a refund to the member's wallet.

    With `refund_key`, `settlement_refund(refund_key=…, pay_to=<wallets mirror>)` in this
    transaction is the public side (checked); without, payment clearing → wallets mirror.
    """
    amount = money(amount, currency)
    key_check(idempotency_key)
    with transaction.atomic():
        site = current_site()
        member_check(user)
        wallet = member_account_get(user=user, kind=MemberAccountKind.WALLET, currency=currency)
        mirror = _mirror(AccountKind.SITE_WALLETS, site, currency)
        entries = [Entry(platform_account_get(currency=currency), amount), Entry(wallet, -amount)]
        if refund_key:
            return apply(
                site=site,
                idempotency_key=idempotency_key,
                kind=MemberTransactionKind.REFUND,
                entries=entries,
                public_key=f"refund:{refund_key}",
                expected=(mirror, -amount),
                memo=memo,
            )
        clearing = account_get(kind=AccountKind.PAYMENT_CLEARING, currency=currency)
        return apply(
            site=site,
            idempotency_key=idempotency_key,
            kind=MemberTransactionKind.REFUND,
            entries=entries,
            public_postings=[Posting(clearing, amount), Posting(mirror, -amount)],
            public_key=public_key_for(site, idempotency_key),
            memo=memo,
        )


def wallet_adjust(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    reason: str,
    actor_email: str,
    idempotency_key: str,
    currency: str = DEFAULT_CURRENCY,
) -> MemberTransaction:
    """A staff correction of a member's wallet (positive credits, negative debits, never below
    zero). The site pays for it: its available earnings fund a credit and receive a debit."""
    amount = money(amount, currency, allow_negative=True)
    key_check(idempotency_key)
    reason = reason.strip()
    if not reason:
        raise WalletError("An adjustment needs a reason.")
    try:
        validate_email(actor_email)
    except DjangoValidationError as exc:
        raise WalletError("An adjustment needs the email of the staff member making it.") from exc
    with transaction.atomic():
        site = current_site()
        member_check(user)
        wallet = member_account_get(user=user, kind=MemberAccountKind.WALLET, currency=currency)
        mirror = _mirror(AccountKind.SITE_WALLETS, site, currency)
        earnings = _mirror(AccountKind.SITE_AVAILABLE, site, currency)
        return apply(
            site=site,
            idempotency_key=idempotency_key,
            kind=MemberTransactionKind.ADJUSTMENT,
            entries=[
                Entry(platform_account_get(currency=currency), amount),
                Entry(wallet, -amount),
            ],
            public_postings=[Posting(earnings, amount), Posting(mirror, -amount)],
            public_key=public_key_for(site, idempotency_key),
            memo=f"Adjustment by {actor_email}",
            actor=actor_email,
            reason=reason,
        )


def commission_to_wallet(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    idempotency_key: str,
    currency: str = DEFAULT_CURRENCY,
) -> MemberTransaction:
    """Move available commission into the member's wallet (public: commissions mirror →
    wallets mirror). Refused if the available commission is short."""
    amount = money(amount, currency)
    key_check(idempotency_key)
    with transaction.atomic():
        site = current_site()
        member_check(user)
        available = member_account_get(
            user=user, kind=MemberAccountKind.COMMISSION_AVAILABLE, currency=currency
        )
        wallet = member_account_get(user=user, kind=MemberAccountKind.WALLET, currency=currency)
        wallets_mirror = _mirror(AccountKind.SITE_WALLETS, site, currency)
        commissions_mirror = _mirror(AccountKind.SITE_COMMISSIONS, site, currency)
        return apply(
            site=site,
            idempotency_key=idempotency_key,
            kind=MemberTransactionKind.COMMISSION_TO_WALLET,
            entries=[Entry(available, amount), Entry(wallet, -amount)],
            public_postings=[Posting(commissions_mirror, amount), Posting(wallets_mirror, -amount)],
            public_key=public_key_for(site, idempotency_key),
            funded=[available],
        )
