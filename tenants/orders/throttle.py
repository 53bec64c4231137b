"""Throttling of guest order lookups against guessing: failed attempts are counted per order
number and per IP address in the cache (keys prefixed by the site's schema), within a window.
Once either count reaches its limit, lookups are refused until the window ends, even with the
right password."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().upper().encode()).hexdigest()[:32]
    return f"orders:lookup:{kind}:{digest}"


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def lookup_blocked(*, ip: str, number: str) -> bool:
    return (
        _count(_key("order", number)) >= settings.ORDER_LOOKUP_ATTEMPTS_PER_ORDER
        or _count(_key("ip", ip)) >= settings.ORDER_LOOKUP_ATTEMPTS_PER_IP
    )


def lookup_failed(*, ip: str, number: str) -> None:
    """Count a failed attempt (the window starts at the first failure)."""
    window = settings.ORDER_LOOKUP_WINDOW_SECONDS
    for key in (_key("order", number), _key("ip", ip)):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
