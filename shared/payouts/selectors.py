"""Reading withdrawals: the one doorway for a site's withdrawal, and the lists the consoles show."""

from __future__ import annotations

from django.db.models import QuerySet

from shared.payouts.models import Withdrawal, WithdrawalStatus
from shared.sites.models import Site


def withdrawal_get(*, site: Site, withdrawal_id: int) -> Withdrawal:
    """A site's withdrawal by id. Raises Withdrawal.DoesNotExist alike whether the id is
    unknown or belongs to another site, so one site cannot probe another's withdrawals."""
    return Withdrawal.objects.select_related("site").get(pk=withdrawal_id, site=site)


def withdrawals_for_site(*, site: Site) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(site=site).order_by("-created_at", "-pk")


def withdrawals_awaiting_hq() -> QuerySet[Withdrawal]:
    """HQ's queue: requested, or approved and not yet paid (oldest first)."""
    return (
        Withdrawal.objects.filter(
            status__in=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]
        )
        .select_related("site")
        .order_by("created_at", "pk")
    )
