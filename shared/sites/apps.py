from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "shared.sites"
    label = "sites"
    verbose_name = "Sites"
