from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "shared.payments"
    label = "payments"
    verbose_name = "Payments (Stripe Checkout and the sandbox)"

    def ready(self) -> None:
        from shared.payments.registry import payment_handler_register
        from shared.payments.wallet import WALLET_TOP_UP, wallet_top_up_confirmed

        payment_handler_register(purpose=WALLET_TOP_UP, handler=wallet_top_up_confirmed)
