"""How a price is computed along a chain of sites: pure computation, no database.

The selectors load the facts (the site chain, each site's rules, HQ's tier price, the SKU's
category chain, the buyer's member level) and this module turns them into prices, so the whole
calculation can be checked quickly and exhaustively (tests/pricing/test_engine.py).

Semantics, for a site S whose chain from the root is R = S1, S2, ..., Sn = S:

- **Cost** (成本价, what a site pays its parent per unit). The root's cost is HQ's `TierPrice` for
  the root's tier (rounded up if finer than the currency, e.g. a fraction of a yen). A child's
  cost is its parent's *wholesale* price for the child's tier: the parent's cost plus the
  parent's best-matching wholesale rule, rounded as that rule says. A site without a tier buys
  at the tier with code "standard" (or, if there is none, the lowest-ranked tier). No matching
  wholesale rule means a markup of 0: the child buys at the parent's cost.
- **Best-matching rule**: the most specific scope wins: the SKU, then the nearest category up the
  category tree from the SKU's product, then the site's default rule. Within one scope a
  wholesale rule for the child's exact tier beats a rule for every tier.
- **Retail** (what a guest pays): S's cost plus S's best retail rule, rounded as it says. Without a
  retail rule a site sells at cost (earning nothing), so its back office should ask for one.
- **Member price**: the level's fixed `MemberLevelPrice` for the SKU if there is one, else retail
  less the level's discount, rounded half up to the currency's precision.
- **Quantity tiers**: among the tiers whose `min_quantity` the order reaches, the most specific
  scope wins (SKU, nearest category, default), then the highest `min_quantity`; its discount is
  taken off the unit price, rounded half up to the currency's precision.
- **Never below cost**: the price a buyer pays is clamped at S's own cost; the explanation then
  ends with a "clamped at cost" step.
- **Markups**: fixed adds an amount in the SKU's currency; percent adds cost x value / 100.
  Markups are never negative, so each site's margin (its child's cost minus its own) is ≥ 0.
- **Rounding** (`money_round`, the one place money is rounded): `none` rounds half up to the
  currency's precision (0.01 for CNY/USD/EUR, 1 for JPY/KRW, 0.01 for any other code); `cent`
  half up to 0.01; `up_tenth` up (towards +∞) to 0.1; `up_unit` up to 1. A step finer than the
  currency's precision rounds to the currency's precision in the same direction. Every amount is
  returned with the currency's exponent, and a rounded markup is never below the pre-markup cost.

A sale therefore settles as: S keeps price - cost(S); each ancestor Si keeps
cost(Si+1) - cost(Si); HQ keeps cost(S1) - the supplier's cost; the shares sum to the price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cache, cached_property
from itertools import pairwise
from typing import Any, NamedTuple

from shared.ledger.money import CURRENCY_EXPONENTS
from tenants.pricing.models import MarkupKind, Rounding

# Prices of a currency the ledger does not list yet are shown at cent precision.
DEFAULT_CURRENCY_EXPONENT = 2
CURRENCY_SYMBOLS: Mapping[str, str] = {
    "CNY": "¥",
    "USD": "$",
    "EUR": "€",
    "JPY": "JP¥",
    "KRW": "₩",
}

HUNDRED = Decimal(100)

# rounding -> (step, or None for the currency's precision; direction)
_ROUNDING_STEPS: Mapping[str, tuple[Decimal | None, str]] = {
    Rounding.NONE: (None, ROUND_HALF_UP),
    Rounding.CENT: (Decimal("0.01"), ROUND_HALF_UP),
    Rounding.UP_TENTH: (Decimal("0.1"), ROUND_CEILING),
    Rounding.UP_UNIT: (Decimal("1"), ROUND_CEILING),
}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency, DEFAULT_CURRENCY_EXPONENT)


@cache
def currency_quantum(currency: str) -> Decimal:
    """The smallest amount of the currency: Decimal("0.01") for CNY, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-currency_exponent(currency))


