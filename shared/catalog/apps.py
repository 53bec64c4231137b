from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shared.catalog"
    label = "catalog"
