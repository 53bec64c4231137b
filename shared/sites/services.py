"""Writes of sites: create (provision), change status, close, purge, and custom domains."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from shared.sites import provisioning
from shared.sites.models import Domain, Plan, Site, SiteStatus
from shared.sites.provisioning import SchemaSource
from shared.sites.selectors import platform_subdomain, site_descendants

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
HOSTNAME_RE = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
RESERVED_SLUGS = frozenset(
    {"www", "api", "admin", "hq", "static", "media", "mail", "smtp", "imap", "ftp", "cdn",
     "assets", "status", "help", "support", "docs", "internal", "public", "kameng"}
)  # fmt: skip
DEFAULT_PLAN_CODE = "standard"


@dataclass(frozen=True)
class ProvisionedSite:
    site: Site
    source: SchemaSource


def plan_default() -> Plan:
    plan, _ = Plan.objects.get_or_create(
        code=DEFAULT_PLAN_CODE,
        defaults={"name": "Standard", "max_depth": settings.DEFAULT_PLAN_MAX_DEPTH},
    )
    return plan


def schema_name_for(slug: str) -> str:
    return "site_" + slug.replace("-", "_")


def _validate_slug(slug: str) -> None:
    if not SLUG_RE.match(slug):
        raise ValidationError(
            {"slug": "Use 1-40 lower-case letters, digits and hyphens, not starting or ending "
                     "with a hyphen."}
        )  # fmt: skip
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"'{slug}' is reserved."})
    if Site.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A site with slug '{slug}' already exists."})
    if schema_exists(schema_name_for(slug)):
        raise ValidationError({"slug": f"The schema for '{slug}' already exists."})


def _validate_domain_free(domain: str, field: str) -> None:
    if Domain.objects.annotate(lower=Lower("domain")).filter(lower=domain).exists():
        raise ValidationError({field: f"The domain '{domain}' is already in use."})


def normalise_custom_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    if not HOSTNAME_RE.match(domain):
        raise ValidationError({"domain": f"'{domain}' is not a valid domain name."})
    platform = settings.PLATFORM_DOMAIN
    if domain == platform or domain.endswith("." + platform):
        raise ValidationError(
            {"domain": f"Subdomains of {platform} are assigned by slug; give a domain of your own."}
        )
    return domain


def _depth_cap(parent: Site | None, plan: Plan) -> int:
    """The tightest cap among the new site's plan and the plans of all its ancestors."""
    caps = [plan.max_depth]
    if parent is not None:
        caps += list(
            Site.objects.filter(id__in=parent.path).values_list("plan__max_depth", flat=True)
        )
    return min(caps)


def site_create(
    *,
    slug: str,
    name: str,
    owner_email: str,
    parent: Site | None = None,
    plan: Plan | None = None,
    custom_domain: str | None = None,
    owner_password: str | None = None,
    franchisee_user_id: int | None = None,
    language: str | None = None,
    use_pool: bool = True,
    fallback: Literal["clone", "migrate"] = "clone",
) -> ProvisionedSite:
    """Provision a site: its schema, its row in the tree, its domains and its owner account.

    Everything happens in one transaction, schema DDL included: bad input or a failure leaves
    no schema, row or account behind. The schema is claimed from the pool of spares when one is
    ready (`use_pool`), else built by `fallback` ("clone" the template, or "migrate").
    """
    slug = (slug or "").strip().lower()
    name = (name or "").strip()
    owner_email = (owner_email or "").strip().lower()
    _validate_slug(slug)
    if not name or len(name) > 100:
        raise ValidationError({"name": "Give the site a name of 1 to 100 characters."})
    try:
        validate_email(owner_email)
    except ValidationError as exc:
        raise ValidationError({"owner_email": f"'{owner_email}' is not a valid email."}) from exc
    if parent is not None:
        parent.refresh_from_db()
        if parent.status != SiteStatus.ACTIVE:
            raise ValidationError({"parent": f"The parent site '{parent.slug}' is not active."})
    plan = plan or plan_default()
    depth = 1 if parent is None else parent.depth + 1
    cap = _depth_cap(parent, plan)
    if depth > cap:
        raise ValidationError(
            {"parent": f"A site at depth {depth} exceeds the plan's depth cap of {cap}."}
        )
    subdomain = platform_subdomain(slug)
    _validate_domain_free(subdomain, "slug")
    if custom_domain:
        custom_domain = normalise_custom_domain(custom_domain)
        _validate_domain_free(custom_domain, "domain")
    language = language or settings.STOREFRONT_DEFAULT_LANGUAGE
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unsupported language '{language}'."})

    schema_name = schema_name_for(slug)
    try:
        with transaction.atomic():
            source: SchemaSource
            if use_pool and provisioning.spare_schema_claim(schema_name=schema_name):
                source = "pool"
            else:
                source = provisioning.schema_build(schema_name=schema_name, source=fallback)
            site = Site.objects.create(
                schema_name=schema_name,
                slug=slug,
                name=name,
                parent=parent,
                depth=depth,
                plan=plan,
                language=language,
                owner_email=owner_email,
                franchisee_user_id=franchisee_user_id,
            )
            site.path = [*(parent.path if parent else []), site.id]
            Domain.objects.create(domain=subdomain, tenant=site, is_primary=True)
            if custom_domain:
                Domain.objects.create(
                    domain=custom_domain, tenant=site, is_primary=False, is_custom=True
                )
            site.owner_user_id = _owner_create(site, owner_email, owner_password)
            site.save(update_fields=["path", "owner_user_id"])
            if use_pool:
                transaction.on_commit(_request_refill)
    except IntegrityError as exc:
        # Lost a race for the same slug or domain after validation passed.
        raise ValidationError({"slug": "That slug or domain was just taken; try again."}) from exc

    logger.info(
        "site.created",
        extra={"site": slug, "schema": schema_name, "source": source, "depth": depth},
    )
    return ProvisionedSite(site=site, source=source)


