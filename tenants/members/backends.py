"""Authentication backends that remember which site's schema a user was loaded from.

A user row only means something in its own site's schema (another site has the same ids), so
money services check that a user object belongs to the active site (`member_check`). A user
these backends load, for a session or a login, comes from the active schema by construction:
they stamp it with that schema, and the check is then answered without a query.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import connection
from django.http import HttpRequest

_STAMP = "_kameng_schema"


def schema_stamp(user: AbstractBaseUser) -> None:
    """Record that `user` was read from the active schema (just now, by its primary key)."""
    user.__dict__[_STAMP] = connection.schema_name  # type: ignore[attr-defined]


def schema_stamped(user: AbstractBaseUser) -> bool:
    """Whether `user` was read from the active schema by one of these backends (read as an
    attribute, so the request's lazy user answers for the user it wraps)."""
    return getattr(user, _STAMP, None) == connection.schema_name  # type: ignore[attr-defined]


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
        user = super().get_user(user_id)
        if user is not None:
            schema_stamp(user)
        return user


class SiteAuthenticationBackend(AuthenticationBackend):
    """allauth's backend (log in by email), stamping as `SiteModelBackend` does."""

    def authenticate(self, request: Any, **credentials: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        if user is not None:
            schema_stamp(user)
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        user = super().get_user(user_id)
        if user is not None:
            schema_stamp(user)
        return user
