from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "shared.vault"
    label = "vault"
