from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "shared.payments"
    label = "payments"
    verbose_name = "Payments (Stripe Checkout and the sandbox)"
