"""HQ console (platform domain, /console/)."""

from django.urls import path  # noqa: F401

app_name = "hq_console"

urlpatterns: list = []
