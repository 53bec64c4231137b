"""Writes of the console itself: staff roles of the current site."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from tenants.console.roles import Role, roles_ensure

logger = logging.getLogger(__name__)


@transaction.atomic
def staff_role_assign(*, user: AbstractUser, role: Role, actor: AbstractUser | None = None) -> None:
    """Give a member of this site one staff role (replacing any other)."""
    if user.is_superuser:
        raise ValidationError({"email": "The site owner already has every permission."})
    groups = roles_ensure()
    user.groups.set([groups[role]])
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    logger.info(
        "console.staff_role_assigned",
        extra={
            "schema": connection.schema_name,  # type: ignore[attr-defined]
            "user_id": user.pk,
            "role": role.value,
            "actor_id": actor.pk if actor else None,
        },
    )


@transaction.atomic
def staff_role_revoke(*, user: AbstractUser, actor: AbstractUser | None = None) -> None:
    """Take a staff member's role away; the account stays a member of the site."""
    if user.is_superuser:
        raise ValidationError({"user": "The site owner's role cannot be taken away."})
    user.groups.clear()
    if user.is_staff:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    logger.info(
        "console.staff_role_revoked",
        extra={
            "schema": connection.schema_name,  # type: ignore[attr-defined]
            "user_id": user.pk,
            "actor_id": actor.pk if actor else None,
        },
    )
