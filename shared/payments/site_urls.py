"""Payment pages on a site's own domains (wallet top-up, return from checkout)."""

app_name = "site_payments"

urlpatterns: list = []
