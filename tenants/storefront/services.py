"""Writes of the storefront's settings (in the current site's schema)."""

from __future__ import annotations

from tenants.storefront.models import StorefrontSettings


def storefront_settings_ensure() -> StorefrontSettings:
    settings_row, _ = StorefrontSettings.objects.get_or_create(singleton=True)
    return settings_row


def storefront_settings_update(
    *, tagline: str | None = None, accent_color: str | None = None, announcement: str | None = None
) -> StorefrontSettings:
    row = storefront_settings_ensure()
    if tagline is not None:
        row.tagline = tagline
    if accent_color is not None:
        row.accent_color = accent_color
    if announcement is not None:
        row.announcement = announcement
    row.full_clean()
    row.save()
    return row
