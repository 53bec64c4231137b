"""The demo network's supply side: suppliers, a catalogue of about fifty products, HQ price
tiers, and card keys. Used by `demo_seed`; every write goes through the services."""

from __future__ import annotations

import secrets
import string
from decimal import Decimal

# (category, [(product name, tags, [(sku code, sku name, face value, delivery kind)])])
# Delivery kinds: k = card key, r = reusable key, t = direct top-up, m = manual.
CATALOGUE: list[tuple[str, list[tuple[str, list[str], list[tuple[str, str, str, str]]]]]] = [
    (
        "游戏点卡",
        [
            (
                "Steam 钱包充值卡",
                ["Steam", "热门"],
                [
                    ("steam-50", "¥50", "50", "k"),
                    ("steam-100", "¥100", "100", "k"),
                    ("steam-200", "¥200", "200", "k"),
                ],
            ),
            (
                "PlayStation Network 礼品卡 (港服)",
                ["PSN"],
                [("psn-hk-100", "HK$100", "88", "k"), ("psn-hk-200", "HK$200", "176", "k")],
            ),
            (
                "Xbox 礼品卡 (美服)",
                ["Xbox"],
                [("xbox-us-25", "US$25", "180", "k"), ("xbox-us-50", "US$50", "360", "k")],
            ),
            (
                "Nintendo eShop 点卡 (日服)",
                ["Switch"],
                [
                    ("eshop-jp-3000", "¥3000 円", "150", "k"),
                    ("eshop-jp-5000", "¥5000 円", "250", "k"),
                ],
            ),
            (
                "王者荣耀 点券",
                ["腾讯", "手游", "热门"],
                [
                    ("wzry-60", "60 点券", "6", "t"),
                    ("wzry-300", "300 点券", "30", "t"),
                    ("wzry-680", "680 点券", "68", "t"),
                ],
            ),
            (
                "原神 创世结晶",
                ["米哈游", "手游"],
                [
                    ("ys-60", "60 结晶", "6", "t"),
                    ("ys-300", "300+30 结晶", "30", "t"),
                    ("ys-6480", "6480+1600 结晶", "648", "t"),
                ],
            ),
            (
                "英雄联盟 点券",
                ["腾讯", "端游"],
                [("lol-100", "100 元点券", "100", "t"), ("lol-200", "200 元点券", "200", "t")],
            ),
            (
                "网易一卡通",
                ["网易"],
                [("netease-50", "50 元", "50", "k"), ("netease-100", "100 元", "100", "k")],
            ),
            (
                "腾讯 Q 币",
                ["腾讯", "热门"],
                [
                    ("qb-10", "10 Q币", "10", "t"),
                    ("qb-50", "50 Q币", "50", "t"),
                    ("qb-100", "100 Q币", "100", "t"),
                ],
            ),
            (
                "和平精英 点券",
                ["腾讯", "手游"],
                [("hpjy-60", "60 点券", "6", "t"), ("hpjy-300", "300 点券", "30", "t")],
            ),
            ("魔兽世界 时间卡", ["暴雪"], [("wow-30d", "30 天", "75", "k")]),
            ("完美世界 点卡", ["完美"], [("wanmei-50", "50 元", "50", "k")]),
            ("Roblox 礼品卡", ["Roblox"], [("roblox-10", "US$10", "72", "k")]),
            (
                "Apple 礼品卡 (中国)",
                ["Apple", "热门"],
                [("apple-cn-100", "¥100", "100", "k"), ("apple-cn-500", "¥500", "500", "k")],
            ),
            (
                "Google Play 礼品卡 (美区)",
                ["Google"],
                [("gplay-us-10", "US$10", "72", "k"), ("gplay-us-25", "US$25", "180", "k")],
            ),
        ],
    ),
    (
        "话费充值",
        [
            (
                "中国移动 话费直充",
                ["话费", "移动"],
                [
                    ("cmcc-30", "30 元", "30", "t"),
                    ("cmcc-50", "50 元", "50", "t"),
                    ("cmcc-100", "100 元", "100", "t"),
                ],
            ),
            (
                "中国联通 话费直充",
                ["话费", "联通"],
                [
                    ("cucc-30", "30 元", "30", "t"),
                    ("cucc-50", "50 元", "50", "t"),
                    ("cucc-100", "100 元", "100", "t"),
                ],
            ),
            (
                "中国电信 话费直充",
                ["话费", "电信"],
                [
                    ("ctcc-30", "30 元", "30", "t"),
                    ("ctcc-50", "50 元", "50", "t"),
                    ("ctcc-100", "100 元", "100", "t"),
                ],
            ),
            (
                "全国流量包",
                ["流量"],
                [("data-1g", "1 GB 月包", "10", "t"), ("data-5g", "5 GB 月包", "30", "t")],
            ),
            ("国际话费 (香港 CSL)", ["话费", "香港"], [("csl-100", "HK$100", "88", "k")]),
        ],
    ),
    (
        "视频会员",
        [
            (
                "爱奇艺 黄金VIP",
                ["视频", "热门"],
                [
                    ("iqiyi-1m", "月卡", "25", "k"),
                    ("iqiyi-3m", "季卡", "68", "k"),
                    ("iqiyi-12m", "年卡", "218", "k"),
                ],
            ),
            (
                "腾讯视频 VIP",
                ["视频", "腾讯"],
                [("txsp-1m", "月卡", "25", "k"), ("txsp-12m", "年卡", "218", "k")],
            ),
            (
                "优酷 VIP",
                ["视频"],
                [("youku-1m", "月卡", "25", "k"), ("youku-12m", "年卡", "198", "k")],
            ),
            ("芒果TV 会员", ["视频"], [("mgtv-1m", "月卡", "22", "k")]),
            (
                "哔哩哔哩 大会员",
                ["视频", "B站"],
                [("bili-1m", "月卡", "25", "k"), ("bili-12m", "年卡", "168", "k")],
            ),
            (
                "网易云音乐 黑胶VIP",
                ["音乐"],
                [("ncm-1m", "月卡", "15", "k"), ("ncm-12m", "年卡", "158", "k")],
            ),
            ("QQ音乐 豪华绿钻", ["音乐", "腾讯"], [("qqmusic-1m", "月卡", "18", "t")]),
            ("Spotify Premium 礼品卡", ["音乐"], [("spotify-3m", "3 个月", "180", "k")]),
            ("Netflix 礼品卡 (美区)", ["视频"], [("netflix-us-30", "US$30", "216", "k")]),
            ("喜马拉雅 VIP", ["有声书"], [("ximalaya-1m", "月卡", "18", "k")]),
            (
                "百度网盘 超级会员",
                ["网盘"],
                [("baidupan-1m", "月卡", "30", "k"), ("baidupan-12m", "年卡", "298", "k")],
            ),
            ("京东 PLUS 会员", ["购物"], [("jdplus-12m", "年卡", "99", "k")]),
        ],
    ),
    (
        "软件授权",
        [
            ("Windows 11 专业版", ["微软", "系统"], [("win11-pro", "零售激活码", "1399", "k")]),
            (
                "Office 2021 专业增强版",
                ["微软", "办公"],
                [("office-2021", "永久激活码", "999", "k")],
            ),
            ("Microsoft 365 个人版", ["微软", "办公"], [("m365-personal", "1 年", "398", "k")]),
            ("WPS 超级会员", ["办公"], [("wps-12m", "年卡", "179", "k")]),
            ("JetBrains All Products Pack", ["开发"], [("jetbrains-all", "1 年", "1950", "m")]),
            ("卡巴斯基 安全软件", ["安全"], [("kaspersky-1y", "1 年 1 设备", "168", "k")]),
            ("Adobe Creative Cloud 摄影计划", ["设计"], [("adobe-photo", "1 年", "888", "m")]),
            ("XMind 思维导图", ["办公"], [("xmind-1y", "1 年", "299", "k")]),
            ("Parallels Desktop 标准版", ["Mac"], [("parallels-std", "1 年", "498", "k")]),
            ("迅雷 超级会员", ["下载"], [("xunlei-1m", "月卡", "30", "k")]),
            ("WinRAR 软件下载码", ["工具"], [("winrar-dl", "下载兑换码 (共享)", "5", "r")]),
            ("VPN 加速器", ["网络"], [("speedup-1m", "月卡", "30", "k")]),
        ],
    ),
    (
        "学习教育",
        [
            ("网易有道词典 VIP", ["学习"], [("youdao-12m", "年卡", "98", "k")]),
            ("得到 App 电子书会员", ["学习"], [("dedao-12m", "年卡", "365", "k")]),
            ("扇贝单词 VIP", ["学习"], [("shanbay-12m", "年卡", "168", "k")]),
            ("知乎 盐选会员", ["阅读"], [("zhihu-12m", "年卡", "198", "k")]),
        ],
    ),
]

