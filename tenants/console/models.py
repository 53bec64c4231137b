"""The console's own permissions (site schema). Everything else it edits belongs to other apps."""

from __future__ import annotations

from django.db import models


class ConsolePermission(models.Model):
    """Holds permissions that no model of the site owns (the site tree and staff live in the
    public schema or in auth). No table: only its content type and permissions exist."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_child_sites", "Can view the site's child sites"),
            ("change_child_site_tier", "Can assign child sites' price tiers"),
            ("manage_staff", "Can give and take staff roles"),
        ]

    def __str__(self) -> str:
        return "Console permissions"
