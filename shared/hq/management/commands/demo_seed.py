"""Seed the demo network (idempotent) and print every address and login.

HQ on the platform domain; the main site `main`; `shop1` and `shop2` under it; `vip` under
`shop1`. Each site has an owner and a member.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django_tenants.utils import tenant_context

from shared.hq.demo_catalog import (
    demo_catalog_seed,
    demo_site_pricing_seed,
    demo_topup_suppliers_seed,
)
from shared.sites import provisioning
from shared.sites.selectors import hq_base_url, site_base_url, site_get
from shared.sites.services import site_create
from shared.suppliers.models import Supplier
from tenants.members.services import member_create
from tenants.storefront.services import storefront_settings_update
from tenants.wallets.services import wallet_top_up

HQ_EMAIL = "hq@kameng.test"
DEMO_PASSWORD_HQ = "hq-demo-pass"  # noqa: S105 - printed demo credentials
DEMO_PASSWORD_OWNER = "owner-demo-pass"  # noqa: S105
DEMO_PASSWORD_MEMBER = "member-demo-pass"  # noqa: S105

# slug, name, parent, tagline, accent colour, language, theme
DEMO_SITES = [
    ("main", "Kameng 主站", None, "官方直营 · 秒发卡密", "#d9480f", "zh-hans", "showcase"),
    ("shop1", "星辰卡铺", "main", "游戏点卡 · 话费充值", "#1c7ed6", "zh-hans", "classic"),
    ("shop2", "Nova Codes", "main", "Game cards and gift codes", "#2b8a3e", "en", "showcase"),
    ("vip", "VIP 会员站", "shop1", "会员专享价", "#862e9c", "zh-hans", "classic"),
]
ANNOUNCEMENTS = {
    "main": "双十二预热：全场点卡 9.5 折起，话费直充秒到账。",
    "shop2": "New: Steam and PlayStation codes delivered instantly.",
}


DEMO_WALLET_BALANCE = Decimal("500.00")


class Command(BaseCommand):
    help = "Create the demo network (HQ staff, four sites, owners and members) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        connection.set_schema_to_public()
        self._hq_staff()
        provisioning.spare_schemas_refill(target=len(DEMO_SITES))
        if not Supplier.objects.exists():
            keys = demo_catalog_seed(actor_email=HQ_EMAIL)
            self.stdout.write(f"Seeded the catalogue with {keys} card keys.")
        simulators = demo_topup_suppliers_seed()
        rows = []
        for slug, name, parent_slug, tagline, colour, language, theme in DEMO_SITES:
            site = site_get(slug=slug)
            if site is None:
                parent = site_get(slug=parent_slug) if parent_slug else None
                site = site_create(
                    slug=slug,
                    name=name,
                    parent=parent,
                    owner_email=f"owner@{slug}.test",
                    owner_password=DEMO_PASSWORD_OWNER,
                    language=language,
                ).site
                with tenant_context(site):
                    storefront_settings_update(
                        tagline=tagline,
                        accent_color=colour,
                        theme=theme,
                        announcement=ANNOUNCEMENTS.get(slug, ""),
                    )
                    member_create(email=f"member@{slug}.test", password=DEMO_PASSWORD_MEMBER)
                demo_site_pricing_seed(site=site, member_email=f"member@{slug}.test")
            with tenant_context(site):
                # Accounts are only created when missing: a changed demo password is kept.
                if not get_user_model().objects.filter(email=f"member@{slug}.test").exists():
                    member_create(email=f"member@{slug}.test", password=DEMO_PASSWORD_MEMBER)
                # A balance to try paying from the wallet with (once: the key makes it idempotent).
                wallet_top_up(
                    user=get_user_model().objects.get(email=f"member@{slug}.test"),
                    amount=DEMO_WALLET_BALANCE,
                    idempotency_key="demo-seed-wallet",
                    source="demo seed",
                )
            rows.append((site, "  " * (site.depth - 1)))

        out = self.stdout
        out.write("Kameng demo network")
        out.write(f"  HQ          {hq_base_url()}   login {HQ_EMAIL} / {DEMO_PASSWORD_HQ}")
        for site, indent in rows:
            out.write(f"  {indent}{site.slug:<{12 - len(indent)}}{site_base_url(site)}")
            out.write(f"  {' ' * 12}  owner  owner@{site.slug}.test / {DEMO_PASSWORD_OWNER}")
            out.write(f"  {' ' * 12}  member member@{site.slug}.test / {DEMO_PASSWORD_MEMBER}")
        out.write("  Direct top-up suppliers (local simulators):")
        for line in simulators:
            out.write(f"    {line}")

    def _hq_staff(self) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(email=HQ_EMAIL).exists():
            return
        from allauth.account.models import EmailAddress

        user = user_model.objects.create_superuser(
            username=HQ_EMAIL, email=HQ_EMAIL, password=DEMO_PASSWORD_HQ
        )
        EmailAddress.objects.create(user=user, email=HQ_EMAIL, primary=True, verified=True)
