"""The Kameng Django project: settings, URL configurations, the Celery app and the dev stack.

Named `kameng`, not `platform` as in the design card: a top-level package called `platform`
would shadow Python's standard-library module that `uuid` imports on Linux.
"""

from kameng.celery import app as celery_app

__all__ = ["celery_app"]
