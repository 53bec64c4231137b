from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "shared.ledger"
    label = "ledger"
    verbose_name = "Ledger"
