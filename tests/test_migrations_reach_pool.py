"""A new migration reaches the template and the spares, so a site claimed afterwards has it."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from shared.sites import provisioning
from shared.sites.models import PooledSchema, PooledSchemaKind
from shared.sites.services import ProvisionedSite
from tests.conftest import Network


def _columns(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'schema_probe_probe'",
            [schema],
        )
        return {row[0] for row in cursor.fetchall()}


def _applied(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT name FROM "{schema}".django_migrations WHERE app = %s',
            ["schema_probe"],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.slow
def test_site_claimed_after_a_new_migration_has_it(
    settings: Any,
    network: Network,
    make_site: Callable[..., ProvisionedSite],
) -> None:
    spares = list(
        PooledSchema.objects.filter(kind=PooledSchemaKind.SPARE).values_list(
            "schema_name", flat=True
        )
    )
    assert spares, "the session pool should hold spares built before the migration"
    assert all("note" not in _columns(name) for name in spares)

    # Deploy a new migration: the code gains 0002 and `migrate_schemas` runs.
    settings.MIGRATION_MODULES = {"schema_probe": "tests.schema_probe.migrations_v2"}
    old_fingerprint = provisioning.schema_fingerprint(spares[0])
    assert provisioning.code_fingerprint() != old_fingerprint
    call_command("migrate_schemas", "schema_probe", interactive=False, stdout=StringIO())

    for schema in [provisioning.TEMPLATE_SCHEMA, *spares, network.alpha.schema_name]:
        assert "note" in _columns(schema), schema
        assert "0002_probe_note" in _applied(schema), schema
    assert provisioning.spare_schemas_count() == len(spares)

    result = make_site(slug="after-deploy")
    assert result.source == "pool"
    assert "note" in _columns("site_after_deploy")
    assert "0002_probe_note" in _applied("site_after_deploy")

    cloned = make_site(slug="after-deploy-clone", use_pool=False)
    assert cloned.source == "clone"
    assert "note" in _columns("site_after_deploy_clone")


def test_spares_built_before_a_migration_are_not_claimed_until_migrated(
    settings: Any, make_site: Callable[..., ProvisionedSite]
) -> None:
    """Code with a new migration never hands out a spare that lacks it."""
    settings.MIGRATION_MODULES = {"schema_probe": "tests.schema_probe.migrations_v2"}
    assert provisioning.spare_schemas_count() == 0
    result = make_site(slug="before-migrate")
    assert result.source == "migrate"
    assert "note" in _columns("site_before_migrate")