@cache
def _rounding_plan(rounding: str, currency: str) -> tuple[Decimal, str, Decimal]:
    """(step, direction, currency quantum) for a rounding of a currency."""
    step, direction = _ROUNDING_STEPS[rounding]
    quantum = currency_quantum(currency)
    return (quantum if step is None or step < quantum else step), direction, quantum


def rounding_step(rounding: str, currency: str) -> Decimal:
    """The multiple a rounded amount lands on: the rule's step, never finer than the currency."""
    return _rounding_plan(rounding, currency)[0]


def money_round(
    amount: Decimal,
    *,
    currency: str,
    rounding: str = Rounding.NONE,
    floor: Decimal | None = None,
) -> Decimal:
    """Round an amount of `currency` as `rounding` says, expressed in the currency's exponent.

    `floor` (the pre-markup cost) is the least the result may be.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    step, direction, quantum = _rounding_plan(rounding, currency)
    rounded = amount.quantize(step, rounding=direction)
    if step is not quantum:
        rounded = rounded.quantize(quantum)  # 13 -> 13.00: always the currency's exponent
    if floor is not None and rounded < floor:
        return floor.quantize(quantum, rounding=ROUND_CEILING)
    return rounded


def format_money(amount: Decimal, currency: str) -> str:
    """¥12.30; an amount finer than the currency (a 4-place fixed markup) keeps its digits."""
    quantum = currency_quantum(currency)
    shown = amount.quantize(quantum) if amount == amount.quantize(quantum) else amount.normalize()
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{shown:f}" if symbol else f"{shown:f} {currency}"


def _plain(value: Decimal) -> str:
    """10.0000 -> "10", 2.50 -> "2.5"."""
    return f"{value.normalize():f}"


# --- Rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A markup over cost (wholesale or retail), scoped to a SKU, a category or everything."""

    markup_kind: str
    markup_value: Decimal
    rounding: str = Rounding.NONE
    tier_id: int | None = None
    sku_id: int | None = None
    category_id: int | None = None

    def apply(self, cost: Decimal, currency: str) -> tuple[Decimal, Decimal]:
        """(unrounded, rounded) price after this markup on `cost`."""
        if self.markup_kind == MarkupKind.PERCENT:
            unrounded = cost + cost * self.markup_value / HUNDRED
        else:
            unrounded = cost + self.markup_value
        rounded = money_round(unrounded, currency=currency, rounding=self.rounding, floor=cost)
        return unrounded, rounded


def _scopes(sku_id: int, categories: tuple[int, ...]) -> Iterable[tuple[str, int | None]]:
    """Scope keys from the most specific to the least."""
    yield ("sku", sku_id)
    for category_id in categories:
        yield ("category", category_id)
    yield ("default", None)


@dataclass(frozen=True)
class RuleBook:
    """One site's rules of one kind, indexed by scope: (SKU id, tier id), (category id, tier
    id) and tier id (the default rules); a tier id of None is a rule for every tier."""

    by_sku: Mapping[tuple[int, int | None], Rule] = field(default_factory=dict)
    by_category: Mapping[tuple[int, int | None], Rule] = field(default_factory=dict)
    by_default: Mapping[int | None, Rule] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleBook:
        by_sku: dict[tuple[int, int | None], Rule] = {}
        by_category: dict[tuple[int, int | None], Rule] = {}
        by_default: dict[int | None, Rule] = {}
        for rule in rules:
            if rule.sku_id is not None:
                by_sku[rule.sku_id, rule.tier_id] = rule
            elif rule.category_id is not None:
                by_category[rule.category_id, rule.tier_id] = rule
            else:
                by_default[rule.tier_id] = rule
        return cls(by_sku, by_category, by_default)

    def best(
        self, *, sku_id: int, categories: tuple[int, ...], tier_id: int | None = None
    ) -> Rule | None:
        """The most specific rule for the SKU; at equal scope the tier's own rule first.

        Called for every SKU at every site of the chain, so written for speed."""
        rule: Rule | None
        if self.by_sku:
            rule = self.by_sku.get((sku_id, tier_id))
            if rule is None and tier_id is not None:
                rule = self.by_sku.get((sku_id, None))
            if rule is not None:
                return rule
        if self.by_category:
            for category_id in categories:
                rule = self.by_category.get((category_id, tier_id))
                if rule is None and tier_id is not None:
                    rule = self.by_category.get((category_id, None))
                if rule is not None:
                    return rule
        rule = self.by_default.get(tier_id)
        if rule is None and tier_id is not None:
            rule = self.by_default.get(None)
        return rule


