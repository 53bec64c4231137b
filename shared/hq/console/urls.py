"""HQ console (platform domain, /console/)."""

from django.urls import path

from shared.hq.console.views import catalogue, keys, money, overview, pricing, suppliers

app_name = "hq_console"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("alerts/", overview.alert_list, name="alert_list"),
    # Suppliers
    path("suppliers/", suppliers.supplier_list, name="supplier_list"),
    path("suppliers/new/", suppliers.supplier_create_view, name="supplier_create"),
    path("suppliers/<int:supplier_id>/", suppliers.supplier_detail, name="supplier_detail"),
    path("suppliers/<int:supplier_id>/edit/", suppliers.supplier_edit, name="supplier_edit"),
    path(
        "suppliers/<int:supplier_id>/offers/new/",
        suppliers.supplier_offer_create,
        name="supplier_offer_create",
    ),
    path(
        "suppliers/<int:supplier_id>/offers/<int:offer_id>/edit/",
        suppliers.supplier_offer_edit,
        name="supplier_offer_edit",
    ),
    # Catalogue
    path("catalogue/categories/", catalogue.category_list, name="category_list"),
    path("catalogue/categories/new/", catalogue.category_create_view, name="category_create"),
    path(
        "catalogue/categories/<int:category_id>/edit/",
        catalogue.category_edit,
        name="category_edit",
    ),
    path("catalogue/products/", catalogue.product_list, name="product_list"),
    path("catalogue/products/new/", catalogue.product_create_view, name="product_create"),
    path("catalogue/products/<int:product_id>/", catalogue.product_detail, name="product_detail"),
    path("catalogue/products/<int:product_id>/edit/", catalogue.product_edit, name="product_edit"),
    path(
        "catalogue/products/<int:product_id>/skus/new/",
        catalogue.sku_create_view,
        name="sku_create",
    ),
    path("catalogue/skus/<int:sku_id>/edit/", catalogue.sku_edit, name="sku_edit"),
    # Price tiers
    path("tiers/", pricing.tier_list, name="tier_list"),
    path("tiers/prices/", pricing.tier_prices, name="tier_prices"),
    # Card keys
    path("keys/import/", keys.key_import, name="key_import"),
    path("keys/batches/", keys.batch_list, name="batch_list"),
    path("keys/batches/<int:batch_id>/", keys.batch_detail, name="batch_detail"),
    path("keys/batches/<int:batch_id>/void/", keys.keys_void, name="keys_void"),
    path("keys/batches/<int:batch_id>/delete/", keys.keys_delete, name="keys_delete"),
    path("keys/<int:key_id>/reveal/", keys.key_reveal, name="key_reveal"),
    path("keys/export/", keys.keys_export, name="keys_export"),
    # Money: site owners' withdrawals and the HQ-wide reports
    path("withdrawals/", money.withdrawal_list, name="withdrawal_list"),
    path(
        "withdrawals/<int:withdrawal_id>/approve/",
        money.withdrawal_approve_view,
        name="withdrawal_approve",
    ),
    path(
        "withdrawals/<int:withdrawal_id>/reject/",
        money.withdrawal_reject_view,
        name="withdrawal_reject",
    ),
    path(
        "withdrawals/<int:withdrawal_id>/paid/", money.withdrawal_paid_view, name="withdrawal_paid"
    ),
    path("reports/", money.reports, name="money_reports"),
]
