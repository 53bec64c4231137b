"""`migrate` is `migrate_schemas` (public, sites, template and spares) as in django-tenants."""

from shared.sites.management.commands.migrate_schemas import Command

__all__ = ["Command"]
