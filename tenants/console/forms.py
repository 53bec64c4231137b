"""Forms of the site console. They check the shape of the input; the pricing and storefront
services check the rules (below cost, ranges, scopes) and their errors are put back on the
form by `add_service_errors`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from shared.catalog.models import Category, PriceTier, Sku
from tenants.console import selectors
from tenants.console.roles import Role
from tenants.pricing.models import MarkupKind, MemberLevel, Rounding
from tenants.storefront.models import Theme

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 2048
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}

SCOPE_ALL, SCOPE_CATEGORY, SCOPE_SKU = "all", "category", "sku"
SCOPE_CHOICES = [
    (SCOPE_ALL, _("Every product")),
    (SCOPE_CATEGORY, _("One category (and the categories inside it)")),
    (SCOPE_SKU, _("One SKU")),
]
MARKUP_CHOICES = [(MarkupKind.PERCENT, _("Percentage")), (MarkupKind.FIXED, _("Fixed amount"))]
ROUNDING_CHOICES = [
    (Rounding.NONE, _("No rounding (to the cent)")),
    (Rounding.CENT, _("To 0.01")),
    (Rounding.UP_TENTH, _("Up to 0.1")),
    (Rounding.UP_UNIT, _("Up to a whole unit")),
]


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's errors on the form: on the field they name, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


class SkuChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.product.name} · {obj.name} ({obj.code})"


class ScopedForm(forms.Form):
    """A scope shared by price rules and quantity tiers: everything, a category or a SKU."""

    scope = forms.ChoiceField(label=_("Applies to"), choices=SCOPE_CHOICES, initial=SCOPE_ALL)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False
    )
    sku = SkuChoiceField(label=_("SKU"), queryset=Sku.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.active_categories()  # type: ignore[attr-defined]
        self.fields["sku"].queryset = selectors.sellable_skus()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        if scope == SCOPE_CATEGORY and not data.get("category"):
            self.add_error("category", _("Choose the category."))
        if scope == SCOPE_SKU and not data.get("sku"):
            self.add_error("sku", _("Choose the SKU."))
        if scope != SCOPE_CATEGORY:
            data["category"] = None
        if scope != SCOPE_SKU:
            data["sku"] = None
        return data


class PriceRuleForm(ScopedForm):
    tier = forms.ModelChoiceField(
        label=_("Child sites' tier"),
        queryset=PriceTier.objects.none(),
        required=False,
        empty_label=_("Every tier"),
    )
    markup_kind = forms.ChoiceField(label=_("Markup"), choices=MARKUP_CHOICES)
    markup_value = forms.DecimalField(label=_("Markup value"), max_digits=12, decimal_places=4)
    rounding = forms.ChoiceField(label=_("Rounding"), choices=ROUNDING_CHOICES)

    def __init__(self, *args: Any, wholesale: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if wholesale:
            self.fields["tier"].queryset = selectors.price_tiers()  # type: ignore[attr-defined]
        else:
            del self.fields["tier"]


class MemberLevelForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("Short id, e.g. gold. Lower-case letters, digits, - and _."),
    )
    name = forms.CharField(label=_("Name"), max_length=64)
    rank = forms.IntegerField(label=_("Rank"), min_value=0, max_value=32767, initial=0)
    discount_percent = forms.DecimalField(
        label=_("Discount off retail (%)"), max_digits=5, decimal_places=2, initial=0
    )
    is_default = forms.BooleanField(label=_("Default level for new members"), required=False)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]


class MemberLevelPriceForm(forms.Form):
    sku = SkuChoiceField(label=_("SKU"), queryset=Sku.objects.none())
    price = forms.DecimalField(
        label=_("Fixed price"),
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text=_("Leave empty to remove the fixed price (the level's discount applies)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sku"].queryset = selectors.sellable_skus()  # type: ignore[attr-defined]


class QuantityTierForm(ScopedForm):
    min_quantity = forms.IntegerField(label=_("From quantity"), min_value=2, max_value=1_000_000)
    discount_percent = forms.DecimalField(label=_("Discount (%)"), max_digits=5, decimal_places=2)


class ProductOverrideForm(forms.Form):
    display_name = forms.CharField(
        label=_("Name on this site"),
        max_length=200,
        required=False,
        help_text=_("Leave empty to use HQ's name."),
    )
    description = forms.CharField(
        label=_("Description on this site"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        max_length=10_000,
        help_text=_("Leave empty to use HQ's description."),
    )


class VisibilityForm(forms.Form):
    hidden = forms.TypedChoiceField(
        choices=[("1", "hide"), ("0", "show")], coerce=lambda v: v == "1"
    )


class ChildSiteTierForm(forms.Form):
    tier = forms.ModelChoiceField(
        label=_("Price tier"),
        queryset=PriceTier.objects.none(),
        required=False,
        empty_label=_("Default tier"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = selectors.price_tiers()  # type: ignore[attr-defined]


class LogoField(forms.ImageField):
    """An image checked for size before Pillow parses it, then for format and dimensions. SVG is
    not accepted (it can carry script); the stored name follows the real format."""

    def to_python(self, data: Any) -> Any:
        if data and getattr(data, "size", 0) > LOGO_MAX_BYTES:
            raise ValidationError(_("The logo is larger than 512 KB."), code="too_large")
        logo = super().to_python(data)
        if logo is None:
            return None
        image = logo.image  # type: ignore[attr-defined]  # set by ImageField.to_python
        extension = LOGO_FORMATS.get(image.format or "")
        if extension is None:
            raise ValidationError(_("Upload a PNG, JPEG, GIF or WebP image."), code="format")
        width, height = image.size
        if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
            raise ValidationError(
                _("The logo is larger than 2048 x 2048 pixels."), code="dimensions"
            )
        logo.name = f"logo.{extension}"
        return logo


class BrandingForm(forms.Form):
    tagline = forms.CharField(label=_("Tagline"), max_length=200, required=False)
    accent_color = forms.CharField(
        label=_("Accent colour"),
        max_length=7,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #d9480f."))],
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    announcement = forms.CharField(
        label=_("Announcement"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        help_text=_("Shown at the top of every page of your shop. Leave empty for none."),
    )
    theme = forms.ChoiceField(
        label=_("Theme"),
        choices=[(Theme.CLASSIC, _("Classic: a list")), (Theme.SHOWCASE, _("Showcase: cards"))],
        widget=forms.RadioSelect,
    )
    logo = LogoField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG, GIF or WebP, at most 512 KB and 2048 x 2048 pixels."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)


class StaffRoleForm(forms.Form):
    email = forms.EmailField(
        label=_("Member's email"),
        help_text=_("The person must already have an account on this site."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in Role]  # type: ignore[attr-defined]


class ExplanationForm(forms.Form):
    sku = SkuChoiceField(label=_("SKU"), queryset=Sku.objects.none())
    member_level = forms.ModelChoiceField(
        label=_("Member level"),
        queryset=MemberLevel.objects.none(),
        required=False,
        empty_label=_("Guest (no level)"),
    )
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000, initial=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sku"].queryset = selectors.sellable_skus()  # type: ignore[attr-defined]
        self.fields["member_level"].queryset = MemberLevel.objects.order_by("rank", "code")  # type: ignore[attr-defined]
