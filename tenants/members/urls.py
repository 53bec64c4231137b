"""The member's own pages on a site: wallet, commission, referrals, orders."""

from django.urls import path

from tenants.members import views

app_name = "account"

urlpatterns = [
    path("", views.home, name="home"),
    path("wallet/", views.wallet, name="wallet"),
    path("commission/", views.commission, name="commission"),
    path("commission/to-wallet/", views.commission_move, name="commission_move"),
    path("commission/withdraw/", views.withdrawal_request, name="withdrawal_request"),
    path("commission/referrer/", views.referrer_set, name="referrer_set"),
    path("r/<str:code>/", views.referral, name="referral"),
]
