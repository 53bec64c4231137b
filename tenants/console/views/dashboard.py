from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.console import selectors
from tenants.console.access import console_site, console_view


@console_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/dashboard.html",
        {"facts": selectors.dashboard_facts(console_site(request))},
    )
