"""The console's front page and the open low-stock alerts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from shared.hq.console import selectors
from shared.hq.console.access import staff_view


@require_safe
@staff_view("catalog.view_product")
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "hq/console/overview.html", {"counts": selectors.overview_counts()})


@require_safe
@staff_view("catalog.view_stockalert")
def alert_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "hq/console/alert_list.html", {"alerts": selectors.open_alerts_for_list()}
    )
