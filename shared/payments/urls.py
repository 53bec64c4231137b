"""The payment webhook and the sandbox checkout page, on the platform domain."""

from django.urls import path

from shared.payments import views

app_name = "payments"

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("sandbox/<str:session_id>/", views.sandbox_checkout, name="sandbox_checkout"),
]
