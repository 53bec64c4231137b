"""Password-reset tokens bound to the schema they were issued in.

Django's tokens are an HMAC of the user's id, password hash and last login under the platform's
SECRET_KEY. Adding the schema name means a token issued by one site (or HQ) never validates on
another, even for a user with the same id.
"""

from __future__ import annotations

from allauth.account.forms import EmailAwarePasswordResetTokenGenerator
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection


class SiteBoundPasswordResetTokenGenerator(EmailAwarePasswordResetTokenGenerator):
    key_salt = "kameng.members.tokens.SiteBoundPasswordResetTokenGenerator"

    def _make_hash_value(self, user: AbstractBaseUser, timestamp: int) -> str:
        return f"{connection.schema_name}:{super()._make_hash_value(user, timestamp)}"
