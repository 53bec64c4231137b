"""HQ staff roles: Django groups in the public schema and exactly which permissions each holds.

The console checks permissions (`user.has_perm("catalog.change_product")`), never group names:
a superuser passes every check, and a group can be tailored in the admin. Migrations call
`role_groups_sync` so a fresh database and an existing one end up with the same groups.
"""

from __future__ import annotations

from typing import Any

HQ_ADMIN = "HQ admin"
HQ_CATALOGUE = "HQ catalogue"
HQ_SUPPORT = "HQ support"

# Models the console manages, by app label.
CONSOLE_MODELS: dict[str, tuple[str, ...]] = {
    "catalog": ("category", "product", "sku", "pricetier", "tierprice", "stockalert"),
    "suppliers": ("supplier", "supplieroffer"),
    "vault": ("importbatch", "cardkey", "cardkeysale", "skustock", "keyreveal", "keyexport"),
    # Site owners' withdrawals (change: approve, reject, pay) and the ledger (view: reports).
    "payouts": ("withdrawal",),
    "ledger": ("transaction",),
}

# Actions on card keys that the vault's models do not declare: both show plaintext keys, so
# they are separate from `view_cardkey` (which shows statuses only). Rows on CardKey's type.
EXTRA_PERMISSIONS: dict[str, tuple[str, str]] = {
    "vault.reveal_cardkey": ("cardkey", "Can reveal a card key (audited)"),
    "vault.export_cardkey": ("cardkey", "Can export unsold card keys"),
}


def _perms(app: str, models: tuple[str, ...], actions: tuple[str, ...]) -> set[str]:
    return {f"{app}.{action}_{model}" for model in models for action in actions}


def _all_view_permissions() -> set[str]:
    found: set[str] = set()
    for app, models in CONSOLE_MODELS.items():
        found |= _perms(app, models, ("view",))
    return found


_SUPPORT = frozenset(_all_view_permissions())

_CATALOGUE = frozenset(
    _all_view_permissions()
    | _perms("catalog", ("category", "product", "sku", "pricetier", "tierprice"), ("add", "change"))
    | _perms("suppliers", ("supplier", "supplieroffer"), ("add", "change"))
    | _perms("vault", ("importbatch",), ("add",))
    | _perms("vault", ("cardkey",), ("change", "delete"))
    | set(EXTRA_PERMISSIONS)
)

_ADMIN = frozenset(
    {
        perm
        for app, models in CONSOLE_MODELS.items()
        for perm in _perms(app, models, ("view", "add", "change", "delete"))
    }
    | set(EXTRA_PERMISSIONS)
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    HQ_ADMIN: _ADMIN,
    HQ_CATALOGUE: _CATALOGUE,
    HQ_SUPPORT: _SUPPORT,
}


def role_groups_sync(apps: Any) -> None:
    """Create the role groups and give each exactly the permissions in `ROLE_PERMISSIONS`.

    `apps` is a migration's app registry (or `django.apps.apps`). Permissions that do not exist
    yet (a fresh database: Django creates them after migrating) are created here first.
    """
    from django.contrib.auth.management import create_permissions

    for label in CONSOLE_MODELS:
        try:
            app_config = apps.get_app_config(label)
        except LookupError:  # an app this migration's state does not hold yet
            continue
        # Migration registries leave models_module unset, which create_permissions skips.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")

    def permission(perm: str) -> Any:
        # By name only, so a later migration may name a model this one's state lacks.
        app_label, codename = perm.split(".")
        model, name = EXTRA_PERMISSIONS.get(perm) or (
            codename.split("_", 1)[1],
            f"Can {codename.replace('_', ' ', 1)}",
        )
        content_type, _ = content_type_model.objects.get_or_create(app_label=app_label, model=model)
        found, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        return found

    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        group.permissions.set([permission(perm) for perm in sorted(perms)])
