"""`create_site`: prints the URL on success; bad input is a clear error that leaves nothing."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from shared.sites.models import Domain, PooledSchema, Site
from shared.sites.services import ProvisionedSite, domain_add
from tests.conftest import Network


def _state() -> tuple[int, int, int, frozenset[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        schemas = frozenset(row[0] for row in cursor.fetchall())
    return Site.objects.count(), Domain.objects.count(), PooledSchema.objects.count(), schemas


def test_create_site_prints_url_and_reset_link(network: Network) -> None:
    out = StringIO()
    call_command(
        "create_site", "--slug", "newshop", "--name", "New Shop", "--parent", "alpha",
        "--owner-email", "owner@newshop.test", "--domain", "newshop.example.com", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "Created site 'newshop' (pool): http://newshop.localhost/" in text
    assert "http://newshop.localhost/accounts/password/reset/key/" in text
    site = Site.objects.get(slug="newshop")
    assert site.parent == network.alpha
    assert site.depth == 2
    assert set(Domain.objects.filter(tenant=site).values_list("domain", "is_custom")) == {
        ("newshop.localhost", False),
        ("newshop.example.com", True),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "alpha"], "slug: A site with slug 'alpha' already exists."),
        (["--slug", "Bad_Slug!"], "slug: Use 1-40 lower-case letters"),
        (["--slug=-dash"], "slug: Use 1-40 lower-case letters"),
        (["--slug", "admin"], "slug: 'admin' is reserved."),
        (["--slug", "ok1", "--parent", "nope"], "parent: no site with slug 'nope'."),
        (["--slug", "ok2", "--plan", "nope"], "plan: no plan with code 'nope'."),
        (["--slug", "ok3", "--owner-email", "not-an-email"], "owner_email: 'not-an-email'"),
        (["--slug", "ok4", "--domain", "taken.example.com"], "'taken.example.com' is already"),
        (["--slug", "ok5", "--domain", "x.localhost"], "domain: Subdomains of localhost"),
        (["--slug", "ok6", "--domain", "not a domain"], "domain: 'not a domain' is not a valid"),
        (["--slug", "ok7", "--name", "   "], "name: Give the site a name"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_leaves_nothing(
    network: Network, args: list[str], message: str
) -> None:
    domain_add(site=network.beta, domain="taken.example.com")
    defaults = {"--name": "Shop", "--owner-email": "owner@shop.test"}
    argv = list(args)
    for flag, value in defaults.items():
        if flag not in argv:
            argv += [flag, value]
    before = _state()
    with pytest.raises(CommandError) as excinfo:
        call_command("create_site", *argv, stdout=StringIO())
    assert message in str(excinfo.value)
    assert _state() == before


def test_depth_over_cap_is_refused_and_leaves_nothing(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    parent = make_site(slug="c1").site
    for depth in range(2, 6):
        parent = make_site(slug=f"c{depth}", parent=parent).site
    before = _state()
    with pytest.raises(CommandError, match="parent: A site at depth 6 exceeds"):
        call_command(
            "create_site", "--slug", "c6", "--name", "Too deep", "--parent", "c5",
            "--owner-email", "o@c6.test", stdout=StringIO(),
        )  # fmt: skip
    assert _state() == before


def test_failure_after_schema_claim_rolls_everything_back(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash midway (here: creating the owner) leaves no schema, row or lost spare."""
    import shared.sites.services as services

    def explode(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_owner_create", explode)
    before = _state()
    with pytest.raises(RuntimeError, match="disk full"):
        services.site_create(slug="crash", name="Crash", owner_email="o@crash.test")
    assert _state() == before


def test_status_purge_and_domain_commands(network: Network) -> None:
    out = StringIO()
    call_command("set_site_status", "alpha-kid", "suspended", stdout=out)
    assert Site.objects.get(slug="alpha-kid").status == "suspended"
    call_command("set_site_status", "alpha-kid", "closed", stdout=out)
    with pytest.raises(CommandError, match="Type the site's slug"):
        call_command("purge_site", "alpha-kid", "--confirm", "alpha", stdout=out)
    call_command("purge_site", "alpha-kid", "--confirm", "alpha-kid", stdout=out)
    assert not Site.objects.filter(slug="alpha-kid").exists()
    call_command("verify_domain", "shop.example.org", "--site", "beta", stdout=out)
    assert Domain.objects.get(domain="shop.example.org").verified_at is not None
    with pytest.raises(CommandError, match="Unknown domain"):
        call_command("verify_domain", "other.example.org", stdout=out)
