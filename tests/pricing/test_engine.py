"""The pure price engine: exact rounding cases, and properties over random trees of sites."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.pricing.engine import (
    ChainSite,
    ExplanationStep,
    MemberTerms,
    PriceChain,
    QuantityBreak,
    QuantitySchedule,
    Rule,
    RuleBook,
    SiteRules,
    SkuFacts,
    SkuPrice,
    StepCode,
    Tier,
    currency_exponent,
    format_money,
    money_round,
    rounding_step,
)
from tenants.pricing.models import MarkupKind, Rounding

D = Decimal

# --- The rounding helper, exactly ----------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "rounding", "expected"),
    [
        ("11.9175", "CNY", Rounding.NONE, "11.92"),
        ("12.825", "CNY", Rounding.NONE, "12.83"),  # half up, not half even
        ("12.815", "CNY", Rounding.NONE, "12.82"),
        ("12.8149", "CNY", Rounding.CENT, "12.81"),
        ("12.005", "USD", Rounding.CENT, "12.01"),
        ("11.9175", "CNY", Rounding.UP_TENTH, "12.00"),
        ("11.9000", "CNY", Rounding.UP_TENTH, "11.90"),  # already a multiple: unchanged
        ("11.9001", "CNY", Rounding.UP_TENTH, "12.00"),
        ("14.832", "CNY", Rounding.UP_UNIT, "15.00"),
        ("15", "CNY", Rounding.UP_UNIT, "15.00"),
        ("15.0001", "EUR", Rounding.UP_UNIT, "16.00"),
        ("1156.05", "JPY", Rounding.NONE, "1156"),
        ("1156.5", "JPY", Rounding.NONE, "1157"),
        ("1156.5", "JPY", Rounding.CENT, "1157"),  # 0.01 is finer than a yen: half up to 1
        ("1156.05", "JPY", Rounding.UP_TENTH, "1157"),  # up, to the yen
        ("1390.8", "KRW", Rounding.UP_UNIT, "1391"),
        ("7.125", "XYZ", Rounding.NONE, "7.13"),  # unknown currency: two places
    ],
)
def test_money_round(amount: str, currency: str, rounding: str, expected: str) -> None:
    result = money_round(D(amount), currency=currency, rounding=rounding)
    assert result == D(expected)
    assert str(result) == expected  # the currency's exponent, not just an equal value


def test_money_round_never_goes_below_the_floor() -> None:
    assert money_round(D("9.994"), currency="CNY", floor=D("10.00")) == D("10.00")


def test_money_round_refuses_floats() -> None:
    with pytest.raises(TypeError, match="money must be a Decimal, not float"):
        money_round(10.5, currency="CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("12.3", "CNY", "¥12.30"), ("0.3500", "CNY", "¥0.35"), ("0.0050", "CNY", "¥0.005"),
     ("1000", "JPY", "JP¥1000"), ("5", "USD", "$5.00"), ("5", "GBP", "5.00 GBP")],
)  # fmt: skip
def test_format_money(amount: str, currency: str, expected: str) -> None:
    assert format_money(D(amount), currency) == expected


@given(
    amount=st.decimals(min_value=0, max_value=10**7, places=6),
    currency=st.sampled_from(["CNY", "USD", "EUR", "JPY", "KRW"]),
    rounding=st.sampled_from(Rounding.values),
)
def test_rounding_lands_on_its_step_in_its_direction(
    amount: Decimal, currency: str, rounding: str
) -> None:
    result = money_round(amount, currency=currency, rounding=rounding)
    _assert_rounded(result, amount, rounding, currency)


def _assert_rounded(result: Decimal, unrounded: Decimal, rounding: str, currency: str) -> None:
    step = rounding_step(rounding, currency)
    assert isinstance(result, Decimal)
    assert result.as_tuple().exponent == -currency_exponent(currency)
    assert result % step == 0
    if rounding in (Rounding.UP_TENTH, Rounding.UP_UNIT):
        assert unrounded <= result < unrounded + step
    else:  # half up
        assert abs(result - unrounded) <= step / 2
        if abs(result - unrounded) == step / 2:
            assert result > unrounded


# --- Random trees of sites -----------------------------------------------------------------

TIERS = (Tier(1, "standard", "Standard"), Tier(2, "gold", "Gold"), Tier(3, "diamond", "Diamond"))
# A fixed category tree: 1 > 2 > 3, 1 > 4, and 5 alone.
CATEGORY_PARENT: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 1, 5: None}
SKU_IDS = (101, 102, 103)
CURRENCIES = ("CNY", "USD", "EUR", "JPY", "KRW")


def _category_chain(category_id: int) -> tuple[int, ...]:
    chain: list[int] = []
    current: int | None = category_id
    while current is not None:
        chain.append(current)
        current = CATEGORY_PARENT[current]
    return tuple(chain)


@st.composite
def rules(draw: st.DrawFn, *, wholesale: bool) -> list[Rule]:
    found: list[Rule] = []
    for _ in range(draw(st.integers(0, 5))):
        markup_kind = draw(st.sampled_from(MarkupKind.values))
        top = 1000 if markup_kind == MarkupKind.PERCENT else 500
        scope = draw(st.sampled_from(["sku", "category", "default"]))
        found.append(
            Rule(
                markup_kind=markup_kind,
                markup_value=draw(st.decimals(min_value=0, max_value=top, places=4)),
                rounding=draw(st.sampled_from(Rounding.values)),
                tier_id=draw(st.sampled_from([None, *(t.id for t in TIERS)]))
                if wholesale
                else None,
                sku_id=draw(st.sampled_from(SKU_IDS)) if scope == "sku" else None,
                category_id=draw(st.sampled_from(list(CATEGORY_PARENT)))
                if scope == "category"
                else None,
            )
        )
    return found


@st.composite
def quantity_schedules(draw: st.DrawFn) -> QuantitySchedule:
    breaks = []
    for _ in range(draw(st.integers(0, 4))):
        scope = draw(st.sampled_from(["sku", "category", "default"]))
        breaks.append(
            QuantityBreak(
                min_quantity=draw(st.integers(2, 50)),
                discount_percent=draw(st.decimals(min_value="0.01", max_value="99.99", places=2)),
                sku_id=draw(st.sampled_from(SKU_IDS)) if scope == "sku" else None,
                category_id=draw(st.sampled_from(list(CATEGORY_PARENT)))
                if scope == "category"
                else None,
            )
        )
    return QuantitySchedule.of(breaks)


@st.composite
def site_rules(draw: st.DrawFn) -> SiteRules:
    return SiteRules(
        wholesale=RuleBook.of(draw(rules(wholesale=True))),
        retail=RuleBook.of(draw(rules(wholesale=False))),
        quantity=draw(quantity_schedules()),
    )


@dataclass(frozen=True)
class Tree:
    sites: list[ChainSite]
    parents: list[int | None]  # index of each site's parent

    def chain(self, index: int) -> PriceChain:
        path: list[ChainSite] = []
        current: int | None = index
        while current is not None:
            path.append(self.sites[current])
            current = self.parents[current]
        return PriceChain(tuple(reversed(path)))

    def depth(self, index: int) -> int:
        return len(self.chain(index).sites)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    """A spine of depth 1-6 (so every depth is reached) plus up to three more sites."""
    spine = draw(st.integers(1, 6))
    parents: list[int | None] = [None, *range(spine - 1)]
    depths = list(range(1, spine + 1))
    for _ in range(draw(st.integers(0, 3))):
        options = [None, *(i for i, d in enumerate(depths) if d < 6)]
        parent = draw(st.sampled_from(options))
        parents.append(parent)
        depths.append(1 if parent is None else depths[parent] + 1)
    sites = [
        ChainSite(
            site_id=i + 1,
            slug=f"s{i + 1}",
            tier=draw(st.sampled_from(TIERS)),
            rules=draw(site_rules()),
        )
        for i in range(len(parents))
    ]
    return Tree(sites, parents)


@st.composite
def catalogue(draw: st.DrawFn) -> dict[int, dict[int, SkuFacts]]:
    """For each tier, HQ's facts about every SKU (prices differ per tier, as TierPrice does)."""
    currencies = {sku_id: draw(st.sampled_from(CURRENCIES)) for sku_id in SKU_IDS}
    categories = {sku_id: draw(st.sampled_from(list(CATEGORY_PARENT))) for sku_id in SKU_IDS}
    return {
        tier.id: {
            sku_id: SkuFacts(
                sku_id=sku_id,
                code=f"sku-{sku_id}",
                currency=currencies[sku_id],
                hq_price=draw(st.decimals(min_value="0.01", max_value=100000, places=2)),
                categories=_category_chain(categories[sku_id]),
            )
            for sku_id in SKU_IDS
        }
        for tier in TIERS
    }