@dataclass(frozen=True, slots=True)
class QuantityBreak:
    min_quantity: int
    discount_percent: Decimal
    sku_id: int | None = None
    category_id: int | None = None

    @property
    def scope_key(self) -> tuple[str, int | None]:
        if self.sku_id is not None:
            return ("sku", self.sku_id)
        if self.category_id is not None:
            return ("category", self.category_id)
        return ("default", None)


@dataclass(frozen=True)
class QuantitySchedule:
    """A site's quantity tiers by scope, each scope's tiers from the highest min_quantity down."""

    by_scope: Mapping[tuple[str, int | None], tuple[QuantityBreak, ...]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, breaks: Iterable[QuantityBreak]) -> QuantitySchedule:
        grouped: dict[tuple[str, int | None], list[QuantityBreak]] = {}
        for brk in breaks:
            grouped.setdefault(brk.scope_key, []).append(brk)
        return cls(
            {
                key: tuple(sorted(group, key=lambda b: b.min_quantity, reverse=True))
                for key, group in grouped.items()
            }
        )

    def best(
        self, *, sku_id: int, categories: tuple[int, ...], quantity: int
    ) -> QuantityBreak | None:
        if quantity < 2 or not self.by_scope:
            return None
        for scope in _scopes(sku_id, categories):
            for brk in self.by_scope.get(scope, ()):
                if brk.min_quantity <= quantity:
                    return brk
        return None


@dataclass(frozen=True)
class SiteRules:
    """Everything one site's schema says about prices that is cached between requests."""

    wholesale: RuleBook = field(default_factory=RuleBook)
    retail: RuleBook = field(default_factory=RuleBook)
    quantity: QuantitySchedule = field(default_factory=QuantitySchedule)


# --- The chain -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ChainSite:
    """A site in the chain: who it is, the tier it buys at, and its rules."""

    site_id: int
    slug: str
    tier: Tier
    rules: SiteRules


class SkuFacts(NamedTuple):
    """What HQ's catalogue says about one SKU, for the chain's root tier (a named tuple: a
    page builds hundreds of them per request)."""

    sku_id: int
    code: str
    currency: str
    hq_price: Decimal
    categories: tuple[int, ...] = ()  # the product's category, then its parents up to the top


