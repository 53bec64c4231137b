from django.apps import AppConfig


class AftersalesConfig(AppConfig):
    name = "tenants.aftersales"
    label = "aftersales"
    verbose_name = "After-sales tickets"