@st.composite
def members(draw: st.DrawFn) -> MemberTerms | None:
    if draw(st.booleans()):
        return None
    fixed = draw(
        st.dictionaries(
            st.sampled_from(SKU_IDS),
            st.decimals(min_value="0.01", max_value=100000, places=2),
            max_size=2,
        )
    )
    return MemberTerms(
        level_id=1,
        name="Level",
        discount_percent=draw(st.decimals(min_value=0, max_value="99.99", places=2)),
        fixed_prices=fixed,
    )


def _assert_money(amount: Decimal, currency: str) -> None:
    assert isinstance(amount, Decimal)
    assert amount.as_tuple().exponent == -currency_exponent(currency)
    assert amount >= 0


def _assert_step_rounded(step: ExplanationStep, currency: str) -> None:
    _assert_money(step.amount, currency)
    if step.unrounded is not None:
        _assert_rounded(step.amount, step.unrounded, step.rounding, currency)


@settings(max_examples=200, deadline=None)
@given(tree=trees(), hq=catalogue(), member=members(), quantity=st.integers(1, 60))
def test_prices_hold_their_invariants_on_any_tree(
    tree: Tree, hq: dict[int, dict[int, SkuFacts]], member: MemberTerms | None, quantity: int
) -> None:
    for index in range(len(tree.sites)):
        chain = tree.chain(index)
        assert 1 <= len(chain.sites) <= 6
        for sku in hq[chain.sites[0].tier.id].values():
            steps: list[ExplanationStep] = []
            quote = chain.quote(sku, member=member, quantity=quantity, steps=steps)
            # Never below cost, whoever buys.
            assert quote.retail >= quote.cost
            assert quote.price >= quote.cost
            # Decimal in the currency's exponent, every amount on the way rounded as configured.
            for amount in (quote.cost, quote.retail, quote.price):
                _assert_money(amount, sku.currency)
                assert amount > 0
            for step in steps:
                _assert_step_rounded(step, sku.currency)
            # The explanation is the computation: same price, one step per site and stage.
            assert steps[-1].amount == quote.price
            assert quote == chain.quote(sku, member=member, quantity=quantity)
            assert [s.code for s in steps[: len(chain.sites)]] == [StepCode.HQ_PRICE] + [
                StepCode.WHOLESALE
            ] * (len(chain.sites) - 1)
            assert steps[len(chain.sites)].code == StepCode.RETAIL
            # "Clamped at cost" is said exactly when the price before it was below cost.
            codes = [s.code for s in steps]
            if codes[-1] == StepCode.CLAMP:
                assert steps[-2].amount < quote.cost == quote.price
            assert StepCode.CLAMP not in codes[:-1]


