"""The HQ staff roles as Django groups (see shared.hq.roles)."""

from django.db import migrations


def groups_sync(apps, schema_editor):
    from shared.hq.roles import role_groups_sync

    role_groups_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
        ("suppliers", "0001_initial"),
        ("vault", "0001_initial"),
    ]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
