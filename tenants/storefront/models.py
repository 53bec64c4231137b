"""The site's storefront: its branding (one row per site schema)."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.db import connection, models


class Theme(models.TextChoices):
    CLASSIC = "classic", "Classic (list)"
    SHOWCASE = "showcase", "Showcase (cards)"


def logo_upload_to(instance: StorefrontSettings, filename: str) -> str:
    """Each site's logos under its own folder, under a fresh name (never the uploader's)."""
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    schema = connection.schema_name  # type: ignore[attr-defined]
    return f"sites/{schema}/logos/{uuid.uuid4().hex}{suffix}"


class StorefrontSettings(models.Model):
    """Branding shown on every storefront page. A site schema holds exactly one row (pk=1)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    tagline = models.CharField(max_length=200, blank=True)
    logo = models.ImageField(upload_to=logo_upload_to, blank=True)
    theme = models.CharField(max_length=16, choices=Theme.choices, default=Theme.CLASSIC)
    accent_color = models.CharField(max_length=7, default="#d9480f")
    announcement = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(singleton=True), name="storefront_settings_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(accent_color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="storefront_accent_color_hex",
            ),
        ]

    def __str__(self) -> str:
        return "Storefront settings"