def _owner_create(site: Site, email: str, password: str | None) -> int:
    """Create the owner's account inside the site's own schema."""
    from allauth.account.models import EmailAddress

    from tenants.storefront.services import storefront_settings_ensure

    user_model = get_user_model()
    with tenant_context(site):
        owner = user_model.objects.create_user(
            username=email,
            email=email,
            password=password,
            is_staff=True,
            is_superuser=True,
        )
        if password is None:
            owner.set_unusable_password()
            owner.save(update_fields=["password"])
        EmailAddress.objects.create(user=owner, email=email, primary=True, verified=True)
        storefront_settings_ensure()
        return int(owner.pk)


def _request_refill() -> None:
    from shared.sites.tasks import spare_schemas_refill

    try:
        spare_schemas_refill.delay()
    except Exception:  # the beat schedule refills the pool too; never fail a sign-up here
        logger.warning("schema_pool.refill_not_queued", exc_info=True)


def site_set_status(*, site: Site, status: SiteStatus) -> Site:
    if site.status == status:
        return site
    site.status = status
    site.closed_at = timezone.now() if status == SiteStatus.CLOSED else None
    site.save(update_fields=["status", "closed_at"])
    logger.info("site.status_changed", extra={"site": site.slug, "status": status})
    return site


def site_close(*, site: Site) -> Site:
    """Close a site: it stops serving, but its schema and rows are kept."""
    open_children = site_descendants(site).exclude(status=SiteStatus.CLOSED)
    if open_children.exists():
        raise ValidationError(
            {"site": "Close the site's sub-sites first: "
                     + ", ".join(open_children.values_list("slug", flat=True))}
        )  # fmt: skip
    return site_set_status(site=site, status=SiteStatus.CLOSED)


def site_purge(*, site: Site, confirm_slug: str) -> None:
    """Delete a closed site's schema and rows for good. `confirm_slug` must repeat the slug."""
    if confirm_slug != site.slug:
        raise ValidationError({"confirm": "Type the site's slug to confirm the purge."})
    if site.status != SiteStatus.CLOSED:
        raise ValidationError({"site": "Only a closed site can be purged; close it first."})
    if site.children.exists():
        raise ValidationError({"site": "Purge the site's sub-sites first."})
    with transaction.atomic():
        provisioning.schema_drop(schema_name=site.schema_name)
        Domain.objects.filter(tenant=site).delete()
        Site.objects.filter(pk=site.pk).delete()
    logger.info("site.purged", extra={"site": site.slug, "schema": site.schema_name})


def domain_add(*, site: Site, domain: str) -> Domain:
    domain = normalise_custom_domain(domain)
    _validate_domain_free(domain, "domain")
    try:
        return Domain.objects.create(domain=domain, tenant=site, is_primary=False, is_custom=True)
    except IntegrityError as exc:
        raise ValidationError({"domain": f"The domain '{domain}' is already in use."}) from exc


def domain_verify(*, domain: Domain) -> Domain:
    """HQ marks a custom domain verified; from then on it is routed to its site."""
    if domain.verified_at is None:
        domain.verified_at = timezone.now()
        domain.save(update_fields=["verified_at"])
        logger.info("domain.verified", extra={"domain": domain.domain, "site": domain.tenant_id})
    return domain


def random_password() -> str:
    return secrets.token_urlsafe(12)
