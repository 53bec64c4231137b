"""Reads of prices and of how a site presents the catalogue.

The semantics are in `tenants.pricing.engine`; this module loads the facts for it in a fixed
number of queries whatever the number of SKUs or the depth of the tree:

1. the site and its ancestors with their tiers, and every price tier (one statement on the
   public `Site` and `PriceTier` tables);
2. the pricing token of every schema in the chain (one `UNION ALL` across those schemas);
3. each schema's rule set, by (site id, token): from this process's memory, else from Django's
   cache, else read for all the missing schemas in one `UNION ALL` (and cached in both);
4. HQ's tier prices, currencies and categories of the SKUs (with a member level's fixed prices,
   joined from the site's schema), and the chains of those few categories up the tree, in one
   statement.

Three statements when the rule sets are in memory, whatever the number of SKUs. The engine
then prices the SKUs as a batch (`PriceChain.quote_many`), computing once for SKUs that share
every input of a price.

Every schema is named explicitly (schema-qualified SQL, names quoted by `quote_schema_name`), so
these reads work from any schema (a storefront request, a Celery task, HQ) without switching the
connection's search path.

Why the cache is keyed by a token: a pricing service replaces the schema's token in the same
transaction as its change, and a token is a fresh UUID, so an entry is never stale: a changed
site gets a new key, and a rolled-back change restores the old token, whose entry still holds
the rules in force. The token is read from the database on every call (step 3); that one small
query is the price of never serving rules a site has changed. Django's cache keys are also
prefixed with the *current* schema (`django_tenants.cache.make_key`), so a site caches its own
chain's rule sets and never reads another site's entries. Measured with five schemas of ~45
rules, reading the rule sets from Redis (round trip + unpickling) costs about as much as reading
them from PostgreSQL, so each process keeps the sets it has read in memory too (same keys).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django_tenants.utils import quote_schema_name

from shared.catalog.models import Category, ListingStatus, PriceTier, Product, Sku
from shared.ledger.settlement import ChainLink
from shared.sites.models import Site
from tenants.pricing.engine import (
    ChainSite,
    ExplanationStep,
    MemberTerms,
    Names,
    PriceChain,
    QuantityBreak,
    QuantitySchedule,
    Rule,
    RuleBook,
    SiteRules,
    SkuFacts,
    SkuPrice,
    Tier,
)
from tenants.pricing.models import MemberLevel, MemberLevelAssignment, RuleKind

DEFAULT_TIER_CODE = "standard"
# Entries cannot go stale through the services; the timeout bounds a write made without them.
RULES_CACHE_TIMEOUT = 3600
LOCAL_RULES_CACHE_SIZE = 2048  # rule sets (one per site of a chain) kept in each process
# Computed prices kept in each process: memos (chain, member discount, quantity) and entries in
# each (a memo that fills up starts again).
LOCAL_QUOTE_MEMOS = 512
LOCAL_QUOTE_MEMO_ENTRIES = 20_000
# The "v2" names the shape of the cached objects: change it when engine.SiteRules changes.
_RULES_CACHE_KEY = "pricing:rules:v2:{site_id}:{token}"

__all__ = [
    "ExplanationStep",
    "ProductDisplay",
    "SaleQuote",
    "SkuNotPriced",
    "SkuPrice",
    "cost_price_for",
    "local_rules_cache_clear",
    "member_level_for",
    "price_explanation",
    "prices_for",
    "product_display",
    "sale_chain_for",
    "sale_quote",
    "visible_products",
    "wholesale_price_for",
]


class SkuNotPriced(LookupError):
    """HQ has no price for the SKU in the tier the site's chain buys at: it cannot be sold."""


# --- Prices --------------------------------------------------------------------------------


def prices_for(
    *,
    site: Site,
    skus: Iterable[Sku | int],
    member_level: MemberLevel | None = None,
    quantity: int = 1,
) -> dict[int, SkuPrice]:
    """Cost, retail and this buyer's unit price on `site` for each SKU, keyed by SKU id.

    `member_level` is a level of `site` (see `member_level_for`); None prices for a guest.
    `quantity` is the number of units in the order line (it picks the quantity tier). A SKU HQ
    has no price for in the chain's root tier is left out: it cannot be sold on this site.
    """
    sku_ids = _sku_ids(skus)
    if not sku_ids:
        return {}
    chain = _price_chain(site)
    skus_found = _sku_facts(chain, sku_ids, site=site, level=member_level)
    member = _member_terms(member_level, skus_found)
    return chain.quote_many(
        skus_found.facts.values(),
        member=member,
        quantity=quantity,
        memo=_quote_memos.get(chain, member, quantity),
    )


