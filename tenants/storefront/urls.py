from django.urls import path

from tenants.storefront import views

app_name = "storefront"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<str:slug>/", views.category, name="category"),
    path("p/<str:slug>/", views.product, name="product"),
    path("search/", views.search, name="search"),
    path("brand/logo", views.logo, name="logo"),
]
