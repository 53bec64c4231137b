"""Payment pages on a site's own domains (wallet top-up, return from checkout)."""

from django.urls import path

from shared.payments import site_views

app_name = "site_payments"

urlpatterns = [
    path("wallet/top-up/", site_views.wallet_top_up, name="wallet_top_up"),
    path("return/<str:session_id>/", site_views.checkout_return, name="checkout_return"),
]
