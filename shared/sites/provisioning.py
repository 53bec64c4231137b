"""Schemas for new sites: a pool of ready, migrated spare schemas, a template, and fallbacks.

Creating a site by running every migration takes seconds and grows with the migration history;
cloning a template grows with the number of schemas in the database. Claiming a spare is an
`ALTER SCHEMA ... RENAME` inside the site-creation transaction: milliseconds, flat in the number
of sites. The pool is refilled in the background (`tasks.spare_schemas_refill`).

django-tenants migrates only schemas that have a site row, so `migrate_schemas` (see
`management/commands/migrate_schemas.py`) also migrates the template and every spare, and each
pooled schema records the fingerprint of the tenant migrations it has: a schema whose
fingerprint differs from the code's is never claimed or cloned.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from typing import Literal

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from shared.sites.models import PooledSchema, PooledSchemaKind

logger = logging.getLogger(__name__)

TEMPLATE_SCHEMA = "kameng_template"
SPARE_PREFIX = "kameng_spare_"

SchemaSource = Literal["pool", "clone", "migrate"]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _tenant_app_labels() -> frozenset[str]:
    tenant_apps = set(settings.TENANT_APPS)
    return frozenset(c.label for c in apps.get_app_configs() if c.name in tenant_apps)


def code_fingerprint() -> str:
    """Fingerprint of every tenant migration the running code defines."""
    modules = tuple(sorted(getattr(settings, "MIGRATION_MODULES", {}).items()))
    return _code_fingerprint(modules)


@functools.lru_cache(maxsize=8)
def _code_fingerprint(_migration_modules: tuple[tuple[str, str], ...]) -> str:
    labels = _tenant_app_labels()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = sorted(f"{app}.{name}" for app, name in loader.graph.nodes if app in labels)
    return _digest(names)


def schema_fingerprint(schema_name: str) -> str:
    """Fingerprint of the tenant migrations recorded as applied in a schema."""
    labels = _tenant_app_labels()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {_quote(schema_name)}.django_migrations")  # noqa: S608
        names = sorted(f"{app}.{name}" for app, name in cursor.fetchall() if app in labels)
    return _digest(names)


def _digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def schema_rename(*, old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {_quote(old)} RENAME TO {_quote(new)}")


def schema_drop(*, schema_name: str) -> None:
    with connection.cursor() as cursor:
        # Fire deferred constraint checks now: PostgreSQL refuses to drop tables with pending
        # trigger events (rows written earlier in the same transaction).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema_name)} CASCADE")


def schema_build(*, schema_name: str, source: Literal["clone", "migrate"]) -> SchemaSource:
    """Create `schema_name` by cloning the template (if current) or by running migrations.

    Runs in the caller's transaction; `source="clone"` falls back to migrating when there is no
    current template.
    """
    if source == "clone" and template_is_current():
        CloneSchema().clone_schema(TEMPLATE_SCHEMA, schema_name, set_connection=False)
        return "clone"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {_quote(schema_name)}")
    call_command(
        "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return "migrate"


def template_is_current() -> bool:
    return PooledSchema.objects.filter(
        kind=PooledSchemaKind.TEMPLATE,
        schema_name=TEMPLATE_SCHEMA,
        fingerprint=code_fingerprint(),
    ).exists()


def template_ensure() -> PooledSchema:
    """Create the template schema by migrations if it does not exist yet."""
    with transaction.atomic():
        template = (
            PooledSchema.objects.select_for_update().filter(kind=PooledSchemaKind.TEMPLATE).first()
        )
        if template is not None and schema_exists(template.schema_name):
            return template
        if template is not None:
            template.delete()
        if not schema_exists(TEMPLATE_SCHEMA):
            schema_build(schema_name=TEMPLATE_SCHEMA, source="migrate")
        template = PooledSchema.objects.create(
            schema_name=TEMPLATE_SCHEMA,
            kind=PooledSchemaKind.TEMPLATE,
            fingerprint=schema_fingerprint(TEMPLATE_SCHEMA),
            migrated_at=timezone.now(),
        )
    logger.info("schema_pool.template_created", extra={"schema": TEMPLATE_SCHEMA})
    return template


def spare_schema_create() -> PooledSchema:
    """Build one spare schema (cloned from the template, or migrated) and add it to the pool."""
    schema_name = f"{SPARE_PREFIX}{secrets.token_hex(6)}"
    with transaction.atomic():
        source = schema_build(schema_name=schema_name, source="clone")
        spare = PooledSchema.objects.create(
            schema_name=schema_name,
            kind=PooledSchemaKind.SPARE,
            fingerprint=schema_fingerprint(schema_name),
            migrated_at=timezone.now(),
        )
    logger.info("schema_pool.spare_created", extra={"schema": schema_name, "source": source})
    return spare


def spare_schema_claim(*, schema_name: str) -> bool:
    """Rename a current spare schema to `schema_name`, in the caller's transaction.

    Returns False when the pool has no current spare. Concurrent claimers skip each other's
    locked rows, so no spare is handed out twice.
    """
    spare = (
        PooledSchema.objects.select_for_update(skip_locked=True)
        .filter(kind=PooledSchemaKind.SPARE, fingerprint=code_fingerprint())
        .order_by("id")
        .first()
    )
    if spare is None:
        return False
    schema_rename(old=spare.schema_name, new=schema_name)
    spare.delete()
    return True


def spare_schemas_count() -> int:
    return PooledSchema.objects.filter(
        kind=PooledSchemaKind.SPARE, fingerprint=code_fingerprint()
    ).count()


# Any fixed 64-bit number: the advisory lock serialising refills across processes and hosts.
_REFILL_LOCK_ID = 0x6B616D656E67


def spare_schemas_refill(*, target: int | None = None) -> int:
    """Top the pool up to `target` current spares (default SPARE_SCHEMA_POOL_SIZE).

    One refill runs at a time across every worker and deploy job (a PostgreSQL advisory lock);
    a caller that finds a refill running returns 0 at once.
    """
    target = settings.SPARE_SCHEMA_POOL_SIZE if target is None else target
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_REFILL_LOCK_ID])
        if not cursor.fetchone()[0]:
            return 0
    try:
        template_ensure()
        created = 0
        while spare_schemas_count() < target:
            spare_schema_create()
            created += 1
        return created
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_REFILL_LOCK_ID])


def pooled_schemas_mark_stale() -> list[str]:
    """Take every pooled schema out of use before migrating it; returns their names.

    Rows being claimed right now are locked by the claimer; the UPDATE waits for them and then
    skips the ones that were claimed (deleted), so a renamed schema is never migrated as a spare.
    """
    with transaction.atomic():
        names = list(
            PooledSchema.objects.select_for_update()
            .order_by("kind", "id")
            .values_list("schema_name", flat=True)
        )
        PooledSchema.objects.filter(schema_name__in=names).update(fingerprint="")
    return names


def pooled_schemas_record_migrated(names: list[str]) -> None:
    for name in names:
        if not schema_exists(name):
            PooledSchema.objects.filter(schema_name=name).delete()
            continue
        PooledSchema.objects.filter(schema_name=name).update(
            fingerprint=schema_fingerprint(name), migrated_at=timezone.now()
        )
