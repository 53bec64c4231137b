"""Reads of the storefront: the site's branding and its catalogue as a buyer sees it.

Every page's products go through `product_entries`, which reads their SKUs with their stock
counters in one query and prices them all with one `prices_for` call, so a page costs the same
number of queries whatever the number of products on it. Listings page through
`products_page`, which reads a page and the total in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Window
from django.http import Http404

from shared.catalog.models import Category, DeliveryKind, Product, Sku
from shared.catalog.selectors import products_on_sale
from shared.catalog.topup import InputField, input_fields_parse
from shared.sites.models import Site
from shared.vault.models import SkuStock
from shared.vault.selectors import StockStatus, stock_status
from tenants.pricing.models import MemberLevel, ProductOverride
from tenants.pricing.selectors import SkuNotPriced, SkuPrice, prices_for
from tenants.storefront.models import StorefrontSettings

SEARCH_MAX_LENGTH = 100


def storefront_settings() -> StorefrontSettings:
    """The current site's branding; an unsaved default if the row is missing."""
    return StorefrontSettings.objects.filter(singleton=True).first() or StorefrontSettings()


class ListedSku(NamedTuple):
    """What a listing shows of a SKU (a page of listings reads these columns, not whole SKUs:
    building hundreds of model instances would cost more than pricing them)."""

    pk: int
    product_id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class SkuOffer:
    """A SKU as this site sells it to the current visitor."""

    sku: Sku | ListedSku  # a whole `Sku` on the product page
    price: SkuPrice | None  # None: the site has no price for it (not purchasable here)
    stock: StockStatus  # never the count
    input_fields: list[InputField] = field(default_factory=list)

    @property
    def is_available(self) -> bool:
        return self.price is not None and self.stock != "sold_out"


@dataclass(frozen=True)
class ProductEntry:
    """A product with this site's name, description, prices and stock for its SKUs."""

    product: Product
    name: str
    description: str
    offers: list[SkuOffer]

    # Templates read these more than once per product: computed once.
    @cached_property
    def from_price(self) -> SkuPrice | None:
        prices = [o.price for o in self.offers if o.price is not None and o.is_available]
        prices = prices or [o.price for o in self.offers if o.price is not None]
        return min(prices, key=lambda p: p.price) if prices else None

    @cached_property
    def stock(self) -> StockStatus:
        """The best status among the SKUs (a product is sold out when every SKU is)."""
        statuses = {o.stock for o in self.offers}
        if "in_stock" in statuses:
            return "in_stock"
        return "low" if "low" in statuses else "sold_out"


def visible_products_on_sale() -> QuerySet[Product]:
    """Products on sale (HQ's rule, `products_on_sale`) that the current site has not hidden,
    as a query, so pages filter and paginate in the database. The hiding rule is the one
    `tenants.pricing.selectors.visible_products` applies to a list; the override table is the
    current schema's. Each row carries the site's own name and description (`site_name`,
    `site_description`, None without an override), so listing them needs no other query."""
    hidden = ProductOverride.objects.filter(hidden=True).values("product_id")
    override = ProductOverride.objects.filter(product_id=OuterRef("pk"))
    return (
        products_on_sale()
        .exclude(pk__in=hidden)
        .annotate(
            site_name=Subquery(override.values("display_name")[:1]),
            site_description=Subquery(override.values("description")[:1]),
        )
    )


# The SKU columns a listing reads, with the stock counter joined in (`stock_levels` gives the
# same level in a query of its own: see `_stock`), in the order of the product page's query.
# Plain SQL: a page reads up to 500 rows, and the ORM's query building and row handling would
# cost more than the query.
_LISTED_SKUS_SQL = f"""
SELECT s.id, s.product_id, s.code, s.name, s.delivery_kind, s.low_stock_threshold, st.available
FROM {Sku._meta.db_table} s LEFT JOIN {SkuStock._meta.db_table} st ON st.sku_id = s.id
WHERE s.product_id = ANY(%s::bigint[]) AND s.is_active
ORDER BY s.product_id, s.sort_order, s.face_value, s.id
"""  # noqa: S608 - table names from the models


def product_entries(
    *,
    site: Site,
    products: Sequence[Product],
    member_level: MemberLevel | None,
    with_input_fields: bool = False,
) -> list[ProductEntry]:
    """Products with their active SKUs, this site's prices and stock: a fixed number of queries
    (SKUs with their stock, then prices) whatever the number of products, plus one for the
    site's names when the products were not read through `visible_products_on_sale`.
    `with_input_fields` is for the product page, which shows whole SKUs (specs, top-up fields,
    limits); listings read only the columns they show."""
    if not products:
        return []
    ids = [p.pk for p in products]
    listed: list[tuple[Sku | ListedSku, StockStatus]] = []
    if with_input_fields:
        skus = Sku.objects.filter(product_id__in=ids, is_active=True).order_by(
            "product_id", "sort_order", "face_value", "pk"
        )
        for sku in skus.annotate(stock_available=F("stock__available")):
            listed.append(
                (
                    sku,
                    _stock(
                        sku.delivery_kind,
                        sku.stock_available,  # type: ignore[attr-defined]
                        sku.low_stock_threshold,
                    ),
                )
            )
    else:
        with connection.cursor() as cursor:
            cursor.execute(_LISTED_SKUS_SQL, ["{" + ",".join(str(int(i)) for i in ids) + "}"])
            rows = cursor.fetchall()
        for pk, product_id, code, name, kind, threshold, available in rows:
            listed.append(
                (ListedSku(pk, product_id, code, name), _stock(kind, available, threshold))
            )
    try:
        prices = prices_for(site=site, skus=[s.pk for s, _ in listed], member_level=member_level)
    except SkuNotPriced:  # HQ has no price tiers yet: nothing can be sold
        prices = {}
    offers_by_product: dict[int, list[SkuOffer]] = {}
    for sku, stock in listed:
        offers_by_product.setdefault(sku.product_id, []).append(
            SkuOffer(
                sku,
                prices.get(sku.pk),
                stock,
                _input_fields(sku) if with_input_fields else [],  # type: ignore[arg-type]
            )
        )
    names = _site_names(products)
    entries = []
    for product in products:
        # An empty override field falls back to HQ's text.
        name, description = names.get(product.pk, ("", ""))
        entries.append(
            ProductEntry(
                product,
                name or product.name,
                description or product.description,
                offers_by_product.get(product.pk, []),
            )
        )
    return entries