@settings(max_examples=120, deadline=None)
@given(tree=trees(), hq=catalogue())
def test_every_margin_is_non_negative_and_shares_sum_to_the_price(
    tree: Tree, hq: dict[int, dict[int, SkuFacts]]
) -> None:
    for index in range(len(tree.sites)):
        chain = tree.chain(index)
        for sku in hq[chain.sites[0].tier.id].values():
            costs = [PriceChain(chain.sites[: n + 1]).cost(sku) for n in range(len(chain.sites))]
            margins = [child - parent for parent, child in pairwise(costs)]
            assert all(margin >= 0 for margin in margins)
            # What a parent charges a child of the child's tier is exactly the child's cost.
            for n in range(1, len(chain.sites)):
                parent_chain = PriceChain(chain.sites[:n])
                assert parent_chain.wholesale(sku, chain.sites[n].tier) == costs[n]
            quote = chain.quote(sku)
            site_margin = quote.price - quote.cost
            assert costs[0] >= sku.hq_price  # HQ's price is never rounded down
            assert site_margin >= 0
            assert site_margin + sum(margins, D(0)) + costs[0] == quote.price


@settings(max_examples=80, deadline=None)
@given(tree=trees(), hq=catalogue(), other=site_rules())
def test_rules_outside_a_chain_never_change_its_prices(
    tree: Tree, hq: dict[int, dict[int, SkuFacts]], other: SiteRules
) -> None:
    """A site's prices depend only on its own chain: replacing the rules of any site that is
    not on it (a sibling, a child, another tree) changes nothing."""
    for index in range(len(tree.sites)):
        chain = tree.chain(index)
        on_chain = {s.site_id for s in chain.sites}
        changed = Tree(
            [s if s.site_id in on_chain else ChainSite(s.site_id, s.slug, s.tier, other)
             for s in tree.sites],
            tree.parents,
        )  # fmt: skip
        for sku in hq[chain.sites[0].tier.id].values():
            assert changed.chain(index).quote(sku) == chain.quote(sku)


