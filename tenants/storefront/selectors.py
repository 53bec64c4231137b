"""Reads of the storefront: the site's branding and its catalogue as a buyer sees it.

Every page's products go through `product_entries`, which prices all their SKUs with one
`prices_for` call and reads their stock with one `stock_levels` call, so a page costs the same
number of queries whatever the number of products on it. Listings page through
`products_page`, which reads a page and the total in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Window
from django.http import Http404

from shared.catalog.models import Category, Product, Sku
from shared.catalog.selectors import products_on_sale
from shared.catalog.topup import InputField, input_fields_parse
from shared.sites.models import Site
from shared.vault.selectors import StockStatus, stock_levels, stock_status
from tenants.pricing.models import MemberLevel, ProductOverride
from tenants.pricing.selectors import SkuNotPriced, SkuPrice, prices_for
from tenants.storefront.models import StorefrontSettings

SEARCH_MAX_LENGTH = 100


def storefront_settings() -> StorefrontSettings:
    """The current site's branding; an unsaved default if the row is missing."""
    return StorefrontSettings.objects.filter(singleton=True).first() or StorefrontSettings()


@dataclass(frozen=True)
class SkuOffer:
    """A SKU as this site sells it to the current visitor."""

    sku: Sku
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
    current schema's."""
    hidden = ProductOverride.objects.filter(hidden=True).values("product_id")
    return products_on_sale().exclude(pk__in=hidden)


def product_entries(
    *,
    site: Site,
    products: Sequence[Product],
    member_level: MemberLevel | None,
    with_input_fields: bool = False,
) -> list[ProductEntry]:
    """Products with their active SKUs, this site's prices and stock: a fixed number of queries
    (overrides, SKUs, prices, stock) whatever the number of products. `with_input_fields` is
    for the product page; listings show neither a SKU's specs nor its top-up fields, so they
    are not read (they are JSON, decoded per SKU)."""
    if not products:
        return []
    ids = [p.pk for p in products]
    overrides = {o.product_id: o for o in ProductOverride.objects.filter(product_id__in=ids)}
    skus_by_product: dict[int, list[Sku]] = {}
    skus = Sku.objects.filter(product_id__in=ids, is_active=True).order_by(
        "product_id", "sort_order", "face_value", "pk"
    )
    all_skus = list(skus if with_input_fields else skus.defer("specs", "input_fields"))
    for sku in all_skus:
        skus_by_product.setdefault(sku.product_id, []).append(sku)
    try:
        prices = prices_for(site=site, skus=all_skus, member_level=member_level)
    except SkuNotPriced:  # HQ has no price tiers yet: nothing can be sold
        prices = {}
    levels = stock_levels([s.pk for s in all_skus])
    entries = []
    for product in products:
        override = overrides.get(product.pk)
        offers = [
            SkuOffer(
                sku=sku,
                price=prices.get(sku.pk),
                stock=stock_status(levels.get(sku.pk), sku.low_stock_threshold),
                input_fields=_input_fields(sku) if with_input_fields else [],
            )
            for sku in skus_by_product.get(product.pk, [])
        ]
        # An empty override field falls back to HQ's text.
        name = override.display_name if override and override.display_name else product.name
        description = override.description if override and override.description else ""
        entries.append(ProductEntry(product, name, description or product.description, offers))
    return entries


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
