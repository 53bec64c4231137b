from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def current_site(request: HttpRequest) -> dict[str, Any]:
    """`site` (None on HQ) for every template."""
    return {"site": getattr(request, "site", None)}
