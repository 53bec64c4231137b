"""Reads of the site console, and its doorways: every object a console URL names by id is
fetched here, scoped to the current site, with the same 404 whether it is missing or not this
site's to touch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from shared.catalog.models import Category, PriceTier, Product, Sku
from shared.catalog.selectors import products_on_sale, skus_on_sale
from shared.sites.models import Site
from tenants.console.roles import Role, role_of
from tenants.pricing.models import (
    MemberLevel,
    MemberLevelPrice,
    PriceRule,
    ProductOverride,
    QuantityTier,
    RuleKind,
)

# --- Doorways ------------------------------------------------------------------------------


def child_site_get(*, site: Site, child_id: int) -> Site:
    """A direct child of `site`; 404 for any other id (missing, a grandchild, another tree)."""
    child = Site.objects.filter(pk=child_id, parent_id=site.pk).select_related("price_tier").first()
    if child is None:
        raise Http404("No such sub-site.")
    return child


def product_get(*, product_id: int) -> Product:
    """A catalogue product on sale (the ones a site may show, hide or rename), else 404."""
    product = products_on_sale().filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    return product


def price_rule_get(*, rule_id: int, kind: str) -> PriceRule:
    """A price rule of the current site's schema of the given kind, else 404."""
    rule = PriceRule.objects.filter(pk=rule_id, kind=kind).first()
    if rule is None:
        raise Http404("No such price rule.")
    return rule


def member_level_get(*, level_id: int) -> MemberLevel:
    level = MemberLevel.objects.filter(pk=level_id).first()
    if level is None:
        raise Http404("No such member level.")
    return level


def quantity_tier_get(*, tier_id: int) -> QuantityTier:
    tier = QuantityTier.objects.filter(pk=tier_id).first()
    if tier is None:
        raise Http404("No such quantity tier.")
    return tier


def staff_user_get(*, user_id: int) -> AbstractUser:
    """An account of the current site (the users table is the site schema's own)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise Http404("No such account.")
    return user


def member_by_email(email: str) -> AbstractUser | None:
    return get_user_model().objects.filter(email__iexact=email.strip()).first()


# --- Lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductRow:
    product: Product
    override: ProductOverride | None

    @property
    def hidden(self) -> bool:
        return bool(self.override and self.override.hidden)

    @property
    def display_name(self) -> str:
        return (self.override.display_name if self.override else "") or self.product.name

    @property
    def renamed(self) -> bool:
        return bool(self.override and (self.override.display_name or self.override.description))


def console_products(*, query: str = "", state: str = "") -> QuerySet[Product]:
    """Catalogue products on sale, by category and name, filtered by name (HQ's or this
    site's) and by state ("shown", "hidden" or everything)."""
    products = products_on_sale().select_related("category").order_by("category__name", "name")
    query = query.strip()
    if query:
        renamed = ProductOverride.objects.filter(display_name__icontains=query).values("product_id")
        products = products.filter(Q(name__icontains=query) | Q(pk__in=renamed))
    hidden_ids = ProductOverride.objects.filter(hidden=True).values("product_id")
    if state == "hidden":
        products = products.filter(pk__in=hidden_ids)
    elif state == "shown":
        products = products.exclude(pk__in=hidden_ids)
    return products


def product_rows(products: Sequence[Product]) -> list[ProductRow]:
    """The products with this site's override of each (one query)."""
    overrides = ProductOverride.objects.in_bulk([p.pk for p in products], field_name="product_id")
    return [ProductRow(p, overrides.get(p.pk)) for p in products]


def product_override_of(product: Product) -> ProductOverride | None:
    return ProductOverride.objects.filter(product_id=product.pk).first()


# Rules, tiers and fixed prices refer to the public catalogue without a database constraint;
# the joins below still work (the site's search path includes the public schema), and a row
# whose SKU or category HQ has deleted comes back with None there.


def price_rules(kind: str) -> QuerySet[PriceRule]:
    """The current site's rules of one kind, with their SKU, category and tier."""
    return (
        PriceRule.objects.filter(kind=kind)
        .select_related("sku__product", "category", "tier")
        .order_by("tier_id", "category_id", "sku_id")
    )


def quantity_tiers() -> QuerySet[QuantityTier]:
    return QuantityTier.objects.select_related("sku__product", "category").order_by(
        "sku_id", "category_id", "min_quantity"
    )


def member_levels() -> QuerySet[MemberLevel]:
    return MemberLevel.objects.annotate(fixed_prices=Count("prices")).order_by("rank", "code")


def member_level_prices(level: MemberLevel) -> QuerySet[MemberLevelPrice]:
    return (
        MemberLevelPrice.objects.filter(level=level)
        .select_related("sku__product")
        .order_by("sku_id")
    )


def child_sites(site: Site) -> QuerySet[Site]:
    """The site's direct sub-sites (not grandchildren: each parent prices its own children)."""
    return Site.objects.filter(parent_id=site.pk).select_related("price_tier").order_by("name")


def price_tiers() -> QuerySet[PriceTier]:
    return PriceTier.objects.order_by("rank", "code")


def sellable_skus() -> QuerySet[Sku]:
    return skus_on_sale().select_related("product").order_by("product__name", "sort_order", "pk")


def active_categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("name")


@dataclass(frozen=True)
class StaffRow:
    user: AbstractUser
    role: Role | None


def staff_rows() -> list[StaffRow]:
    """The site's owner and every account with a staff role."""
    role_names = [r.value for r in Role]
    users = (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name__in=role_names))
        .distinct()
        .order_by("-is_superuser", "email")
        .prefetch_related("groups")
    )
    return [
        StaffRow(u, role_of((g.name for g in u.groups.all()), is_superuser=u.is_superuser))
        for u in users
    ]


@dataclass(frozen=True)
class DashboardFacts:
    products_on_sale: int
    products_hidden: int
    retail_rules: int
    wholesale_rules: int
    member_levels: int
    child_sites: int


def dashboard_facts(site: Site) -> DashboardFacts:
    on_sale = products_on_sale()
    return DashboardFacts(
        products_on_sale=on_sale.count(),
        products_hidden=ProductOverride.objects.filter(
            hidden=True, product_id__in=on_sale.values("pk")
        ).count(),
        retail_rules=PriceRule.objects.filter(kind=RuleKind.RETAIL).count(),
        wholesale_rules=PriceRule.objects.filter(kind=RuleKind.WHOLESALE).count(),
        member_levels=MemberLevel.objects.count(),
        child_sites=Site.objects.filter(parent_id=site.pk).count(),
    )
