from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "tenants.orders"
    label = "orders"
    verbose_name = "Orders, delivery and after-sales"

    def ready(self) -> None:
        from shared.payments.registry import payment_handler_register
        from shared.suppliers.hooks import topup_result_handler_register
        from tenants.orders import tasks, topups  # noqa: F401 - registers follow-up work
        from tenants.orders.services import order_checkout_expired, order_payment_confirmed

        payment_handler_register(
            purpose="order", handler=order_payment_confirmed, on_expired=order_checkout_expired
        )
        topup_result_handler_register(topups.order_topup_result)
