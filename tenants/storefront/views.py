"""Buyer-facing pages of a site."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.storefront.selectors import storefront_settings


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "storefront/home.html",
        {
            "branding": storefront_settings(),
            "member_count": get_user_model().objects.filter(is_active=True).count(),
        },
    )
