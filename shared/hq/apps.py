from django.apps import AppConfig


class HqConfig(AppConfig):
    name = "shared.hq"
    label = "hq"
    verbose_name = "Head office"
