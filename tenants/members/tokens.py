"""Password-reset tokens bound to the schema they were issued in.

Django's tokens are an HMAC of the user's id, password hash and last login under the platform's
SECRET_KEY. Adding the schema name means a token issued by one site (or HQ) never validates on
another, even for a user with the same id. Like allauth's default generator, the user's email
addresses are part of the hash, so changing them invalidates outstanding links.
(allauth imports this class while loading its forms, so it cannot subclass allauth's.)
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection


class SiteBoundPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "kameng.members.tokens.SiteBoundPasswordResetTokenGenerator"

    def _make_hash_value(self, user: AbstractBaseUser, timestamp: int) -> str:
        from allauth.account.models import EmailAddress

        emails = {getattr(user, "email", "") or ""}
        emails.update(EmailAddress.objects.filter(user_id=user.pk).values_list("email", flat=True))
        emails.discard("")
        base = super()._make_hash_value(user, timestamp)  # type: ignore[arg-type]
        schema = connection.schema_name  # type: ignore[attr-defined]
        return f"{schema}|{base}|{'|'.join(sorted(emails))}"
