"""Re-encrypt the vault under VAULT_ACTIVE_KEY_ID: `vault_rotate_keys [--batch-size N]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shared.vault import crypto
from shared.vault.selectors import vault_key_usage
from shared.vault.services import vault_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every card key and supplier secret that is not under the active vault key, "
        "in batches (safe beside live traffic; run it again to resume)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        active = crypto.keyring().active_key_id
        rewritten = vault_keys_rotate(batch_size=options["batch_size"])
        usage = vault_key_usage()
        self.stdout.write(f"Re-encrypted {rewritten} secret(s) under key {active!r}.")
        others = {key_id: n for key_id, n in usage.items() if key_id != active}
        if others:
            self.stdout.write(self.style.WARNING(f"Still under other keys: {others}."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"All {usage.get(active, 0)} card key(s) are under {active!r}; keys other "
                    "than it can be removed from VAULT_KEYS."
                )
            )
