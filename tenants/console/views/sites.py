"""The site's direct sub-sites and the price tier each buys at."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from shared.sites.selectors import site_base_url
from tenants.console import roles, selectors
from tenants.console.access import console_action, console_site, console_view
from tenants.console.forms import ChildSiteTierForm
from tenants.pricing.services import child_site_tier_set


@console_view(view=roles.VIEW_CHILD_SITES)
def child_sites(request: HttpRequest) -> HttpResponse:
    children = [
        (child, site_base_url(child)) for child in selectors.child_sites(console_site(request))
    ]
    return render(
        request,
        "console/child_sites.html",
        {"children": children, "tiers": list(selectors.price_tiers())},
    )


@console_action(change=roles.CHANGE_CHILD_SITE_TIER)
def child_site_tier(request: HttpRequest, child_id: int) -> HttpResponse:
    parent = console_site(request)
    child = selectors.child_site_get(site=parent, child_id=child_id)
    form = ChildSiteTierForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the price tiers."))
        return redirect("console:child_sites")
    try:
        child_site_tier_set(parent=parent, child=child, tier=form.cleaned_data["tier"])
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        tier = form.cleaned_data["tier"]
        messages.success(
            request,
            _("%(site)s now buys at tier %(tier)s.")
            % {"site": child.name, "tier": tier.name if tier else _("Default tier")},
        )
    return redirect("console:child_sites")
