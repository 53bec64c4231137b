"""The site's back office (each site's domain, /console/)."""

from django.urls import path  # noqa: F401

app_name = "console"

urlpatterns: list = []