@dataclass(frozen=True)
class SaleQuote:
    """One SKU's price for a buyer on a site, with what each site of the chain pays its parent
    for one unit, root first (the last is `price.cost`): what an order records when it is
    placed, and settles by."""

    price: SkuPrice
    chain_costs: tuple[tuple[int, Decimal], ...]  # (site id, unit cost)


def sale_quote(
    *,
    site: Site,
    sku: Sku | int,
    member_level: MemberLevel | None = None,
    quantity: int = 1,
) -> SaleQuote | None:
    """`prices_for` of one SKU and the unit costs `sale_chain_for` gives, from one reading of
    the chain. None if HQ has no price for the SKU in the tier the chain buys at."""
    sku_id = _sku_id(sku)
    chain = _price_chain(site)
    skus_found = _sku_facts(chain, [sku_id], site=site, level=member_level)
    fact = skus_found.facts.get(sku_id)
    if fact is None:
        return None
    member = _member_terms(member_level, skus_found)
    memo = _quote_memos.get(chain, member, quantity)
    price = chain.quote_many([fact], member=member, quantity=quantity, memo=memo)[sku_id]
    site_ids = (link.site_id for link in chain.sites)
    return SaleQuote(price, tuple(zip(site_ids, chain.costs(fact), strict=True)))


def cost_price_for(*, site: Site, sku: Sku | int) -> Decimal:
    """What `site` pays its parent (HQ for a main site) for one unit of `sku`."""
    chain = _price_chain(site)
    return chain.cost(_one_sku(chain, sku, site=site))


def sale_chain_for(*, site: Site, sku: Sku | int) -> list[ChainLink]:
    """The chain of sites selling `sku` on `site`, root first, each with the unit cost it pays
    its parent: what `settle_sale(chain=...)` splits a sale by."""
    chain = _price_chain(site)
    costs = chain.costs(_one_sku(chain, sku, site=site))
    sites = Site.objects.in_bulk([link.site_id for link in chain.sites])
    return [
        ChainLink(sites[link.site_id], cost) for link, cost in zip(chain.sites, costs, strict=True)
    ]


def wholesale_price_for(*, site: Site, child_tier: PriceTier | None, sku: Sku | int) -> Decimal:
    """What `site` charges a child site buying at `child_tier` (None: the default tier)."""
    tiers = _tiers()
    chain = _price_chain(site, tiers)
    tier = _tier_of(child_tier.pk if child_tier is not None else None, tiers)
    return chain.wholesale(_one_sku(chain, sku, site=site), tier)


def price_explanation(
    *,
    site: Site,
    sku: Sku | int,
    member_level: MemberLevel | None = None,
    quantity: int = 1,
) -> list[ExplanationStep]:
    """How `site` arrives at this buyer's unit price, step by step: HQ's tier price, each
    ancestor's wholesale markup, the site's retail markup, the member level, the quantity tier,
    and the clamp at cost if it applied. The last step's amount is the price."""
    tiers = _tiers()
    chain = _price_chain(site, tiers)
    skus_found = _sku_facts(chain, [_sku_id(sku)], site=site, level=member_level)
    fact = _only(chain, skus_found.facts, sku)
    tier_names = {tier.id: tier.name for tier in tiers.values()}
    chain = replace(chain, names=Names(categories=skus_found.category_names, tiers=tier_names))
    member = _member_terms(member_level, skus_found)
    steps: list[ExplanationStep] = []
    chain.quote(fact, member=member, quantity=quantity, steps=steps)
    return steps


# --- Member levels -------------------------------------------------------------------------


def member_level_for(user: AbstractBaseUser | AnonymousUser | None) -> MemberLevel | None:
    """The member level of a member of the current site: their assigned level, else the site's
    default level (None if the site has none). Guests (anonymous) have no level."""
    if user is None or not user.is_authenticated:
        return None
    return next(iter(MemberLevel.objects.raw(_MEMBER_LEVEL_SQL, [user.pk])), None)


