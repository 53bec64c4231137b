"""Who may open a console page: HQ staff in the public schema holding the page's permissions.

Anonymous visitors are sent to the login page; a signed-in account that is not HQ staff, or
lacks a permission, gets 403. Reading needs `perms`; a POST also needs `post` (so a read-only
role sees a page but cannot change anything through it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from shared.sites.middleware import request_site

View = Callable[..., HttpResponse]


def may(request: HttpRequest, perms: Iterable[str]) -> bool:
    user = request.user
    return bool(
        user.is_authenticated and user.is_active and user.is_staff and user.has_perms(perms)
    )


def staff_view(*perms: str, post: Iterable[str] = ()) -> Callable[[View], View]:
    post_perms = tuple(post)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request_site(request) is not None:
                raise Http404  # HQ only: never served on a site's domain
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            needed = perms + post_perms if request.method == "POST" else perms
            if not may(request, needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
