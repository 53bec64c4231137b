from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from shared.sites.middleware import request_site


def current_site(request: HttpRequest) -> dict[str, Any]:
    """`site` (None on HQ) for every template."""
    return {"site": request_site(request)}
