"""Checkout, order pages and guest order lookup, on every site's domains."""

app_name = "orders"

urlpatterns: list = []
