"""Provisioning: a spare from the pool, the clone and migrate fallbacks, and refills."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django_tenants.utils import schema_exists, tenant_context

from shared.sites import provisioning
from shared.sites.models import Domain, PooledSchema, PooledSchemaKind, Site
from shared.sites.services import ProvisionedSite
from tenants.storefront.models import StorefrontSettings


def _spares() -> list[str]:
    return list(
        PooledSchema.objects.filter(kind=PooledSchemaKind.SPARE)
        .order_by("id")
        .values_list("schema_name", flat=True)
    )


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_site_claims_the_oldest_spare_by_renaming_it(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    spares = _spares()
    spare_tables = _tables(spares[0])
    result = make_site(slug="pooled")
    assert result.source == "pool"
    assert result.site.schema_name == "site_pooled"
    assert _spares() == spares[1:]
    assert not schema_exists(spares[0])
    assert _tables("site_pooled") == spare_tables
    assert {"auth_user", "django_session", "storefront_storefrontsettings"} <= spare_tables


def test_site_is_created_complete(make_site: Callable[..., ProvisionedSite]) -> None:
    site = make_site(slug="complete", name="Complete", owner_email="Boss@Complete.test").site
    site.refresh_from_db()
    assert site.depth == 1
    assert site.path == [site.pk]
    assert site.owner_email == "boss@complete.test"
    assert list(Domain.objects.filter(tenant=site).values_list("domain", "is_primary")) == [
        ("complete.localhost", True)
    ]
    with tenant_context(site):
        owner = get_user_model().objects.get()
        assert owner.pk == site.owner_user_id
        assert (owner.email, owner.is_staff, owner.has_usable_password()) == (
            "boss@complete.test",
            True,
            True,
        )
        assert StorefrontSettings.objects.count() == 1


def test_owner_without_password_gets_unusable_one(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    site = make_site(slug="nopass", owner_password=None).site
    with tenant_context(site):
        assert not get_user_model().objects.get().has_usable_password()


def test_fallback_clones_the_template_when_pool_not_used(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    spares = _spares()
    result = make_site(slug="cloned", use_pool=False)
    assert result.source == "clone"
    assert _spares() == spares
    assert _tables("site_cloned") == _tables(provisioning.TEMPLATE_SCHEMA)


def test_fallback_when_pool_is_empty(make_site: Callable[..., ProvisionedSite]) -> None:
    PooledSchema.objects.filter(kind=PooledSchemaKind.SPARE).update(fingerprint="stale")
    result = make_site(slug="emptypool")
    assert result.source == "clone"


def test_fallback_migrates_when_template_is_stale(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    PooledSchema.objects.update(fingerprint="stale")
    result = make_site(slug="migrated")
    assert result.source == "migrate"
    assert provisioning.schema_fingerprint("site_migrated") == provisioning.code_fingerprint()
    with tenant_context(result.site):
        assert get_user_model().objects.count() == 1


def test_stale_spare_is_never_claimed(make_site: Callable[..., ProvisionedSite]) -> None:
    first, second = _spares()[:2]
    PooledSchema.objects.filter(schema_name=first).update(fingerprint="stale")
    assert make_site(slug="fresh").source == "pool"
    assert schema_exists(first)
    assert not schema_exists(second)


def test_refill_tops_the_pool_up_to_target(db: None) -> None:
    before = provisioning.spare_schemas_count()
    assert provisioning.spare_schemas_refill(target=before + 2) == 2
    assert provisioning.spare_schemas_count() == before + 2
    assert provisioning.spare_schemas_refill(target=before) == 0


def test_spare_fingerprint_matches_code(db: None) -> None:
    for name in _spares():
        assert provisioning.schema_fingerprint(name) == provisioning.code_fingerprint()


def test_concurrent_claims_never_share_a_spare(db: None) -> None:
    """Two transactions claim at once; each gets its own spare (then both roll back)."""
    barrier = threading.Barrier(2)
    claimed: dict[str, str | None] = {}

    class Rollback(Exception):
        pass

    def claim(target: str) -> None:
        try:
            with transaction.atomic():
                before = set(_spares())
                barrier.wait(timeout=10)
                ok = provisioning.spare_schema_claim(schema_name=target)
                barrier.wait(timeout=10)
                after = set(_spares())
                claimed[target] = (before - after).pop() if ok and before - after else None
                barrier.wait(timeout=10)
                raise Rollback
        except Rollback:
            pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(f"race_{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert set(claimed) == {"race_0", "race_1"}
    assert None not in claimed.values()
    assert claimed["race_0"] != claimed["race_1"]
    assert not Site.objects.filter(schema_name__startswith="race_").exists()
