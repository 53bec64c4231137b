"""Give the HQ roles the payout and report permissions (shared.hq.roles: withdrawals and the
ledger joined the console's models)."""

from django.db import migrations


def groups_sync(apps, schema_editor):
    from shared.hq.roles import role_groups_sync

    role_groups_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0001_initial"),
        ("ledger", "0004_mirror_buckets"),
        ("hq", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
