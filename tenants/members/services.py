"""Writes of a site's member accounts (in the site's schema)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.urls import reverse
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from shared.sites.selectors import site_base_url
from tenants.members.tokens import SiteBoundPasswordResetTokenGenerator


def member_create(
    *, email: str, password: str, is_staff: bool = False, verified: bool = True
) -> AbstractUser:
    """Create a member of the current site with a verified primary email."""
    email = email.strip().lower()
    user = get_user_model().objects.create_user(
        username=email, email=email, password=password, is_staff=is_staff
    )
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    return user


def owner_password_reset_url(site: Site) -> str:
    """A one-time link for the site owner to set a password, valid on that site only."""
    if site.owner_user_id is None:
        raise ValueError(f"Site {site.slug} has no owner account.")
    with tenant_context(site):
        owner = get_user_model().objects.get(pk=site.owner_user_id)
        token = SiteBoundPasswordResetTokenGenerator().make_token(owner)
        path = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": user_pk_to_url_str(owner), "key": token},
            urlconf="kameng.urls_tenant",
        )
    return site_base_url(site).rstrip("/") + path
