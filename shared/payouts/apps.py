from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "shared.payouts"
    label = "payouts"
    verbose_name = "Withdrawals and payouts"