# One short statement on every signed-in page: the assigned level if any (it sorts first),
# else the default one. Written out, as building it with the ORM costs more than running it.
_MEMBER_LEVEL_SQL = (
    f"SELECT level.* FROM {MemberLevel._meta.db_table} level "  # noqa: S608
    f"LEFT JOIN {MemberLevelAssignment._meta.db_table} assigned "
    "ON assigned.level_id = level.id AND assigned.user_id = %s "
    "WHERE assigned.id IS NOT NULL OR level.is_default "
    "ORDER BY assigned.id IS NULL LIMIT 1"
)


# --- Products ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductDisplay:
    """A catalogue product as this site shows it."""

    product: Product
    name: str
    description: str


def visible_products(*, site: Site, category: Category | None = None) -> list[ProductDisplay]:
    """Listed products on sale now that `site` has not hidden, with its names and descriptions,
    in catalogue order; only those directly in `category` when given."""
    now = timezone.now()
    products = (
        Product.objects.filter(status=ListingStatus.LISTED)
        .exclude(list_at__gt=now)
        .exclude(delist_at__lte=now)
    )
    if category is not None:
        products = products.filter(category=category)
    listed = list(products)
    overrides = _overrides(site, [p.pk for p in listed])
    return [
        display
        for product in listed
        if (display := _display(product, overrides.get(product.pk))) is not None
    ]


def product_display(*, site: Site, product: Product) -> ProductDisplay | None:
    """How `site` shows `product`, or None if the site hides it."""
    return _display(product, _overrides(site, [product.pk]).get(product.pk))


def _display(product: Product, override: tuple[bool, str, str] | None) -> ProductDisplay | None:
    if override is None:
        return ProductDisplay(product, product.name, product.description)
    hidden, name, description = override
    if hidden:
        return None
    return ProductDisplay(product, name or product.name, description or product.description)


