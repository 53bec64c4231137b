"""Checkout, order pages and guest order lookup, on every site's domains."""

from django.urls import path

from tenants.orders import views

app_name = "orders"

urlpatterns = [
    path("order/new/", views.checkout, name="checkout"),
    path("order/lookup/", views.order_lookup, name="lookup"),
    path("order/<str:number>/", views.order_detail, name="detail"),
    path("order/<str:number>/status/", views.order_status, name="status"),
    path("order/<str:number>/pay/", views.order_pay, name="pay"),
    path("order/<str:number>/cancel/", views.order_cancel_view, name="cancel"),
    path("account/orders/", views.account_orders, name="account_orders"),
]