_CARD_KEY = DeliveryKind.CARD_KEY.value  # a plain str: compared once per listed SKU


def _stock(delivery_kind: str, available: int | None, threshold: int) -> StockStatus:
    """The status `stock_status(stock_levels(...)[sku], threshold)` gives, from the SKU's
    joined counter: a card-key SKU's counter (0 before any import); others are unlimited."""
    level = (available or 0) if delivery_kind == _CARD_KEY else None
    return stock_status(level, threshold)


def _site_names(products: Sequence[Product]) -> dict[int, tuple[str, str]]:
    """The site's name and description of each product (empty: HQ's), from the annotations of
    `visible_products_on_sale`, else read."""
    if all(hasattr(p, "site_name") for p in products):
        return {
            p.pk: (p.site_name or "", p.site_description or "")  # type: ignore[attr-defined]
            for p in products
        }
    overrides = ProductOverride.objects.filter(product_id__in=[p.pk for p in products])
    return {o.product_id: (o.display_name, o.description) for o in overrides}


def _input_fields(sku: Sku) -> list[InputField]:
    try:
        return input_fields_parse(sku.input_fields)
    except ValidationError:  # a malformed spec is HQ's to fix; the page still shows the SKU
        return []


# --- Pages ---------------------------------------------------------------------------------------


@dataclass
class CategoryTree:
    """HQ's category tree, read once per page (it is small): the navigation, a category's
    breadcrumbs, its sub-categories and the ids below it all come from this one query."""

    categories: list[Category]

    def __post_init__(self) -> None:
        self._by_id = {c.pk: c for c in self.categories}
        self._children: dict[int | None, list[Category]] = {}
        for c in self.categories:
            self._children.setdefault(c.parent_id, []).append(c)

    def roots(self) -> list[Category]:
        """Active top-level categories, each with `active_children`."""
        roots = [c for c in self._children.get(None, []) if c.is_active]
        for c in roots:
            c.active_children = self.children(c)  # type: ignore[attr-defined]
        return roots

    def get(self, slug: str) -> Category:
        """An active category by slug, or 404."""
        found = next((c for c in self.categories if c.slug == slug and c.is_active), None)
        if found is None:
            raise Http404("No such category.")
        return found

    def children(self, category: Category) -> list[Category]:
        return [c for c in self._children.get(category.pk, []) if c.is_active]

    def descendant_ids(self, category: Category) -> list[int]:
        """The category and every category below it."""
        found: dict[int, None] = {}
        stack = [category.pk]
        while stack:
            pk = stack.pop()
            if pk not in found:
                found[pk] = None
                stack.extend(c.pk for c in self._children.get(pk, []))
        return list(found)

    def breadcrumbs(self, category_id: int) -> list[Category]:
        """From the top category down to this one."""
        chain: list[Category] = []
        node = self._by_id.get(category_id)
        while node is not None and node not in chain:
            chain.append(node)
            node = self._by_id.get(node.parent_id) if node.parent_id else None
        return chain[::-1]


def category_tree() -> CategoryTree:
    return CategoryTree(list(Category.objects.all()))


def pinned_products(*, limit: int = 12) -> list[Product]:
    return list(visible_products_on_sale().filter(is_pinned=True)[:limit])


def products_page(products: QuerySet[Product], number: object, *, per_page: int) -> Page:
    """The page `Paginator(products, per_page).get_page(number)` gives, in one query instead of
    a count and a page: the page's rows carry the total (`COUNT(*) OVER ()`). A number that is
    not a page (past the end, below 1) takes the paginator's own way to the last page."""
    paginator = Paginator(products, per_page)
    try:
        wanted = int(number)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        wanted = 1  # what get_page does with a page that is not a number
    if wanted >= 1:
        bottom = (wanted - 1) * per_page
        rows = list(products.annotate(listing_total=Window(Count("*")))[bottom : bottom + per_page])
        if rows:
            paginator.count = rows[0].listing_total  # type: ignore[attr-defined]
            return Page(rows, wanted, paginator)
    return paginator.get_page(number)


def category_products(tree: CategoryTree, category: Category) -> QuerySet[Product]:
    """Visible products of the category and every category below it."""
    return visible_products_on_sale().filter(category_id__in=tree.descendant_ids(category))


def product_get(*, slug: str) -> Product:
    """A product on sale and not hidden by this site, by slug; the same 404 otherwise."""
    product = visible_products_on_sale().filter(slug=slug).first()
    if product is None:
        raise Http404("No such product.")
    return product


def search_products(query: str) -> QuerySet[Product]:
    """Visible products whose name (the site's or HQ's) or a tag matches the query."""
    query = query.strip()[:SEARCH_MAX_LENGTH]
    if not query:
        return Product.objects.none()
    renamed = ProductOverride.objects.filter(display_name__icontains=query).values("product_id")
    tag = query.lower()
    return visible_products_on_sale().filter(
        Q(name__icontains=query)
        | Q(tags__contains=[query])
        | Q(tags__contains=[tag])
        | Q(pk__in=renamed)
    )
