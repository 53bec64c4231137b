"""Writes of the storefront's settings (in the current site's schema)."""

from __future__ import annotations

import logging

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction

from tenants.storefront.models import StorefrontSettings

logger = logging.getLogger(__name__)


def storefront_settings_ensure() -> StorefrontSettings:
    settings_row, _ = StorefrontSettings.objects.get_or_create(singleton=True)
    return settings_row


@transaction.atomic
def storefront_settings_update(
    *,
    tagline: str | None = None,
    accent_color: str | None = None,
    announcement: str | None = None,
    theme: str | None = None,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
    actor_id: int | None = None,
) -> StorefrontSettings:
    """Change the site's branding; only the arguments given change. A new logo replaces the
    old file, which is deleted once the change has committed."""
    row = StorefrontSettings.objects.select_for_update().filter(singleton=True).first()
    row = row or storefront_settings_ensure()
    old_logo = row.logo.name if row.logo else ""
    if tagline is not None:
        row.tagline = tagline.strip()
    if accent_color is not None:
        row.accent_color = accent_color.lower()
    if announcement is not None:
        row.announcement = announcement.strip()
    if theme is not None:
        row.theme = theme
    if remove_logo:
        row.logo = ""
    row.full_clean(exclude=["logo"])  # validate before a file is written
    if logo is not None:
        row.logo.save(logo.name or "logo", logo, save=False)
    row.save()
    if old_logo and old_logo != (row.logo.name if row.logo else ""):
        storage = row.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    logger.info(
        "storefront.settings_updated",
        extra={"schema": connection.schema_name, "actor_id": actor_id},  # type: ignore[attr-defined]
    )
    return row
