from django.apps import AppConfig


class SuppliersConfig(AppConfig):
    name = "shared.suppliers"
    label = "suppliers"
