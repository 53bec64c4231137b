"""The input fields a direct top-up needs from the buyer (phone number, game account ...).

A SKU's `input_fields` is a list of field specs:
`{"name": "account", "label": "Game account", "kind": "text", "required": true,
  "pattern": "^[0-9]{5,12}$", "max_length": 64, "choices": [], "help": ""}`.
Kinds: text, phone, qq, email, number, choice. `phone` accepts mainland mobile numbers and
E.164; a custom `pattern` narrows any kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

FIELD_KINDS = ("text", "phone", "qq", "email", "number", "choice")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KIND_PATTERNS = {
    "phone": re.compile(r"^(?:1[3-9]\d{9}|\+[1-9]\d{6,14})$"),
    "qq": re.compile(r"^[1-9]\d{4,11}$"),
    "number": re.compile(r"^\d{1,32}$"),
}
_KIND_MESSAGES = {
    "phone": "Enter a mobile number (11 digits) or an international number starting with +.",
    "qq": "Enter a QQ number (5 to 12 digits).",
    "number": "Enter digits only.",
}


@dataclass(frozen=True)
class InputField:
    name: str
    label: str
    kind: str = "text"
    required: bool = True
    pattern: str = ""
    max_length: int = 64
    choices: tuple[str, ...] = field(default_factory=tuple)
    help: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "pattern": self.pattern,
            "max_length": self.max_length,
            "choices": list(self.choices),
            "help": self.help,
        }


def input_fields_parse(spec: object) -> list[InputField]:
    """Validate a SKU's field specs; raises ValidationError naming the bad entry."""
    if not isinstance(spec, list):
        raise ValidationError({"input_fields": "Input fields must be a list."})
    fields: list[InputField] = []
    seen: set[str] = set()
    for index, raw in enumerate(spec, start=1):
        where = f"Input field {index}"
        if not isinstance(raw, dict):
            raise ValidationError({"input_fields": f"{where} must be an object."})
        name = str(raw.get("name", ""))
        if not _NAME_RE.match(name):
            raise ValidationError({"input_fields": f"{where}: name must be snake_case."})
        if name in seen:
            raise ValidationError({"input_fields": f"{where}: duplicate name '{name}'."})
        seen.add(name)
        kind = str(raw.get("kind", "text"))
        if kind not in FIELD_KINDS:
            raise ValidationError({"input_fields": f"{where}: unknown kind '{kind}'."})
        pattern = str(raw.get("pattern", "") or "")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError({"input_fields": f"{where}: invalid pattern."}) from exc
        choices = tuple(str(c) for c in raw.get("choices", []) or [])
        if kind == "choice" and not choices:
            raise ValidationError({"input_fields": f"{where}: a choice field needs choices."})
        max_length = int(raw.get("max_length", 64) or 64)
        if not 1 <= max_length <= 256:
            raise ValidationError({"input_fields": f"{where}: max_length must be 1-256."})
        fields.append(
            InputField(
                name=name,
                label=str(raw.get("label") or name),
                kind=kind,
                required=bool(raw.get("required", True)),
                pattern=pattern,
                max_length=max_length,
                choices=choices,
                help=str(raw.get("help", "")),
            )
        )
    return fields


def topup_input_validate(spec: object, data: Mapping[str, object]) -> dict[str, str]:
    """Clean a buyer's answers against the field specs; errors are keyed by field name."""
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for spec_field in input_fields_parse(spec):
        value = str(data.get(spec_field.name, "") or "").strip()
        if not value:
            if spec_field.required:
                errors[spec_field.name] = f"{spec_field.label} is required."
            continue
        error = _field_error(spec_field, value)
        if error:
            errors[spec_field.name] = error
        else:
            cleaned[spec_field.name] = value
    unknown = set(data) - {f.name for f in input_fields_parse(spec)}
    if unknown:
        errors["__all__"] = "Unexpected fields: " + ", ".join(sorted(map(str, unknown)))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _field_error(spec_field: InputField, value: str) -> str | None:
    if len(value) > spec_field.max_length:
        return f"{spec_field.label} is longer than {spec_field.max_length} characters."
    if any(ord(ch) < 32 for ch in value):
        return f"{spec_field.label} contains control characters."
    if spec_field.kind == "email":
        try:
            validate_email(value)
        except ValidationError:
            return "Enter a valid email address."
    kind_pattern = _KIND_PATTERNS.get(spec_field.kind)
    if kind_pattern and not kind_pattern.match(value):
        return _KIND_MESSAGES[spec_field.kind]
    if spec_field.kind == "choice" and value not in spec_field.choices:
        return f"Choose one of: {', '.join(spec_field.choices)}."
    if spec_field.pattern and not re.fullmatch(spec_field.pattern, value):
        return f"{spec_field.label} is not in the expected format."
    return None
