from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "tenants.storefront"
    label = "storefront"
    verbose_name = "Storefront"
