"""Direct top-up input fields: the spec is validated, and so are a buyer's answers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from shared.catalog.topup import input_fields_parse, topup_input_validate

PHONE_HELP = "Enter a mobile number (11 digits) or an international number starting with +."
PHONE_AND_ACCOUNT = [
    {"name": "phone", "label": "Phone", "kind": "phone"},
    {"name": "account", "label": "Game account", "kind": "text", "pattern": "[A-Za-z0-9_]{4,16}"},
    {"name": "server", "label": "Server", "kind": "choice", "choices": ["Asia", "EU"]},
    {"name": "note", "label": "Note", "required": False, "max_length": 10},
]


def test_valid_answers_are_cleaned() -> None:
    cleaned = topup_input_validate(
        PHONE_AND_ACCOUNT,
        {"phone": " 13800138000 ", "account": "player_1", "server": "Asia", "note": ""},
    )
    assert cleaned == {"phone": "13800138000", "account": "player_1", "server": "Asia"}


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        ({"account": "player_1", "server": "Asia"}, {"phone": ["Phone is required."]}),
        (
            {"phone": "12345", "account": "player_1", "server": "Asia"},
            {"phone": [PHONE_HELP]},
        ),
        (
            {"phone": "+447911123456", "account": "x", "server": "Asia"},
            {"account": ["Game account is not in the expected format."]},
        ),
        (
            {"phone": "13800138000", "account": "player_1", "server": "US"},
            {"server": ["Choose one of: Asia, EU."]},
        ),
        (
            {"phone": "13800138000", "account": "player_1", "server": "EU", "note": "x" * 11},
            {"note": ["Note is longer than 10 characters."]},
        ),
        (
            {"phone": "13800138000", "account": "player_1", "server": "EU", "evil": "1"},
            {"__all__": ["Unexpected fields: evil"]},
        ),
        (
            {"phone": "13800138000", "account": "play\x00er", "server": "EU"},
            {"account": ["Game account contains control characters."]},
        ),
    ],
)  # fmt: skip
def test_bad_answers_name_the_field(answers: dict[str, str], errors: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        topup_input_validate(PHONE_AND_ACCOUNT, answers)
    assert excinfo.value.message_dict == errors


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "Input fields must be a list."),
        ([{"name": "Bad Name"}], "Input field 1: name must be snake_case."),
        ([{"name": "a"}, {"name": "a"}], "Input field 2: duplicate name 'a'."),
        ([{"name": "a", "kind": "weird"}], "Input field 1: unknown kind 'weird'."),
        ([{"name": "a", "pattern": "("}], "Input field 1: invalid pattern."),
        ([{"name": "a", "kind": "choice"}], "Input field 1: a choice field needs choices."),
        ([{"name": "a", "max_length": 999}], "Input field 1: max_length must be 1-256."),
    ],
)
def test_bad_specs_are_refused(spec: object, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        input_fields_parse(spec)
    assert excinfo.value.message_dict == {"input_fields": [message]}


def test_qq_and_email_kinds() -> None:
    spec = [{"name": "qq", "kind": "qq"}, {"name": "email", "kind": "email"}]
    assert topup_input_validate(spec, {"qq": "10001", "email": "a@b.cn"}) == {
        "qq": "10001",
        "email": "a@b.cn",
    }
    with pytest.raises(ValidationError) as excinfo:
        topup_input_validate(spec, {"qq": "0123", "email": "nope"})
    assert set(excinfo.value.message_dict) == {"qq", "email"}
