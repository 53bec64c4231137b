"""The wallet top-up page refuses a member's session carried to another site: it is sent to the
login page and no checkout session is opened."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client

from tests.conftest import Network, site_host
from tests.payments.conftest import Fresh, new_member
from tests.payments.test_wallet_top_up import TOP_UP, logged_in


@pytest.fixture
def member(network: Network) -> AbstractUser:
    return new_member(network.alpha)


def test_a_top_up_with_another_sites_session_is_refused(
    fresh: Fresh, network: Network, member: AbstractUser, sandbox: None
) -> None:
    alpha = logged_in(network.alpha, member)
    on_beta = Client(HTTP_HOST=site_host(network.beta))
    on_beta.cookies["sessionid"] = alpha.cookies["sessionid"].value  # a copy, not alpha's jar
    before = fresh.sessions().count()

    for response in (on_beta.get(TOP_UP), on_beta.post(TOP_UP, {"amount": "20.00"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert fresh.sessions().count() == before
    assert alpha.get(TOP_UP).status_code == 200
