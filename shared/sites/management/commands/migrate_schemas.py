"""`migrate_schemas`, extended to the template and spare schemas of the provisioning pool.

django-tenants only migrates schemas that have a site row; a spare or template left behind would
hand its missing migrations to every site made from it. Pooled schemas are taken out of use,
migrated with the same arguments, and put back with their new fingerprint.
"""

from __future__ import annotations

from typing import Any

from django_tenants.management.commands.migrate_schemas import (
    GET_EXECUTOR_FUNCTION,
    MigrateSchemasCommand,
)

from shared.sites import provisioning


class Command(MigrateSchemasCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if not self.sync_tenant or options.get("schema_name") or options.get("plan"):
            return
        if options.get("check_unapplied"):
            return
        names = provisioning.pooled_schemas_mark_stale()
        if names:
            executor = GET_EXECUTOR_FUNCTION(codename=self.executor)(self.args, self.options)
            executor.run_migrations(tenants=names)
            provisioning.pooled_schemas_record_migrated(names)
        if not options.get("app_label"):
            provisioning.template_ensure()