@dataclass(frozen=True)
class MemberTerms:
    """A buyer's member level: its discount and its fixed prices per SKU id."""

    level_id: int
    name: str
    discount_percent: Decimal
    fixed_prices: Mapping[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SkuPrice:
    """What one unit of a SKU costs this site, sells for at retail, and costs this buyer."""

    cost: Decimal
    retail: Decimal
    price: Decimal
    currency: str


class StepCode:
    HQ_PRICE = "hq_price"
    WHOLESALE = "wholesale"
    RETAIL = "retail"
    MEMBER_LEVEL = "member_level"
    QUANTITY_TIER = "quantity_tier"
    CLAMP = "clamp"


@dataclass(frozen=True, slots=True)
class ExplanationStep:
    """One step of a price: what happened (`label`) and the unit price after it (`amount`)."""

    code: str
    label: str
    amount: Decimal
    unrounded: Decimal | None = None  # before rounding, for a markup or a discount
    rounding: str = ""  # the Rounding applied to `unrounded`
    site: str = ""  # slug of the site whose rule this is


@dataclass(frozen=True)
class Names:
    """Display names for explanations (category and tier names by id)."""

    categories: Mapping[int, str] = field(default_factory=dict)
    tiers: Mapping[int, str] = field(default_factory=dict)


def _rounding_text(rounding: str, currency: str) -> str:
    step = rounding_step(rounding, currency)
    if rounding in (Rounding.UP_TENTH, Rounding.UP_UNIT):
        return f"rounded up to {step:f}"
    return f"rounded to {step:f}"


def describe_rule(rule: Rule, *, currency: str, names: Names | None = None) -> str:
    """e.g. "+10% (category Games, tier Gold), rounded up to 0.1"."""
    names = names or Names()
    if rule.markup_kind == MarkupKind.PERCENT:
        markup = f"+{_plain(rule.markup_value)}%"
    else:
        markup = f"+{format_money(rule.markup_value, currency)}"
    if rule.sku_id is not None:
        scope = "SKU rule"
    elif rule.category_id is not None:
        scope = f"category {names.categories.get(rule.category_id, f'#{rule.category_id}')}"
    else:
        scope = "default rule"
    if rule.tier_id is not None:
        scope += f", tier {names.tiers.get(rule.tier_id, f'#{rule.tier_id}')}"
    return f"{markup} ({scope}), {_rounding_text(rule.rounding, currency)}"


@dataclass(frozen=True)
class PriceChain:
    """The chain of sites from the root (first) to the site being priced (last)."""

    sites: tuple[ChainSite, ...]
    names: Names = field(default_factory=Names)

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("a price chain needs at least the root site")

    @property
    def site(self) -> ChainSite:
        return self.sites[-1]

    def cost(self, sku: SkuFacts, steps: list[ExplanationStep] | None = None) -> Decimal:
        """What the last site pays its parent (HQ for a root) for one unit."""
        currency = sku.currency
        # HQ's price is never rounded down (¥0.40 HQ price on a JPY SKU is ¥1, not free).
        amount = money_round(sku.hq_price, currency=currency, floor=sku.hq_price)
        if steps is not None:
            root = self.sites[0]
            steps.append(
                ExplanationStep(
                    StepCode.HQ_PRICE, f"HQ price for tier {root.tier.name}", amount, site="hq"
                )
            )
        sku_id, categories = sku.sku_id, sku.categories
        for book, tier_id, who, site in self._links:
            rule = book.best(sku_id=sku_id, categories=categories, tier_id=tier_id)
            if rule is None and steps is None:
                continue  # markup 0: the child buys at the parent's cost
            amount = self._markup(
                amount,
                rule,
                sku,
                steps,
                code=StepCode.WHOLESALE,
                who=who,
                site=site,
                missing="no wholesale rule, at cost",
            )
        return amount

    def costs(self, sku: SkuFacts) -> tuple[Decimal, ...]:
        """What each site of the chain pays its parent for one unit, root first (the last is
        `cost`): the unit costs settlement splits a sale by."""
        amount = money_round(sku.hq_price, currency=sku.currency, floor=sku.hq_price)
        costs = [amount]
        sku_id, categories = sku.sku_id, sku.categories
        for book, tier_id, who, site in self._links:
            rule = book.best(sku_id=sku_id, categories=categories, tier_id=tier_id)
            if rule is not None:
                amount = self._markup(
                    amount, rule, sku, None, code=StepCode.WHOLESALE, who=who, site=site, missing=""
                )
            costs.append(amount)
        return tuple(costs)

    @cached_property
    def _links(self) -> tuple[tuple[RuleBook, int, str, str], ...]:
        """For each parent and child: the parent's wholesale rules, the child's tier, and the
        step's label and site (made once per chain, not once per SKU)."""
        return tuple(
            (
                parent.rules.wholesale,
                child.tier.id,
                f"{parent.slug} → {child.slug} (tier {child.tier.name})",
                parent.slug,
            )
            for parent, child in pairwise(self.sites)
        )

    def wholesale(
        self, sku: SkuFacts, tier: Tier, steps: list[ExplanationStep] | None = None
    ) -> Decimal:
        """What the last site charges a child site of `tier` for one unit."""
        cost = self.cost(sku, steps)
        rule = self.site.rules.wholesale.best(
            sku_id=sku.sku_id, categories=sku.categories, tier_id=tier.id
        )
        return self._markup(
            cost,
            rule,
            sku,
            steps,
            code=StepCode.WHOLESALE,
            who=f"{self.site.slug} → tier {tier.name}",
            site=self.site.slug,
            missing="no wholesale rule, at cost",
        )

    def quote(
        self,
        sku: SkuFacts,
        *,
        member: MemberTerms | None = None,
        quantity: int = 1,
        steps: list[ExplanationStep] | None = None,
    ) -> SkuPrice:
        """Cost, retail and the unit price this buyer pays, on the last site of the chain."""
        if steps is None:
            return self._quote(sku, member, quantity)
        currency = sku.currency
        site = self.site
        cost = self.cost(sku, steps)
        rule = site.rules.retail.best(sku_id=sku.sku_id, categories=sku.categories)
        retail = self._markup(
            cost,
            rule,
            sku,
            steps,
            code=StepCode.RETAIL,
            who=f"{site.slug} retail",
            site=site.slug,
            missing="no retail rule, selling at cost",
        )
        price = retail
        if member is not None:
            price = self._member_price(price, member, sku, steps)
        brk = site.rules.quantity.best(
            sku_id=sku.sku_id, categories=sku.categories, quantity=quantity
        )
        if brk is not None:
            unrounded = price * (HUNDRED - brk.discount_percent) / HUNDRED
            price = money_round(unrounded, currency=currency)
            if steps is not None:
                scope = {"sku": "SKU", "category": "category", "default": "default"}
                steps.append(
                    ExplanationStep(
                        StepCode.QUANTITY_TIER,
                        f"Quantity ≥ {brk.min_quantity}: -{_plain(brk.discount_percent)}% "
                        f"({scope[brk.scope_key[0]]} tier)",
                        price,
                        unrounded=unrounded,
                        rounding=Rounding.NONE,
                        site=site.slug,
                    )
                )
        if price < cost:
            price = cost
            if steps is not None:
                steps.append(
                    ExplanationStep(
                        StepCode.CLAMP,
                        f"Clamped at cost {format_money(cost, currency)}",
                        price,
                        site=site.slug,
                    )
                )
        return SkuPrice(cost=cost, retail=retail, price=price, currency=currency)

    def quote_many(
        self,
        skus: Iterable[SkuFacts],
        *,
        member: MemberTerms | None = None,
        quantity: int = 1,
        memo: dict[tuple[Any, ...], SkuPrice] | None = None,
    ) -> dict[int, SkuPrice]:
        """`quote` for many SKUs, by SKU id in the order given: the same prices, each distinct
        computation done once. A SKU that no rule or quantity tier of the chain names by its id
        is priced from its HQ price, currency, category chain and member fixed price alone, so
        SKUs that share those share one computation (a page of cards in a few denominations has
        few). Every amount comes out of `money_round` in the currency's exponent, so two HQ
        prices equal in value (10.0, 10.00) give the same result.

        `memo` keeps those computations between calls; it must only ever be given for this same
        chain (the same sites, tiers and rule sets) and the same member discount and quantity
        (`tenants.pricing.selectors` keys it so)."""
        named = self._sku_ids_named
        fixed = member.fixed_prices if member is not None else {}
        done: dict[tuple[Any, ...], SkuPrice] = memo if memo is not None else {}
        prices: dict[int, SkuPrice] = {}
        for sku in skus:
            sku_id = sku.sku_id
            key = (
                sku.hq_price,
                sku.currency,
                sku.categories,
                fixed.get(sku_id),
                sku_id if sku_id in named else None,
            )
            price = done.get(key)
            if price is None:
                price = done[key] = self._quote(sku, member, quantity)
            prices[sku_id] = price
        return prices

    @cached_property
    def _sku_ids_named(self) -> frozenset[int]:
        """The SKU ids that a wholesale rule of the chain, or a retail rule or quantity tier of
        the last site, is scoped to: only for these does the id itself change a price."""
        books = [link[0] for link in self._links] + [self.site.rules.retail]
        ids: set[int | None] = {sku_id for book in books for sku_id, _ in book.by_sku}
        ids.update(key[1] for key in self.site.rules.quantity.by_scope if key[0] == "sku")
        return frozenset(i for i in ids if i is not None)

    def _quote(self, sku: SkuFacts, member: MemberTerms | None, quantity: int) -> SkuPrice:
        """`quote` without an explanation: the same steps, without recording them."""
        currency, sku_id, categories = sku.currency, sku.sku_id, sku.categories
        cost = money_round(sku.hq_price, currency=currency, floor=sku.hq_price)
        for book, tier_id, _, _ in self._links:
            rule = book.best(sku_id=sku_id, categories=categories, tier_id=tier_id)
            if rule is not None:
                cost = rule.apply(cost, currency)[1]
        rules = self.site.rules
        rule = rules.retail.best(sku_id=sku_id, categories=categories)
        retail = cost if rule is None else rule.apply(cost, currency)[1]
        price = retail if member is None else self._member_price(retail, member, sku, None)
        brk = rules.quantity.best(sku_id=sku_id, categories=categories, quantity=quantity)
        if brk is not None:
            price = money_round(
                price * (HUNDRED - brk.discount_percent) / HUNDRED, currency=currency
            )
        return SkuPrice(cost=cost, retail=retail, price=max(price, cost), currency=currency)

    def _member_price(
        self,
        retail: Decimal,
        member: MemberTerms,
        sku: SkuFacts,
        steps: list[ExplanationStep] | None,
    ) -> Decimal:
        currency = sku.currency
        fixed = member.fixed_prices.get(sku.sku_id)
        unrounded: Decimal | None = None
        if fixed is not None:
            price = money_round(fixed, currency=currency)
        elif member.discount_percent:
            unrounded = retail * (HUNDRED - member.discount_percent) / HUNDRED
            price = money_round(unrounded, currency=currency)
        else:
            price = retail
        if steps is not None:
            if fixed is not None:
                label = f"fixed price {format_money(price, currency)}"
            elif unrounded is not None:
                label = f"-{_plain(member.discount_percent)}%"
            else:
                label = "no discount"
            steps.append(
                ExplanationStep(
                    StepCode.MEMBER_LEVEL,
                    f"Member level {member.name}: {label}",
                    price,
                    unrounded=unrounded,
                    rounding=Rounding.NONE if unrounded is not None else "",
                    site=self.site.slug,
                )
            )
        return price

    def _markup(
        self,
        cost: Decimal,
        rule: Rule | None,
        sku: SkuFacts,
        steps: list[ExplanationStep] | None,
        *,
        code: str,
        who: str,
        site: str,
        missing: str,
    ) -> Decimal:
        if rule is None:
            if steps is not None:
                steps.append(ExplanationStep(code, f"{who}: {missing}", cost, site=site))
            return cost
        unrounded, amount = rule.apply(cost, sku.currency)
        if steps is not None:
            described = describe_rule(rule, currency=sku.currency, names=self.names)
            steps.append(
                ExplanationStep(
                    code,
                    f"{who}: {described}",
                    amount,
                    unrounded=unrounded,
                    rounding=rule.rounding,
                    site=site,
                )
            )
        return amount
