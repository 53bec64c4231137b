"""allauth adapter: emails and links carry the current site's name and host."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from shared.sites.middleware import request_site

logger = logging.getLogger(__name__)


class SiteAccountAdapter(DefaultAccountAdapter):
    def format_email_subject(self, subject: str) -> str:
        site = self._site()
        prefix = f"[{site.name}] " if site is not None else "[Kameng HQ] "
        return prefix + str(subject)

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        # Built from the request's own host: the link always points back at the issuing site.
        return super().get_email_confirmation_url(request, emailconfirmation)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Members sign up on storefronts; HQ staff accounts are created by HQ.
        return request_site(request) is not None

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit)
        if commit:
            self._referral_record(request, user)
        return user

    @staticmethod
    def _referral_record(request: HttpRequest, user: Any) -> None:
        """A newcomer who arrived through a member's referral link is referred by them."""
        from tenants.members.views import REFERRAL_SESSION_KEY
        from tenants.wallets.commissions import referral_set
        from tenants.wallets.selectors import referrer_for_code

        code = request.session.pop(REFERRAL_SESSION_KEY, None)
        if not code or request_site(request) is None:
            return
        referrer = referrer_for_code(code)
        if referrer is None:
            return
        try:
            referral_set(user=user, referrer=referrer)
        except ValidationError:
            logger.info("members.referral_skipped", extra={"user_id": user.pk})

    @staticmethod
    def _site() -> Any:
        from django.db import connection

        tenant = getattr(connection, "tenant", None)
        return tenant if getattr(tenant, "slug", None) else None