TOPUP_FIELDS = {
    "话费充值": [{"name": "phone", "label": "手机号码", "kind": "phone"}],
    "default": [
        {"name": "account", "label": "游戏账号 / QQ", "kind": "text", "max_length": 32},
        {
            "name": "server",
            "label": "区服",
            "kind": "choice",
            "choices": ["安卓QQ", "安卓微信", "苹果QQ", "苹果微信"],
        },
    ],
}

# HQ price tiers and their discount off face value (what a main site pays HQ).
TIERS = [("standard", "标准", 0, Decimal("0.97")), ("gold", "黄金", 1, Decimal("0.95")),
         ("diamond", "钻石", 2, Decimal("0.93"))]  # fmt: skip
SUPPLIER_COST = Decimal("0.90")  # of face value


def random_key(length: int = 16) -> str:
    alphabet = string.ascii_uppercase + string.digits
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(length // 4)]
    return "-".join(groups)


def random_pair() -> str:
    number = "".join(secrets.choice(string.digits) for _ in range(16))
    password = "".join(secrets.choice(string.digits) for _ in range(8))
    return f"{number} {password}"


KIND_CODES = {"k": "card_key", "r": "reusable_key", "t": "direct_topup", "m": "manual"}
PINNED = {"Steam 钱包充值卡", "王者荣耀 点券", "爱奇艺 黄金VIP", "中国移动 话费直充"}
KEYS_PER_SKU = 60
LOW_STOCK_SKUS = {"wow-30d": 3, "jdplus-12m": 0}  # shown as "low" and "sold out"


def demo_catalog_seed(*, actor_email: str) -> int:
    """Create suppliers, tiers, the catalogue and card keys; returns the number of keys."""
    from shared.catalog.models import PriceTier
    from shared.catalog.services import (
        category_create,
        price_tier_create,
        product_create,
        sku_create,
        tier_price_set,
    )
    from shared.suppliers.services import supplier_create, supplier_offer_set
    from shared.vault.models import ImportSource
    from shared.vault.services import card_keys_import

    stock = supplier_create(name="华南卡源", kind="card_stock", contact_name="陈经理")
    topup = supplier_create(
        name="星河直充", kind="api_topup", api_base_url="http://127.0.0.1:8765/api"
    )
    manual = supplier_create(name="人工代充", kind="manual", contact_name="客服组")
    tiers = [price_tier_create(code=c, name=n, rank=r) for c, n, r, _ in TIERS]
    factors = {t.code: f for t, (_, _, _, f) in zip(tiers, TIERS, strict=True)}
    keys = 0
    for sort, (category_name, products) in enumerate(CATALOGUE):
        category = category_create(name=category_name, sort_order=sort)
        for name, tags, skus in products:
            product = product_create(
                category=category,
                name=name,
                tags=tags,
                status="listed",
                is_pinned=name in PINNED,
                description=f"{name}：正规渠道货源，支付后自动发货。",
            )
            for code, sku_name, face, kind_code in skus:
                kind = KIND_CODES[kind_code]
                fields = TOPUP_FIELDS.get(category_name, TOPUP_FIELDS["default"])
                sku = sku_create(
                    product=product,
                    code=code,
                    name=sku_name,
                    face_value=face,
                    delivery_kind=kind,
                    input_fields=fields if kind == "direct_topup" else None,
                    max_quantity=1 if kind == "direct_topup" else 20,
                )
                face_value = Decimal(face)
                for tier in PriceTier.objects.filter(pk__in=[t.pk for t in tiers]):
                    price = (face_value * factors[tier.code]).quantize(Decimal("0.01"))
                    tier_price_set(tier=tier, sku=sku, price=max(price, Decimal("0.01")))
                supplier = {"card_key": stock, "reusable_key": stock, "direct_topup": topup}.get(
                    kind, manual
                )
                cost = max((face_value * SUPPLIER_COST).quantize(Decimal("0.01")), Decimal("0.01"))
                supplier_offer_set(supplier=supplier, sku=sku, cost=cost, priority=10)
                if kind in ("card_key", "reusable_key"):
                    count = 1 if kind == "reusable_key" else LOW_STOCK_SKUS.get(code, KEYS_PER_SKU)
                    if count:
                        make = random_pair if "点卡" in name or "一卡通" in name else random_key
                        card_keys_import(
                            sku=sku,
                            content="\n".join(make() for _ in range(count)),
                            source=ImportSource.PASTE,
                            actor_email=actor_email,
                            supplier=stock,
                        )
                        keys += count
    return keys


# The two direct top-up suppliers of the demo, served by the local supplier simulators that
# `make demo` starts: (name, protocol, port setting, priority, cost as a share of face value).
TOPUP_SUPPLIERS = [
    ("星河直充", "kameng", "SUPPLIER_SIMULATOR_KAMENG_PORT", 10, Decimal("0.90")),
    ("云海卡盟", "classic", "SUPPLIER_SIMULATOR_CLASSIC_PORT", 20, Decimal("0.88")),
]


def demo_topup_suppliers_seed() -> list[str]:
    """Point the demo's API suppliers at the simulators (idempotent: run on every seed) and
    offer every direct top-up SKU through both; returns their base URLs."""
    from django.conf import settings

    from shared.catalog.models import DeliveryKind, Sku
    from shared.suppliers.models import Supplier
    from shared.suppliers.services import supplier_create, supplier_offer_set, supplier_update
    from shared.suppliers.simulator.demo import demo_key_id
    from shared.suppliers.simulator.server import BASE_PATHS
    from shared.vault.services import supplier_secret_set

    urls = []
    for name, protocol, port_setting, priority, cost_share in TOPUP_SUPPLIERS:
        port = getattr(settings, port_setting)
        url = f"http://{settings.SUPPLIER_SIMULATOR_HOST}:{port}{BASE_PATHS[protocol]}"
        fields = {"api_base_url": url, "api_key_id": demo_key_id(protocol),
                  "api_protocol": protocol, "notes": "本地供货模拟器 (make demo)"}  # fmt: skip
        supplier = Supplier.objects.filter(name=name).first()
        if supplier is None:
            supplier = supplier_create(name=name, kind="api_topup", **fields)
        else:
            supplier = supplier_update(supplier=supplier, **fields)
        supplier_secret_set(supplier=supplier, secret=settings.SUPPLIER_SIMULATOR_SECRET)
        for sku in Sku.objects.filter(delivery_kind=DeliveryKind.DIRECT_TOPUP):
            cost = max((sku.face_value * cost_share).quantize(Decimal("0.01")), Decimal("0.01"))
            supplier_offer_set(supplier=supplier, sku=sku, cost=cost, priority=priority)
        urls.append(f"{name} ({protocol}) {url}")
    return urls


# Each site's prices, so they differ visibly down the tree:
# slug: (tier, wholesale [(tier or None, kind, value, rounding)], retail (kind, value, rounding))
SITE_PRICING = {
    "main": ("gold", [(None, "percent", "4", "up_tenth"), ("gold", "percent", "2.5", "cent")],
             ("percent", "8", "up_tenth")),
    "shop1": ("standard", [(None, "percent", "3", "cent")], ("percent", "10", "up_tenth")),
    "shop2": ("gold", [], ("fixed", "1.50", "up_unit")),
    "vip": ("standard", [], ("percent", "5", "up_tenth")),
}  # fmt: skip


def demo_site_pricing_seed(*, site: object, member_email: str) -> None:
    """Tier, wholesale and retail rules, member levels and presentation for one demo site."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context

    from shared.catalog.models import Category, PriceTier, Product
    from shared.sites.models import Site
    from tenants.pricing.services import (
        child_site_tier_set,
        member_level_assign,
        member_level_create,
        price_rule_set,
        product_override_set,
        quantity_tier_set,
    )

    assert isinstance(site, Site)
    tier_code, wholesale, retail = SITE_PRICING[site.slug]
    tier = PriceTier.objects.get(code=tier_code)
    if site.parent is None:
        Site.objects.filter(pk=site.pk).update(price_tier=tier)
    else:
        child_site_tier_set(parent=site.parent, child=site, tier=tier)
    with tenant_context(site):
        for rule_tier, kind, value, rounding in wholesale:
            price_rule_set(
                kind="wholesale",
                markup_kind=kind,
                markup_value=Decimal(value),
                rounding=rounding,
                tier=PriceTier.objects.get(code=rule_tier) if rule_tier else None,
            )
        kind, value, rounding = retail
        price_rule_set(
            kind="retail", markup_kind=kind, markup_value=Decimal(value), rounding=rounding
        )
        if site.slug == "shop1":
            videos = Category.objects.get(name="视频会员")
            price_rule_set(
                kind="retail",
                markup_kind="fixed",
                markup_value=Decimal("2.00"),
                rounding="none",
                category=videos,
            )
        if site.slug in ("main", "shop1"):
            member_level_create(code="normal", name="普通会员", is_default=True)
            gold = member_level_create(
                code="gold", name="黄金会员", discount_percent=Decimal("3"), rank=1
            )
            member_level_create(
                code="diamond", name="钻石会员", discount_percent=Decimal("5"), rank=2
            )
            member = get_user_model().objects.get(email=member_email)
            member_level_assign(user=member, level=gold)
            quantity_tier_set(min_quantity=5, discount_percent=Decimal("2"))
        if site.slug == "shop2":
            product_override_set(product=Product.objects.get(name="魔兽世界 时间卡"), hidden=True)
            product_override_set(
                product=Product.objects.get(name="Steam 钱包充值卡"),
                display_name="Steam Wallet Code (CN)",
                description="Instant delivery of a Steam wallet code after payment.",
            )
