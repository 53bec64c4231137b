"""Sites (the tenants), their domains, their plans, and the pool of ready schemas.

Every storefront, the main site included, is a `Site` with its own PostgreSQL schema. Sites form
a tree of any depth: `path` holds the ids from the root down to the site itself, so walking the
parent chain (for pricing and settlement) is one indexed lookup, not a loop of queries. HQ is the
public schema itself and has no row here.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django_tenants.models import DomainMixin, TenantMixin


class Plan(models.Model):  # type: ignore[django-manager-missing]  # untyped TenantMixin
    """What a site may do. `max_depth` caps how deep the tree may grow under a site on this plan."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    max_depth = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SiteStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Site(TenantMixin):
    # The schema is created by shared.sites.provisioning (claimed from the pool, cloned, or
    # migrated), never implicitly on save().
    auto_create_schema = False
    auto_drop_schema = False

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    depth = models.PositiveSmallIntegerField(default=1)
    path = ArrayField(models.BigIntegerField(), default=list)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="sites")
    # The price tier the site buys at: from HQ's tier prices for a main site, from its parent's
    # wholesale rules for that tier otherwise. Set by HQ or by the parent site.
    price_tier = models.ForeignKey(
        "catalog.PriceTier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=SiteStatus.choices, default=SiteStatus.ACTIVE, db_index=True
    )
    language = models.CharField(max_length=10, default="zh-hans")
    owner_email = models.EmailField()
    # The owner's account inside this site's own schema.
    owner_user_id = models.BigIntegerField(null=True, blank=True)
    # The franchisee's member account on the parent site (who bought this sub-site), if any.
    franchisee_user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["parent", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(depth__gte=1), name="site_depth_at_least_one"
            ),
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True, depth=1)
                | models.Q(parent__isnull=False, depth__gt=1),
                name="site_root_has_depth_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.status == SiteStatus.ACTIVE

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent (empty for a root site)."""
        return list(self.path[:-1])


class Domain(DomainMixin):
    """A host name a site answers on: its platform subdomain, or a custom domain.

    Custom domains are routed only once HQ has marked them verified.
    """

    is_custom = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("domain"), name="domain_unique_case_insensitive")
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_routable(self) -> bool:
        return not self.is_custom or self.verified_at is not None


class PooledSchemaKind(models.TextChoices):
    TEMPLATE = "template", "Template"
    SPARE = "spare", "Spare"


class PooledSchema(models.Model):
    """A migrated schema that no site owns yet: the template, or a spare waiting to be claimed.

    `fingerprint` names the tenant migrations the schema has; a schema whose fingerprint differs
    from the code's is stale and is never claimed or cloned until `migrate_schemas` updates it.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    kind = models.CharField(max_length=16, choices=PooledSchemaKind.choices)
    fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    migrated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "fingerprint"])]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind="template"),
                name="pooled_schema_single_template",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.schema_name}"