def _overrides(site: Site, product_ids: list[int]) -> dict[int, tuple[bool, str, str]]:
    if not product_ids:
        return {}
    table = f"{quote_schema_name(site.schema_name)}.pricing_productoverride"
    rows = _fetch(
        f"SELECT product_id, hidden, display_name, description FROM {table} "  # noqa: S608
        "WHERE product_id = ANY(%s::bigint[])",
        [_id_array(product_ids)],
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


# --- Loading the chain ---------------------------------------------------------------------


@dataclass(frozen=True)
class _ChainRow:
    site_id: int
    slug: str
    schema_name: str
    price_tier_id: int | None


def _price_chain(site: Site, tiers: dict[int, Tier] | None = None) -> PriceChain:
    if tiers is None:
        rows, tiers = _chain_rows_and_tiers(site)
    else:
        rows = _chain_rows(site)
    rules = _site_rules(rows)
    return PriceChain(
        sites=tuple(
            ChainSite(
                site_id=row.site_id,
                slug=row.slug,
                tier=_tier_of(row.price_tier_id, tiers),
                rules=rules[row.site_id],
            )
            for row in rows
        )
    )


_CHAIN_SQL = (
    "SELECT s.id, s.slug, s.schema_name, s.price_tier_id FROM sites_site s "
    "JOIN sites_site me ON s.id = ANY(me.path) WHERE me.id = %s ORDER BY s.depth"
)
# The chain and every tier in one statement: chain rows first (by depth), then the tiers.
_CHAIN_AND_TIERS_SQL = """
SELECT 0, s.depth, s.id, s.slug, s.schema_name, s.price_tier_id
FROM sites_site s JOIN sites_site me ON s.id = ANY(me.path) WHERE me.id = %s
UNION ALL
SELECT 1, t.rank, t.id, t.code, t.name, NULL FROM catalog_pricetier t
ORDER BY 1, 2, 4
"""


def _chain_rows(site: Site) -> list[_ChainRow]:
    """The site and its ancestors, root first, read fresh (the instance may be partly loaded)."""
    return _checked_chain(site, [_ChainRow(*row) for row in _fetch(_CHAIN_SQL, [site.pk])])


def _chain_rows_and_tiers(site: Site) -> tuple[list[_ChainRow], dict[int, Tier]]:
    """`_chain_rows` and `_tiers` in one statement."""
    chain: list[_ChainRow] = []
    tiers: list[tuple[int, str, str]] = []
    for part, _, row_id, code, name, tier_id in _fetch(_CHAIN_AND_TIERS_SQL, [site.pk]):
        if part == 0:
            chain.append(_ChainRow(row_id, code, name, tier_id))
        else:
            tiers.append((row_id, code, name))
    return _checked_chain(site, chain), _tiers_in_order(tiers)


def _checked_chain(site: Site, chain: list[_ChainRow]) -> list[_ChainRow]:
    if not chain or chain[-1].site_id != site.pk:
        raise Site.DoesNotExist(f"Site {site.pk} has no chain of sites.")
    return chain


def _tiers() -> dict[int, Tier]:
    """Every tier by id, the default one ("standard", else the lowest rank) first."""
    return _tiers_in_order(
        list(PriceTier.objects.order_by("rank", "code").values_list("id", "code", "name"))
    )


def _tiers_in_order(tiers: list[tuple[int, str, str]]) -> dict[int, Tier]:
    """Tiers in rank and code order, with the default one moved first."""
    tiers.sort(key=lambda t: t[1] != DEFAULT_TIER_CODE)  # stable: keeps rank order otherwise
    return {t[0]: Tier(*t) for t in tiers}


def _tier_of(tier_id: int | None, tiers: dict[int, Tier]) -> Tier:
    if tier_id is not None and tier_id in tiers:
        return tiers[tier_id]
    if not tiers:
        raise SkuNotPriced("HQ has no price tiers yet.")
    return next(iter(tiers.values()))


def _site_rules(rows: Sequence[_ChainRow]) -> dict[int, SiteRules]:
    """Each chain site's rule set: from this process, else Django's cache, else the schemas."""
    tokens = _tokens(rows)
    keys = {
        row.site_id: _RULES_CACHE_KEY.format(site_id=row.site_id, token=tokens[row.site_id])
        for row in rows
    }
    found = _local_rules.get_many(keys)
    if len(found) < len(keys):
        shared: dict[str, Any] = cache.get_many([k for i, k in keys.items() if i not in found])
        from_shared = {i: shared[k] for i, k in keys.items() if k in shared}
        missing = [r for r in rows if r.site_id not in found and r.site_id not in from_shared]
        loaded = _load_rules(missing) if missing else {}
        if loaded:
            cache.set_many({keys[i]: rules for i, rules in loaded.items()}, RULES_CACHE_TIMEOUT)
        _local_rules.put({keys[i]: rules for i, rules in (from_shared | loaded).items()})
        found |= from_shared | loaded
    return found


class _LocalRules:
    """Rule sets this process has read, by cache key (site id and token), least recently used
    first out. An entry can only be stale if a rule was written without a service; `timeout`
    bounds that case as it does for Django's cache."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size, self.timeout = size, timeout
        self._entries: OrderedDict[str, tuple[float, SiteRules]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: dict[int, str]) -> dict[int, SiteRules]:
        now, found = time.monotonic(), {}
        with self._lock:
            for site_id, key in keys.items():
                entry = self._entries.get(key)
                if entry is not None and entry[0] > now:
                    self._entries.move_to_end(key)
                    found[site_id] = entry[1]
        return found

    def put(self, rules: dict[str, SiteRules]) -> None:
        expires = time.monotonic() + self.timeout
        with self._lock:
            for key, site_rules in rules.items():
                self._entries[key] = (expires, site_rules)
                self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_local_rules = _LocalRules(size=LOCAL_RULES_CACHE_SIZE, timeout=RULES_CACHE_TIMEOUT)


class _QuoteMemos:
    """Computed prices kept between `prices_for` calls (`PriceChain.quote_many`'s memo), one
    memo per chain (its sites and their tiers), member discount and quantity, least recently
    used first out. A memo belongs to the very rule-set objects it was computed with: when any
    site of the chain gets another rule set (a new token, or a re-read after the rule-set cache
    expired), the memo is dropped with them, so it is never staler than the rule sets are. HQ's
    price, the category chain and the member's fixed price are part of each entry's key, and
    they are read fresh on every call."""

    def __init__(self, size: int, entries: int) -> None:
        self.size, self.entries = size, entries
        self._memos: OrderedDict[tuple[Any, ...], tuple[tuple[SiteRules, ...], dict[Any, Any]]]
        self._memos = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, chain: PriceChain, member: MemberTerms | None, quantity: int
    ) -> dict[tuple[Any, ...], SkuPrice]:
        key = (
            tuple((s.site_id, s.tier.id) for s in chain.sites),
            None if member is None else member.discount_percent,
            quantity,
        )
        rules = tuple(s.rules for s in chain.sites)
        with self._lock:
            found = self._memos.get(key)
            if (
                found is not None
                and all(a is b for a, b in zip(found[0], rules, strict=True))
                and len(found[1]) < self.entries
            ):
                self._memos.move_to_end(key)
                return found[1]
            memo: dict[tuple[Any, ...], SkuPrice] = {}
            self._memos[key] = (rules, memo)
            self._memos.move_to_end(key)
            while len(self._memos) > self.size:
                self._memos.popitem(last=False)
            return memo

    def clear(self) -> None:
        with self._lock:
            self._memos.clear()


_quote_memos = _QuoteMemos(size=LOCAL_QUOTE_MEMOS, entries=LOCAL_QUOTE_MEMO_ENTRIES)


def local_rules_cache_clear() -> None:
    """Forget the rule sets and computed prices this process holds (tests and benchmarks
    measuring a cold start)."""
    _local_rules.clear()
    _quote_memos.clear()


def _tokens(rows: Sequence[_ChainRow]) -> dict[int, str]:
    """Each schema's pricing token (the state row's version), in one statement."""
    parts = [
        f"SELECT %s, (SELECT version::text FROM {quote_schema_name(row.schema_name)}"  # noqa: S608
        ".pricing_pricingstate WHERE id = 1)"
        for row in rows
    ]
    result = _fetch(" UNION ALL ".join(parts), [row.site_id for row in rows])
    return {site_id: token or "none" for site_id, token in result}


def _load_rules(rows: Sequence[_ChainRow]) -> dict[int, SiteRules]:
    """The rule sets of several schemas, in one statement."""
    parts: list[str] = []
    params: list[int] = []
    for row in rows:
        schema = quote_schema_name(row.schema_name)
        parts.append(
            "SELECT %s, kind, tier_id, sku_id, category_id, markup_kind, markup_value, "  # noqa: S608
            f"rounding, NULL::integer FROM {schema}.pricing_pricerule"
        )
        parts.append(
            "SELECT %s, 'quantity', NULL, sku_id, category_id, NULL, discount_percent, NULL, "  # noqa: S608
            f"min_quantity FROM {schema}.pricing_quantitytier"
        )
        params += [row.site_id, row.site_id]
    by_site: dict[int, dict[str, list[Any]]] = {
        row.site_id: {"wholesale": [], "retail": [], "quantity": []} for row in rows
    }
    for (
        site_id,
        kind,
        tier_id,
        sku_id,
        category_id,
        markup_kind,
        value,
        rounding,
        min_qty,
    ) in _fetch(" UNION ALL ".join(parts), params):
        if kind == "quantity":
            by_site[site_id][kind].append(QuantityBreak(min_qty, value, sku_id, category_id))
        else:
            rule = Rule(markup_kind, value, rounding, tier_id, sku_id, category_id)
            by_site[site_id][kind].append(rule)
    return {
        site_id: SiteRules(
            wholesale=RuleBook.of(found[RuleKind.WHOLESALE]),
            retail=RuleBook.of(found[RuleKind.RETAIL]),
            quantity=QuantitySchedule.of(found["quantity"]),
        )
        for site_id, found in by_site.items()
    }


# --- Loading SKUs and members --------------------------------------------------------------

# HQ's price in the root's tier, the currency and the product's category, for every SKU at
# once; then, in the same statement, the chains of the few categories involved (nearest first)
# as rows of their own (part 1). Catalogue tables are in the public schema. Ids travel as one
# array literal: cheaper to send than a list of 500 values.
_SKU_FACTS_SQL = """
WITH RECURSIVE facts AS (
    SELECT s.id, s.code, s.currency, tp.price, p.category_id, {level_price} AS level_price
    FROM catalog_sku s
    JOIN catalog_product p ON p.id = s.product_id
    JOIN catalog_tierprice tp ON tp.sku_id = s.id AND tp.tier_id = %s
    {level_join}
    WHERE s.id = ANY(%s::bigint[])
), up (start, id, parent_id, name, lvl) AS (
    SELECT id, id, parent_id, name, 0 FROM catalog_category
    WHERE id IN (SELECT category_id FROM facts)
    UNION ALL
    SELECT up.start, c.id, c.parent_id, c.name, up.lvl + 1
    FROM catalog_category c JOIN up ON c.id = up.parent_id
    WHERE up.lvl < 64
)
SELECT 0, id, code, currency, price, category_id, level_price, 0 FROM facts
UNION ALL
SELECT 1, start, name, NULL, NULL, id, NULL, lvl FROM up
ORDER BY 1, 2, 8
"""
# With a member level, its fixed prices come in the same statement from the site's schema.
_LEVEL_JOIN = "LEFT JOIN {schema}.pricing_memberlevelprice m ON m.sku_id = s.id AND m.level_id = %s"


@dataclass(frozen=True)
class _Skus:
    facts: dict[int, SkuFacts]  # the SKUs HQ prices in the chain's root tier, in the order asked
    category_names: dict[int, str]
    level_prices: dict[int, Decimal]  # the member level's fixed prices, when a level was given


def _sku_facts(
    chain: PriceChain, sku_ids: list[int], *, site: Site, level: MemberLevel | None = None
) -> _Skus:
    params: list[Any] = [chain.sites[0].tier.id]
    if level is None:
        sql = _SKU_FACTS_SQL.format(level_price="NULL::numeric", level_join="")
    else:
        join = _LEVEL_JOIN.format(schema=quote_schema_name(site.schema_name))
        sql = _SKU_FACTS_SQL.format(level_price="m.price", level_join=join)
        params.append(level.pk)
    rows: list[tuple[Any, ...]] = []
    chains: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for row in _fetch(sql, [*params, _id_array(sku_ids)]):
        if row[0] == 0:
            rows.append(row)
        else:  # a category's chain, nearest first (ordered by level)
            _, start, name, _, _, category_id, _, _ = row
            chains.setdefault(start, []).append(category_id)
            names[category_id] = name
    category_chains = {start: tuple(chain) for start, chain in chains.items()}
    by_id = {
        sku_id: SkuFacts(sku_id, code, currency, price, category_chains.get(category_id, ()))
        for _, sku_id, code, currency, price, category_id, _, _ in rows
    }
    return _Skus(
        facts={i: by_id[i] for i in sku_ids if i in by_id},
        category_names=names,
        level_prices={row[1]: row[6] for row in rows if row[6] is not None},
    )


def _id_array(ids: Iterable[int]) -> str:
    """A PostgreSQL array literal of ids, e.g. "{1,2,3}"."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _one_sku(chain: PriceChain, sku: Sku | int, *, site: Site) -> SkuFacts:
    return _only(chain, _sku_facts(chain, [_sku_id(sku)], site=site).facts, sku)


def _only(chain: PriceChain, facts: dict[int, SkuFacts], sku: Sku | int) -> SkuFacts:
    sku_id = _sku_id(sku)
    if sku_id not in facts:
        tier = chain.sites[0].tier
        raise SkuNotPriced(f"HQ has no price for SKU {sku_id} in tier {tier.code}.")
    return facts[sku_id]


def _member_terms(level: MemberLevel | None, skus: _Skus) -> MemberTerms | None:
    if level is None:
        return None
    return MemberTerms(
        level_id=level.pk,
        name=level.name,
        discount_percent=level.discount_percent,
        fixed_prices=skus.level_prices,
    )


def _sku_id(sku: Sku | int) -> int:
    return sku if isinstance(sku, int) else sku.pk


def _sku_ids(skus: Iterable[Sku | int]) -> list[int]:
    seen: dict[int, None] = {}
    for sku in skus:
        seen[sku if isinstance(sku, int) else sku.pk] = None
    return list(seen)


def _fetch(sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
