"""Supplier endpoints on the platform domain."""

from django.urls import path

from shared.suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("callback/<int:supplier_id>/", views.topup_callback, name="callback"),
]
