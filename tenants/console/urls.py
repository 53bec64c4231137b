"""The site's back office (each site's domain, /console/)."""

from django.urls import path

from tenants.console.views import branding, dashboard, levels, pricing, products, sites, staff
from tenants.pricing.models import RuleKind

app_name = "console"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("products/", products.product_list, name="products"),
    path("products/<int:product_id>/", products.product_edit, name="product_edit"),
    path(
        "products/<int:product_id>/visibility/",
        products.product_visibility,
        name="product_visibility",
    ),
    path(
        "prices/retail/",
        pricing.price_rules,
        {"kind": RuleKind.RETAIL.value},
        name="retail_rules",
    ),
    path(
        "prices/retail/<int:rule_id>/delete/",
        pricing.price_rule_remove,
        {"kind": RuleKind.RETAIL.value},
        name="retail_rule_delete",
    ),
    path(
        "prices/wholesale/",
        pricing.price_rules,
        {"kind": RuleKind.WHOLESALE.value},
        name="wholesale_rules",
    ),
    path(
        "prices/wholesale/<int:rule_id>/delete/",
        pricing.price_rule_remove,
        {"kind": RuleKind.WHOLESALE.value},
        name="wholesale_rule_delete",
    ),
    path("prices/quantity/", pricing.quantity_tiers, name="quantity_tiers"),
    path(
        "prices/quantity/<int:tier_id>/delete/",
        pricing.quantity_tier_remove,
        name="quantity_tier_delete",
    ),
    path("prices/explain/", pricing.explanation, name="price_explanation"),
    path("levels/", levels.member_levels, name="member_levels"),
    path("levels/<int:level_id>/", levels.member_level_edit, name="member_level"),
    path("levels/<int:level_id>/prices/", levels.member_level_price, name="member_level_price"),
    path("sites/", sites.child_sites, name="child_sites"),
    path("sites/<int:child_id>/tier/", sites.child_site_tier, name="child_site_tier"),
    path("branding/", branding.branding, name="branding"),
    path("staff/", staff.staff, name="staff"),
    path("staff/<int:user_id>/revoke/", staff.staff_revoke, name="staff_revoke"),
]
