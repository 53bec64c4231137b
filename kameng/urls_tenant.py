"""URLs of every site, on its own domains (the site's schema)."""

from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("tenants.storefront.urls")),
    path("accounts/", include("allauth.urls")),
    path("console/", include("tenants.console.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
]
