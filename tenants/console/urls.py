"""The site's back office (each site's domain, /console/)."""

from django.urls import path

from tenants.console.views import (
    branding,
    dashboard,
    levels,
    money,
    orders,
    pricing,
    products,
    sites,
    staff,
    tickets,
)
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
    path("orders/", orders.order_list, name="orders"),
    path("orders/<int:order_id>/", orders.order_detail, name="order"),
    path("orders/<int:order_id>/deliver/", orders.order_deliver, name="order_deliver"),
    path("orders/<int:order_id>/refund/", orders.order_refund_view, name="order_refund"),
    path("orders/<int:order_id>/cancel/", orders.order_cancel_view, name="order_cancel"),
    # After-sales tickets
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/<int:ticket_id>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", tickets.ticket_reply_view, name="ticket_reply"),
    path("tickets/<int:ticket_id>/reissue/", tickets.ticket_reissue_view, name="ticket_reissue"),
    path("tickets/<int:ticket_id>/refund/", tickets.ticket_refund_view, name="ticket_refund"),
    path("tickets/<int:ticket_id>/reject/", tickets.ticket_reject_view, name="ticket_reject"),
    path(
        "tickets/<int:ticket_id>/files/<int:attachment_id>/",
        tickets.ticket_attachment,
        name="ticket_attachment",
    ),
    # Money: earnings, withdrawals, member wallets and commissions, reports
    path("money/", money.earnings, name="money"),
    path("money/withdraw/", money.site_withdrawal, name="money_withdraw"),
    path("money/connect/", money.connect_onboarding, name="money_connect"),
    path("money/connect/return/", money.connect_return, name="money_connect_return"),
    path(
        "money/commission-withdrawals/",
        money.member_withdrawals,
        name="money_member_withdrawals",
    ),
    path(
        "money/commission-withdrawals/<int:withdrawal_id>/approve/",
        money.member_withdrawal_approve_view,
        name="money_member_withdrawal_approve",
    ),
    path(
        "money/commission-withdrawals/<int:withdrawal_id>/reject/",
        money.member_withdrawal_reject_view,
        name="money_member_withdrawal_reject",
    ),
    path(
        "money/commission-withdrawals/<int:withdrawal_id>/paid/",
        money.member_withdrawal_paid_view,
        name="money_member_withdrawal_paid",
    ),
    path("money/wallets/", money.wallet_adjustments, name="money_wallets"),
    path("money/referrals/", money.referral_programme, name="money_referrals"),
    path("money/reports/", money.reports, name="money_reports"),
]
