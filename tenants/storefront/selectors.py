from __future__ import annotations

from tenants.storefront.models import StorefrontSettings


def storefront_settings() -> StorefrontSettings:
    """The current site's branding; an unsaved default if the row is missing."""
    return StorefrontSettings.objects.filter(singleton=True).first() or StorefrontSettings()
