"""Accounts are per site: sessions, logins, reset tokens and confirmation keys never cross."""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress, EmailConfirmation
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from shared.sites.models import Site
from tenants.members.tokens import SiteBoundPasswordResetTokenGenerator
from tests.conftest import MEMBER_PASSWORD, Network, site_host


def _login(client: Client, site: Site, email: str, password: str = MEMBER_PASSWORD) -> int:
    response = client.post(
        "/accounts/login/", {"login": email, "password": password}, HTTP_HOST=site_host(site)
    )
    return response.status_code


def _signed_in_email(client: Client, host: str) -> str | None:
    response = client.get("/", HTTP_HOST=host)
    user = response.wsgi_request.user
    return user.email if user.is_authenticated else None


def test_member_logs_in_on_own_site(client: Client, network: Network) -> None:
    assert _login(client, network.alpha, "member@alpha.test") == 302
    assert _signed_in_email(client, site_host(network.alpha)) == "member@alpha.test"


def test_member_cannot_log_in_on_another_site(client: Client, network: Network) -> None:
    assert _login(client, network.beta, "member@alpha.test") == 200  # form redisplayed
    assert _signed_in_email(client, site_host(network.beta)) is None
    assert "sessionid" not in client.cookies or _signed_in_email(client, "beta.localhost") is None


def test_session_cookie_of_one_site_is_anonymous_elsewhere(
    client: Client, network: Network
) -> None:
    """Replay alpha's session cookie on every other host, as an attacker would."""
    assert _login(client, network.alpha, "member@alpha.test") == 302
    session_key = client.cookies["sessionid"].value
    # Same user ids on every site (owner 1, member 2), still no access anywhere else.
    for host in (site_host(network.beta), site_host(network.alpha_kid), "localhost"):
        client.cookies["sessionid"] = session_key
        assert _signed_in_email(client, host) is None, host
    client.cookies["sessionid"] = session_key
    assert _signed_in_email(client, site_host(network.alpha)) == "member@alpha.test"


def test_sessions_are_stored_in_the_sites_schema(client: Client, network: Network) -> None:
    from django.contrib.sessions.models import Session

    _login(client, network.alpha, "member@alpha.test")
    key = client.cookies["sessionid"].value
    with tenant_context(network.alpha):
        assert Session.objects.filter(session_key=key).exists()
    with tenant_context(network.beta):
        assert not Session.objects.filter(session_key=key).exists()
    with schema_context("public"):
        assert not Session.objects.filter(session_key=key).exists()


def test_signup_creates_member_only_on_that_site(client: Client, network: Network) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "new@buyer.test", "password1": "a-long-pass-9", "password2": "a-long-pass-9"},
        HTTP_HOST=site_host(network.beta),
    )
    assert response.status_code == 302
    with tenant_context(network.beta):
        assert get_user_model().objects.filter(email="new@buyer.test").exists()
    with tenant_context(network.alpha):
        assert not get_user_model().objects.filter(email="new@buyer.test").exists()
    with schema_context("public"):
        assert not get_user_model().objects.filter(email="new@buyer.test").exists()


def test_hq_does_not_offer_signup(client: Client, db: None) -> None:
    response = client.get("/accounts/signup/", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert b"Sign Up Closed" in response.content or b"closed" in response.content.lower()
    with schema_context("public"):
        before = get_user_model().objects.count()
    client.post(
        "/accounts/signup/",
        {"email": "x@y.test", "password1": "a-long-pass-9", "password2": "a-long-pass-9"},
        HTTP_HOST="localhost",
    )
    with schema_context("public"):
        assert get_user_model().objects.count() == before


def test_password_reset_token_only_works_on_issuing_site(client: Client, network: Network) -> None:
    mail.outbox.clear()
    client.post(
        "/accounts/password/reset/",
        {"email": "member@alpha.test"},
        HTTP_HOST=site_host(network.alpha),
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[Alpha Cards]")
    link = re.search(
        r"http://alpha\.localhost/accounts/password/reset/key/(\S+)/", mail.outbox[0].body
    )
    assert link is not None
    path = f"/accounts/password/reset/key/{link.group(1)}/"
    for host in (site_host(network.beta), site_host(network.alpha_kid), "localhost"):
        response = client.get(path, HTTP_HOST=host, follow=True)
        assert response.context["token_fail"] is True, host
    response = client.get(path, HTTP_HOST=site_host(network.alpha), follow=True)
    assert not response.context.get("token_fail")
    assert {"password1", "password2"} <= set(response.context["form"].fields)


def test_reset_token_is_bound_to_schema(network: Network) -> None:
    generator = SiteBoundPasswordResetTokenGenerator()
    with tenant_context(network.alpha):
        user = get_user_model().objects.get(email="member@alpha.test")
        token = generator.make_token(user)
        assert generator.check_token(user, token)
    with tenant_context(network.beta):
        same_id = get_user_model().objects.get(pk=user.pk)
        assert not generator.check_token(same_id, token)
        # Even the very same row data in another schema does not validate the token.
        assert not generator.check_token(user, token)
    assert connection.schema_name == "public"


def test_email_confirmation_key_only_works_on_issuing_site(
    client: Client, network: Network
) -> None:
    with tenant_context(network.alpha):
        address = EmailAddress.objects.create(
            user=get_user_model().objects.get(email="member@alpha.test"),
            email="second@alpha.test",
            verified=False,
        )
        confirmation = EmailConfirmation.create(address)
        confirmation.sent = confirmation.created
        confirmation.save()
        key = confirmation.key
    url = f"/accounts/confirm-email/{key}/"
    assert client.post(url, HTTP_HOST=site_host(network.beta)).status_code == 404
    with tenant_context(network.alpha):
        assert not EmailAddress.objects.get(email="second@alpha.test").verified
    assert client.post(url, HTTP_HOST=site_host(network.alpha)).status_code == 302
    with tenant_context(network.alpha):
        assert EmailAddress.objects.get(email="second@alpha.test").verified


def test_cache_keys_are_prefixed_by_schema(network: Network) -> None:
    with tenant_context(network.alpha):
        cache.set("greeting", "alpha")
    with tenant_context(network.beta):
        assert cache.get("greeting") is None
        cache.set("greeting", "beta")
    with tenant_context(network.alpha):
        assert cache.get("greeting") == "alpha"
    assert cache.get("greeting") is None
    with tenant_context(network.alpha):
        cache.delete("greeting")
    with tenant_context(network.beta):
        cache.delete("greeting")


def test_hq_staff_log_in_on_hq_only(client: Client, db: None) -> None:
    with schema_context("public"):
        staff = get_user_model().objects.create_user(
            username="hq@kameng.test", email="hq@kameng.test", password="hq-pass-123", is_staff=True
        )
        EmailAddress.objects.create(user=staff, email=staff.email, primary=True, verified=True)
    response = client.post(
        "/accounts/login/", {"login": "hq@kameng.test", "password": "hq-pass-123"},
        HTTP_HOST="localhost",
    )  # fmt: skip
    assert response.status_code == 302
    assert client.get("/dashboard/", HTTP_HOST="localhost").status_code == 200
    assert _signed_in_email(client, "alpha.localhost") is None
    assert _login(client, Site.objects.get(slug="alpha"), "hq@kameng.test", "hq-pass-123") == 200


def test_dashboard_requires_hq_staff(client: Client, db: None) -> None:
    response = client.get("/dashboard/", HTTP_HOST="localhost")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
