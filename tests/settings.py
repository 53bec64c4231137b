"""Test settings: the project's settings plus a tenant app whose migrations the tests grow."""

import os

from kameng.settings import *  # noqa: F403
from kameng.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "tests.schema_probe"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.schema_probe"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
SPARE_SCHEMA_POOL_SIZE = 8
ACCOUNT_RATE_LIMITS = False

# Several runs may share one server: each run has its own test database, cache prefix and
# broker key prefix.
_RUN = f"run{os.getpid()}"
DATABASES["default"]["TEST"] = {"NAME": f"test_kameng_{_RUN}"}  # noqa: F405
_REDIS_BASE = REDIS_URL.rsplit("/", 1)[0]  # noqa: F405
CELERY_BROKER_URL = f"{_REDIS_BASE}/15"
CELERY_RESULT_BACKEND = f"{_REDIS_BASE}/15"
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{_RUN}:"}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{_RUN}:"}
CACHES["default"]["LOCATION"] = f"{_REDIS_BASE}/14"  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = _RUN  # noqa: F405
PLATFORM_DOMAIN = "localhost"
PUBLIC_URL_PORT = ""

# The live server answers each request in a new thread; closing connections at the end of a
# request lets the test database be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
