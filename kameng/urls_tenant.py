"""URLs of every site, on its own domains (the site's schema)."""

from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("tenants.storefront.urls")),
    path("", include("tenants.orders.urls")),
    path("support/", include("tenants.aftersales.urls")),
    path("account/", include("tenants.members.urls")),
    path("pay/", include("shared.payments.site_urls")),
    path("accounts/", include("allauth.urls")),
    path("console/", include("tenants.console.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
]

# Uploaded images (product pictures, site logos) in development; production serves MEDIA_ROOT
# from the proxy or object storage.
if settings.DEBUG or settings.DEV_MODE:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
