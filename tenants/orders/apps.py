from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "tenants.orders"
    label = "orders"
    verbose_name = "Orders, delivery and after-sales"
