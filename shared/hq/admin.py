"""HQ's Django admin for the site tree (public schema)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from shared.sites.models import Domain, Plan, PooledSchema, Site, SiteStatus
from shared.sites.services import domain_verify, site_set_status


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary", "is_custom", "verified_at")
    readonly_fields = ("verified_at",)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "parent",
        "depth",
        "plan",
        "status",
        "owner_email",
        "created_at",
    )
    list_filter = ("status", "plan", "depth")
    search_fields = ("slug", "name", "owner_email")
    readonly_fields = ("schema_name", "slug", "parent", "depth", "path", "owner_user_id",
                       "franchisee_user_id", "created_at", "closed_at")  # fmt: skip
    inlines = [DomainInline]
    actions = ["suspend", "activate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sites are provisioned by `create_site`, never by a bare insert

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # closing keeps data; purging is the `purge_site` command

    @admin.action(description="Suspend selected sites")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        for site in queryset:
            site_set_status(site=site, status=SiteStatus.SUSPENDED)

    @admin.action(description="Re-activate selected sites")
    def activate(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        for site in queryset:
            site_set_status(site=site, status=SiteStatus.ACTIVE)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary", "is_custom", "verified_at")
    list_filter = ("is_custom",)
    search_fields = ("domain", "tenant__slug")
    actions = ["verify"]

    @admin.action(description="Mark selected custom domains verified")
    def verify(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        for domain in queryset:
            domain_verify(domain=domain)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "max_depth")


@admin.register(PooledSchema)
class PooledSchemaAdmin(admin.ModelAdmin):
    list_display = ("schema_name", "kind", "fingerprint", "migrated_at")
    readonly_fields = ("schema_name", "kind", "fingerprint", "created_at", "migrated_at")
