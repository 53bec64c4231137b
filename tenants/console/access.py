"""Who may open which console page: staff of this site only, each page behind a permission.

Anonymous visitors are sent to the login page; a signed-in member without a staff role, or
staff whose role lacks the page's permission, get a 403 page. Reading a page needs its `view`
permission; any POST to it needs its `change` permission, checked before the view runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from shared.sites.middleware import request_site
from shared.sites.models import Site
from tenants.console.roles import Role, user_role

View = Callable[..., HttpResponse]


def console_view(*, view: str | None = None, change: str | None = None) -> Callable[[View], View]:
    """A page: GET needs `view` (any staff role when None); POST is allowed only when `change`
    is given, and needs it."""
    allowed = ("GET", "HEAD", "POST") if change else ("GET", "HEAD")
    return _guard(allowed, view=view, change=change)


def console_action(*, change: str) -> Callable[[View], View]:
    """A POST-only action (a button on a page) that needs `change`."""
    return _guard(("POST",), view=None, change=change)


def _guard(
    allowed: tuple[str, ...], *, view: str | None, change: str | None
) -> Callable[[View], View]:
    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            site = request_site(request)
            if site is None:
                raise Http404("The console is served on a site's domain.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            role = user_role(request.user)
            if role is None:
                return forbidden(request, staff=False)
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            needed = change if request.method == "POST" else view
            if needed and not request.user.has_perm(needed):
                return forbidden(request, staff=True, role=role)
            request.console_role = role  # type: ignore[attr-defined]  # shown by the layout
            return func(request, *args, **kwargs)

        return wrapper

    return decorate


def console_site(request: HttpRequest) -> Site:
    """The site of a request that passed the console's guard."""
    site = request_site(request)
    if site is None:  # the guard has already refused such a request
        raise Http404("The console is served on a site's domain.")
    return site


def forbidden(request: HttpRequest, *, staff: bool, role: Role | None = None) -> HttpResponse:
    return render(
        request,
        "console/forbidden.html",
        {"staff": staff, "role": role},
        status=403,
    )
