"""Site staff roles: Django groups in the site's own schema, each mapped to permissions.

The site owner's account is a superuser of its schema and holds every permission. Other staff
get exactly one role. Groups are created (and their permissions brought in line with this
table) on demand, whenever a role is given, so a new site needs no setup step.

| role       | may                                                                      |
|------------|--------------------------------------------------------------------------|
| owner      | everything, including giving and taking staff roles                      |
| admin      | everything except staff roles                                            |
| operations | products' visibility and presentation, branding; reads prices            |
| support    | reads everything, changes nothing                                        |
| marketing  | branding, products' presentation, reads member levels; no finance/prices |
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models

from tenants.console.models import ConsolePermission
from tenants.orders.models import Order
from tenants.pricing.models import (
    MemberLevel,
    MemberLevelPrice,
    PriceRule,
    ProductOverride,
    QuantityTier,
)
from tenants.storefront.models import StorefrontSettings


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATIONS = "operations"
    SUPPORT = "support"
    MARKETING = "marketing"

    @property
    def label(self) -> str:
        from django.utils.translation import gettext

        return {
            Role.OWNER: gettext("Owner"),
            Role.ADMIN: gettext("Administrator"),
            Role.OPERATIONS: gettext("Operations"),
            Role.SUPPORT: gettext("Support (read-only)"),
            Role.MARKETING: gettext("Marketing"),
        }[self]


# Permission names used by the console, "app_label.codename".
VIEW_PRICES = "pricing.view_pricerule"
CHANGE_PRICES = "pricing.change_pricerule"
DELETE_PRICES = "pricing.delete_pricerule"
VIEW_LEVELS = "pricing.view_memberlevel"
CHANGE_LEVELS = "pricing.change_memberlevel"
CHANGE_LEVEL_PRICES = "pricing.change_memberlevelprice"
VIEW_QUANTITY_TIERS = "pricing.view_quantitytier"
CHANGE_QUANTITY_TIERS = "pricing.change_quantitytier"
VIEW_PRODUCTS = "pricing.view_productoverride"
CHANGE_PRODUCTS = "pricing.change_productoverride"
VIEW_BRANDING = "storefront.view_storefrontsettings"
CHANGE_BRANDING = "storefront.change_storefrontsettings"
VIEW_CHILD_SITES = "console.view_child_sites"
CHANGE_CHILD_SITE_TIER = "console.change_child_site_tier"
MANAGE_STAFF = "console.manage_staff"
VIEW_ORDERS = "orders.view_order"
CHANGE_ORDERS = "orders.change_order"
REFUND_ORDERS = "orders.refund_order"

_PRICING_MODELS: tuple[type[models.Model], ...] = (
    PriceRule,
    MemberLevel,
    MemberLevelPrice,
    QuantityTier,
    ProductOverride,
)
_CRUD = ("view", "add", "change", "delete")


def _model_perms(model: type[models.Model], actions: Iterable[str] = _CRUD) -> set[str]:
    meta = model._meta
    return {f"{meta.app_label}.{action}_{meta.model_name}" for action in actions}


def _all_permissions() -> frozenset[str]:
    perms: set[str] = set()
    for model in _PRICING_MODELS:
        perms |= _model_perms(model)
    perms |= _model_perms(StorefrontSettings, ("view", "change"))
    perms |= {VIEW_CHILD_SITES, CHANGE_CHILD_SITE_TIER, MANAGE_STAFF}
    perms |= {VIEW_ORDERS, CHANGE_ORDERS, REFUND_ORDERS}
    return frozenset(perms)


ALL_PERMISSIONS = _all_permissions()
_READ_ONLY = frozenset(p for p in ALL_PERMISSIONS if p.split(".")[1].startswith("view_"))

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: ALL_PERMISSIONS,
    Role.ADMIN: ALL_PERMISSIONS - {MANAGE_STAFF},
    Role.OPERATIONS: _READ_ONLY | _model_perms(ProductOverride) | {CHANGE_BRANDING, CHANGE_ORDERS},
    Role.SUPPORT: _READ_ONLY,
    Role.MARKETING: frozenset(
        {VIEW_BRANDING, CHANGE_BRANDING, VIEW_LEVELS} | _model_perms(ProductOverride)
    ),
}


def roles_ensure() -> dict[Role, Group]:
    """Create the role groups of the current site if missing and set their permissions."""
    permissions = _permissions_ensure(ALL_PERMISSIONS)
    groups: dict[Role, Group] = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set([permissions[name] for name in ROLE_PERMISSIONS[role]])
        groups[role] = group
    return groups


def _permissions_ensure(names: Iterable[str]) -> dict[str, Permission]:
    """The Permission rows for `names`, created if the schema does not have them yet."""
    owners: tuple[type[models.Model], ...] = (
        *_PRICING_MODELS,
        StorefrontSettings,
        ConsolePermission,
        Order,
    )
    models_by_label = {m._meta.label_lower: m for m in owners}
    found: dict[str, Permission] = {}
    for name in sorted(names):
        app_label, codename = name.split(".")
        model_name = codename.split("_", 1)[1]
        model = models_by_label.get(f"{app_label}.{model_name}", ConsolePermission)
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": f"Can {codename.replace('_', ' ')}"},
        )
        found[name] = permission
    return found


def user_role(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The console role of a user of the current site, or None (not staff). One query, kept on
    the user object for the rest of the request."""
    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Role.OWNER
    if not hasattr(user, "_console_role"):
        names = Group.objects.filter(user__id=user.pk).values_list("name", flat=True)
        user._console_role = role_of(names)  # type: ignore[attr-defined]
    return user._console_role  # type: ignore[attr-defined]


def role_of(group_names: Iterable[str], *, is_superuser: bool = False) -> Role | None:
    """The role given by a user's groups (the highest, should someone hold several)."""
    if is_superuser:
        return Role.OWNER
    names = set(group_names)
    return next((role for role in Role if role.value in names), None)
