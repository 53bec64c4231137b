"""The payment webhook and the sandbox checkout page, on the platform domain."""

app_name = "payments"

urlpatterns: list = []
