"""Authentication backends that remember which site's schema a user was loaded from.

A user row only means something in its own site's schema (another site has the same ids), so
money services check that a user object belongs to the active site (`member_check`). A user
these backends load, for a session or a login, comes from the active schema by construction:
they stamp it with that schema, and the check is then answered without a query.

The session's user is read on every signed-in request, in one plain statement.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest

from kameng.rows import columns, model_from_row

_STAMP = "_kameng_schema"


def schema_stamp(user: AbstractBaseUser) -> None:
    """Record that `user` was read from the active schema (just now, by its primary key)."""
    user.__dict__[_STAMP] = connection.schema_name  # type: ignore[attr-defined]


def schema_stamped(user: AbstractBaseUser) -> bool:
    """Whether `user` was read from the active schema by one of these backends (read as an
    attribute, so the request's lazy user answers for the user it wraps)."""
    return getattr(user, _STAMP, None) == connection.schema_name  # type: ignore[attr-defined]


def _active_user(user_id: Any) -> User | None:
    """The active user with this primary key in the active schema, stamped with it."""
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_USER_SQL, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    user = model_from_row(User, _USER_FIELDS, row)
    schema_stamp(user)
    return user


_USER_FIELDS, _USER_COLUMNS = columns(User, "u")
_USER_SQL = f"SELECT {_USER_COLUMNS} FROM {User._meta.db_table} u WHERE u.id = %s AND u.is_active"  # noqa: S608


class SiteModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            schema_stamp(user)
        return user

    def get_user(self, user_id: Any) -> User | None:
        return _active_user(user_id)


class SiteAuthenticationBackend(AuthenticationBackend):
    """allauth's backend (log in by email), stamping as `SiteModelBackend` does."""

    def authenticate(self, request: Any, **credentials: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        if user is not None:
            schema_stamp(user)
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        return _active_user(user_id)
