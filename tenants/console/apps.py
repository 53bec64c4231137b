from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "tenants.console"
    label = "console"
    verbose_name = "Site console"
