"""Buyer-facing pages of a site, rendered with the site's theme."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from shared.catalog.models import Product
from shared.sites.middleware import request_site
from shared.sites.models import Site
from tenants.pricing.models import MemberLevel
from tenants.pricing.selectors import member_level_for
from tenants.storefront import selectors
from tenants.storefront.models import StorefrontSettings, Theme

# A category is shown whole, as 卡盟 storefronts list one: up to 100 products a page (a category
# of 100 products of 5 SKUs is one page of 500 prices, the page `make bench` measures). Search
# results are ranked, so they page sooner.
CATEGORY_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 24


def _site(request: HttpRequest) -> Site:
    site = request_site(request)
    if site is None:
        raise Http404("Storefronts are served on a site's domain.")
    return site


def _theme(request: HttpRequest, branding: StorefrontSettings) -> str:
    """The site's theme; staff may preview another one with ?theme=<name>."""
    preview = request.GET.get("theme", "")
    user = request.user
    if preview in Theme.values and user.is_authenticated and getattr(user, "is_staff", False):
        return preview
    return branding.theme if branding.theme in Theme.values else Theme.CLASSIC


def _render(
    request: HttpRequest, page: str, tree: selectors.CategoryTree, context: dict[str, Any]
) -> HttpResponse:
    """Render a page with the site's theme: `storefront/<theme>/<page>.html`."""
    branding = selectors.storefront_settings()
    theme = _theme(request, branding)
    return render(
        request,
        f"storefront/{theme}/{page}.html",
        {"branding": branding, "theme": theme, "categories": tree.roots(), **context},
    )


def _entries(
    request: HttpRequest, products: Sequence[Product], *, with_input_fields: bool = False
) -> tuple[list[selectors.ProductEntry], MemberLevel | None]:
    """The products priced for this visitor (their member level, if signed in)."""
    level = member_level_for(request.user)
    entries = selectors.product_entries(
        site=_site(request),
        products=products,
        member_level=level,
        with_input_fields=with_input_fields,
    )
    return entries, level


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    entries, level = _entries(request, selectors.pinned_products())
    return _render(
        request, "home", selectors.category_tree(), {"pinned": entries, "member_level": level}
    )


@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    tree = selectors.category_tree()
    current = tree.get(slug)
    page = selectors.products_page(
        selectors.category_products(tree, current),
        request.GET.get("page"),
        per_page=CATEGORY_PAGE_SIZE,
    )
    entries, level = _entries(request, list(page.object_list))
    return _render(
        request,
        "category",
        tree,
        {
            "category": current,
            "breadcrumbs": tree.breadcrumbs(current.pk),
            "subcategories": tree.children(current),
            "entries": entries,
            "page_obj": page,
            "member_level": level,
        },
    )


@require_safe
def product(request: HttpRequest, slug: str) -> HttpResponse:
    found = selectors.product_get(slug=slug)
    entries, level = _entries(request, [found], with_input_fields=True)
    tree = selectors.category_tree()
    return _render(
        request,
        "product",
        tree,
        {
            "entry": entries[0],
            "breadcrumbs": tree.breadcrumbs(found.category_id),
            "member_level": level,
        },
    )


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[: selectors.SEARCH_MAX_LENGTH]
    page = selectors.products_page(
        selectors.search_products(query), request.GET.get("page"), per_page=SEARCH_PAGE_SIZE
    )
    entries, level = _entries(request, list(page.object_list)) if query else ([], None)
    return _render(
        request,
        "search",
        selectors.category_tree(),
        {"query": query, "entries": entries, "page_obj": page, "member_level": level},
    )


@require_safe
def logo(request: HttpRequest) -> FileResponse:
    """The site's logo, served from storage by the site itself (no shared media host needed)."""
    _site(request)
    branding = selectors.storefront_settings()
    if not branding.logo:
        raise Http404("No logo.")
    try:
        handle = branding.logo.open("rb")
    except FileNotFoundError as exc:
        raise Http404("No logo.") from exc
    content_type = mimetypes.guess_type(str(branding.logo.name))[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