# SKUs 101-103 may be named by a rule, a quantity tier or a fixed price; 104-112 only by a
# fixed price. HQ prices are drawn from a few values, some equal in value but not in digits,
# so many SKUs share an HQ price, a currency and a category, as a page of cards does.
SHELF_SKU_IDS = tuple(range(101, 113))
SHELF_PRICES = (D("9.20"), D("9.2"), D("45"), D("45.00"), D("0.01"), D("1234.5"), D("0.405"))


@st.composite
def shelves(draw: st.DrawFn) -> list[SkuFacts]:
    return [
        SkuFacts(
            sku_id=sku_id,
            code=f"sku-{sku_id}",
            currency=draw(st.sampled_from(("CNY", "JPY"))),
            hq_price=draw(st.sampled_from(SHELF_PRICES)),
            categories=_category_chain(draw(st.sampled_from([3, 4, 5]))),
        )
        for sku_id in draw(st.permutations(SHELF_SKU_IDS))
    ]


@settings(max_examples=150, deadline=None)
@given(
    tree=trees(),
    skus=shelves(),
    member=st.one_of(
        st.none(),
        st.builds(
            MemberTerms,
            level_id=st.just(1),
            name=st.just("Level"),
            discount_percent=st.sampled_from([D(0), D("5"), D("12.5")]),
            fixed_prices=st.dictionaries(
                st.sampled_from(SHELF_SKU_IDS), st.sampled_from(SHELF_PRICES), max_size=4
            ),
        ),
    ),
    quantity=st.integers(1, 60),
)
def test_quote_many_gives_each_sku_its_own_quote(
    tree: Tree, skus: list[SkuFacts], member: MemberTerms | None, quantity: int
) -> None:
    """The batch that pages use shares computations between SKUs: it must give exactly the
    explained computation's price for every SKU, digits included, in the order asked."""
    for index in range(len(tree.sites)):
        chain = tree.chain(index)
        many = chain.quote_many(skus, member=member, quantity=quantity)
        assert list(many) == [sku.sku_id for sku in skus]
        for sku in skus:
            explained = chain.quote(sku, member=member, quantity=quantity, steps=[])
            got = many[sku.sku_id]
            assert got == explained
            assert [a.as_tuple() for a in (got.cost, got.retail, got.price)] == [
                a.as_tuple() for a in (explained.cost, explained.retail, explained.price)
            ]
        # A memo kept between calls for the same chain, member and quantity changes nothing.
        memo: dict[tuple[object, ...], SkuPrice] = {}
        first = chain.quote_many(skus[::2], member=member, quantity=quantity, memo=memo)
        again = chain.quote_many(skus[::-1], member=member, quantity=quantity, memo=memo)
        assert first == {s.sku_id: many[s.sku_id] for s in skus[::2]}
        assert again == {s.sku_id: many[s.sku_id] for s in skus[::-1]}


