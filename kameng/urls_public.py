"""URLs of HQ, on the platform domain (public schema)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from shared.hq import views as hq

urlpatterns = [
    path("", hq.landing, name="hq_landing"),
    path("dashboard/", hq.dashboard, name="hq_dashboard"),
    path("console/", include("shared.hq.console.urls")),
    path("accounts/", include("allauth.urls")),
    path("payments/", include("shared.payments.urls")),
    path("suppliers/", include("shared.suppliers.urls")),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("healthz", hq.healthz, name="healthz"),
    path("internal/tls-allowed", hq.tls_allowed, name="tls_allowed"),
]

# Uploaded images (product pictures, site logos) in development; production serves MEDIA_ROOT
# from the proxy or object storage.
if settings.DEBUG or settings.DEV_MODE:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
