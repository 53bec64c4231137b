"""Buyer-facing pages of a site."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.storefront.selectors import storefront_settings


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "storefront/home.html",
        {"branding": storefront_settings()},
    )
