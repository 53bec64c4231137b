"""allauth adapter: emails and links carry the current site's name and host."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from shared.sites.middleware import request_site


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

    @staticmethod
    def _site() -> Any:
        from django.db import connection

        tenant = getattr(connection, "tenant", None)
        return tenant if getattr(tenant, "slug", None) else None
