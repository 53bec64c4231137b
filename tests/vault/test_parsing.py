"""Reading imports: every format, separators, malformed lines, in-file duplicates, encodings."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st
from openpyxl import Workbook

from shared.vault import parsing
from shared.vault.parsing import ParsedImport, parse_import

Outcome = tuple[list[tuple[int, str]], list[tuple[int, str]], list[int]]


def _outcome(parsed: ParsedImport) -> Outcome:
    """(line, key) pairs, (line, reason) of malformed lines, duplicate line numbers."""
    keys = list(zip(parsed.key_lines, parsed.keys, strict=True))
    return keys, parsed.malformed, parsed.duplicate_lines


PASTE = "\n".join(
    [
        "  KEY-AAAA-0001  ",  # 1: one key, stripped
        "",  # 2: empty, skipped silently
        "6200001----pw1",  # 3: pair
        "6200002|pw2",  # 4
        "6200003 , pw3",  # 5
        "6200004\tpw4",  # 6
        "6200005   pw5",  # 7
        "6200006\uff0cpw6",  # 8: full-width comma
        "a b c",  # 9: three fields
        "6200007,,pw7",  # 10: empty field
        "KEY\x01BAD",  # 11: control character
        "X" * 513,  # 12: too long
        "KEY-AAAA-0001",  # 13: duplicate of line 1
        "6200001 pw1",  # 14: duplicate of line 3 (same canonical form)
        "   \t ",  # 15: blank, skipped
        "KEY\u200bZW",  # 16: zero-width space
        "6200008|pw8|",  # 17: trailing separator tolerated
        "Y" * 512,  # 18: exactly the limit
    ]
)


def test_paste_canonical_keys_malformed_and_duplicates() -> None:
    assert _outcome(parse_import(PASTE, source="paste")) == (
        [
            (1, "KEY-AAAA-0001"),
            (3, "6200001 pw1"),
            (4, "6200002 pw2"),
            (5, "6200003 pw3"),
            (6, "6200004 pw4"),
            (7, "6200005 pw5"),
            (8, "6200006 pw6"),
            (17, "6200008 pw8"),
            (18, "Y" * 512),
        ],
        [
            (9, "too_many_fields"),
            (10, "empty_field"),
            (11, "control_character"),
            (12, "too_long"),
            (16, "control_character"),
        ],
        [13, 14],
    )


def test_parsed_import_never_shows_its_keys() -> None:
    parsed = parse_import("SECRET-KEY-1\nSECRET-KEY-1", source="paste")
    assert "SECRET" not in repr(parsed)
    assert "SECRET" not in str(parsed)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"A1\r\nB2\r\n", [(1, "A1"), (2, "B2")]),
        (b"A1\rB2", [(1, "A1"), (2, "B2")]),
        (codecs.BOM_UTF8 + b"A1\nB2", [(1, "A1"), (2, "B2")]),
        (
            "卡号一----密码一\n卡号二 密码二".encode("gb18030"),
            [(1, "卡号一 密码一"), (2, "卡号二 密码二")],
        ),
        ("充值卡,口令\n".encode("utf-16"), [(1, "充值卡 口令")]),
    ],
    ids=["crlf", "cr", "utf8-bom", "gb18030", "utf16-bom"],
)
def test_txt_encodings_and_line_endings(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert _outcome(parse_import(data, source="txt")) == (expected, [], [])


def test_gb18030_is_the_fallback_not_a_guess() -> None:
    data = "卡密----一二三".encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert parse_import(io.BytesIO(data), source="txt").keys == ["卡密 一二三"]


def test_undecodable_file_is_refused_without_its_bytes() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_import(b"\x80\x80\xff\xfe\x81", source="txt")
    assert exc.value.code == "encoding"
    assert exc.value.messages == ["The file is neither UTF-8 nor GB18030 text."]


@pytest.mark.parametrize(
    ("text", "expected_keys"),
    [
        ("card,password\n100,aaa\n200,bbb\n", [(2, "100 aaa"), (3, "200 bbb")]),
        ("卡号,卡密\n100,aaa\n", [(2, "100 aaa")]),
        ("Card No.,PIN\n100,aaa\n", [(2, "100 aaa")]),
        ("充值卡号\nKEY-1\nKEY-2\n", [(2, "KEY-1"), (3, "KEY-2")]),
        ("100,aaa\n200,bbb\n", [(1, "100 aaa"), (2, "200 bbb")]),
        ("KEY-1\nKEY-2\n", [(1, "KEY-1"), (2, "KEY-2")]),
        ("\ufeffkey\n\nKEY-1,\n", [(3, "KEY-1")]),
        ('"100 aaa"\n', [(1, "100 aaa")]),
    ],
    ids=["header", "chinese-header", "punctuated-header", "one-column-header", "no-header",
         "one-column", "bom-blank-trailing-comma", "quoted-pair-in-one-cell"],
)  # fmt: skip
def test_csv_columns_and_optional_header(text: str, expected_keys: list[tuple[int, str]]) -> None:
    assert _outcome(parse_import(text.encode(), source="csv")) == (expected_keys, [], [])


def test_csv_malformed_rows_and_duplicates() -> None:
    text = 'key\nA\n1,2,3\n,B\n"multi\nline"\nA\nC\n'
    assert _outcome(parse_import(text, source="csv")) == (
        [(2, "A"), (8, "C")],
        [(3, "too_many_fields"), (4, "empty_field"), (6, "control_character")],
        [7],
    )


def test_csv_in_gb18030() -> None:
    data = "卡号,密码\n一号,甲\n二号,乙\n".encode("gb18030")
    assert parse_import(data, source="csv").keys == ["一号 甲", "二号 乙"]


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("ignored").append(["NOT-READ"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_first_sheet_with_header_numbers_and_bad_cells() -> None:
    data = _xlsx(
        [
            ["卡号", "密码"],  # 1: header
            [620000000000001, "pw1"],  # 2: 15 digits in a number cell are exact
            ["6200000000000002", "pw2"],  # 3: a long card number stored as text
            [],  # 4: empty row, skipped
            [12345.0, "pw3"],  # 5: a whole float
            [6200000000000003, "pw4"],  # 6: 16 digits in a number cell: rounded by Excel
            [6.2e15, "pw5"],  # 7: the same as a float
            [1.5, "pw6"],  # 8: a fraction
            [date(2024, 1, 1), "pw7"],  # 9: a date is not a key
            ["a", "b", "c"],  # 10: three columns
            [620000000000001, "pw1"],  # 11: duplicate of row 2
            [" KEY-ONLY "],  # 12: one column
            [None, "pw8"],  # 13: missing card number
        ]
    )
    assert _outcome(parse_import(data, source="xlsx")) == (
        [
            (2, "620000000000001 pw1"),
            (3, "6200000000000002 pw2"),
            (5, "12345 pw3"),
            (12, "KEY-ONLY"),
        ],
        [
            (6, "number_cell"),
            (7, "number_cell"),
            (8, "number_cell"),
            (9, "unsupported_cell"),
            (10, "too_many_fields"),
            (13, "empty_field"),
        ],
        [11],
    )


def test_xlsx_from_a_file_object_without_header() -> None:
    data = _xlsx([["K1"], ["K2"]])
    assert parse_import(io.BytesIO(data), source="xlsx").keys == ["K1", "K2"]


@pytest.mark.parametrize(
    ("content", "source", "code"),
    [(b"not a zip", "xlsx", "unreadable"), ("text", "xlsx", "unreadable"), ("K", "pdf", "source")],
)
def test_unreadable_inputs_are_refused(content: str | bytes, source: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_import(content, source=source)
    assert exc.value.code == code


# --- Properties -------------------------------------------------------------------------------

# Fields never begin or end with a dash: next to a `----` separator that would be ambiguous.
_field = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,22}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda value: "----" not in value
)
_entry = st.tuples(_field, st.none() | _field)
_separator = st.sampled_from(["----", "|", ",", "\t", " ", "  |  ", " , ", "\uff0c", "\u3000"])
_padding = st.sampled_from(["", " ", "\t", "\u3000"])


@given(
    entries=st.lists(_entry, min_size=1, max_size=30),
    separators=st.lists(_separator, min_size=30, max_size=30),
    paddings=st.lists(_padding, min_size=30, max_size=30),
    blank_every=st.integers(min_value=2, max_value=7),
)
def test_text_round_trip(
    entries: list[tuple[str, str | None]],
    separators: list[str],
    paddings: list[str],
    blank_every: int,
) -> None:
    """Whatever separators and blank lines a supplier uses, the keys come back canonical, in
    order, each first occurrence once, on the right line."""
    lines: list[str] = []
    expected: list[tuple[int, str]] = []
    duplicates: list[int] = []
    seen: set[str] = set()
    for index, (number, password) in enumerate(entries):
        if index % blank_every == blank_every - 1:
            lines.append(paddings[index])
        body = number if password is None else f"{number}{separators[index]}{password}"
        lines.append(f"{paddings[index]}{body}{paddings[-index - 1]}")
        canonical = number if password is None else f"{number} {password}"
        if canonical in seen:
            duplicates.append(len(lines))
        else:
            seen.add(canonical)
            expected.append((len(lines), canonical))
    assert _outcome(parsing.parse_text("\n".join(lines))) == (expected, [], duplicates)


@given(entries=st.lists(_entry, min_size=1, max_size=30, unique=True))
def test_csv_gives_the_same_keys_as_text(entries: list[tuple[str, str | None]]) -> None:
    assume(not parsing.looks_like_header([field for field in entries[0] if field]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, password in entries:
        writer.writerow([number] if password is None else [number, password])
    text = "\n".join(
        number if password is None else f"{number}----{password}" for number, password in entries
    )
    assert parsing.parse_csv(buffer.getvalue()).keys == parsing.parse_text(text).keys


@pytest.mark.parametrize(
    ("source", "line"),
    [
        *[("paste", line) for line in ["----", "|", ",,", "\uff0c", "-----|,", "---- | ----"]],
        # A CSV row of commas only is a row of empty cells, skipped like a blank line.
        *[("csv", line) for line in ["----", "|", "\uff0c", "-----|,"]],
    ],
)
def test_a_line_of_only_separators_is_an_empty_field(source: str, line: str) -> None:
    parsed = parse_import(f"KEY-1\n{line}\nKEY-2", source=source)
    assert parsed.keys == ["KEY-1", "KEY-2"]
    assert parsed.malformed == [(2, "empty_field")]
