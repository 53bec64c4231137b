"""The storefront's look: tagline, logo, accent colour, announcement and theme."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.console import roles
from tenants.console.access import console_view
from tenants.console.forms import BrandingForm, add_service_errors
from tenants.storefront.selectors import storefront_settings
from tenants.storefront.services import storefront_settings_update


@console_view(view=roles.VIEW_BRANDING, change=roles.CHANGE_BRANDING)
def branding(request: HttpRequest) -> HttpResponse:
    current = storefront_settings()
    initial = {
        "tagline": current.tagline,
        "accent_color": current.accent_color,
        "announcement": current.announcement,
        "theme": current.theme,
    }
    form = BrandingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            storefront_settings_update(
                tagline=data["tagline"],
                accent_color=data["accent_color"],
                announcement=data["announcement"],
                theme=data["theme"],
                logo=data["logo"],
                remove_logo=data["remove_logo"] and not data["logo"],
                actor_id=request.user.pk,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your shop's look is saved."))
            return redirect("console:branding")
    return render(request, "console/branding.html", {"form": form, "branding": current})
