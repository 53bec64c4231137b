"""WSGI entry point (gunicorn kameng.wsgi:application)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kameng.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, the apps, templates' modules) lives as long as the worker:
# keep it out of the collector's full passes, which otherwise stall a request now and then.
gc.freeze()