# --- Rule matching, exactly ----------------------------------------------------------------


def _rule(value: str, **scope: int | None) -> Rule:
    return Rule(MarkupKind.FIXED, D(value), Rounding.NONE, **scope)


def test_most_specific_rule_wins_and_a_tier_rule_wins_within_a_scope() -> None:
    book = RuleBook.of(
        [
            _rule("1"),
            _rule("2", tier_id=2),
            _rule("3", category_id=1),
            _rule("4", category_id=2),
            _rule("5", category_id=2, tier_id=2),
            _rule("6", sku_id=101),
        ]
    )
    pick = book.best
    assert pick(sku_id=101, categories=(2, 1), tier_id=2) == _rule("6", sku_id=101)
    assert pick(sku_id=102, categories=(2, 1), tier_id=2) == _rule("5", category_id=2, tier_id=2)
    assert pick(sku_id=102, categories=(2, 1), tier_id=1) == _rule("4", category_id=2)
    assert pick(sku_id=102, categories=(3, 1), tier_id=2) == _rule("3", category_id=1)
    assert pick(sku_id=102, categories=(5,), tier_id=2) == _rule("2", tier_id=2)
    assert pick(sku_id=102, categories=(5,), tier_id=1) == _rule("1")
    assert RuleBook().best(sku_id=101, categories=(1,)) is None


def test_quantity_tier_most_specific_applicable_scope_then_highest_threshold() -> None:
    schedule = QuantitySchedule.of(
        [
            QuantityBreak(5, D("2")),
            QuantityBreak(50, D("9")),
            QuantityBreak(10, D("4"), category_id=1),
            QuantityBreak(20, D("6"), category_id=1),
            QuantityBreak(100, D("8"), sku_id=101),
        ]
    )
    best = schedule.best
    assert best(sku_id=101, categories=(1,), quantity=1) is None
    assert best(sku_id=101, categories=(1,), quantity=4) is None
    assert best(sku_id=101, categories=(1,), quantity=5) == QuantityBreak(5, D("2"))
    assert best(sku_id=101, categories=(1,), quantity=25) == QuantityBreak(
        20, D("6"), category_id=1
    )
    assert best(sku_id=101, categories=(1,), quantity=100) == QuantityBreak(100, D("8"), sku_id=101)
    assert best(sku_id=102, categories=(5,), quantity=60) == QuantityBreak(50, D("9"))


def test_percent_markup_rounding_surprise_is_resolved_once_at_each_site() -> None:
    """+7% on ¥9.99 is ¥10.6893: each rounding mode gives one documented answer."""
    cost = D("9.99")
    results = {
        rounding: Rule(MarkupKind.PERCENT, D("7"), rounding).apply(cost, "CNY")
        for rounding in Rounding.values
    }
    assert results == {
        Rounding.NONE: (D("10.6893"), D("10.69")),
        Rounding.CENT: (D("10.6893"), D("10.69")),
        Rounding.UP_TENTH: (D("10.6893"), D("10.70")),
        Rounding.UP_UNIT: (D("10.6893"), D("11.00")),
    }
    assert D("10.6893").quantize(D("0.01"), rounding=ROUND_HALF_UP) == D("10.69")
