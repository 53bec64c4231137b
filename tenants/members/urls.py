"""The member's own pages on a site: wallet, commission, referrals, orders."""

app_name = "account"

urlpatterns: list = []
